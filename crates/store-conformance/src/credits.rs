use std::sync::Arc;

use chrono::Duration;
use mana_core::clock::{Clock, ManualClock};
use mana_core::credits::{
    Account, AppId, BalanceSummary, Bucket, CreditPolicy, CreditService, Credits, Memo, Movements, SpendRequest,
    SystemAccount, TransactionKind, TransactionPage, verify_ledger,
};
use mana_core::error::Error;
use mana_core::ids::UserId;
use mana_core::store::{CreditChanges, CreditDecision, CreditOutcome, CreditSnapshot};
use serde_json::json;

use crate::{SharedStore, new_user_with, t0};

/// A credit service on `store` with a clock the test moves, and a user opened under `policy`.
pub async fn credit_fixture(store: &SharedStore, policy: CreditPolicy) -> (CreditService, Arc<ManualClock>, UserId) {
    let clock = Arc::new(ManualClock::new(t0()));
    let user =
        store.create_user(new_user_with(&format!("{}@example.com", UserId::generate()), &policy, t0())).await.unwrap();
    (CreditService::new(store.clone(), clock.clone(), policy), clock, user.id)
}

pub fn spend(amount: i64) -> SpendRequest {
    SpendRequest { amount: Some(amount), app_id: "chat".into(), description: "an answer".into(), ..Default::default() }
}

pub fn spend_with_key(amount: i64, key: &str) -> SpendRequest {
    SpendRequest { idempotency_key: Some(key.into()), ..spend(amount) }
}

pub async fn assert_ledger_sound(store: &SharedStore) {
    let problems = verify_ledger(store.as_ref()).await.unwrap().violations;
    assert!(
        problems.is_empty(),
        "ledger verify found:\n{}",
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
    );
}

fn no_free_credits() -> CreditPolicy {
    CreditPolicy { signup_bonus: Credits::ZERO, daily_allowance: Credits::ZERO, ..CreditPolicy::default() }
}

pub async fn registration_opens_the_credit_account(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, CreditPolicy::default()).await;
    let balance = credits.balance(user).await.unwrap();
    assert_eq!((balance.daily, balance.free, balance.paid), (Credits(5), Credits(150), Credits::ZERO));
    assert_eq!(balance.total_earned, Credits(155));
    assert_eq!(balance.next_daily_reset_at(credits.policy()), t0() + Duration::hours(24));
    let listed = credits.transactions(user, TransactionPage::default()).await.unwrap();
    let kinds: Vec<_> = listed.iter().map(|t| (t.kind, t.amount, t.balance_after)).collect();
    assert_eq!(
        kinds,
        [(TransactionKind::Daily, Credits(5), Credits(155)), (TransactionKind::Bonus, Credits(150), Credits(150))]
    );
    assert_ledger_sound(&store).await;
}

pub async fn spending_takes_daily_then_free_then_paid(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, CreditPolicy::default()).await;
    credits.grant_paid(user, 100, "support credit").await.unwrap();
    let receipt = credits.spend(user, spend(200)).await.unwrap();
    assert_eq!(receipt.transaction.kind, TransactionKind::Usage);
    assert_eq!(receipt.transaction.amount, Credits(-200));
    assert_eq!(receipt.transaction.balance_after, Credits(55));
    assert_eq!(receipt.transaction.app_id.as_ref().map(AppId::as_str), Some("chat"));
    assert_eq!(
        receipt.balance,
        BalanceSummary {
            paid: Credits(55),
            free: Credits(0),
            daily: Credits(0),
            owed: Credits(0),
            next_daily_reset_at: receipt.balance.next_daily_reset_at,
            total_earned: Credits(255),
            total_spent: Credits(200),
        }
    );

    let id = receipt.transaction.id;
    let mut postings: Vec<_> =
        store.transaction_postings(id).await.unwrap().into_iter().map(|p| (p.account, p.amount)).collect();
    postings.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        postings,
        [
            (Account::User(user, Bucket::Daily), Credits(-5)),
            (Account::User(user, Bucket::Free), Credits(-150)),
            (Account::User(user, Bucket::Paid), Credits(-45)),
            (Account::System(SystemAccount::Usage("chat".into())), Credits(200)),
        ]
    );
    let stats = store.usage_stats(user).await.unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!((stats[0].app_id.as_str(), stats[0].credits_used, stats[0].uses), ("chat", Credits(200), 1));
    assert_eq!(stats[0].day, t0().date_naive());
    assert_ledger_sound(&store).await;
}

pub async fn an_overdraw_moves_nothing(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, CreditPolicy::default()).await;
    let before = credits.balance(user).await.unwrap();
    assert!(matches!(credits.spend(user, spend(156)).await, Err(Error::InsufficientCredits)));
    assert_eq!(credits.balance(user).await.unwrap(), before);
    assert!(store.usage_stats(user).await.unwrap().is_empty());
    assert_eq!(credits.transactions(user, TransactionPage::default()).await.unwrap().len(), 2);
    credits.spend(user, spend(155)).await.unwrap();
    assert_ledger_sound(&store).await;
}

