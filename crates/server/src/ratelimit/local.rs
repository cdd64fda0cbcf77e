//! In-process counters: one governor keyed limiter per request budget, and a small GCRA table
//! for the failure budgets, which must be able to give a reserved failure back (governor has
//! no refunds). Used when Redis is not configured and whenever it cannot be reached.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::{Budget, Limited, RateLimitSettings, Rule};

/// How often budgets that have refilled completely are forgotten, which bounds memory by the
/// number of clients seen in one refill period rather than ever.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(60);

pub(super) struct LocalCounters {
    limiters: HashMap<Budget, DefaultKeyedRateLimiter<String>>,
    /// Failure budgets: per (budget, key), the theoretical arrival time, i.e. the moment the
    /// budget would be full again.
    failures: Mutex<HashMap<(Budget, String), Instant>>,
    settings: RateLimitSettings,
    clock: DefaultClock,
}

impl LocalCounters {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let limiters = Budget::ALL
            .into_iter()
            .filter(|budget| !budget.is_refundable())
            .filter_map(|budget| settings.rule(budget).map(|rule| (budget, governor::RateLimiter::keyed(quota(rule)))))
            .collect();
        Self { limiters, failures: Mutex::default(), settings: settings.clone(), clock: DefaultClock::default() }
    }

    pub fn check(&self, budget: Budget, key: &str) -> Result<(), Limited> {
        if budget.is_refundable() {
            return self.take_failure(budget, key);
        }
        let Some(limiter) = self.limiters.get(&budget) else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| Limited { retry_after: not_until.wait_time_from(self.clock.now()) })
    }

    /// GCRA: allowed while the budget, once this event is added, would not reach further into
    /// the future than one period.
    fn take_failure(&self, budget: Budget, key: &str) -> Result<(), Limited> {
        let Some(rule) = self.settings.rule(budget) else {
            return Ok(());
        };
        let (now, interval) = (Instant::now(), rule.emission_interval());
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let tat = failures.get(&(budget, key.to_owned())).copied().unwrap_or(now).max(now);
        let next = tat + interval;
        let allowed_at = next.checked_sub(interval * rule.limit.max(1)).unwrap_or(now);
        if allowed_at > now {
            return Err(Limited { retry_after: allowed_at - now });
        }
        failures.insert((budget, key.to_owned()), next);
        Ok(())
    }

    pub fn refund(&self, budget: Budget, key: &str) {
        let Some(rule) = self.settings.rule(budget) else {
            return;
        };
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = (budget, key.to_owned());
        if let Some(tat) = failures.get(&entry).copied() {
            match tat.checked_sub(rule.emission_interval()).filter(|earlier| *earlier > Instant::now()) {
                Some(earlier) => failures.insert(entry, earlier),
                None => failures.remove(&entry),
            };
        }
    }

    fn forget_idle(&self) {
        for limiter in self.limiters.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.retain(|_, full_again_at| *full_again_at > now);
    }
}

/// `limit` at once, then one more every `period / limit`.
fn quota(rule: Rule) -> Quota {
    let burst = NonZeroU32::new(rule.limit.max(1)).expect("at least 1");
    Quota::with_period(rule.emission_interval().max(Duration::from_nanos(1)))
        .expect("a non-zero period")
        .allow_burst(burst)
}

/// Forgets idle keys in the background for as long as the counters are in use. Outside a
/// Tokio runtime (unit tests of other parts) there is nothing to spawn on and nothing to keep.
pub(super) fn spawn_housekeeping(counters: &Arc<LocalCounters>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let counters: Weak<LocalCounters> = Arc::downgrade(counters);
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match counters.upgrade() {
                Some(counters) => counters.forget_idle(),
                None => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quota_allows_the_whole_limit_as_a_burst() {
        let counters = LocalCounters::new(&RateLimitSettings {
            requests_per_caller: Some(Rule { limit: 5, period: Duration::from_secs(3600) }),
            ..RateLimitSettings::off()
        });
        assert!((0..5).all(|_| counters.check(Budget::Requests, "k").is_ok()));
        let refused = counters.check(Budget::Requests, "k").unwrap_err();
        // One unit per 12 minutes.
        assert!(refused.retry_after > Duration::from_secs(600) && refused.retry_after <= Duration::from_secs(720));
        counters.forget_idle();
        assert!(counters.check(Budget::Requests, "k").is_err(), "a key still draining is kept");
    }

    #[test]
    fn failure_budgets_refund_and_forget_full_keys() {
        let counters = LocalCounters::new(&RateLimitSettings {
            failed_logins_per_account: Some(Rule { limit: 2, period: Duration::from_secs(3600) }),
            ..RateLimitSettings::off()
        });
        assert!(counters.check(Budget::LoginFailures, "a").is_ok());
        assert!(counters.check(Budget::LoginFailures, "a").is_ok());
        let refused = counters.check(Budget::LoginFailures, "a").unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(1800), "{refused:?}");
        counters.refund(Budget::LoginFailures, "a");
        assert!(counters.check(Budget::LoginFailures, "a").is_ok(), "a refunded failure can be used again");
        counters.refund(Budget::LoginFailures, "a");
        counters.refund(Budget::LoginFailures, "a");
        counters.forget_idle();
        assert!(counters.failures.lock().unwrap().is_empty(), "a full budget is forgotten");
    }
}
