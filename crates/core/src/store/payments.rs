//! What purchases need from a database (SPEC §7): the package catalogue, purchases created
//! idempotently, and provider events applied exactly once with their ledger movements.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CreditPackage, PaymentFlow, Purchase, StoreResult};
use crate::credits::{Balance, IdempotencyKey, LedgerTransaction};
use crate::ids::UserId;
use crate::payments::PaymentEvent;

/// A purchase about to be created for `package`.
#[derive(Debug, Clone)]
pub struct NewPurchase {
    pub id: Uuid,
    pub user_id: UserId,
    pub package: CreditPackage,
    pub flow: PaymentFlow,
    /// The same key from the same user finds the purchase made the first time.
    pub idempotency_key: Option<IdempotencyKey>,
    pub created_at: DateTime<Utc>,
}

/// The provider's side of a purchase, recorded once the provider made it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentLink {
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub checkout_url: Option<String>,
    pub client_secret: Option<String>,
}

/// How an event names its purchase: by our id (the metadata we gave the provider), or by the
/// provider's id of the session or the payment intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PurchaseLocator {
    Id(Uuid),
    CheckoutSession(String),
    PaymentIntent(String),
}

/// One provider event, verified and reduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's event id (`evt_…`): applied once, whatever the deliveries.
    pub id: String,
    /// The provider's event type, kept for the operator.
    pub kind: String,
    pub locator: PurchaseLocator,
    /// The payment intent the event reveals, if the purchase did not know it yet.
    pub payment_intent_id: Option<String>,
    pub event: PaymentEvent,
    pub received_at: DateTime<Utc>,
}

/// The ledger movements an event causes, decided from the purchase (facts already merged) and
/// the buyer's balance.
pub type Settle<'a> = &'a (dyn Fn(&Purchase, &Balance) -> SettlementChanges + Send + Sync);

#[derive(Debug, Clone)]
pub struct SettlementChanges {
    /// The purchase with what it now has settled and its status.
    pub purchase: Purchase,
    /// The buyer's balance after the movements (one version on), if anything moved.
    pub balance: Option<Balance>,
    pub transactions: Vec<LedgerTransaction>,
}

#[derive(Debug, Clone)]
pub enum EventOutcome {
    /// The event was new; the purchase as it now stands, and what moved.
    Applied { purchase: Box<Purchase>, transactions: Vec<LedgerTransaction> },
    /// The event was applied before; nothing changed.
    Duplicate,
    /// No purchase matches; nothing was recorded, so a later delivery can still apply it.
    UnknownPurchase,
}

/// The per-purchase sums `ledger verify` compares with what each purchase says it settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchaseSettlement {
    pub purchase: Purchase,
    /// The net of the purchase's ledger transactions for its buyer.
    pub ledger_net: crate::credits::Credits,
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Any package, active or not.
    async fn package(&self, id: &str) -> StoreResult<Option<CreditPackage>>;
    /// Every package, inactive ones too, by sort order.
    async fn all_packages(&self) -> StoreResult<Vec<CreditPackage>>;
    async fn upsert_package(&self, package: &CreditPackage) -> StoreResult<()>;
    /// `false` if there is no such package.
    async fn deactivate_package(&self, id: &str) -> StoreResult<bool>;
    /// Creates the purchase, or finds the one its user made before with the same key. The flag
    /// says whether it is new.
    async fn create_purchase(&self, new: NewPurchase) -> StoreResult<(Purchase, bool)>;
    /// Records the provider's ids and what the client pays with.
    async fn link_payment(&self, purchase: Uuid, link: &PaymentLink) -> StoreResult<Purchase>;
    async fn purchase(&self, id: Uuid) -> StoreResult<Option<Purchase>>;
    /// In one transaction: finds and locks the purchase, records the event id (a second
    /// delivery finds it and changes nothing), merges the event into the purchase's facts,
    /// and writes what `settle` decides, with the buyer's balance locked.
    async fn apply_payment_event(&self, event: &ProviderEvent, settle: Settle<'_>) -> StoreResult<EventOutcome>;
}
