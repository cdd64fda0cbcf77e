-- Two-factor authentication (SPEC §5). One TOTP factor per user, its secret sealed with the
-- service's encryption key (AES-256-GCM, never in clear here); `last_step` is the last time step
-- whose code was accepted, so a code works once. Backup codes are kept as SHA-256 hashes only.
-- A login whose password was right waits in `mfa_challenges` for its second factor: the token
-- is stored as a hash, lives five minutes, is used once, and counts its attempts.
--
-- The first schema's `two_factor_auth` (backup codes as a JSON array in the factor's row) was
-- never written to; it goes, since a code used once needs a row of its own to be used atomically.
DROP TABLE auth.two_factor_auth;

CREATE TABLE auth.totp_factors (
    user_id       uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    sealed_secret text NOT NULL,
    created_at    timestamptz NOT NULL,
    enabled_at    timestamptz,
    last_step     bigint
);

CREATE TABLE auth.backup_codes (
    code_hash  bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX backup_codes_user_id ON auth.backup_codes (user_id);

CREATE TABLE auth.mfa_challenges (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id     uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    device_id   text,
    device_name text,
    attempts    bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX mfa_challenges_user_id ON auth.mfa_challenges (user_id);
CREATE INDEX mfa_challenges_expires_at ON auth.mfa_challenges (expires_at);

-- How each session's login was made (RFC 8176 values, space-separated): its access tokens'
-- `amr` claim. Sessions from before this column were password logins.
ALTER TABLE auth.sessions ADD COLUMN amr text NOT NULL DEFAULT 'pwd';

DO $$
DECLARE
    protected text;
BEGIN
    FOREACH protected IN ARRAY ARRAY['auth.totp_factors', 'auth.backup_codes', 'auth.mfa_challenges'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO mana_app', protected);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', protected);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', protected);
        EXECUTE format('CREATE POLICY own_rows ON %s TO mana_app
            USING (user_id = auth.uid() OR auth.is_privileged())
            WITH CHECK (user_id = auth.uid() OR auth.is_privileged())', protected);
        EXECUTE format('CREATE POLICY service_owner ON %s TO %I USING (true) WITH CHECK (true)',
            protected, current_user);
    END LOOP;
END
$$;
