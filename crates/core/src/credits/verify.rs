//! The invariants of the ledger, checked over the aggregates a store reports.

use std::collections::BTreeMap;

use super::{Bucket, Credits};
use crate::ids::UserId;
use crate::store::LedgerFacts;

/// Every broken invariant, one readable line each; empty when the ledger is sound.
pub fn verify_ledger(facts: &LedgerFacts) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, sum, postings) in &facts.unbalanced {
        problems.push(format!(
            "transaction {id}: its {postings} postings sum to {sum}; they must sum to 0 over at least 2"
        ));
    }
    for (id, amount, net) in &facts.misstated {
        problems.push(format!("transaction {id}: states an amount of {amount} but moves {net} on the user's buckets"));
    }

    let posted: BTreeMap<(UserId, Bucket), Credits> = facts.posted.iter().map(|&(u, b, c)| ((u, b), c)).collect();
    let totals: BTreeMap<UserId, (Credits, Credits, Credits)> =
        facts.posted_totals.iter().map(|&(u, earned, spent, expired)| (u, (earned, spent, expired))).collect();
    let mut users_with_balance = std::collections::BTreeSet::new();
    for balance in &facts.balances {
        let user = balance.user_id;
        users_with_balance.insert(user);
        for bucket in Bucket::ALL {
            let cached = balance.bucket(bucket);
            let sum = posted.get(&(user, bucket)).copied().unwrap_or_default();
            if cached != sum {
                problems.push(format!(
                    "user {user}: cached {} balance {cached} but its postings sum to {sum}",
                    bucket.as_str()
                ));
            }
            if cached.is_negative() {
                problems.push(format!("user {user}: {} balance is negative ({cached})", bucket.as_str()));
            }
        }
        let (earned, spent, expired) = totals.get(&user).copied().unwrap_or_default();
        if balance.total_earned != earned {
            problems
                .push(format!("user {user}: total earned is {} but the ledger credits {earned}", balance.total_earned));
        }
        if balance.total_spent != spent {
            problems
                .push(format!("user {user}: total spent is {} but the ledger's usage is {spent}", balance.total_spent));
        }
        let available = earned.0 - spent.0 - expired.0;
        if spent > earned || balance.total().0 != available {
            problems.push(format!(
                "user {user}: spent {spent} and expired {expired} of {earned} earned, yet holds {}",
                balance.total()
            ));
        }
    }
    for (user, bucket) in posted.keys() {
        if !users_with_balance.contains(user) {
            problems.push(format!("user {user}: has {} postings but no balance", bucket.as_str()));
        }
    }

    let key = |s: &crate::store::UsageStat| (s.user_id, s.app_id.clone(), s.day);
    let from_ledger: BTreeMap<_, _> =
        facts.usage_from_ledger.iter().map(|s| (key(s), (s.credits_used, s.uses))).collect();
    let from_stats: BTreeMap<_, _> = facts.usage_stats.iter().map(|s| (key(s), (s.credits_used, s.uses))).collect();
    for ((user, app, day), ledger) in &from_ledger {
        let stats = from_stats.get(&(*user, app.clone(), *day)).copied().unwrap_or_default();
        if stats != *ledger {
            problems.push(format!(
                "usage of {app} by user {user} on {day}: ledger has {} credits in {} uses, statistics {} in {}",
                ledger.0, ledger.1, stats.0, stats.1
            ));
        }
    }
    for ((user, app, day), stats) in &from_stats {
        if !from_ledger.contains_key(&(*user, app.clone(), *day)) {
            problems.push(format!(
                "usage of {app} by user {user} on {day}: statistics count {} credits the ledger lacks",
                stats.0
            ));
        }
    }
    problems
}
