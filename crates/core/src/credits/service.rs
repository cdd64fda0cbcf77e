//! Credit operations: each validates its input, then hands the store a pure decision to run
//! inside one database transaction. Lost races are retried a bounded number of times.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mana_proto::FieldError;
use serde_json::json;

use super::{
    AppId, Balance, BalanceSummary, Bucket, CreditPolicy, Credits, IdempotencyKey, Memo, MovementError, Movements,
    SpendReceipt, SystemAccount, TransactionKind,
};
use crate::clock::Clock;
use crate::crypto::sha256;
use crate::error::{Error, Result};
use crate::ids::UserId;
use crate::store::{
    CreditChanges, CreditDecision, CreditOutcome, CreditPackage, CreditSnapshot, IdempotencyRecord, Purchase, Store,
    StoreError, TransactionView, UsageIncrement,
};

/// The largest amount one request may spend.
pub use mana_proto::limits::SPEND_MAX as MAX_SPEND;
use mana_proto::limits::{APP_ID_MAX_CHARS, DESCRIPTION_MAX_CHARS, IDEMPOTENCY_KEY_MAX_CHARS, METADATA_MAX_BYTES};
/// How often a store conflict (a lost race that even the locked pass could not settle, a
/// deadlock, a busy database) is retried before the client is told 409.
const MAX_ATTEMPTS: u32 = 3;

/// `POST /credits/use` as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct SpendRequest {
    pub amount: Option<i64>,
    pub app_id: String,
    pub description: String,
    pub idempotency_key: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// `limit` and `offset` of a transaction listing, as the client sent them.
pub type TransactionPage = crate::paging::Page;

pub struct CreditService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    policy: CreditPolicy,
}

/// A spend whose input has been checked.
struct ValidSpend {
    amount: Credits,
    app_id: AppId,
    description: String,
    key: Option<IdempotencyKey>,
    metadata: Option<serde_json::Value>,
}

