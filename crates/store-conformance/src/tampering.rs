//! `ledger verify` finds every way the stored figures can be made to disagree with the ledger.
//! The ledger's own rows cannot be changed at all (each backend's `ledger_integrity` tests), so
//! what is left to tamper with is what the service keeps beside them: cached balances and usage
//! statistics. Each backend supplies the statements, in its own SQL; the findings are shared.

use std::future::Future;

use mana_core::credits::{Bucket, CreditPolicy, Violation, verify_ledger};
use mana_core::ids::UserId;

use crate::{SharedStore, credit_fixture, spend};

/// One change made behind the service's back to one user's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tampering {
    /// 1000 more paid credits in the cached balance.
    RaisePaidBalance,
    /// 5 more in the cached total earned.
    RaiseTotalEarned,
    /// 1 less in the cached total spent.
    LowerTotalSpent,
    /// 1 more credit in the user's usage statistics.
    RaiseUsage,
    /// The user's usage statistics deleted.
    ForgetUsage,
    /// Usage statistics for app `ghost` on 2020-01-01, which no transaction made.
    InventUsage,
    /// The user's balance row deleted.
    DeleteBalance,
}

impl Tampering {
    pub const ALL: [Tampering; 7] = [
        Tampering::RaisePaidBalance,
        Tampering::RaiseTotalEarned,
        Tampering::LowerTotalSpent,
        Tampering::RaiseUsage,
        Tampering::ForgetUsage,
        Tampering::InventUsage,
        Tampering::DeleteBalance,
    ];

    /// Whether `violation` is what this tampering must be reported as, for `user`.
    fn is_reported_by(self, violation: &Violation, user: UserId) -> bool {
        match (self, violation) {
            (Tampering::RaisePaidBalance, Violation::CachedBalanceDiffers { user: u, bucket: Bucket::Paid, .. })
            | (Tampering::RaiseTotalEarned, Violation::TotalEarnedDiffers { user: u, .. })
            | (Tampering::LowerTotalSpent, Violation::TotalSpentDiffers { user: u, .. })
            | (Tampering::RaiseUsage | Tampering::ForgetUsage, Violation::UsageDiffers { user: u, .. })
            | (Tampering::InventUsage, Violation::UsageWithoutLedger { user: u, .. })
            | (Tampering::DeleteBalance, Violation::PostingsWithoutBalance { user: u, .. }) => *u == user,
            _ => false,
        }
    }
}

/// For each tampering, on a user who has spent: the ledger verifies before, and after it
/// `verify_ledger` reports that user as the tampering says, and nothing about anyone else.
pub async fn each_tampering_is_found<F, Fut>(store: &SharedStore, tamper: F)
where
    F: Fn(Tampering, UserId) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tampered = Vec::new();
    for tampering in Tampering::ALL {
        let (credits, _, user) = credit_fixture(store, CreditPolicy::default()).await;
        credits.spend(user, spend(3)).await.unwrap();
        tamper(tampering, user).await;
        tampered.push(user);
        let verdict = verify_ledger(store.as_ref()).await.unwrap();
        assert!(
            verdict.violations.iter().any(|v| tampering.is_reported_by(v, user)),
            "{tampering:?} went unreported: {:?}",
            verdict.violations
        );
        let strays: Vec<_> = verdict.violations.iter().filter(|v| !tampered.iter().any(|u| names(v, *u))).collect();
        assert!(strays.is_empty(), "{tampering:?}: reported about untouched users: {strays:?}");
    }
}

fn names(violation: &Violation, user: UserId) -> bool {
    violation.to_string().contains(&user.to_string())
}
