-- Link codes (see the PostgreSQL migration of the same name).
ALTER TABLE oauth_exchange_codes ADD COLUMN link_identity TEXT;
