-- Social sign-in (SPEC §6). Identities live in `auth.accounts` (from the first schema), one per
-- provider account and at most one per provider for each user. A web sign-in that left for its
-- provider waits in `oauth_flows` under the SHA-256 of its `state`, with its PKCE verifier and
-- nonce, so that any instance can finish it; it lives ten minutes and is used once. A finished
-- sign-in reaches the app as a one-time code, kept as a hash in `oauth_exchange_codes` (60 s).
CREATE UNIQUE INDEX accounts_user_id_provider_key ON auth.accounts (user_id, provider);

CREATE TABLE auth.oauth_flows (
    state_hash    bytea PRIMARY KEY CHECK (octet_length(state_hash) = 32),
    provider      text NOT NULL,
    code_verifier text NOT NULL,
    nonce         text NOT NULL,
    redirect_to   text NOT NULL,
    link_user_id  uuid REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz
);
CREATE INDEX oauth_flows_expires_at ON auth.oauth_flows (expires_at);

CREATE TABLE auth.oauth_exchange_codes (
    code_hash  bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    provider   text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX oauth_exchange_codes_user_id ON auth.oauth_exchange_codes (user_id);
CREATE INDEX oauth_exchange_codes_expires_at ON auth.oauth_exchange_codes (expires_at);

-- The first factor of a login waiting for its second (`pwd`, or `oauth` after a provider), so
-- that the session's `amr` names both.
ALTER TABLE auth.mfa_challenges ADD COLUMN first_factor text NOT NULL DEFAULT 'pwd';

-- Flows are found by their state before anyone is known: only the role that owns the tables
-- reads them. Exchange codes are the signed-in user's, like their sessions.
DO $$
BEGIN
    ALTER TABLE auth.oauth_flows ENABLE ROW LEVEL SECURITY;
    ALTER TABLE auth.oauth_flows FORCE ROW LEVEL SECURITY;
    EXECUTE format('CREATE POLICY service_owner ON auth.oauth_flows TO %I USING (true) WITH CHECK (true)',
        current_user);
    GRANT SELECT, INSERT, UPDATE, DELETE ON auth.oauth_exchange_codes TO mana_app;
    ALTER TABLE auth.oauth_exchange_codes ENABLE ROW LEVEL SECURITY;
    ALTER TABLE auth.oauth_exchange_codes FORCE ROW LEVEL SECURITY;
    CREATE POLICY own_rows ON auth.oauth_exchange_codes TO mana_app
        USING (user_id = auth.uid() OR auth.is_privileged())
        WITH CHECK (user_id = auth.uid() OR auth.is_privileged());
    EXECUTE format('CREATE POLICY service_owner ON auth.oauth_exchange_codes TO %I USING (true) WITH CHECK (true)',
        current_user);
END
$$;
