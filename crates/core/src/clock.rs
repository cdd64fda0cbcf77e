//! Time as a dependency, so that expiry, grace windows and daily resets are tested without
//! sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};

pub trait Clock: Send + Sync + 'static {
    /// The current time, truncated to microseconds: that is what PostgreSQL keeps, so a value
    /// read back from either backend equals the value written.
    fn now(&self) -> DateTime<Utc>;
}

fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        truncate_to_micros(Utc::now())
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self { now: Mutex::new(truncate_to_micros(start)) }
    }

    /// Starts at the current wall-clock time.
    pub fn starting_now() -> Self {
        Self::new(Utc::now())
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = truncate_to_micros(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::starting_now();
        let before = clock.now();
        assert_eq!(clock.now(), before);
        clock.advance(Duration::seconds(11));
        assert_eq!(clock.now() - before, Duration::seconds(11));
    }

    #[test]
    fn system_clock_has_microsecond_precision() {
        let now = SystemClock.now();
        assert_eq!(now.timestamp_subsec_nanos() % 1_000, 0);
    }
}
