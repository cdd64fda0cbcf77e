//! Purchases paid through a payment provider (Stripe): how the provider's events, in any order
//! and any number of times, settle into ledger movements, and how its webhooks are
//! authenticated.

mod catalogue;
mod ledger;
mod settlement;
mod signature;

pub use catalogue::{MAX_PACKAGE_CREDITS, MAX_PRICE_CENTS, PackageInput, bonus_credits};
pub use ledger::settle_purchase;

pub use settlement::{DisputeState, PaymentEvent, PaymentFacts, Settled, SettlementStep, Terms};
pub use signature::{SIGNATURE_TOLERANCE_SECONDS, SignatureError, signature_header, verify_signature};