pub async fn the_daily_allowance_resets_lazily_once_per_period(store: SharedStore) {
    let (credits, clock, user) = credit_fixture(&store, CreditPolicy::default()).await;
    credits.spend(user, spend(2)).await.unwrap();
    clock.advance(Duration::hours(23) + Duration::minutes(59));
    assert_eq!(credits.balance(user).await.unwrap().daily, Credits(3), "no reset before 24 hours");

    // Three days pass: one reset, the leftover 3 expire, the allowance is 5 again.
    clock.advance(Duration::days(3));
    let balance = credits.balance(user).await.unwrap();
    assert_eq!(balance.daily, Credits(5));
    assert_eq!(balance.daily_reset_at, clock.now());
    assert_eq!(credits.balance(user).await.unwrap(), balance, "reading again changes nothing");
    let listed = credits.transactions(user, TransactionPage { limit: Some(2), offset: None }).await.unwrap();
    let kinds: Vec<_> = listed.iter().map(|t| (t.kind, t.amount)).collect();
    assert_eq!(kinds, [(TransactionKind::Daily, Credits(5)), (TransactionKind::Expiry, Credits(-3))]);

    // A spend is what notices the next period.
    clock.advance(Duration::hours(24));
    let receipt = credits.spend(user, spend(7)).await.unwrap();
    assert_eq!(receipt.balance.daily, Credits(0));
    assert_eq!(receipt.balance.free, Credits(148));
    assert_ledger_sound(&store).await;
}

pub async fn a_repeated_idempotency_key_replays_the_first_answer(store: SharedStore) {
    let (credits, clock, user) = credit_fixture(&store, CreditPolicy::default()).await;
    let first = credits.spend(user, spend_with_key(10, "order-1")).await.unwrap();
    clock.advance(Duration::minutes(5));
    let again = credits.spend(user, spend_with_key(10, "order-1")).await.unwrap();
    assert_eq!(again, first, "the original response, same transaction id");
    assert_eq!(credits.balance(user).await.unwrap().total(), Credits(145), "moved once");

    for changed in [
        spend_with_key(11, "order-1"),
        SpendRequest { app_id: "images".into(), ..spend_with_key(10, "order-1") },
        SpendRequest { description: "other".into(), ..spend_with_key(10, "order-1") },
        SpendRequest { metadata: Some(json!({"x": 1})), ..spend_with_key(10, "order-1") },
    ] {
        assert!(matches!(credits.spend(user, changed).await, Err(Error::IdempotencyKeyReused)));
    }
    assert_eq!(credits.balance(user).await.unwrap().total(), Credits(145));
    assert_ledger_sound(&store).await;
}

pub async fn idempotency_keys_are_scoped_to_their_user(store: SharedStore) {
    let (credits, _, alice) = credit_fixture(&store, CreditPolicy::default()).await;
    let (_, _, bob) = credit_fixture(&store, CreditPolicy::default()).await;
    let a = credits.spend(alice, spend_with_key(10, "same-key")).await.unwrap();
    let b = credits.spend(bob, spend_with_key(20, "same-key")).await.unwrap();
    assert_ne!(a.transaction.id, b.transaction.id);
    assert_eq!(credits.balance(bob).await.unwrap().total(), Credits(135));
}

