-- The email outbox (SPEC §4): a message is written in the transaction of the change that causes
-- it and delivered afterwards by a worker. A claim leases rows (`locked_until`) with
-- FOR UPDATE SKIP LOCKED, so instances never hand one row to two senders at once; a lease left
-- by a crashed instance runs out and the row is claimed again.
CREATE TABLE auth.email_outbox (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    to_address      text NOT NULL,
    subject         text NOT NULL,
    text_body       text NOT NULL,
    html_body       text NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    delivered_at    timestamptz,
    -- Set when retries are spent; the row is kept for the operator.
    failed_at       timestamptz,
    last_error      text
);
CREATE INDEX email_outbox_due ON auth.email_outbox (next_attempt_at, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_outbox_user_id ON auth.email_outbox (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON auth.email_outbox TO mana_app;
ALTER TABLE auth.email_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.email_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON auth.email_outbox TO mana_app
    USING (user_id = auth.uid() OR auth.is_privileged())
    WITH CHECK (user_id = auth.uid() OR auth.is_privileged());
DO $$
BEGIN
    EXECUTE format('CREATE POLICY service_owner ON auth.email_outbox TO %I USING (true) WITH CHECK (true)', current_user);
END
$$;
