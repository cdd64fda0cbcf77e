-- The credit ledger in schema "credits". Amounts are bigint credits (1 mana = 1 euro cent by default).

-- Each user's cached balance: three buckets, running totals, the last daily reset, and the
-- version that optimistic locking compares. System accounts have no row here: their balance is
-- the sum of their postings, so concurrent spenders never contend on a shared row.
CREATE TABLE credits.balances (
    user_id        uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
    daily          bigint NOT NULL CHECK (daily >= 0),
    free           bigint NOT NULL CHECK (free >= 0),
    paid           bigint NOT NULL CHECK (paid >= 0),
    total_earned   bigint NOT NULL CHECK (total_earned >= 0),
    total_spent    bigint NOT NULL CHECK (total_spent >= 0),
    daily_reset_at timestamptz NOT NULL,
    version        bigint NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- Immutable: corrections are new transactions.
CREATE TABLE credits.transactions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES auth.users (id),
    kind          text NOT NULL CHECK (kind IN ('purchase', 'usage', 'refund', 'bonus', 'daily', 'expiry', 'adjustment')),
    amount        bigint NOT NULL,
    balance_after bigint NOT NULL,
    app_id        text,
    description   text NOT NULL,
    metadata      jsonb,
    created_at    timestamptz NOT NULL
);
CREATE INDEX transactions_user_newest ON credits.transactions (user_id, created_at DESC, id DESC);

-- The legs of each transaction; they sum to zero. A user bucket has user_id set and account
-- 'daily', 'free' or 'paid'; a system account has no user_id and a name such as 'usage:chat'.
CREATE TABLE credits.postings (
    transaction_id uuid NOT NULL REFERENCES credits.transactions (id),
    user_id        uuid,
    account        text NOT NULL,
    amount         bigint NOT NULL,
    PRIMARY KEY (transaction_id, account)
);
CREATE INDEX postings_user_account ON credits.postings (user_id, account) WHERE user_id IS NOT NULL;

CREATE FUNCTION credits.refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is immutable: % on % refused', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER transactions_immutable BEFORE UPDATE OR DELETE ON credits.transactions
    FOR EACH ROW EXECUTE FUNCTION credits.refuse_ledger_change();
CREATE TRIGGER postings_immutable BEFORE UPDATE OR DELETE ON credits.postings
    FOR EACH ROW EXECUTE FUNCTION credits.refuse_ledger_change();

-- The saved answer of each idempotent request, written with its movement.
CREATE TABLE credits.idempotency_keys (
    user_id      uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Usage per user, app and UTC day, kept in step with usage transactions.
CREATE TABLE credits.usage_stats (
    user_id      uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    app_id       text NOT NULL,
    day          date NOT NULL,
    credits_used bigint NOT NULL,
    uses         bigint NOT NULL,
    PRIMARY KEY (user_id, app_id, day)
);

CREATE TABLE credits.packages (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    credits         bigint NOT NULL CHECK (credits > 0),
    price_cents     bigint NOT NULL CHECK (price_cents > 0),
    currency        text NOT NULL DEFAULT 'EUR',
    stripe_price_id text,
    active          boolean NOT NULL DEFAULT true,
    sort_order      integer NOT NULL DEFAULT 0
);
-- The default catalogue (1 mana = 1 euro cent; larger packages carry a bonus).
INSERT INTO credits.packages (id, name, credits, price_cents, currency, sort_order) VALUES
    ('starter', 'Starter', 500, 500, 'EUR', 10),
    ('standard', 'Standard', 1100, 1000, 'EUR', 20),
    ('plus', 'Plus', 2400, 2000, 'EUR', 30),
    ('pro', 'Pro', 6500, 5000, 'EUR', 40);

-- Ready for payments: filled by the purchase flow, read by GET /credits/purchases.
CREATE TABLE credits.purchases (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES auth.users (id),
    package_id         text REFERENCES credits.packages (id),
    credits            bigint NOT NULL CHECK (credits > 0),
    amount_cents       bigint NOT NULL CHECK (amount_cents >= 0),
    currency           text NOT NULL,
    status             text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    provider_reference text UNIQUE,
    created_at         timestamptz NOT NULL,
    completed_at       timestamptz
);
CREATE INDEX purchases_user_newest ON credits.purchases (user_id, created_at DESC);

-- Users registered before the ledger existed start empty; their first balance read or spend
-- grants the daily allowance (a reset time at the epoch is long past).
INSERT INTO credits.balances (user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version, updated_at)
SELECT id, 0, 0, 0, 0, 0, 'epoch', 0, created_at FROM auth.users;
