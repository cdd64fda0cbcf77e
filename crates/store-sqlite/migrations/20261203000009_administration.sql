-- Administration (see the PostgreSQL migration of the same name).
ALTER TABLE users ADD COLUMN locked_at INTEGER;
CREATE INDEX users_name_lower ON users (lower(name));
CREATE INDEX users_created_at ON users (created_at, id);