pub async fn two_hundred_concurrent_spends_never_overdraw(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    credits.grant_paid(user, 100, "starting balance").await.unwrap();
    let credits = Arc::new(credits);
    let spends: Vec<_> = (0..200)
        .map(|_| {
            let credits = credits.clone();
            tokio::spawn(async move { credits.spend(user, spend(1)).await })
        })
        .collect();
    let (mut spent, mut refused) = (0, 0);
    for spend in spends {
        match spend.await.unwrap() {
            Ok(_) => spent += 1,
            Err(Error::InsufficientCredits) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((spent, refused), (100, 100));
    let balance = credits.balance(user).await.unwrap();
    assert_eq!(balance.total(), Credits::ZERO);
    assert_eq!(balance.total_spent, Credits(100));
    assert_eq!(store.usage_stats(user).await.unwrap()[0].uses, 100);
    assert_ledger_sound(&store).await;
}

pub async fn concurrent_requests_with_one_key_move_credits_once(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, CreditPolicy::default()).await;
    let credits = Arc::new(credits);
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let credits = credits.clone();
            tokio::spawn(async move { credits.spend(user, spend_with_key(7, "one-key")).await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "every answer is the first one");
    assert_eq!(credits.balance(user).await.unwrap().total(), Credits(148));
    let usage = credits.transactions(user, TransactionPage::default()).await.unwrap();
    assert_eq!(usage.iter().filter(|t| t.kind == TransactionKind::Usage).count(), 1);
    assert_ledger_sound(&store).await;
}

pub async fn concurrent_first_requests_after_the_period_reset_once(store: SharedStore) {
    let (credits, clock, user) = credit_fixture(&store, CreditPolicy::default()).await;
    credits.spend(user, spend(1)).await.unwrap();
    clock.advance(Duration::hours(24));
    let credits = Arc::new(credits);
    let requests: Vec<_> = (0..30)
        .map(|i| {
            let credits = credits.clone();
            tokio::spawn(async move {
                if i % 2 == 0 {
                    credits.balance(user).await.map(|_| ())
                } else {
                    credits.spend(user, spend(1)).await.map(|_| ())
                }
            })
        })
        .collect();
    for request in requests {
        request.await.unwrap().unwrap();
    }
    let listed = credits.transactions(user, TransactionPage { limit: Some(100), offset: None }).await.unwrap();
    let grants = listed.iter().filter(|t| t.kind == TransactionKind::Daily).count();
    let expiries = listed.iter().filter(|t| t.kind == TransactionKind::Expiry).count();
    assert_eq!((grants, expiries), (2, 1), "the opening allowance and exactly one reset");
    assert_eq!(credits.balance(user).await.unwrap().total(), Credits(140));
    assert_ledger_sound(&store).await;
}

pub async fn transactions_are_listed_newest_first_with_paging(store: SharedStore) {
    let (credits, clock, user) = credit_fixture(&store, CreditPolicy::default()).await;
    for amount in 1..=5 {
        clock.advance(Duration::seconds(1));
        credits.spend(user, spend(amount)).await.unwrap();
    }
    let page = |limit, offset| credits.transactions(user, TransactionPage { limit: Some(limit), offset: Some(offset) });
    let amounts = |list: Vec<mana_core::store::TransactionView>| list.iter().map(|t| t.amount.0).collect::<Vec<_>>();
    assert_eq!(amounts(page(3, 0).await.unwrap()), [-5, -4, -3]);
    assert_eq!(amounts(page(3, 3).await.unwrap()), [-2, -1, 5]);
    assert_eq!(amounts(page(3, 7).await.unwrap()), Vec::<i64>::new());
    assert!(matches!(page(0, 0).await, Err(Error::Validation(_))));
    assert!(matches!(page(101, 0).await, Err(Error::Validation(_))));
    assert!(matches!(page(10, -1).await, Err(Error::Validation(_))));
}

pub async fn packages_are_seeded_and_purchases_start_empty(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, CreditPolicy::default()).await;
    let packages = credits.packages().await.unwrap();
    let ids: Vec<_> = packages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["starter", "standard", "plus", "pro"]);
    assert!(packages.iter().all(|p| p.active && p.currency == "EUR" && p.credits.is_positive()));
    assert!(credits.purchases(user).await.unwrap().is_empty());
}

/// Applies `movement` to the user's balance through the store, as the payment code does.
async fn move_credits(store: &SharedStore, user: UserId, movement: impl Fn(&mut Movements) + Send + Sync) {
    let decide = |snapshot: &CreditSnapshot| {
        let mut movements = Movements::new(snapshot.balance.clone(), t0());
        movement(&mut movements);
        let (balance, transactions) = movements.into_parts();
        let outcome = CreditOutcome::Balance(balance.clone());
        CreditDecision {
            changes: Some(CreditChanges { balance, transactions, usage: None, idempotency: None }),
            outcome,
        }
    };
    store.update_credits(user, None, &decide).await.unwrap();
}

pub async fn credits_taken_back_after_they_were_spent_are_owed_until_a_purchase_repays_them(store: SharedStore) {
    let (credits, _, user) = credit_fixture(&store, no_free_credits()).await;
    credits.grant_paid(user, 100, "bought").await.unwrap();
    credits.spend(user, spend(80)).await.unwrap();
    move_credits(&store, user, |m| {
        m.take_back(Credits(100), Memo::new("Refund")).unwrap();
    })
    .await;
    let balance = credits.balance(user).await.unwrap();
    assert_eq!((balance.paid, balance.owed), (Credits(0), Credits(80)));
    assert_ledger_sound(&store).await;

    move_credits(&store, user, |m| {
        m.credit_payment(TransactionKind::Purchase, Credits(500), SystemAccount::Purchases, Memo::new("Pack")).unwrap();
    })
    .await;
    let balance = credits.balance(user).await.unwrap();
    assert_eq!((balance.paid, balance.owed), (Credits(420), Credits(0)), "the debt was repaid first");
    assert_ledger_sound(&store).await;
    let owed: i64 = store
        .list_transactions(user, 10, 0)
        .await
        .unwrap()
        .iter()
        .filter(|t| t.kind == TransactionKind::Refund)
        .map(|t| t.amount.0)
        .sum();
    assert_eq!(owed, -100, "the refund is listed as the whole amount taken back");
}
