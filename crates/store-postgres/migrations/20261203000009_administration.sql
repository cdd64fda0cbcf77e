-- Administration (SPEC §9). A locked account cannot start a session (its sessions end when it
-- is locked); unlocking lets it sign in again. Admin user search matches the start of the
-- email or of the lowercased name, and lists newest first, each backed by an index.
ALTER TABLE auth.users ADD COLUMN locked_at timestamptz;
CREATE INDEX users_email_prefix ON auth.users (email text_pattern_ops);
CREATE INDEX users_name_prefix ON auth.users (lower(name) text_pattern_ops);
CREATE INDEX users_created_at ON auth.users (created_at, id);
