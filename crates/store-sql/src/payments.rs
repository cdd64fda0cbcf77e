//! The payment store: packages, purchases created idempotently, and provider events applied
//! exactly once. An event's id is recorded in the transaction of its effect, with the purchase
//! row locked first: concurrent deliveries of one event (or several events of one payment) are
//! serialized on that row, and the second finds the first's work done.

use async_trait::async_trait;
use mana_core::credits::IdempotencyKey;
use mana_core::store::{
    CreditChanges, CreditPackage, EventOutcome, NewPurchase, PaymentLink, PaymentStore, ProviderEvent, Purchase,
    PurchaseLocator, Settle, StoreError, StoreResult,
};
use uuid::Uuid;

use crate::SqlStore;
use crate::backend::Backend;
use crate::decode;
use crate::ledger_writes::{Lock, apply_changes, read_snapshot};
use crate::sql::Sql;
use crate::statement::Statement;

macro_rules! package_columns {
    () => {
        "id, name, credits, price_cents, currency, stripe_price_id, active, sort_order"
    };
}

/// The columns `decode::purchase` reads.
#[macro_export]
macro_rules! purchase_columns {
    () => {
        "id, user_id, package_id, credits, amount_cents, currency, status, flow, checkout_session_id,
         payment_intent_id, checkout_url, client_secret, paid, failed, canceled, amount_refunded_cents, dispute,
         credits_granted, credits_reversed, credits_restored, created_at, completed_at"
    };
}

static PACKAGE: Sql = Sql::new(concat!("SELECT ", package_columns!(), " FROM credits.packages WHERE id = $1"));
static ALL_PACKAGES: Sql =
    Sql::new(concat!("SELECT ", package_columns!(), " FROM credits.packages ORDER BY sort_order, id"));
static UPSERT_PACKAGE: Sql = Sql::new(
    "INSERT INTO credits.packages (id, name, credits, price_cents, currency, stripe_price_id, active, sort_order)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name, credits = excluded.credits,
         price_cents = excluded.price_cents, currency = excluded.currency,
         stripe_price_id = excluded.stripe_price_id, active = excluded.active, sort_order = excluded.sort_order",
);
static DEACTIVATE_PACKAGE: Sql = Sql::new("UPDATE credits.packages SET active = false WHERE id = $1");

static INSERT_PURCHASE: Sql = Sql::new(
    "INSERT INTO credits.purchases
         (id, user_id, package_id, credits, amount_cents, currency, status, flow, idempotency_key, created_at,
          updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $9)
     ON CONFLICT DO NOTHING",
);
static PURCHASE_BY_KEY: Sql = Sql::new(concat!(
    "SELECT ",
    purchase_columns!(),
    " FROM credits.purchases WHERE user_id = $1 AND idempotency_key = $2"
));
static PURCHASE: Sql = Sql::new(concat!("SELECT ", purchase_columns!(), " FROM credits.purchases WHERE id = $1"));
static LOCK_BY_ID: Sql =
    Sql::new(concat!("SELECT ", purchase_columns!(), " FROM credits.purchases WHERE id = $1 FOR UPDATE"));
static LOCK_BY_SESSION: Sql = Sql::new(concat!(
    "SELECT ",
    purchase_columns!(),
    " FROM credits.purchases WHERE checkout_session_id = $1 FOR UPDATE"
));
static LOCK_BY_INTENT: Sql = Sql::new(concat!(
    "SELECT ",
    purchase_columns!(),
    " FROM credits.purchases WHERE payment_intent_id = $1 FOR UPDATE"
));
static LINK_PAYMENT: Sql = Sql::new(
    "UPDATE credits.purchases
     SET checkout_session_id = COALESCE($2, checkout_session_id), payment_intent_id = COALESCE($3, payment_intent_id),
         checkout_url = COALESCE($4, checkout_url), client_secret = COALESCE($5, client_secret), updated_at = $6
     WHERE id = $1",
);
static RECORD_EVENT: Sql = Sql::new(
    "INSERT INTO credits.stripe_events (id, type, purchase_id, received_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (id) DO NOTHING",
);
static SETTLE_PURCHASE: Sql = Sql::new(
    "UPDATE credits.purchases
     SET status = $2, payment_intent_id = COALESCE(payment_intent_id, $3), paid = $4, failed = $5, canceled = $6,
         amount_refunded_cents = $7, dispute = $8, credits_granted = $9, credits_reversed = $10,
         credits_restored = $11, completed_at = $12, updated_at = $13
     WHERE id = $1",
);
pub(crate) static SETTLEMENTS: Sql = Sql::new(concat!(
    "SELECT ",
    purchase_columns!(),
    ", (SELECT CAST(COALESCE(SUM(t.amount), 0) AS BIGINT) FROM credits.transactions t WHERE t.purchase_id = p.id)
         AS ledger_net
     FROM credits.purchases p ORDER BY created_at, id"
));

#[async_trait]
impl<B: Backend> PaymentStore for SqlStore<B> {
    async fn package(&self, id: &str) -> StoreResult<Option<CreditPackage>> {
        let row = self.fetch_optional(Statement::new(&PACKAGE).text_arg(id)).await?;
        row.as_ref().map(decode::package).transpose()
    }

    async fn all_packages(&self) -> StoreResult<Vec<CreditPackage>> {
        let rows = self.fetch_all(Statement::new(&ALL_PACKAGES)).await?;
        rows.iter().map(decode::package).collect()
    }

    async fn upsert_package(&self, package: &CreditPackage) -> StoreResult<()> {
        let statement = Statement::new(&UPSERT_PACKAGE)
            .text_arg(package.id.as_str())
            .text_arg(package.name.as_str())
            .int(package.credits.0)
            .int(package.price_cents)
            .text_arg(package.currency.as_str())
            .opt_text(package.stripe_price_id.as_deref())
            .flag(package.active)
            .int(i64::from(package.sort_order));
        self.execute(statement).await?;
        Ok(())
    }

