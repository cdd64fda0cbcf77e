-- Purchases paid through Stripe and the events that settle them (see the PostgreSQL migration
-- of the same name). SQLite cannot change a CHECK constraint, so the purchases table is made
-- anew; nothing referred to it yet.
CREATE TABLE credit_purchases_new (
    id                    TEXT PRIMARY KEY NOT NULL,
    user_id               TEXT NOT NULL REFERENCES users (id),
    package_id            TEXT REFERENCES credit_packages (id),
    credits               INTEGER NOT NULL CHECK (credits > 0),
    amount_cents          INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency              TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN
        ('pending', 'succeeded', 'failed', 'canceled', 'refunded', 'partially_refunded', 'disputed')),
    created_at            INTEGER NOT NULL,
    completed_at          INTEGER,
    flow                  TEXT NOT NULL DEFAULT 'checkout' CHECK (flow IN ('checkout', 'payment_intent')),
    idempotency_key       TEXT,
    checkout_session_id   TEXT UNIQUE,
    payment_intent_id     TEXT UNIQUE,
    checkout_url          TEXT,
    client_secret         TEXT,
    paid                  INTEGER NOT NULL DEFAULT 0,
    failed                INTEGER NOT NULL DEFAULT 0,
    canceled              INTEGER NOT NULL DEFAULT 0,
    amount_refunded_cents INTEGER NOT NULL DEFAULT 0 CHECK (amount_refunded_cents >= 0),
    dispute               TEXT NOT NULL DEFAULT 'none' CHECK (dispute IN ('none', 'open', 'won', 'lost')),
    credits_granted       INTEGER NOT NULL DEFAULT 0 CHECK (credits_granted >= 0),
    credits_reversed      INTEGER NOT NULL DEFAULT 0 CHECK (credits_reversed >= 0),
    credits_restored      INTEGER NOT NULL DEFAULT 0 CHECK (credits_restored >= 0),
    updated_at            INTEGER
);
INSERT INTO credit_purchases_new (id, user_id, package_id, credits, amount_cents, currency, status, created_at, completed_at)
SELECT id, user_id, package_id, credits, amount_cents, currency, status, created_at, completed_at FROM credit_purchases;
DROP TABLE credit_purchases;
ALTER TABLE credit_purchases_new RENAME TO credit_purchases;
CREATE INDEX credit_purchases_user_newest ON credit_purchases (user_id, created_at DESC);
CREATE UNIQUE INDEX credit_purchases_idempotency ON credit_purchases (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE credit_transactions ADD COLUMN purchase_id TEXT REFERENCES credit_purchases (id);
CREATE INDEX credit_transactions_purchase ON credit_transactions (purchase_id) WHERE purchase_id IS NOT NULL;

CREATE TABLE credit_stripe_events (
    id          TEXT PRIMARY KEY NOT NULL,
    type        TEXT NOT NULL,
    purchase_id TEXT REFERENCES credit_purchases (id),
    received_at INTEGER NOT NULL
);
CREATE INDEX credit_stripe_events_purchase ON credit_stripe_events (purchase_id);
