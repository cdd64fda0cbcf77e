-- Row-level security. The service acts for one user at a time as the role mana_app, with that
-- user's claims set for the transaction (see src/scope.rs):
--     SELECT set_config('role', 'mana_app', true),
--            set_config('request.jwt.claims', '{"sub": "<user id>", "role": "user"}', true);
-- Policies then hand back only that user's rows, so a query that forgets its WHERE user_id still
-- cannot read or write another user's data. Look-ups that come before a user is known (login by
-- email, refresh by token hash, session checks, `ledger verify`) run as the role that owns the
-- tables (the one running these migrations), through an explicit policy of its own: RLS is
-- FORCEd, so no role, the owner included, reads a protected table without a policy saying so.

-- The caller's claims, from the transaction-local setting; NULL when none are set.
CREATE FUNCTION auth.claims() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb
$$;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(auth.claims() ->> 'sub', '')::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(auth.claims() ->> 'role', '')
$$;
-- Admins and other services act on every user's rows.
CREATE FUNCTION auth.is_privileged() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(auth.role() IN ('admin', 'service'), false)
$$;

-- The role is cluster-wide (several databases may share it); it cannot log in, and the owner
-- switches to it per transaction, which needs membership. Creating it needs CREATEROLE; an
-- operator may create it beforehand instead.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mana_app') THEN
        BEGIN
            CREATE ROLE mana_app NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            -- Another database of this cluster migrating at the same moment created it.
            NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, 'mana_app', 'MEMBER') THEN
        EXECUTE format('GRANT mana_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA auth, credits TO mana_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth, credits TO mana_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA auth, credits TO mana_app;

-- Every table that holds a user's rows, with the column naming the user.
DO $$
DECLARE
    protected record;
BEGIN
    FOR protected IN
        SELECT * FROM (VALUES
            ('auth.users', 'id'),
            ('auth.passwords', 'user_id'),
            ('auth.sessions', 'user_id'),
            ('auth.security_events', 'user_id'),
            ('auth.accounts', 'user_id'),
            ('auth.verification_tokens', 'user_id'),
            ('auth.two_factor_auth', 'user_id'),
            ('credits.balances', 'user_id'),
            ('credits.transactions', 'user_id'),
            ('credits.idempotency_keys', 'user_id'),
            ('credits.usage_stats', 'user_id'),
            ('credits.purchases', 'user_id')
        ) AS t (tbl, owner_column)
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', protected.tbl);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', protected.tbl);
        EXECUTE format(
            'CREATE POLICY own_rows ON %s TO mana_app USING (%I = auth.uid() OR auth.is_privileged()) '
            'WITH CHECK (%I = auth.uid() OR auth.is_privileged())',
            protected.tbl, protected.owner_column, protected.owner_column);
        EXECUTE format('CREATE POLICY service_owner ON %s TO %I USING (true) WITH CHECK (true)',
            protected.tbl, current_user);
    END LOOP;
END
$$;

-- Rows owned through a parent: a refresh token through its session, a posting through its
-- transaction (system legs of a user's transaction have no user_id of their own).
ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON auth.refresh_tokens TO mana_app
    USING (auth.is_privileged() OR EXISTS (
        SELECT 1 FROM auth.sessions s WHERE s.id = session_id AND s.user_id = auth.uid()))
    WITH CHECK (auth.is_privileged() OR EXISTS (
        SELECT 1 FROM auth.sessions s WHERE s.id = session_id AND s.user_id = auth.uid()));

ALTER TABLE credits.postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits.postings FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON credits.postings TO mana_app
    USING (auth.is_privileged() OR user_id = auth.uid() OR EXISTS (
        SELECT 1 FROM credits.transactions t WHERE t.id = transaction_id AND t.user_id = auth.uid()))
    WITH CHECK (auth.is_privileged() OR user_id = auth.uid() OR EXISTS (
        SELECT 1 FROM credits.transactions t WHERE t.id = transaction_id AND t.user_id = auth.uid()));

DO $$
BEGIN
    EXECUTE format('CREATE POLICY service_owner ON auth.refresh_tokens TO %I USING (true) WITH CHECK (true)', current_user);
    EXECUTE format('CREATE POLICY service_owner ON credits.postings TO %I USING (true) WITH CHECK (true)', current_user);
END
$$;
