-- Social sign-in (see the PostgreSQL migration of the same name).
CREATE UNIQUE INDEX accounts_user_id_provider_key ON accounts (user_id, provider);

CREATE TABLE oauth_flows (
    state_hash    BLOB PRIMARY KEY NOT NULL CHECK (length(state_hash) = 32),
    provider      TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    redirect_to   TEXT NOT NULL,
    link_user_id  TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    used_at       INTEGER
);
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);

CREATE TABLE oauth_exchange_codes (
    code_hash  BLOB PRIMARY KEY NOT NULL CHECK (length(code_hash) = 32),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX oauth_exchange_codes_user_id ON oauth_exchange_codes (user_id);
CREATE INDEX oauth_exchange_codes_expires_at ON oauth_exchange_codes (expires_at);

ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';
