//! What a spend answered, in domain terms. It is kept with the spend's idempotency key, so a
//! retry is answered exactly as the first request was, and the server maps it to the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Balance, CreditPolicy, Credits, LedgerTransaction};
use crate::store::TransactionView;

/// The buckets as their user sees them at one moment, with when the allowance resets next.
//
// Stored inside receipts: the names are the ones receipts have always been stored with (the
// API's), so every stored receipt still reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BalanceSummary {
    #[serde(rename = "balance")]
    pub paid: Credits,
    #[serde(rename = "freeCreditsRemaining")]
    pub free: Credits,
    #[serde(rename = "dailyFreeCredits")]
    pub daily: Credits,
    /// Receipts stored before debts existed have none.
    #[serde(default)]
    pub owed: Credits,
    pub next_daily_reset_at: DateTime<Utc>,
    pub total_earned: Credits,
    pub total_spent: Credits,
}

impl BalanceSummary {
    pub fn of(balance: &Balance, policy: &CreditPolicy) -> Self {
        Self {
            paid: balance.paid,
            free: balance.free,
            daily: balance.daily,
            owed: balance.owed,
            next_daily_reset_at: balance.next_daily_reset_at(policy),
            total_earned: balance.total_earned,
            total_spent: balance.total_spent,
        }
    }
}

/// The answer to a spend: the movement and the balance right after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpendReceipt {
    pub transaction: TransactionView,
    #[serde(rename = "newBalance")]
    pub balance: BalanceSummary,
}

impl From<&LedgerTransaction> for TransactionView {
    fn from(t: &LedgerTransaction) -> Self {
        TransactionView {
            id: t.id,
            kind: t.kind,
            amount: t.amount,
            balance_after: t.balance_after,
            app_id: t.app_id.clone(),
            description: t.description.clone(),
            metadata: t.metadata.clone(),
            created_at: t.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credits::TransactionKind;

    /// A receipt stored before receipts were typed: the API's response body, as JSON.
    const STORED_BEFORE: &str = r#"{"success":true,"transaction":{"id":"0193a5b2-7c3e-7000-8000-000000000001",
        "type":"usage","amount":-10,"balanceAfter":145,"appId":"chat","description":"one answer",
        "metadata":{"model":"small"},"createdAt":"2026-11-30T10:00:00.000Z"},"newBalance":{"balance":0,
        "freeCreditsRemaining":145,"dailyFreeCredits":0,"nextDailyResetAt":"2026-12-01T09:00:00.000Z",
        "totalEarned":155,"totalSpent":10}}"#;

    #[test]
    fn receipts_stored_in_the_earlier_form_still_read_and_round_trip() {
        let receipt: SpendReceipt = serde_json::from_str(STORED_BEFORE).unwrap();
        assert_eq!(receipt.transaction.kind, TransactionKind::Usage);
        assert_eq!(receipt.transaction.amount, Credits(-10));
        assert_eq!(receipt.balance.free, Credits(145));
        assert_eq!(receipt.balance.total_spent, Credits(10));
        let again: SpendReceipt = serde_json::from_str(&serde_json::to_string(&receipt).unwrap()).unwrap();
        assert_eq!(again, receipt);
    }
}
