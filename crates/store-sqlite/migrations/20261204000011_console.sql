-- The admin console's dashboard (see the PostgreSQL migration of the same name).
CREATE INDEX security_events_kind_created_at ON security_events (kind, created_at);
