//! In-process counters: one governor keyed limiter per budget, and the accounts currently
//! locked. Used when Redis is not configured and whenever it cannot be reached.

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
    lockouts: Mutex<HashMap<String, Instant>>,
    clock: DefaultClock,
}

impl LocalCounters {
    pub fn new(settings: &RateLimitSettings) -> Self {
        let limiters = Budget::ALL
            .into_iter()
            .filter_map(|budget| settings.rule(budget).map(|rule| (budget, governor::RateLimiter::keyed(quota(rule)))))
            .collect();
        Self { limiters, lockouts: Mutex::default(), clock: DefaultClock::default() }
    }

    pub fn check(&self, budget: Budget, key: &str) -> Result<(), Limited> {
        let Some(limiter) = self.limiters.get(&budget) else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| Limited { retry_after: not_until.wait_time_from(self.clock.now()) })
    }

    pub fn lockout_remaining(&self, key: &str) -> Option<Duration> {
        let lockouts = self.lockouts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let until = *lockouts.get(key)?;
        until.checked_duration_since(Instant::now()).filter(|left| !left.is_zero())
    }

    pub fn lock(&self, key: &str, duration: Duration) {
        let mut lockouts = self.lockouts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lockouts.insert(key.to_owned(), Instant::now() + duration);
    }

    fn forget_idle(&self) {
        for limiter in self.limiters.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        let mut lockouts = self.lockouts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        lockouts.retain(|_, until| *until > now);
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
            requests_per_ip: Some(Rule { limit: 5, period: Duration::from_secs(3600) }),
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
    fn lockouts_expire() {
        let counters = LocalCounters::new(&RateLimitSettings::off());
        counters.lock("a", Duration::from_secs(60));
        counters.lock("b", Duration::ZERO);
        assert!(counters.lockout_remaining("a").is_some());
        assert!(counters.lockout_remaining("b").is_none());
        counters.forget_idle();
        assert_eq!(counters.lockouts.lock().unwrap().len(), 1);
    }
}
