-- The credit ledger. Amounts are INTEGER credits (1 mana = 1 euro cent by default).

-- Each user's cached balance: three buckets, running totals, the last daily reset, and the
-- version that optimistic locking compares. System accounts have no row here: their balance is
-- the sum of their postings, so concurrent spenders never contend on a shared row.
CREATE TABLE credit_balances (
    user_id        TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    daily          INTEGER NOT NULL CHECK (daily >= 0),
    free           INTEGER NOT NULL CHECK (free >= 0),
    paid           INTEGER NOT NULL CHECK (paid >= 0),
    total_earned   INTEGER NOT NULL CHECK (total_earned >= 0),
    total_spent    INTEGER NOT NULL CHECK (total_spent >= 0),
    daily_reset_at INTEGER NOT NULL,
    version        INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- Immutable: corrections are new transactions.
CREATE TABLE credit_transactions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    kind          TEXT NOT NULL CHECK (kind IN ('purchase', 'usage', 'refund', 'bonus', 'daily', 'expiry', 'adjustment')),
    amount        INTEGER NOT NULL,
    balance_after INTEGER NOT NULL,
    app_id        TEXT,
    description   TEXT NOT NULL,
    metadata      TEXT,
    created_at    INTEGER NOT NULL
);
CREATE INDEX credit_transactions_user_newest ON credit_transactions (user_id, created_at DESC, id DESC);

-- The legs of each transaction; they sum to zero. A user bucket has user_id set and account
-- 'daily', 'free' or 'paid'; a system account has no user_id and a name such as 'usage:chat'.
CREATE TABLE credit_postings (
    transaction_id TEXT NOT NULL REFERENCES credit_transactions (id),
    user_id        TEXT,
    account        TEXT NOT NULL,
    amount         INTEGER NOT NULL,
    PRIMARY KEY (transaction_id, account)
) WITHOUT ROWID;
CREATE INDEX credit_postings_user_account ON credit_postings (user_id, account) WHERE user_id IS NOT NULL;

CREATE TRIGGER credit_transactions_no_update BEFORE UPDATE ON credit_transactions
BEGIN SELECT RAISE(ABORT, 'ledger transactions are immutable'); END;
CREATE TRIGGER credit_transactions_no_delete BEFORE DELETE ON credit_transactions
BEGIN SELECT RAISE(ABORT, 'ledger transactions are immutable'); END;
CREATE TRIGGER credit_postings_no_update BEFORE UPDATE ON credit_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END;
CREATE TRIGGER credit_postings_no_delete BEFORE DELETE ON credit_postings
BEGIN SELECT RAISE(ABORT, 'ledger postings are immutable'); END;

-- The saved answer of each idempotent request, written with its movement.
CREATE TABLE credit_idempotency_keys (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response     TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) WITHOUT ROWID;

-- Usage per user, app and UTC day, kept in step with usage transactions.
CREATE TABLE credit_usage_stats (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id       TEXT NOT NULL,
    day          TEXT NOT NULL,
    credits_used INTEGER NOT NULL,
    uses         INTEGER NOT NULL,
    PRIMARY KEY (user_id, app_id, day)
) WITHOUT ROWID;

CREATE TABLE credit_packages (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    credits         INTEGER NOT NULL CHECK (credits > 0),
    price_cents     INTEGER NOT NULL CHECK (price_cents > 0),
    currency        TEXT NOT NULL DEFAULT 'EUR',
    stripe_price_id TEXT,
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    sort_order      INTEGER NOT NULL DEFAULT 0
);
-- The default catalogue (1 mana = 1 euro cent; larger packages carry a bonus).
INSERT INTO credit_packages (id, name, credits, price_cents, currency, sort_order) VALUES
    ('starter', 'Starter', 500, 500, 'EUR', 10),
    ('standard', 'Standard', 1100, 1000, 'EUR', 20),
    ('plus', 'Plus', 2400, 2000, 'EUR', 30),
    ('pro', 'Pro', 6500, 5000, 'EUR', 40);

-- Ready for payments: filled by the purchase flow, read by GET /credits/purchases.
CREATE TABLE credit_purchases (
    id                 TEXT PRIMARY KEY NOT NULL,
    user_id            TEXT NOT NULL REFERENCES users (id),
    package_id         TEXT REFERENCES credit_packages (id),
    credits            INTEGER NOT NULL CHECK (credits > 0),
    amount_cents       INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    provider_reference TEXT UNIQUE,
    created_at         INTEGER NOT NULL,
    completed_at       INTEGER
);
CREATE INDEX credit_purchases_user_newest ON credit_purchases (user_id, created_at DESC);

-- Users registered before the ledger existed start empty; their first balance read or spend
-- grants the daily allowance (reset time 0 is long past).
INSERT INTO credit_balances (user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version, updated_at)
SELECT id, 0, 0, 0, 0, 0, 0, 0, created_at FROM users;
