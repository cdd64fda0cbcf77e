//! Retention (SPEC §4): what may be deleted once it serves no purpose. Ledger rows never are.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// What goes: refresh tokens of sessions revoked or expired by `now`, email-link tokens and
/// second-factor login challenges, social sign-in flows and exchange codes used or expired by
/// `now`, delivered emails, idempotency keys created before `idempotency_before`,
/// security events before `events_before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCutoffs {
    pub now: DateTime<Utc>,
    pub idempotency_before: DateTime<Utc>,
    pub events_before: DateTime<Utc>,
}

/// How many rows of each kind went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub refresh_tokens: u64,
    pub link_tokens: u64,
    pub mfa_challenges: u64,
    pub oauth_flows: u64,
    pub exchange_codes: u64,
    pub idempotency_keys: u64,
    pub delivered_emails: u64,
    pub security_events: u64,
}

#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Deletes what [`PruneCutoffs`] names, in one transaction. `None`: another instance is
    /// pruning right now, and this call did nothing.
    async fn prune(&self, cutoffs: PruneCutoffs) -> StoreResult<Option<PruneReport>>;
}
