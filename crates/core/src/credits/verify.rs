//! The invariants of the ledger, checked over the aggregates a store reports.

use std::fmt;

use chrono::NaiveDate;
use uuid::Uuid;

use super::{AppId, Bucket, Credits};
use crate::ids::UserId;
use crate::store::{
    CreditStore, LedgerAudit, MisstatedTransaction, PostedTotals, PurchaseSettlement, StoreResult,
    UnbalancedTransaction, UsageComparison, UserLedger,
};

/// One broken invariant of the ledger. `Display` says it in a sentence for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A transaction's postings do not sum to zero, or it has fewer than two.
    Unbalanced {
        transaction: Uuid,
        sum: Credits,
        postings: i64,
    },
    /// A transaction's stated amount is not what it moves on the user's buckets.
    Misstated {
        transaction: Uuid,
        stated: Credits,
        moved: Credits,
    },
    /// A cached bucket balance differs from the sum of its postings.
    CachedBalanceDiffers {
        user: UserId,
        bucket: Bucket,
        cached: Credits,
        posted: Credits,
    },
    NegativeBucket {
        user: UserId,
        bucket: Bucket,
        balance: Credits,
    },
    TotalEarnedDiffers {
        user: UserId,
        cached: Credits,
        ledger: Credits,
    },
    TotalSpentDiffers {
        user: UserId,
        cached: Credits,
        ledger: Credits,
    },
    /// More was spent than earned (and not owed), or what is held (less what is owed) is not
    /// earned − spent − expired.
    HoldsWrongTotal {
        user: UserId,
        earned: Credits,
        spent: Credits,
        expired: Credits,
        holds: Credits,
    },
    PostingsWithoutBalance {
        user: UserId,
        bucket: Bucket,
    },
    /// Usage statistics disagree with the usage transactions: (credits, uses) of each.
    UsageDiffers {
        user: UserId,
        app: AppId,
        day: NaiveDate,
        ledger: (Credits, i64),
        stats: (Credits, i64),
    },
    UsageWithoutLedger {
        user: UserId,
        app: AppId,
        day: NaiveDate,
        credits: Credits,
    },
    /// A purchase's ledger transactions, what it records as settled (granted − reversed +
    /// restored) and what its payment's events make due are not all the same.
    PurchaseUnsettled {
        purchase: Uuid,
        ledger: Credits,
        settled: Credits,
        due: Credits,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Unbalanced { transaction, sum, postings } => write!(
                f,
                "transaction {transaction}: its {postings} postings sum to {sum}; they must sum to 0 over at least 2"
            ),
            Violation::Misstated { transaction, stated, moved } => {
                write!(
                    f,
                    "transaction {transaction}: states an amount of {stated} but moves {moved} on the user's buckets"
                )
            }
            Violation::CachedBalanceDiffers { user, bucket, cached, posted } => {
                write!(f, "user {user}: cached {} balance {cached} but its postings sum to {posted}", bucket.as_str())
            }
            Violation::NegativeBucket { user, bucket, balance } => {
                write!(f, "user {user}: {} balance is negative ({balance})", bucket.as_str())
            }
            Violation::TotalEarnedDiffers { user, cached, ledger } => {
                write!(f, "user {user}: total earned is {cached} but the ledger credits {ledger}")
            }
            Violation::TotalSpentDiffers { user, cached, ledger } => {
                write!(f, "user {user}: total spent is {cached} but the ledger's usage is {ledger}")
            }
            Violation::HoldsWrongTotal { user, earned, spent, expired, holds } => {
                write!(f, "user {user}: spent {spent} and expired {expired} of {earned} earned, yet holds {holds}")
            }
            Violation::PostingsWithoutBalance { user, bucket } => {
                write!(f, "user {user}: has {} postings but no balance", bucket.as_str())
            }
            Violation::UsageDiffers { user, app, day, ledger, stats } => write!(
                f,
                "usage of {app} by user {user} on {day}: ledger has {} credits in {} uses, statistics {} in {}",
                ledger.0, ledger.1, stats.0, stats.1
            ),
            Violation::UsageWithoutLedger { user, app, day, credits } => {
                write!(f, "usage of {app} by user {user} on {day}: statistics count {credits} credits the ledger lacks")
            }
            Violation::PurchaseUnsettled { purchase, ledger, settled, due } => write!(
                f,
                "purchase {purchase}: its ledger transactions net {ledger}, it records {settled} settled, \
                 its payment's events make {due} due"
            ),
        }
    }
}

/// What checking the whole ledger found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerVerdict {
    /// Every broken invariant; empty when the ledger is sound.
    pub violations: Vec<Violation>,
    pub balances_checked: usize,
    pub purchases_checked: usize,
}

