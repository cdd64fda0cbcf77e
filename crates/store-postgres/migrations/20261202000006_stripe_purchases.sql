-- Purchases paid through Stripe (checkout sessions and payment intents) and the events that
-- settle them. A purchase keeps what its events said (merged: flags only turn on, the refunded
-- amount only grows, a dispute only moves forward) and what it moved in the ledger so far; the
-- ledger transactions it caused name it, so `ledger verify` can sum them per purchase.
ALTER TABLE credits.purchases DROP CONSTRAINT purchases_status_check;
ALTER TABLE credits.purchases ADD CONSTRAINT purchases_status_check CHECK (status IN
    ('pending', 'succeeded', 'failed', 'canceled', 'refunded', 'partially_refunded', 'disputed'));
ALTER TABLE credits.purchases DROP COLUMN provider_reference;
ALTER TABLE credits.purchases
    ADD COLUMN flow                  text NOT NULL DEFAULT 'checkout' CHECK (flow IN ('checkout', 'payment_intent')),
    ADD COLUMN idempotency_key       text,
    ADD COLUMN checkout_session_id   text UNIQUE,
    ADD COLUMN payment_intent_id     text UNIQUE,
    -- What the buyer's client needs to pay, kept so that a retried request gets it again.
    ADD COLUMN checkout_url          text,
    ADD COLUMN client_secret         text,
    ADD COLUMN paid                  boolean NOT NULL DEFAULT false,
    ADD COLUMN failed                boolean NOT NULL DEFAULT false,
    ADD COLUMN canceled              boolean NOT NULL DEFAULT false,
    ADD COLUMN amount_refunded_cents bigint NOT NULL DEFAULT 0 CHECK (amount_refunded_cents >= 0),
    ADD COLUMN dispute               text NOT NULL DEFAULT 'none' CHECK (dispute IN ('none', 'open', 'won', 'lost')),
    ADD COLUMN credits_granted       bigint NOT NULL DEFAULT 0 CHECK (credits_granted >= 0),
    ADD COLUMN credits_reversed      bigint NOT NULL DEFAULT 0 CHECK (credits_reversed >= 0),
    ADD COLUMN credits_restored      bigint NOT NULL DEFAULT 0 CHECK (credits_restored >= 0),
    ADD COLUMN updated_at            timestamptz;
CREATE UNIQUE INDEX purchases_idempotency ON credits.purchases (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE credits.transactions ADD COLUMN purchase_id uuid REFERENCES credits.purchases (id);
CREATE INDEX transactions_purchase ON credits.transactions (purchase_id) WHERE purchase_id IS NOT NULL;

-- Every provider event applied, written in the transaction of its effect: a redelivery finds
-- its id here and changes nothing.
CREATE TABLE credits.stripe_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    purchase_id uuid REFERENCES credits.purchases (id),
    received_at timestamptz NOT NULL
);
CREATE INDEX stripe_events_purchase ON credits.stripe_events (purchase_id);

-- Webhooks act for no user: only the privileged scope sees these rows.
GRANT SELECT, INSERT ON credits.stripe_events TO mana_app;
ALTER TABLE credits.stripe_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits.stripe_events FORCE ROW LEVEL SECURITY;
CREATE POLICY privileged_only ON credits.stripe_events TO mana_app
    USING (auth.is_privileged()) WITH CHECK (auth.is_privileged());
DO $$
BEGIN
    EXECUTE format('CREATE POLICY service_owner ON credits.stripe_events TO %I USING (true) WITH CHECK (true)', current_user);
END
$$;