    async fn deactivate_package(&self, id: &str) -> StoreResult<bool> {
        Ok(self.execute(Statement::new(&DEACTIVATE_PACKAGE).text_arg(id)).await? == 1)
    }

    async fn create_purchase(&self, new: NewPurchase) -> StoreResult<(Purchase, bool)> {
        let user = new.user_id;
        let key = new.idempotency_key.as_ref().map(IdempotencyKey::as_str);
        let mut conn = self.backend.write_as(user).await?;
        let insert = Statement::new(&INSERT_PURCHASE)
            .id(new.id)
            .id(user.0)
            .text_arg(new.package.id.as_str())
            .int(new.package.credits.0)
            .int(new.package.price_cents)
            .text_arg(new.package.currency.as_str())
            .text_arg(new.flow.as_str())
            .opt_text(key)
            .time(new.created_at);
        let created = B::execute(&mut conn, insert).await? == 1;
        let row = match (created, key) {
            (true, _) => B::fetch_optional(&mut conn, Statement::new(&PURCHASE).id(new.id)).await?,
            (false, Some(key)) => {
                B::fetch_optional(&mut conn, Statement::new(&PURCHASE_BY_KEY).id(user.0).text_arg(key)).await?
            }
            // Only the key can collide; without one the id is new.
            (false, None) => return Err(StoreError::Conflict { constraint: "credits.purchases.id".into() }),
        };
        B::finish(conn).await?;
        let purchase = decode::purchase(&row.ok_or(StoreError::NotFound)?)?;
        Ok((purchase, created))
    }

    async fn link_payment(&self, purchase: Uuid, link: &PaymentLink) -> StoreResult<Purchase> {
        let mut conn = self.backend.write().await?;
        let update = Statement::new(&LINK_PAYMENT)
            .id(purchase)
            .opt_text(link.checkout_session_id.as_deref())
            .opt_text(link.payment_intent_id.as_deref())
            .opt_text(link.checkout_url.as_deref())
            .opt_text(link.client_secret.as_deref())
            .time(chrono::Utc::now());
        if B::execute(&mut conn, update).await? != 1 {
            return Err(StoreError::NotFound);
        }
        let row = B::fetch_optional(&mut conn, Statement::new(&PURCHASE).id(purchase)).await?;
        B::finish(conn).await?;
        decode::purchase(&row.ok_or(StoreError::NotFound)?)
    }

    async fn purchase(&self, id: Uuid) -> StoreResult<Option<Purchase>> {
        let row = self.fetch_optional(Statement::new(&PURCHASE).id(id)).await?;
        row.as_ref().map(decode::purchase).transpose()
    }

    async fn apply_payment_event(&self, event: &ProviderEvent, settle: Settle<'_>) -> StoreResult<EventOutcome> {
        let mut conn = self.backend.write().await?;
        let find = match &event.locator {
            PurchaseLocator::Id(id) => Statement::new(&LOCK_BY_ID).id(*id),
            PurchaseLocator::CheckoutSession(id) => Statement::new(&LOCK_BY_SESSION).text_arg(id.as_str()),
            PurchaseLocator::PaymentIntent(id) => Statement::new(&LOCK_BY_INTENT).text_arg(id.as_str()),
        };
        let Some(row) = B::fetch_optional(&mut conn, find).await? else {
            B::finish(conn).await?;
            return Ok(EventOutcome::UnknownPurchase);
        };
        let mut purchase = decode::purchase(&row)?;
        let record = Statement::new(&RECORD_EVENT)
            .text_arg(event.id.as_str())
            .text_arg(event.kind.as_str())
            .id(purchase.id)
            .time(event.received_at);
        if B::execute(&mut conn, record).await? == 0 {
            B::finish(conn).await?;
            return Ok(EventOutcome::Duplicate);
        }
        purchase.facts = purchase.facts.merge(event.event);
        if purchase.payment_intent_id.is_none() {
            purchase.payment_intent_id.clone_from(&event.payment_intent_id);
        }
        // The buyer's balance row is taken after the purchase row, never before: spends take
        // only the balance, so no two transactions wait on each other in a circle.
        let snapshot = read_snapshot::<B>(&mut conn, purchase.user_id, None, Lock::Balance).await?;
        let changes = settle(&purchase, &snapshot.balance);
        if let Some(balance) = changes.balance {
            let credit_changes =
                CreditChanges { balance, transactions: changes.transactions.clone(), usage: None, idempotency: None };
            if !apply_changes::<B>(&mut conn, &credit_changes, event.received_at).await? {
                return Err(StoreError::Conflict { constraint: "credits.balances.version".into() });
            }
        }
        let settled = &changes.purchase;
        let update = Statement::new(&SETTLE_PURCHASE)
            .id(settled.id)
            .text_arg(settled.status.as_str())
            .opt_text(settled.payment_intent_id.as_deref())
            .flag(settled.facts.paid)
            .flag(settled.facts.failed)
            .flag(settled.facts.canceled)
            .int(settled.facts.amount_refunded_cents)
            .text_arg(decode::dispute_name(settled.facts.dispute))
            .int(settled.settled.granted.0)
            .int(settled.settled.reversed.0)
            .int(settled.settled.restored.0)
            .opt_time(settled.completed_at)
            .time(event.received_at);
        B::execute(&mut conn, update).await?;
        B::finish(conn).await?;
        Ok(EventOutcome::Applied { purchase: Box::new(changes.purchase), transactions: changes.transactions })
    }
}
