//! The invariants of the ledger, checked over the aggregates a store reports.

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use uuid::Uuid;

use super::{AppId, Bucket, Credits};
use crate::ids::UserId;
use crate::store::LedgerFacts;

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

/// Every broken invariant; empty when the ledger is sound.
pub fn verify_ledger(facts: &LedgerFacts) -> Vec<Violation> {
    let mut problems = Vec::new();
    for t in &facts.unbalanced {
        problems.push(Violation::Unbalanced { transaction: t.id, sum: t.sum, postings: t.postings });
    }
    for t in &facts.misstated {
        problems.push(Violation::Misstated { transaction: t.id, stated: t.amount, moved: t.net });
    }

    let posted: BTreeMap<(UserId, Bucket), Credits> =
        facts.posted.iter().map(|p| ((p.user, p.bucket), p.total)).collect();
    let totals: BTreeMap<UserId, (Credits, Credits, Credits)> =
        facts.posted_totals.iter().map(|t| (t.user, (t.earned, t.spent, t.expired))).collect();
    let mut users_with_balance = std::collections::BTreeSet::new();
    for balance in &facts.balances {
        let user = balance.user_id;
        users_with_balance.insert(user);
        for bucket in Bucket::ALL {
            let cached = balance.bucket(bucket);
            let sum = posted.get(&(user, bucket)).copied().unwrap_or_default();
            if balance.posted(bucket) != sum {
                problems.push(Violation::CachedBalanceDiffers { user, bucket, cached, posted: sum });
            }
            if cached.is_negative() {
                problems.push(Violation::NegativeBucket { user, bucket, balance: cached });
            }
        }
        let (earned, spent, expired) = totals.get(&user).copied().unwrap_or_default();
        if balance.total_earned != earned {
            problems.push(Violation::TotalEarnedDiffers { user, cached: balance.total_earned, ledger: earned });
        }
        if balance.total_spent != spent {
            problems.push(Violation::TotalSpentDiffers { user, cached: balance.total_spent, ledger: spent });
        }
        // What a user holds, net of what they owe, is what they earned (less what was taken
        // back) minus what they spent and what expired.
        let available = earned.0 - spent.0 - expired.0;
        let net = balance.total().0 - balance.owed.0;
        // Spending beyond what was earned is possible only by what was taken back after it.
        if spent.0 > earned.0 + balance.owed.0 || net != available {
            problems.push(Violation::HoldsWrongTotal { user, earned, spent, expired, holds: Credits(net) });
        }
    }
    for &(user, bucket) in posted.keys() {
        if !users_with_balance.contains(&user) {
            problems.push(Violation::PostingsWithoutBalance { user, bucket });
        }
    }

    let key = |s: &crate::store::UsageStat| (s.user_id, s.app_id.clone(), s.day);
    let from_ledger: BTreeMap<_, _> =
        facts.usage_from_ledger.iter().map(|s| (key(s), (s.credits_used, s.uses))).collect();
    let from_stats: BTreeMap<_, _> = facts.usage_stats.iter().map(|s| (key(s), (s.credits_used, s.uses))).collect();
    for ((user, app, day), ledger) in &from_ledger {
        let stats = from_stats.get(&(*user, app.clone(), *day)).copied().unwrap_or_default();
        if stats != *ledger {
            problems.push(Violation::UsageDiffers { user: *user, app: app.clone(), day: *day, ledger: *ledger, stats });
        }
    }
    for ((user, app, day), stats) in &from_stats {
        if !from_ledger.contains_key(&(*user, app.clone(), *day)) {
            problems.push(Violation::UsageWithoutLedger { user: *user, app: app.clone(), day: *day, credits: stats.0 });
        }
    }
    for settlement in &facts.purchases {
        let purchase = &settlement.purchase;
        let (settled, due) = (purchase.settled.held(), purchase.terms().credits_due(&purchase.facts));
        if settlement.ledger_net != settled || settled != due {
            problems.push(Violation::PurchaseUnsettled {
                purchase: purchase.id,
                ledger: settlement.ledger_net,
                settled,
                due,
            });
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::{PaymentFacts, Settled};
    use crate::store::{PaymentFlow, Purchase, PurchaseSettlement, PurchaseStatus};

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
        let facts = LedgerFacts { purchases: vec![sound, doubled.clone(), unpaid.clone()], ..LedgerFacts::default() };
        let problems = verify_ledger(&facts);
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
