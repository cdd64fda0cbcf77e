-- Authentication tables in schema "auth"; schema "credits" holds the ledger.

CREATE SCHEMA IF NOT EXISTS auth;
CREATE SCHEMA IF NOT EXISTS credits;

CREATE TABLE auth.users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL,
    name           text,
    role           text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin', 'service')),
    email_verified boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    deleted_at     timestamptz
);
-- One live account per email; a deleted account's email may be registered again.
CREATE UNIQUE INDEX users_email_live_key ON auth.users (email) WHERE deleted_at IS NULL;

-- Kept apart from users so that no query that reads a user can leak a hash by accident.
CREATE TABLE auth.passwords (
    user_id    uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    hash       text NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE auth.sessions (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    device_id          text,
    device_name        text,
    ip                 text,
    user_agent         text,
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    -- Refresh-token state: rotation count, SHA-256 of the current token, and the nonce that
    -- derived it from its parent (see mana_core::tokens::refresh).
    generation         bigint NOT NULL DEFAULT 0,
    refresh_token_hash bytea NOT NULL CHECK (octet_length(refresh_token_hash) = 32),
    rotated_at         timestamptz,
    rotation_nonce     bytea CHECK (octet_length(rotation_nonce) = 32),
    -- The current access token's jti and iat, so the grace-window replay can re-sign it.
    access_jti         text NOT NULL,
    access_issued_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user_id ON auth.sessions (user_id);

-- Every refresh token ever issued, by hash: an old one presented again is recognised as
-- reuse (and revokes its session) instead of being mistaken for garbage.
CREATE TABLE auth.refresh_tokens (
    token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    generation bigint NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_session_id ON auth.refresh_tokens (session_id);

CREATE TABLE auth.security_events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    kind       text NOT NULL,
    ip         text,
    user_agent text,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL
);
CREATE INDEX security_events_user_id ON auth.security_events (user_id, id);

-- Accounts at OAuth providers linked to a user (Google, GitHub, Apple).
CREATE TABLE auth.accounts (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    provider            text NOT NULL,
    provider_account_id text NOT NULL,
    provider_email      text,
    email_verified      boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (provider, provider_account_id)
);
CREATE INDEX accounts_user_id ON auth.accounts (user_id);

-- Single-use, expiring tokens sent by email; only their SHA-256 is kept.
CREATE TABLE auth.verification_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('email_verification', 'password_reset', 'email_change')),
    token_hash bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    new_email  text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX verification_tokens_user_id ON auth.verification_tokens (user_id, purpose);

-- TOTP second factor. The secret is stored encrypted (the service holds the key); backup
-- codes as a JSON array of hashes; last_used_step refuses a code replayed within its window.
CREATE TABLE auth.two_factor_auth (
    user_id            uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    totp_secret_sealed bytea NOT NULL,
    backup_code_hashes jsonb NOT NULL DEFAULT '[]',
    last_used_step     bigint,
    enabled_at         timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
