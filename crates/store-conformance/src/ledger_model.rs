//! Random sequences of credit operations, run against a real store and against a simple model
//! of the rules; they must agree at every step, and the ledger must verify after each sequence.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Duration, Utc};
use mana_core::clock::Clock;
use mana_core::credits::{CreditPolicy, SpendReceipt};
use mana_core::error::Error;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::SharedStore;
use crate::credits::{credit_fixture, spend, spend_with_key};

#[derive(Debug, Clone)]
enum Op {
    Spend { amount: i64, key: Option<u8> },
    Advance { hours: i64 },
    Grant { amount: i64 },
    ReadBalance,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1i64..80, proptest::option::of(0u8..4)).prop_map(|(amount, key)| Op::Spend { amount, key }),
        2 => (0i64..60).prop_map(|hours| Op::Advance { hours }),
        1 => (1i64..120).prop_map(|amount| Op::Grant { amount }),
        1 => Just(Op::ReadBalance),
    ]
}

/// The rules, as plainly as they can be written.
#[derive(Debug)]
struct Model {
    daily: i64,
    free: i64,
    paid: i64,
    reset_at: DateTime<Utc>,
    /// Key → (amount, the response first given).
    keys: HashMap<String, (i64, Option<SpendReceipt>)>,
}

#[derive(Debug, PartialEq)]
enum Expected {
    Spent,
    Replayed,
    KeyReused,
    Insufficient,
}

impl Model {
    fn reset_if_due(&mut self, now: DateTime<Utc>) {
        if now >= self.reset_at + Duration::hours(24) {
            self.daily = 5;
            self.reset_at = now;
        }
    }

    fn spend(&mut self, amount: i64, key: Option<&str>, now: DateTime<Utc>) -> Expected {
        if let Some((first_amount, _)) = key.and_then(|k| self.keys.get(k)) {
            return if *first_amount == amount { Expected::Replayed } else { Expected::KeyReused };
        }
        self.reset_if_due(now);
        if self.daily + self.free + self.paid < amount {
            return Expected::Insufficient;
        }
        let mut rest = amount;
        for bucket in [&mut self.daily, &mut self.free, &mut self.paid] {
            let take = rest.min(*bucket);
            *bucket -= take;
            rest -= take;
        }
        if let Some(key) = key {
            self.keys.insert(key.to_owned(), (amount, None));
        }
        Expected::Spent
    }
}

async fn run_sequence(store: SharedStore, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (credits, clock, user) = credit_fixture(&store, CreditPolicy::default()).await;
    let mut model = Model { daily: 5, free: 150, paid: 0, reset_at: clock.now(), keys: HashMap::new() };
    for op in &ops {
        match op {
            Op::Advance { hours } => clock.advance(Duration::hours(*hours)),
            Op::Grant { amount } => {
                model.reset_if_due(clock.now());
                model.paid += amount;
                credits.grant_paid(user, *amount, "property test grant").await.unwrap();
            }
            Op::ReadBalance => model.reset_if_due(clock.now()),
            Op::Spend { amount, key } => {
                let key = key.map(|k| format!("key-{k}"));
                let expected = model.spend(*amount, key.as_deref(), clock.now());
                let request = match &key {
                    Some(key) => spend_with_key(*amount, key),
                    None => spend(*amount),
                };
                let actual = credits.spend(user, request).await;
                match (&expected, &actual) {
                    (Expected::Spent, Ok(response)) => {
                        if let Some(key) = &key {
                            model.keys.get_mut(key).unwrap().1 = Some(response.clone());
                        }
                    }
                    (Expected::Replayed, Ok(response)) => {
                        let first = model.keys[key.as_deref().unwrap()].1.as_ref().unwrap();
                        prop_assert_eq!(response, first, "a replay returns the first response");
                    }
                    (Expected::KeyReused, Err(Error::IdempotencyKeyReused))
                    | (Expected::Insufficient, Err(Error::InsufficientCredits)) => {}
                    _ => prop_assert!(false, "{op:?}: model expected {expected:?}, service gave {actual:?}"),
                }
            }
        }
        // Reading the balance applies a due reset; so does the model.
        model.reset_if_due(clock.now());
        let balance = credits.balance(user).await.unwrap();
        prop_assert_eq!(
            (balance.daily.0, balance.free.0, balance.paid.0),
            (model.daily, model.free, model.paid),
            "after {:?}",
            op
        );
    }
    let problems = mana_core::credits::verify_ledger(store.as_ref()).await.unwrap().violations;
    prop_assert!(problems.is_empty(), "ledger verify: {:?}", problems);
    Ok(())
}

/// Runs on a multi-threaded runtime: proptest drives synchronously and each case blocks on its
/// own async run against a fresh store.
pub async fn random_operation_sequences_match_the_model(
    factory: impl Fn() -> Pin<Box<dyn Future<Output = SharedStore> + Send>>,
) {
    let cases: u32 = std::env::var("MANA_LEDGER_PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let handle = tokio::runtime::Handle::current();
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let store = factory().await;
                run_sequence(store, ops).await
            })
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
