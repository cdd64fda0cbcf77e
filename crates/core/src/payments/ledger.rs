//! The ledger movements of a purchase: from what it has settled towards what its facts make
//! due, each movement naming the purchase.

use chrono::{DateTime, Utc};

use super::{DisputeState, SettlementStep};
use crate::credits::{Balance, Memo, Movements, SystemAccount, TransactionKind};
use crate::store::{Purchase, SettlementChanges};

/// The changes one event causes, for `PaymentStore::apply_payment_event`: `purchase` has the
/// event merged into its facts; `balance` is its buyer's, locked.
pub fn settle_purchase(purchase: &Purchase, balance: &Balance, now: DateTime<Utc>) -> SettlementChanges {
    let terms = purchase.terms();
    let mut movements = Movements::new(balance.clone(), now);
    let mut settled = purchase.settled;
    for step in settled.steps_to(&terms, &purchase.facts) {
        let memo = |description: String| Memo { description, purchase_id: Some(purchase.id), ..Memo::default() };
        let moved = match step {
            SettlementStep::Grant(credits) => movements.credit_payment(
                TransactionKind::Purchase,
                credits,
                SystemAccount::Purchases,
                memo(format!("Purchase of {credits} credits")),
            ),
            SettlementStep::TakeBack(credits) => {
                let why = if matches!(purchase.facts.dispute, DisputeState::Open | DisputeState::Lost) {
                    format!("Payment disputed: {credits} credits withheld")
                } else {
                    format!("Refund: {credits} credits taken back")
                };
                movements.take_back(credits, memo(why))
            }
            SettlementStep::Restore(credits) => movements.credit_payment(
                TransactionKind::Adjustment,
                credits,
                SystemAccount::Refunds,
                memo(format!("Dispute won: {credits} credits restored")),
            ),
        };
        // Only an overflow of i64 fails here; the purchase then stays as far as it got.
        if moved.is_err() {
            tracing::error!(purchase = %purchase.id, ?step, "a purchase's movement would overflow");
            break;
        }
        settled = settled.after(step);
    }
    let mut updated = purchase.clone();
    updated.settled = settled;
    updated.status = terms.status(&purchase.facts);
    if updated.completed_at.is_none() && purchase.facts.paid {
        updated.completed_at = Some(now);
    }
    let (balance, transactions) = movements.into_parts();
    SettlementChanges { purchase: updated, balance: (!transactions.is_empty()).then_some(balance), transactions }
}
