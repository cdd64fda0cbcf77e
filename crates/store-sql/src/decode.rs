//! Result rows to domain values, once for every backend.

use anyhow::anyhow;
use mana_core::credits::{Account, AppId, Balance, Bucket, Credits, IdempotencyKey, TransactionKind};
use mana_core::email::Email;
use mana_core::ids::{Role, SessionId, UserId};
use mana_core::payments::{DisputeState, PaymentFacts, Settled};
use mana_core::store::{
    ClientInfo, CreditPackage, IdempotencyRecord, PaymentFlow, Purchase, PurchaseStatus, SecurityEvent,
    SecurityEventKind, Session, StoreError, StoreResult, TransactionView, UsageStat, User,
};
use mana_core::tokens::TokenHash;

use crate::backend::SqlRow;

/// A stored value the domain cannot take: the database holds something no release wrote.
pub fn corrupt(what: String) -> StoreError {
    StoreError::Other(anyhow!(what))
}

pub fn user_id(row: &impl SqlRow, column: &str) -> StoreResult<UserId> {
    row.id(column).map(UserId)
}

/// The user columns `{prefix}id`, `{prefix}email`, … of a row.
pub fn user(row: &impl SqlRow, prefix: &str) -> StoreResult<User> {
    let col = |name: &str| format!("{prefix}{name}");
    let email = row.text(&col("email"))?;
    let role = row.text(&col("role"))?;
    Ok(User {
        id: user_id(row, &col("id"))?,
        email: Email::parse(&email).map_err(|e| corrupt(format!("stored email {email:?} {e}")))?,
        name: row.opt_text(&col("name"))?,
        role: role.parse::<Role>().map_err(corrupt)?,
        email_verified: row.flag(&col("email_verified"))?,
        created_at: row.time(&col("created_at"))?,
        updated_at: row.time(&col("updated_at"))?,
        deleted_at: row.opt_time(&col("deleted_at"))?,
        locked_at: row.opt_time(&col("locked_at"))?,
    })
}

/// The columns [`user`] reads, unprefixed; a macro, so that statements can `concat!` it.
macro_rules! user_columns {
    () => {
        "id, email, name, role, email_verified, created_at, updated_at, deleted_at, locked_at"
    };
}
pub(crate) use user_columns;

pub fn client(row: &impl SqlRow) -> StoreResult<ClientInfo> {
    Ok(ClientInfo { ip: row.opt_text("ip")?, user_agent: row.opt_text("user_agent")? })
}

pub fn role(row: &impl SqlRow, column: &str) -> StoreResult<Role> {
    row.text(column)?.parse().map_err(corrupt)
}

pub fn token_hash(row: &impl SqlRow, column: &str) -> StoreResult<TokenHash> {
    TokenHash::from_slice(&row.bytes(column)?).ok_or_else(|| corrupt("stored token hash has the wrong length".into()))
}

