//! The credit rules as pure functions over a balance snapshot: daily reset, spending order,
//! grants. Each movement is recorded as a balanced ledger transaction; the store applies the
//! result atomically.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::amount::Credits;
use super::ledger::{Account, Bucket, LedgerTransaction, Posting, SystemAccount, TransactionKind};
use super::names::AppId;
use crate::ids::UserId;

/// The amounts and period of free credits.
#[derive(Debug, Clone)]
pub struct CreditPolicy {
    pub signup_bonus: Credits,
    pub daily_allowance: Credits,
    pub daily_period: Duration,
}

impl Default for CreditPolicy {
    fn default() -> Self {
        Self { signup_bonus: Credits(150), daily_allowance: Credits(5), daily_period: Duration::hours(24) }
    }
}

/// A user's cached balance: the three buckets, running totals, the time of the last daily
/// reset, and the version that optimistic locking compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balance {
    pub user_id: UserId,
    pub daily: Credits,
    pub free: Credits,
    pub paid: Credits,
    /// Credits taken back after they were spent (see [`Bucket::Owed`]); never negative.
    pub owed: Credits,
    /// Everything ever credited to the buckets (grants, purchases, adjustments).
    pub total_earned: Credits,
    /// Everything ever spent on usage.
    pub total_spent: Credits,
    pub daily_reset_at: DateTime<Utc>,
    pub version: i64,
}

