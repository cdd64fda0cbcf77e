-- A link started by a signed-in user finishes only when that user confirms it: the provider's
-- identity waits with a one-time code, which the callback hands back instead of linking at
-- once (a link begun by someone else and finished in a victim's browser links nothing).
ALTER TABLE auth.oauth_exchange_codes ADD COLUMN link_identity jsonb;
