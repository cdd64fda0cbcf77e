//! Retention: one transaction deletes what has served its purpose; the ledger is never touched.

use async_trait::async_trait;
use mana_core::store::{PruneCutoffs, PruneReport, RetentionStore, StoreResult};

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::sql::Sql;
use crate::statement::Statement;

/// Instances sharing a PostgreSQL database prune one at a time: the first takes this
/// transaction-scoped lock, the others skip. A SQLite write transaction is exclusive anyway.
static TAKE_PRUNE_LOCK: Sql =
    Sql::each("SELECT pg_try_advisory_xact_lock(7243120519) AS locked", "SELECT true AS locked");
static REFRESH_TOKENS: Sql = Sql::new(
    "DELETE FROM auth.refresh_tokens WHERE session_id IN
         (SELECT id FROM auth.sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1)",
);
static LINK_TOKENS: Sql =
    Sql::new("DELETE FROM auth.verification_tokens WHERE used_at IS NOT NULL OR expires_at <= $1");
static MFA_CHALLENGES: Sql = Sql::new("DELETE FROM auth.mfa_challenges WHERE used_at IS NOT NULL OR expires_at <= $1");
static OAUTH_FLOWS: Sql = Sql::new("DELETE FROM auth.oauth_flows WHERE used_at IS NOT NULL OR expires_at <= $1");
static EXCHANGE_CODES: Sql =
    Sql::new("DELETE FROM auth.oauth_exchange_codes WHERE used_at IS NOT NULL OR expires_at <= $1");
static IDEMPOTENCY_KEYS: Sql = Sql::new("DELETE FROM credits.idempotency_keys WHERE created_at < $1");
static DELIVERED_EMAILS: Sql = Sql::new("DELETE FROM auth.email_outbox WHERE delivered_at IS NOT NULL");
static SECURITY_EVENTS: Sql = Sql::new("DELETE FROM auth.security_events WHERE created_at < $1");

#[async_trait]
impl<B: Backend> RetentionStore for SqlStore<B> {
    async fn prune(&self, cutoffs: PruneCutoffs) -> StoreResult<Option<PruneReport>> {
        let mut tx = self.backend.write().await?;
        let locked = B::fetch_optional(&mut tx, Statement::new(&TAKE_PRUNE_LOCK)).await?;
        if !locked.map(|row| row.flag("locked")).transpose()?.unwrap_or(false) {
            B::finish(tx).await?;
            return Ok(None);
        }
        let report = PruneReport {
            refresh_tokens: B::execute(&mut tx, Statement::new(&REFRESH_TOKENS).time(cutoffs.now)).await?,
            link_tokens: B::execute(&mut tx, Statement::new(&LINK_TOKENS).time(cutoffs.now)).await?,
            mfa_challenges: B::execute(&mut tx, Statement::new(&MFA_CHALLENGES).time(cutoffs.now)).await?,
            oauth_flows: B::execute(&mut tx, Statement::new(&OAUTH_FLOWS).time(cutoffs.now)).await?,
            exchange_codes: B::execute(&mut tx, Statement::new(&EXCHANGE_CODES).time(cutoffs.now)).await?,
            idempotency_keys: B::execute(&mut tx, Statement::new(&IDEMPOTENCY_KEYS).time(cutoffs.idempotency_before))
                .await?,
            delivered_emails: B::execute(&mut tx, Statement::new(&DELIVERED_EMAILS)).await?,
            security_events: B::execute(&mut tx, Statement::new(&SECURITY_EVENTS).time(cutoffs.events_before)).await?,
        };
        B::finish(tx).await?;
        Ok(Some(report))
    }
}