pub fn session(row: &impl SqlRow) -> StoreResult<Session> {
    Ok(Session {
        id: SessionId(row.id("id")?),
        user_id: user_id(row, "user_id")?,
        device_id: row.opt_text("device_id")?,
        device_name: row.opt_text("device_name")?,
        client: client(row)?,
        created_at: row.time("created_at")?,
        last_used_at: row.time("last_used_at")?,
        expires_at: row.time("expires_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        generation: row.int("generation")?,
        refresh_token_hash: token_hash(row, "refresh_token_hash")?,
        rotated_at: row.opt_time("rotated_at")?,
        rotation_nonce: row
            .opt_bytes("rotation_nonce")?
            .map(|bytes| bytes.try_into().map_err(|_| corrupt("bad rotation nonce".into())))
            .transpose()?,
        access_jti: row.text("access_jti")?,
        access_issued_at: row.time("access_issued_at")?,
        amr: row.text("amr")?.split_whitespace().map(str::to_owned).collect(),
    })
}

/// The columns [`session`] reads, from a table aliased `s`.
macro_rules! session_columns {
    () => {
        "s.id, s.user_id, s.device_id, s.device_name, s.ip, s.user_agent, s.created_at, s.last_used_at,
         s.expires_at, s.revoked_at, s.generation, s.refresh_token_hash, s.rotated_at, s.rotation_nonce,
         s.access_jti, s.access_issued_at, s.amr"
    };
}
pub(crate) use session_columns;

pub fn security_event(row: &impl SqlRow) -> StoreResult<SecurityEvent> {
    let kind = row.text("kind")?;
    Ok(SecurityEvent {
        id: row.int("id")?,
        user_id: row.opt_id("user_id")?.map(UserId),
        kind: SecurityEventKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown event kind {kind:?}")))?,
        client: client(row)?,
        at: row.time("created_at")?,
        details: serde_json::from_value(row.opt_json("details")?.unwrap_or_else(|| serde_json::json!({})))
            .map_err(|e| corrupt(format!("bad event details: {e}")))?,
    })
}

/// The balance columns (`daily`, `free`, `paid`, `owed`, totals, `daily_reset_at`, `version`).
pub fn balance(row: &impl SqlRow, user: UserId) -> StoreResult<Balance> {
    Ok(Balance {
        user_id: user,
        daily: Credits(row.int("daily")?),
        free: Credits(row.int("free")?),
        paid: Credits(row.int("paid")?),
        owed: Credits(row.int("owed")?),
        total_earned: Credits(row.int("total_earned")?),
        total_spent: Credits(row.int("total_spent")?),
        daily_reset_at: row.time("daily_reset_at")?,
        version: row.int("version")?,
    })
}

/// The idempotency record joined to a balance row under `i_`-prefixed names, if there is one.
pub fn idempotency_record(row: &impl SqlRow) -> StoreResult<Option<IdempotencyRecord>> {
    let Some(key) = row.opt_text("i_key")? else {
        return Ok(None);
    };
    let receipt = row.opt_json("response")?.ok_or_else(|| corrupt("idempotency record without a receipt".into()))?;
    Ok(Some(IdempotencyRecord {
        key: IdempotencyKey::parse(&key).ok_or_else(|| corrupt(format!("bad idempotency key {key:?}")))?,
        request_hash: row.bytes("request_hash")?.try_into().map_err(|_| corrupt("bad request hash".into()))?,
        receipt: serde_json::from_value(receipt).map_err(|e| StoreError::Other(e.into()))?,
        created_at: row.time("i_created_at")?,
    }))
}

pub fn app_id(text: &str) -> StoreResult<AppId> {
    AppId::parse(text).ok_or_else(|| corrupt(format!("bad app id {text:?}")))
}

pub fn account(row: &impl SqlRow) -> StoreResult<Account> {
    let name = row.text("account")?;
    Account::from_columns(row.opt_id("user_id")?.map(UserId), &name)
        .ok_or_else(|| corrupt(format!("unknown ledger account {name:?}")))
}

pub fn bucket(row: &impl SqlRow) -> StoreResult<Bucket> {
    let name = row.text("account")?;
    Bucket::parse(&name).ok_or_else(|| corrupt(format!("unknown bucket {name:?}")))
}

pub fn transaction_view(row: &impl SqlRow) -> StoreResult<TransactionView> {
    let kind = row.text("kind")?;
    Ok(TransactionView {
        id: row.id("id")?,
        kind: TransactionKind::parse(&kind).ok_or_else(|| corrupt(format!("unknown transaction kind {kind:?}")))?,
        amount: Credits(row.int("amount")?),
        balance_after: Credits(row.int("balance_after")?),
        app_id: row.opt_text("app_id")?.map(|app| app_id(&app)).transpose()?,
        description: row.text("description")?,
        metadata: row.opt_json("metadata")?,
        created_at: row.time("created_at")?,
    })
}

pub fn package(row: &impl SqlRow) -> StoreResult<CreditPackage> {
    Ok(CreditPackage {
        id: row.text("id")?,
        name: row.text("name")?,
        credits: Credits(row.int("credits")?),
        price_cents: row.int("price_cents")?,
        currency: row.text("currency")?,
        stripe_price_id: row.opt_text("stripe_price_id")?,
        active: row.flag("active")?,
        sort_order: row.int32("sort_order")?,
    })
}

/// A purchase row (the columns of `purchase_columns!`).
pub fn purchase(row: &impl SqlRow) -> StoreResult<Purchase> {
    let status = row.text("status")?;
    let flow = row.text("flow")?;
    let dispute = row.text("dispute")?;
    Ok(Purchase {
        id: row.id("id")?,
        user_id: user_id(row, "user_id")?,
        package_id: row.opt_text("package_id")?,
        credits: Credits(row.int("credits")?),
        amount_cents: row.int("amount_cents")?,
        currency: row.text("currency")?,
        status: PurchaseStatus::parse(&status).ok_or_else(|| corrupt(format!("unknown purchase status {status:?}")))?,
        flow: PaymentFlow::parse(&flow).ok_or_else(|| corrupt(format!("unknown payment flow {flow:?}")))?,
        checkout_session_id: row.opt_text("checkout_session_id")?,
        payment_intent_id: row.opt_text("payment_intent_id")?,
        checkout_url: row.opt_text("checkout_url")?,
        client_secret: row.opt_text("client_secret")?,
        facts: PaymentFacts {
            paid: row.flag("paid")?,
            failed: row.flag("failed")?,
            canceled: row.flag("canceled")?,
            amount_refunded_cents: row.int("amount_refunded_cents")?,
            dispute: DISPUTES
                .into_iter()
                .find(|(_, name)| *name == dispute)
                .map(|(state, _)| state)
                .ok_or_else(|| corrupt(format!("unknown dispute state {dispute:?}")))?,
        },
        settled: Settled {
            granted: Credits(row.int("credits_granted")?),
            reversed: Credits(row.int("credits_reversed")?),
            restored: Credits(row.int("credits_restored")?),
        },
        created_at: row.time("created_at")?,
        completed_at: row.opt_time("completed_at")?,
    })
}

const DISPUTES: [(DisputeState, &str); 4] = [
    (DisputeState::None, "none"),
    (DisputeState::Open, "open"),
    (DisputeState::Won, "won"),
    (DisputeState::Lost, "lost"),
];

/// How a dispute state is stored.
pub fn dispute_name(state: DisputeState) -> &'static str {
    DISPUTES.into_iter().find(|(s, _)| *s == state).map_or("none", |(_, name)| name)
}

pub fn usage_stat(row: &impl SqlRow) -> StoreResult<UsageStat> {
    Ok(UsageStat {
        user_id: user_id(row, "user_id")?,
        app_id: app_id(&row.text("app_id")?)?,
        day: row.day("day")?,
        credits_used: Credits(row.int("credits_used")?),
        uses: row.int("uses")?,
    })
}