impl CreditService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, policy: CreditPolicy) -> Self {
        Self { store, clock, policy }
    }

    pub fn policy(&self) -> &CreditPolicy {
        &self.policy
    }

    /// The balance, after the daily reset if one is due (which is then recorded).
    pub async fn balance(&self, user: UserId) -> Result<Balance> {
        let now = self.clock.now();
        let policy = self.policy.clone();
        let decide = move |snapshot: &CreditSnapshot| {
            let mut movements = Movements::new(snapshot.balance.clone(), now);
            match movements.reset_daily_if_due(&policy) {
                Ok(_) => {
                    let balance = movements.balance().clone();
                    CreditDecision { changes: changes(movements, None, None), outcome: CreditOutcome::Balance(balance) }
                }
                Err(_) => CreditDecision { changes: None, outcome: CreditOutcome::Overflow },
            }
        };
        match self.update(user, None, &decide).await? {
            CreditOutcome::Balance(balance) => Ok(balance),
            other => Err(unexpected(other)),
        }
    }

    /// Spends credits (daily allowance, then free, then paid) and answers with the receipt.
    /// With an idempotency key, a repeat of the same request gets the original receipt and
    /// moves nothing; a different request under the same key is refused.
    pub async fn spend(&self, user: UserId, request: SpendRequest) -> Result<SpendReceipt> {
        let spend = validate_spend(request)?;
        let request_hash = spend_hash(&spend);
        let now = self.clock.now();
        let policy = self.policy.clone();
        let key = spend.key.clone();
        let (app, amount) = (spend.app_id.clone(), spend.amount.0);
        let decide = move |snapshot: &CreditSnapshot| decide_spend(&spend, request_hash, &policy, now, snapshot);
        match self.update(user, key.as_ref(), &decide).await? {
            CreditOutcome::Spent(receipt) => {
                crate::telemetry::credits_spent(app.as_str(), amount);
                Ok(receipt)
            }
            CreditOutcome::Replayed(receipt) => Ok(receipt),
            CreditOutcome::KeyReused => Err(Error::IdempotencyKeyReused),
            CreditOutcome::Insufficient(_) => Err(Error::InsufficientCredits),
            other => Err(unexpected(other)),
        }
    }

    /// Adds paid credits as an `adjustment` (a support tool, and the way credits are granted
    /// until purchases exist).
    pub async fn grant_paid(
        &self,
        user: UserId,
        amount: i64,
        reason: &str,
    ) -> Result<(super::LedgerTransaction, Balance)> {
        if !(1..=MAX_SPEND).contains(&amount) {
            return Err(Error::invalid_field("amount", format!("must be a whole number from 1 to {MAX_SPEND}")));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > DESCRIPTION_MAX_CHARS {
            return Err(Error::invalid_field(
                "reason",
                format!("is required (at most {DESCRIPTION_MAX_CHARS} characters)"),
            ));
        }
        let now = self.clock.now();
        let policy = self.policy.clone();
        let reason = reason.to_owned();
        let decide = move |snapshot: &CreditSnapshot| {
            let mut movements = Movements::new(snapshot.balance.clone(), now);
            let granted = movements.reset_daily_if_due(&policy).and_then(|_| {
                let memo = Memo::new(reason.clone());
                movements
                    .grant(TransactionKind::Adjustment, Bucket::Paid, Credits(amount), SystemAccount::Adjustments, memo)
                    .cloned()
            });
            match granted {
                Ok(transaction) => {
                    let balance = movements.balance().clone();
                    let outcome = CreditOutcome::Granted { transaction, balance };
                    CreditDecision { changes: changes(movements, None, None), outcome }
                }
                Err(_) => CreditDecision { changes: None, outcome: CreditOutcome::Overflow },
            }
        };
        match self.update(user, None, &decide).await? {
            CreditOutcome::Granted { transaction, balance } => Ok((transaction, balance)),
            other => Err(unexpected(other)),
        }
    }

    /// An administrator's adjustment: `amount` paid credits added (positive) or taken back
    /// (negative, from paid credits only; `insufficient_credits` if they do not cover it), as an
    /// `adjustment` whose description is the reason and whose metadata names the administrator.
    /// With an idempotency key (kept apart from the user's own keys), a repeat gets the first
    /// answer and moves nothing; the flag says whether this call moved credits.
    pub async fn adjust(
        &self,
        user: UserId,
        admin: UserId,
        amount: i64,
        reason: &str,
        key: Option<&str>,
    ) -> Result<(SpendReceipt, bool)> {
        let mut errors = Vec::new();
        if amount == 0 || !(-MAX_SPEND..=MAX_SPEND).contains(&amount) {
            errors.push(FieldError::new(
                "amount",
                format!("must be a whole number from -{MAX_SPEND} to {MAX_SPEND}, not 0"),
            ));
        }
        let reason = reason.trim().to_owned();
        if reason.is_empty() || reason.chars().count() > DESCRIPTION_MAX_CHARS || reason.chars().any(char::is_control) {
            errors.push(FieldError::new(
                "reason",
                format!("is required (at most {DESCRIPTION_MAX_CHARS} printable characters)"),
            ));
        }
        let key = match key {
            None => None,
            Some(key) => match IdempotencyKey::parse(&format!("admin:{key}")) {
                Some(key) => Some(key),
                None => {
                    let most = mana_proto::limits::IDEMPOTENCY_KEY_MAX_CHARS - "admin:".len();
                    errors.push(FieldError::new(
                        "idempotencyKey",
                        format!("must be 1 to {most} printable ASCII characters"),
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let request_hash = sha256(json!({"admin": admin, "amount": amount, "reason": reason}).to_string().as_bytes());
        let (now, policy) = (self.clock.now(), self.policy.clone());
        let idempotency_key = key.clone();
        let decide = move |snapshot: &CreditSnapshot| {
            if let Some(replayed) = replay(snapshot, &request_hash) {
                return replayed;
            }
            let mut movements = Movements::new(snapshot.balance.clone(), now);
            let memo =
                Memo { description: reason.clone(), metadata: Some(json!({"adminId": admin})), ..Memo::default() };
            let moved = movements
                .reset_daily_if_due(&policy)
                .and_then(|_| movements.adjust_paid(Credits(amount), SystemAccount::Adjustments, memo).cloned());
            let transaction = match moved {
                Ok(transaction) => transaction,
                Err(MovementError::Insufficient) => {
                    return CreditDecision {
                        changes: None,
                        outcome: CreditOutcome::Insufficient(snapshot.balance.clone()),
                    };
                }
                Err(MovementError::Overflow) => {
                    return CreditDecision { changes: None, outcome: CreditOutcome::Overflow };
                }
            };
            let receipt = SpendReceipt {
                transaction: (&transaction).into(),
                balance: BalanceSummary::of(movements.balance(), &policy),
            };
            let idempotency = idempotency_key.clone().map(|key| IdempotencyRecord {
                key,
                request_hash,
                receipt: receipt.clone(),
                created_at: now,
            });
            CreditDecision { changes: changes(movements, None, idempotency), outcome: CreditOutcome::Spent(receipt) }
        };
        match self.update(user, key.as_ref(), &decide).await? {
            CreditOutcome::Spent(receipt) => Ok((receipt, true)),
            CreditOutcome::Replayed(receipt) => Ok((receipt, false)),
            CreditOutcome::KeyReused => Err(Error::IdempotencyKeyReused),
            CreditOutcome::Insufficient(_) => Err(Error::InsufficientCredits),
            other => Err(unexpected(other)),
        }
    }

    pub async fn transactions(&self, user: UserId, page: TransactionPage) -> Result<Vec<TransactionView>> {
        let (limit, offset) = page.bounds()?;
        // A due reset shows up in the list as it would on the balance.
        self.balance(user).await?;
        Ok(self.store.list_transactions(user, limit, offset).await?)
    }

    pub async fn packages(&self) -> Result<Vec<CreditPackage>> {
        Ok(self.store.list_packages().await?)
    }

    pub async fn purchases(&self, user: UserId) -> Result<Vec<Purchase>> {
        Ok(self.store.list_purchases(user).await?)
    }

    async fn update(
        &self,
        user: UserId,
        key: Option<&IdempotencyKey>,
        decide: &(dyn Fn(&CreditSnapshot) -> CreditDecision + Send + Sync),
    ) -> Result<CreditOutcome> {
        for attempt in 1..=MAX_ATTEMPTS {
            match self.store.update_credits(user, key, decide).await {
                Ok(CreditDecision { outcome: CreditOutcome::Overflow, .. }) => {
                    return Err(Error::Internal(anyhow::anyhow!("credit arithmetic overflow for user {user}")));
                }
                Ok(decision) => return Ok(decision.outcome),
                Err(StoreError::Conflict { constraint }) => {
                    tracing::debug!(attempt, constraint, %user, "credit update lost a race; retrying");
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::Conflict)
    }
}

fn decide_spend(
    spend: &ValidSpend,
    request_hash: [u8; 32],
    policy: &CreditPolicy,
    now: DateTime<Utc>,
    snapshot: &CreditSnapshot,
) -> CreditDecision {
    if let Some(replayed) = replay(snapshot, &request_hash) {
        return replayed;
    }
    let mut movements = Movements::new(snapshot.balance.clone(), now);
    if movements.reset_daily_if_due(policy).is_err() {
        return CreditDecision { changes: None, outcome: CreditOutcome::Overflow };
    }
    let memo = Memo { description: spend.description.clone(), metadata: spend.metadata.clone(), ..Memo::default() };
    let transaction = match movements.spend(spend.amount, &spend.app_id, memo) {
        Ok(transaction) => transaction.clone(),
        Err(MovementError::Insufficient) => {
            // Nothing is spent, but a reset that fell due is still recorded.
            let balance = movements.balance().clone();
            return CreditDecision {
                changes: changes(movements, None, None),
                outcome: CreditOutcome::Insufficient(balance),
            };
        }
        Err(MovementError::Overflow) => return CreditDecision { changes: None, outcome: CreditOutcome::Overflow },
    };
    let receipt =
        SpendReceipt { transaction: (&transaction).into(), balance: BalanceSummary::of(movements.balance(), policy) };
    let usage = UsageIncrement { app_id: spend.app_id.clone(), day: now.date_naive(), credits: spend.amount };
    let idempotency =
        spend.key.clone().map(|key| IdempotencyRecord { key, request_hash, receipt: receipt.clone(), created_at: now });
    CreditDecision { changes: changes(movements, Some(usage), idempotency), outcome: CreditOutcome::Spent(receipt) }
}

/// The answer to a request whose idempotency key was used before: the first answer again for
/// the same request, a refusal for another. `None`: the key is new (or there is none).
fn replay(snapshot: &CreditSnapshot, request_hash: &[u8; 32]) -> Option<CreditDecision> {
    let previous = snapshot.idempotency.as_ref()?;
    let outcome = if crate::crypto::constant_time_eq(&previous.request_hash, request_hash) {
        CreditOutcome::Replayed(previous.receipt.clone())
    } else {
        CreditOutcome::KeyReused
    };
    Some(CreditDecision { changes: None, outcome })
}

/// The writes of a decision, or none if nothing moved.
fn changes(
    movements: Movements,
    usage: Option<UsageIncrement>,
    idempotency: Option<IdempotencyRecord>,
) -> Option<CreditChanges> {
    if movements.is_unchanged() {
        return None;
    }
    let (balance, transactions) = movements.into_parts();
    Some(CreditChanges { balance, transactions, usage, idempotency })
}

fn unexpected(outcome: CreditOutcome) -> Error {
    Error::Internal(anyhow::anyhow!("unexpected credit outcome {outcome:?}"))
}

fn validate_spend(request: SpendRequest) -> Result<ValidSpend> {
    let mut errors = Vec::new();
    let amount = match request.amount {
        None => {
            errors.push(FieldError::new("amount", "is required"));
            0
        }
        Some(amount) if !(1..=MAX_SPEND).contains(&amount) => {
            errors.push(FieldError::new("amount", format!("must be a whole number from 1 to {MAX_SPEND}")));
            0
        }
        Some(amount) => amount,
    };
    let app_text = request.app_id.trim();
    let app_id = AppId::parse(app_text);
    if app_text.is_empty() {
        errors.push(FieldError::new("appId", "is required"));
    } else if app_id.is_none() {
        errors.push(FieldError::new(
            "appId",
            format!("must be at most {APP_ID_MAX_CHARS} letters, digits, '-', '_' or '.'"),
        ));
    }
    let description = request.description.trim().to_owned();
    if description.is_empty() {
        errors.push(FieldError::new("description", "is required"));
    } else if description.chars().count() > DESCRIPTION_MAX_CHARS || description.chars().any(char::is_control) {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {DESCRIPTION_MAX_CHARS} printable characters"),
        ));
    }
    let key = request.idempotency_key.as_deref().map(IdempotencyKey::parse);
    if let Some(None) = key {
        errors.push(FieldError::new(
            "idempotencyKey",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} visible ASCII characters"),
        ));
    }
    let metadata = request.metadata.filter(|m| !m.is_null());
    if let Some(metadata) = &metadata
        && (!metadata.is_object() || metadata.to_string().len() > METADATA_MAX_BYTES)
    {
        errors
            .push(FieldError::new("metadata", format!("must be a JSON object of at most {METADATA_MAX_BYTES} bytes")));
    }
    match (app_id, key) {
        (Some(app_id), key) if errors.is_empty() => {
            Ok(ValidSpend { amount: Credits(amount), app_id, description, key: key.flatten(), metadata })
        }
        _ => Err(Error::Validation(errors)),
    }
}

/// What identifies a spend for idempotency: everything but the key itself. serde_json sorts
/// object keys, so equal metadata hashes equally whatever order the client wrote it in.
fn spend_hash(spend: &ValidSpend) -> [u8; 32] {
    let canonical = json!({
        "amount": spend.amount.0,
        "appId": spend.app_id,
        "description": spend.description,
        "metadata": spend.metadata,
    });
    sha256(canonical.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(amount: i64) -> SpendRequest {
        SpendRequest { amount: Some(amount), app_id: "chat".into(), description: "reply".into(), ..Default::default() }
    }

    #[test]
    fn spend_input_is_validated_field_by_field() {
        let Err(Error::Validation(errors)) = validate_spend(SpendRequest::default()) else { panic!() };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["amount", "appId", "description"]);
        for bad in [0, -1, MAX_SPEND + 1] {
            assert!(validate_spend(request(bad)).is_err(), "{bad}");
        }
        let bad_metadata = SpendRequest { metadata: Some(json!([1])), ..request(1) };
        assert!(validate_spend(bad_metadata).is_err());
        let bad_key = SpendRequest { idempotency_key: Some("has space".into()), ..request(1) };
        assert!(validate_spend(bad_key).is_err());
        assert!(validate_spend(request(MAX_SPEND)).is_ok());
    }

    #[test]
    fn the_request_hash_ignores_metadata_key_order_but_not_values() {
        let with = |metadata| validate_spend(SpendRequest { metadata: Some(metadata), ..request(3) }).unwrap();
        let a = spend_hash(&with(serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap()));
        let b = spend_hash(&with(serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap()));
        let c = spend_hash(&with(serde_json::from_str(r#"{"a":1,"b":3}"#).unwrap()));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(spend_hash(&validate_spend(request(3)).unwrap()), spend_hash(&validate_spend(request(4)).unwrap()));
    }
}
