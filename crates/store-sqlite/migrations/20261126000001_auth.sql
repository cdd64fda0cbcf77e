-- Authentication tables. Times are INTEGER microseconds since the Unix epoch (UTC), so they
-- compare and sort correctly in SQL; ids are UUID text; secrets are stored only as hashes.

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    email          TEXT NOT NULL,
    name           TEXT,
    role           TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin', 'service')),
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    deleted_at     INTEGER
);
-- One live account per email; a deleted account's email may be registered again.
CREATE UNIQUE INDEX users_email_live_key ON users (email) WHERE deleted_at IS NULL;

-- Kept apart from users so that no query that reads a user can leak a hash by accident.
CREATE TABLE passwords (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id                 TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id          TEXT,
    device_name        TEXT,
    ip                 TEXT,
    user_agent         TEXT,
    created_at         INTEGER NOT NULL,
    last_used_at       INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    revoked_at         INTEGER,
    -- Refresh-token state: rotation count, SHA-256 of the current token, and the nonce that
    -- derived it from its parent (see mana_core::tokens::refresh).
    generation         INTEGER NOT NULL DEFAULT 0,
    refresh_token_hash BLOB NOT NULL,
    rotated_at         INTEGER,
    rotation_nonce     BLOB,
    -- The current access token's jti and iat, so the grace-window replay can re-sign it.
    access_jti         TEXT NOT NULL,
    access_issued_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Every refresh token ever issued, by hash: an old one presented again is recognised as
-- reuse (and revokes its session) instead of being mistaken for garbage.
CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
    kind       TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    details    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL
);
CREATE INDEX security_events_user_id ON security_events (user_id, id);

-- Accounts at OAuth providers linked to a user (Google, GitHub, Apple).
CREATE TABLE accounts (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider            TEXT NOT NULL,
    provider_account_id TEXT NOT NULL,
    provider_email      TEXT,
    email_verified      INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (provider, provider_account_id)
);
CREATE INDEX accounts_user_id ON accounts (user_id);

-- Single-use, expiring tokens sent by email; only their SHA-256 is kept.
CREATE TABLE verification_tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('email_verification', 'password_reset', 'email_change')),
    token_hash BLOB NOT NULL UNIQUE,
    new_email  TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX verification_tokens_user_id ON verification_tokens (user_id, purpose);

-- TOTP second factor. The secret is stored encrypted (the service holds the key); backup
-- codes as a JSON array of hashes; last_used_step refuses a code replayed within its window.
CREATE TABLE two_factor_auth (
    user_id            TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    totp_secret_sealed BLOB NOT NULL,
    backup_code_hashes TEXT NOT NULL DEFAULT '[]',
    last_used_step     INTEGER,
    enabled_at         INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