impl Balance {
    /// An account before its first movement.
    pub fn empty(user_id: UserId, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            daily: Credits::ZERO,
            free: Credits::ZERO,
            paid: Credits::ZERO,
            owed: Credits::ZERO,
            total_earned: Credits::ZERO,
            total_spent: Credits::ZERO,
            daily_reset_at: now,
            version: 0,
        }
    }

    /// The cached value of a bucket (for `Owed`: the debt, positive).
    pub fn bucket(&self, bucket: Bucket) -> Credits {
        match bucket {
            Bucket::Daily => self.daily,
            Bucket::Free => self.free,
            Bucket::Paid => self.paid,
            Bucket::Owed => self.owed,
        }
    }

    /// What the bucket's postings sum to: its cached value, except the debt, which is posted
    /// negative.
    pub fn posted(&self, bucket: Bucket) -> Credits {
        match bucket {
            Bucket::Owed => -self.owed,
            other => self.bucket(other),
        }
    }

    fn bucket_mut(&mut self, bucket: Bucket) -> &mut Credits {
        match bucket {
            Bucket::Daily => &mut self.daily,
            Bucket::Free => &mut self.free,
            Bucket::Paid => &mut self.paid,
            Bucket::Owed => &mut self.owed,
        }
    }

    /// The three spendable buckets together (the debt is not subtracted).
    pub fn total(&self) -> Credits {
        Credits(self.daily.0.saturating_add(self.free.0).saturating_add(self.paid.0))
    }

    pub fn next_daily_reset_at(&self, policy: &CreditPolicy) -> DateTime<Utc> {
        self.daily_reset_at + policy.daily_period
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementError {
    /// The buckets together cannot cover the amount; nothing moved.
    Insufficient,
    /// A total would leave the range of i64.
    Overflow,
}

/// A user-facing description and context of one movement.
#[derive(Debug, Clone, Default)]
pub struct Memo {
    pub app_id: Option<AppId>,
    pub description: String,
    pub metadata: Option<serde_json::Value>,
    /// Set on the movements of a purchase.
    pub purchase_id: Option<Uuid>,
}

impl Memo {
    pub fn new(description: impl Into<String>) -> Self {
        Self { description: description.into(), ..Self::default() }
    }
}

/// A working copy of a balance that records every movement applied to it.
#[derive(Debug, Clone)]
pub struct Movements {
    balance: Balance,
    transactions: Vec<LedgerTransaction>,
    now: DateTime<Utc>,
}

impl Movements {
    pub fn new(balance: Balance, now: DateTime<Utc>) -> Self {
        Self { balance, transactions: Vec::new(), now }
    }

    /// A new account: the signup bonus (once, here) and the first daily allowance.
    pub fn open_account(user: UserId, policy: &CreditPolicy, now: DateTime<Utc>) -> Result<Self, MovementError> {
        let mut movements = Self::new(Balance::empty(user, now), now);
        if policy.signup_bonus.is_positive() {
            let memo = Memo::new("Signup bonus");
            movements.record(
                TransactionKind::Bonus,
                &[(Bucket::Free, policy.signup_bonus)],
                SystemAccount::SignupBonus,
                memo,
            )?;
        }
        movements.grant_daily(policy)?;
        Ok(movements)
    }

    pub fn balance(&self) -> &Balance {
        &self.balance
    }

    pub fn transactions(&self) -> &[LedgerTransaction] {
        &self.transactions
    }

    pub fn is_unchanged(&self) -> bool {
        self.transactions.is_empty()
    }

    pub fn into_parts(self) -> (Balance, Vec<LedgerTransaction>) {
        (self.balance, self.transactions)
    }

    /// If a full period has passed since the last reset: what is left of the allowance expires
    /// and a fresh allowance is granted. Missed periods do not pile up. Returns whether it reset.
    pub fn reset_daily_if_due(&mut self, policy: &CreditPolicy) -> Result<bool, MovementError> {
        if self.now < self.balance.next_daily_reset_at(policy) {
            return Ok(false);
        }
        let leftover = self.balance.daily;
        if leftover.is_positive() {
            let memo = Memo::new("Unused daily credits expired");
            self.record(TransactionKind::Expiry, &[(Bucket::Daily, -leftover)], SystemAccount::Expiry, memo)?;
        }
        self.grant_daily(policy)?;
        Ok(true)
    }

    fn grant_daily(&mut self, policy: &CreditPolicy) -> Result<(), MovementError> {
        self.balance.daily_reset_at = self.now;
        if policy.daily_allowance.is_positive() {
            let memo = Memo::new("Daily free credits");
            self.record(
                TransactionKind::Daily,
                &[(Bucket::Daily, policy.daily_allowance)],
                SystemAccount::DailyIssuer,
                memo,
            )?;
        }
        Ok(())
    }

    /// Spends from the daily allowance first, then free credits, then paid credits.
    pub fn spend(&mut self, amount: Credits, app_id: &AppId, memo: Memo) -> Result<&LedgerTransaction, MovementError> {
        if !amount.is_positive() {
            return Err(MovementError::Overflow);
        }
        if self.balance.total() < amount {
            return Err(MovementError::Insufficient);
        }
        let mut remaining = amount;
        let mut legs = Vec::with_capacity(3);
        for bucket in Bucket::SPENDABLE {
            let take = remaining.min(self.balance.bucket(bucket));
            if take.is_positive() {
                legs.push((bucket, -take));
                remaining = remaining.checked_sub(take).ok_or(MovementError::Overflow)?;
            }
        }
        let memo = Memo { app_id: Some(app_id.clone()), ..memo };
        self.record(TransactionKind::Usage, &legs, SystemAccount::Usage(app_id.to_string()), memo)
    }

    /// Credits `amount` to one bucket from a system account (purchases, adjustments, refunds).
    pub fn grant(
        &mut self,
        kind: TransactionKind,
        bucket: Bucket,
        amount: Credits,
        source: SystemAccount,
        memo: Memo,
    ) -> Result<&LedgerTransaction, MovementError> {
        if !amount.is_positive() {
            return Err(MovementError::Overflow);
        }
        self.record(kind, &[(bucket, amount)], source, memo)
    }

    /// An administrator's correction of the paid bucket: `amount` added, or taken back when
    /// negative (never below zero).
    pub fn adjust_paid(
        &mut self,
        amount: Credits,
        source: SystemAccount,
        memo: Memo,
    ) -> Result<&LedgerTransaction, MovementError> {
        if amount == Credits::ZERO {
            return Err(MovementError::Overflow);
        }
        self.record(TransactionKind::Adjustment, &[(Bucket::Paid, amount)], source, memo)
    }

    /// A paid purchase: `amount` credits, of which any debt is repaid first; the rest goes to
    /// the paid bucket. `source` is where they come from: `Purchases` for a payment, `Refunds`
    /// when a won dispute gives back what it took.
    pub fn credit_payment(
        &mut self,
        kind: TransactionKind,
        amount: Credits,
        source: SystemAccount,
        memo: Memo,
    ) -> Result<&LedgerTransaction, MovementError> {
        if !amount.is_positive() {
            return Err(MovementError::Overflow);
        }
        let repaid = amount.min(self.balance.owed);
        let kept = amount.checked_sub(repaid).ok_or(MovementError::Overflow)?;
        let legs: Vec<_> =
            [(Bucket::Paid, kept), (Bucket::Owed, repaid)].into_iter().filter(|(_, n)| n.is_positive()).collect();
        self.record(kind, &legs, source, memo)
    }

    /// Takes back `amount` credits of a payment (a refund or a dispute): from the paid bucket
    /// as far as it holds them, and what was spent already becomes debt. Never fails for want
    /// of credits: the buckets stay non-negative whatever is taken.
    pub fn take_back(&mut self, amount: Credits, memo: Memo) -> Result<&LedgerTransaction, MovementError> {
        if !amount.is_positive() {
            return Err(MovementError::Overflow);
        }
        let from_paid = amount.min(self.balance.paid);
        let owed = amount.checked_sub(from_paid).ok_or(MovementError::Overflow)?;
        let legs: Vec<_> =
            [(Bucket::Paid, -from_paid), (Bucket::Owed, -owed)].into_iter().filter(|(_, n)| n.is_negative()).collect();
        self.record(TransactionKind::Refund, &legs, SystemAccount::Refunds, memo)
    }

    /// Applies the user legs to the buckets and records them against `other`, which takes the
    /// opposite of their sum so that the transaction balances.
    fn record(
        &mut self,
        kind: TransactionKind,
        legs: &[(Bucket, Credits)],
        other: SystemAccount,
        memo: Memo,
    ) -> Result<&LedgerTransaction, MovementError> {
        let mut balance = self.balance.clone();
        if self.transactions.is_empty() {
            // The first movement makes a new version of the balance; the store writes it only
            // over the version it was derived from.
            balance.version += 1;
        }
        let mut net = Credits::ZERO;
        let mut postings = Vec::with_capacity(legs.len() + 1);
        for &(bucket, amount) in legs {
            // The debt is posted negative: a posting of -n owes n more.
            let change = if bucket == Bucket::Owed { amount.checked_neg() } else { Some(amount) };
            let slot = balance.bucket_mut(bucket);
            *slot = change.and_then(|change| slot.checked_add(change)).ok_or(MovementError::Overflow)?;
            if slot.is_negative() {
                return Err(MovementError::Insufficient);
            }
            net = net.checked_add(amount).ok_or(MovementError::Overflow)?;
            postings.push(Posting { account: Account::User(balance.user_id, bucket), amount });
        }
        postings.push(Posting { account: Account::System(other), amount: -net });
        match kind {
            TransactionKind::Usage => {
                balance.total_spent = balance.total_spent.checked_sub(net).ok_or(MovementError::Overflow)?
            }
            TransactionKind::Expiry => {}
            _ => balance.total_earned = balance.total_earned.checked_add(net).ok_or(MovementError::Overflow)?,
        }
        balance
            .daily
            .checked_add(balance.free)
            .and_then(|s| s.checked_add(balance.paid))
            .ok_or(MovementError::Overflow)?;
        let transaction = LedgerTransaction {
            id: Uuid::now_v7(),
            user_id: balance.user_id,
            kind,
            amount: net,
            balance_after: balance.total(),
            app_id: memo.app_id,
            description: memo.description,
            metadata: memo.metadata,
            purchase_id: memo.purchase_id,
            created_at: self.now,
            postings,
        };
        debug_assert!(transaction.is_balanced());
        self.balance = balance;
        self.transactions.push(transaction);
        Ok(self.transactions.last().expect("just pushed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened(now: DateTime<Utc>) -> Movements {
        Movements::open_account(UserId::generate(), &CreditPolicy::default(), now).unwrap()
    }

    #[test]
    fn a_new_account_has_the_bonus_and_the_first_allowance() {
        let now = Utc::now();
        let account = opened(now);
        let balance = account.balance();
        assert_eq!((balance.daily, balance.free, balance.paid), (Credits(5), Credits(150), Credits::ZERO));
        assert_eq!(balance.total_earned, Credits(155));
        let kinds: Vec<_> = account.transactions().iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [TransactionKind::Bonus, TransactionKind::Daily]);
        assert!(account.transactions().iter().all(LedgerTransaction::is_balanced));
    }

    #[test]
    fn spending_takes_daily_then_free_then_paid() {
        let now = Utc::now();
        let (mut balance, _) = opened(now).into_parts();
        balance.paid = Credits(100);
        let mut movements = Movements::new(balance, now);
        let spent =
            movements.spend(Credits(200), &AppId::parse("chat").unwrap(), Memo::new("long answer")).unwrap().clone();
        let legs: Vec<_> = spent.postings.iter().map(|p| (p.account.clone(), p.amount)).collect();
        let user = movements.balance().user_id;
        assert_eq!(
            legs,
            [
                (Account::User(user, Bucket::Daily), Credits(-5)),
                (Account::User(user, Bucket::Free), Credits(-150)),
                (Account::User(user, Bucket::Paid), Credits(-45)),
                (Account::System(SystemAccount::Usage("chat".into())), Credits(200)),
            ]
        );
        assert_eq!(spent.amount, Credits(-200));
        assert_eq!(spent.balance_after, Credits(55));
        assert_eq!(movements.balance().total_spent, Credits(200));
    }

    #[test]
    fn an_overdraw_moves_nothing() {
        let now = Utc::now();
        let mut movements = opened(now);
        let before = movements.balance().clone();
        let count = movements.transactions().len();
        assert_eq!(
            movements.spend(Credits(156), &AppId::parse("chat").unwrap(), Memo::new("x")).unwrap_err(),
            MovementError::Insufficient
        );
        assert_eq!(movements.balance(), &before);
        assert_eq!(movements.transactions().len(), count);
    }

    #[test]
    fn the_allowance_resets_once_per_period_and_leftovers_expire() {
        let start = Utc::now();
        let policy = CreditPolicy::default();
        let (balance, _) = opened(start).into_parts();

        let mut early = Movements::new(balance.clone(), start + Duration::hours(23));
        assert!(!early.reset_daily_if_due(&policy).unwrap());
        assert!(early.is_unchanged());

        // Three days later: one reset, not three.
        let mut late = Movements::new(balance, start + Duration::days(3));
        assert!(late.reset_daily_if_due(&policy).unwrap());
        assert!(!late.reset_daily_if_due(&policy).unwrap());
        assert_eq!(late.balance().daily, Credits(5));
        let kinds: Vec<_> = late.transactions().iter().map(|t| (t.kind, t.amount)).collect();
        assert_eq!(kinds, [(TransactionKind::Expiry, Credits(-5)), (TransactionKind::Daily, Credits(5))]);
        assert_eq!(late.balance().daily_reset_at, start + Duration::days(3));
    }

    fn with_paid(paid: i64, now: DateTime<Utc>) -> Movements {
        let (mut balance, _) = opened(now).into_parts();
        (balance.daily, balance.free, balance.paid) = (Credits::ZERO, Credits::ZERO, Credits(paid));
        Movements::new(balance, now)
    }

    #[test]
    fn taking_back_spent_credits_leaves_a_debt_that_the_next_purchase_repays_first() {
        let now = Utc::now();
        let mut movements = with_paid(30, now);
        let taken = movements.take_back(Credits(100), Memo::new("Refund")).unwrap().clone();
        let user = movements.balance().user_id;
        let legs: Vec<_> = taken.postings.iter().map(|p| (p.account.clone(), p.amount)).collect();
        assert_eq!(
            legs,
            [
                (Account::User(user, Bucket::Paid), Credits(-30)),
                (Account::User(user, Bucket::Owed), Credits(-70)),
                (Account::System(SystemAccount::Refunds), Credits(100)),
            ]
        );
        assert_eq!(taken.amount, Credits(-100));
        assert_eq!((movements.balance().paid, movements.balance().owed), (Credits::ZERO, Credits(70)));

        let bought = movements
            .credit_payment(TransactionKind::Purchase, Credits(500), SystemAccount::Purchases, Memo::new("Pack"))
            .unwrap()
            .clone();
        let legs: Vec<_> = bought.postings.iter().map(|p| (p.account.clone(), p.amount)).collect();
        assert_eq!(
            legs,
            [
                (Account::User(user, Bucket::Paid), Credits(430)),
                (Account::User(user, Bucket::Owed), Credits(70)),
                (Account::System(SystemAccount::Purchases), Credits(-500)),
            ]
        );
        assert_eq!((movements.balance().paid, movements.balance().owed), (Credits(430), Credits::ZERO));
        assert!(movements.transactions().iter().all(LedgerTransaction::is_balanced));
        for bucket in Bucket::ALL {
            let posted: i64 = movements
                .transactions()
                .iter()
                .flat_map(|t| &t.postings)
                .filter(|p| p.account == Account::User(user, bucket))
                .map(|p| p.amount.0)
                .sum();
            let before = with_paid(30, now).balance().posted(bucket).0;
            assert_eq!(before + posted, movements.balance().posted(bucket).0, "{bucket:?}");
        }
    }

    #[test]
    fn a_debt_is_never_spendable_and_a_partial_payment_only_shrinks_it() {
        let now = Utc::now();
        let mut movements = with_paid(0, now);
        movements.take_back(Credits(50), Memo::new("Dispute")).unwrap();
        assert_eq!(movements.balance().total(), Credits::ZERO);
        let app = AppId::parse("chat").unwrap();
        assert_eq!(movements.spend(Credits(1), &app, Memo::new("x")).unwrap_err(), MovementError::Insufficient);
        let repaid = movements
            .credit_payment(TransactionKind::Adjustment, Credits(20), SystemAccount::Refunds, Memo::new("Won"))
            .unwrap();
        assert_eq!(repaid.postings.len(), 2, "all of it repays the debt; nothing reaches the paid bucket");
        assert_eq!((movements.balance().paid, movements.balance().owed), (Credits::ZERO, Credits(30)));
    }

    #[test]
    fn an_empty_allowance_expires_nothing() {
        let start = Utc::now();
        let policy = CreditPolicy::default();
        let (mut balance, _) = opened(start).into_parts();
        balance.daily = Credits::ZERO;
        let mut movements = Movements::new(balance, start + Duration::days(1));
        movements.reset_daily_if_due(&policy).unwrap();
        let kinds: Vec<_> = movements.transactions().iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [TransactionKind::Daily]);
    }
}