impl LedgerVerdict {
    pub fn is_sound(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks every invariant of the ledger in `store`.
pub async fn verify_ledger<S: CreditStore + ?Sized>(store: &S) -> StoreResult<LedgerVerdict> {
    let mut verifier = Verifier::default();
    store.audit_ledger(&mut verifier).await?;
    Ok(verifier.verdict)
}

/// Checks each fact of the ledger as the store reads it, keeping only what is wrong.
#[derive(Debug, Default)]
pub struct Verifier {
    verdict: LedgerVerdict,
}

impl Verifier {
    pub fn verdict(self) -> LedgerVerdict {
        self.verdict
    }

    fn found(&mut self, violation: Violation) {
        self.verdict.violations.push(violation);
    }
}

impl LedgerAudit for Verifier {
    fn unbalanced(&mut self, t: UnbalancedTransaction) {
        self.found(Violation::Unbalanced { transaction: t.id, sum: t.sum, postings: t.postings });
    }

    fn misstated(&mut self, t: MisstatedTransaction) {
        self.found(Violation::Misstated { transaction: t.id, stated: t.amount, moved: t.net });
    }

    fn user(&mut self, ledger: UserLedger) {
        let UserLedger { balance, posted, totals } = ledger;
        let user = balance.user_id;
        let posted =
            |bucket: Bucket| posted.iter().find(|(b, _)| *b == bucket).map(|(_, sum)| *sum).unwrap_or_default();
        self.verdict.balances_checked += 1;
        for bucket in Bucket::ALL {
            let cached = balance.bucket(bucket);
            let sum = posted(bucket);
            if balance.posted(bucket) != sum {
                self.found(Violation::CachedBalanceDiffers { user, bucket, cached, posted: sum });
            }
            if cached.is_negative() {
                self.found(Violation::NegativeBucket { user, bucket, balance: cached });
            }
        }
        let PostedTotals { earned, spent, expired } = totals;
        if balance.total_earned != earned {
            self.found(Violation::TotalEarnedDiffers { user, cached: balance.total_earned, ledger: earned });
        }
        if balance.total_spent != spent {
            self.found(Violation::TotalSpentDiffers { user, cached: balance.total_spent, ledger: spent });
        }
        // What a user holds, net of what they owe, is what they earned (less what was taken
        // back) minus what they spent and what expired.
        let available = earned.0 - spent.0 - expired.0;
        let net = balance.total().0 - balance.owed.0;
        // Spending beyond what was earned is possible only by what was taken back after it.
        if spent.0 > earned.0 + balance.owed.0 || net != available {
            self.found(Violation::HoldsWrongTotal { user, earned, spent, expired, holds: Credits(net) });
        }
    }

    fn postings_without_balance(&mut self, user: UserId, bucket: Bucket) {
        self.found(Violation::PostingsWithoutBalance { user, bucket });
    }

    fn usage(&mut self, usage: UsageComparison) {
        let UsageComparison { user, app, day, ledger, stats } = usage;
        match (ledger, stats) {
            (None, Some(stats)) => self.found(Violation::UsageWithoutLedger { user, app, day, credits: stats.0 }),
            (Some(ledger), stats) if stats != Some(ledger) => {
                let stats = stats.unwrap_or_default();
                self.found(Violation::UsageDiffers { user, app, day, ledger, stats });
            }
            _ => {}
        }
    }

    fn purchase(&mut self, settlement: PurchaseSettlement) {
        self.verdict.purchases_checked += 1;
        let purchase = &settlement.purchase;
        let (settled, due) = (purchase.settled.held(), purchase.terms().credits_due(&purchase.facts));
        if settlement.ledger_net != settled || settled != due {
            self.found(Violation::PurchaseUnsettled {
                purchase: purchase.id,
                ledger: settlement.ledger_net,
                settled,
                due,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::{PaymentFacts, Settled};
    use crate::store::{PaymentFlow, Purchase, PurchaseStatus};

    fn paid_purchase(settled: Settled) -> Purchase {
        Purchase {
            id: Uuid::now_v7(),
            user_id: UserId::generate(),
            package_id: Some("standard".into()),
            credits: Credits(1100),
            amount_cents: 1000,
            currency: "EUR".into(),
            status: PurchaseStatus::Succeeded,
            flow: PaymentFlow::Checkout,
            checkout_session_id: None,
            payment_intent_id: None,
            checkout_url: None,
            client_secret: None,
            facts: PaymentFacts { paid: true, ..PaymentFacts::default() },
            settled,
            created_at: chrono::Utc::now(),
            completed_at: None,
        }
    }

    #[test]
    fn a_purchase_whose_ledger_settlement_and_events_disagree_is_reported() {
        let whole = Settled { granted: Credits(1100), ..Settled::default() };
        let sound = PurchaseSettlement { purchase: paid_purchase(whole), ledger_net: Credits(1100) };
        // Credited twice in the ledger.
        let doubled = PurchaseSettlement { purchase: paid_purchase(whole), ledger_net: Credits(2200) };
        // Paid, yet never credited.
        let unpaid = PurchaseSettlement { purchase: paid_purchase(Settled::default()), ledger_net: Credits::ZERO };
        let mut verifier = Verifier::default();
        for settlement in [sound, doubled.clone(), unpaid.clone()] {
            verifier.purchase(settlement);
        }
        let problems = verifier.verdict().violations;
        assert_eq!(
            problems,
            [
                Violation::PurchaseUnsettled {
                    purchase: doubled.purchase.id,
                    ledger: Credits(2200),
                    settled: Credits(1100),
                    due: Credits(1100),
                },
                Violation::PurchaseUnsettled {
                    purchase: unpaid.purchase.id,
                    ledger: Credits::ZERO,
                    settled: Credits::ZERO,
                    due: Credits(1100),
                },
            ]
        );
        assert!(problems[0].to_string().contains("make 1100 due"), "{}", problems[0]);
    }
}
