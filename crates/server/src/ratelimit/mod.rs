//! Rate limits (SPEC §2.1, §3). Every API request counts against its caller: the user named
//! by a valid access token, or else the client address. `/auth/validate` has a larger budget
//! of its own, sized for app backends that check many users' tokens from one address. Login
//! and register have stricter per-address budgets. Failed logins count against the account,
//! so a botnet spreading guesses over many addresses is slowed too; the failure is reserved
//! before the password is checked and refunded if the login succeeds, so parallel guesses can
//! never exceed the budget. A device that signed in before (it presents its device token) has
//! a small failure budget of its own and is not shut out by the account's.
//!
//! Every budget is a GCRA (generic cell rate algorithm): `limit` requests per `period`, as a
//! burst, refilled evenly over the period. A budget that ran out is refused with 429 and
//! `Retry-After`, never with a permanent lock: an account's real owner can always sign in once
//! the attacker's failures have drained out of the budget.
//!
//! With `REDIS_URL` the counters live in Redis, shared by every instance ([`shared`]); without
//! it, or while Redis cannot be reached, in this process ([`local`]). Failing open to local
//! counters keeps the service up when Redis is down; each failure is counted in
//! `redis_errors_total`, the change of state is logged, and Redis is asked again once a second
//! rather than on every request.

mod local;
mod shared;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use local::LocalCounters;
use shared::RedisCounters;

pub const RATE_LIMIT_REJECTIONS: &str = "rate_limit_rejections_total";
pub const REDIS_ERRORS: &str = "redis_errors_total";

/// `limit` events per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub period: Duration,
}

impl Rule {
    pub fn per_minute(limit: u32) -> Self {
        Self { limit, period: Duration::from_secs(60) }
    }

    /// The time one event's share of the budget takes to come back.
    fn emission_interval(&self) -> Duration {
        self.period / self.limit.max(1)
    }
}

/// The budgets there are; each has its own counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Every API request, per user when authenticated, else per client address.
    Requests,
    /// `POST /auth/validate`, per client address (instead of `Requests`).
    Validate,
    /// `POST /webhooks/stripe`, per client address (instead of `Requests`): Stripe sends bursts
    /// from a few addresses, and a forged event costs one HMAC and no database.
    Webhooks,
    /// `POST /auth/login`, per client address.
    Login,
    /// `POST /auth/register`, per client address.
    Register,
    /// Failed logins, per account (the email as typed, normalised).
    LoginFailures,
    /// Failed logins from a device that signed in to the account before, per device.
    DeviceLoginFailures,
    /// Requests that send an email link (forgot password, resend verification), per client
    /// address.
    EmailLinks,
    /// The same, per account (the address as typed, normalised; or the signed-in user).
    EmailLinksPerAccount,
}

impl Budget {
    pub const ALL: [Budget; 9] = [
        Budget::Requests,
        Budget::Validate,
        Budget::Webhooks,
        Budget::Login,
        Budget::Register,
        Budget::LoginFailures,
        Budget::DeviceLoginFailures,
        Budget::EmailLinks,
        Budget::EmailLinksPerAccount,
    ];

    /// The metric label and the Redis key segment.
    pub fn name(self) -> &'static str {
        match self {
            Budget::Requests => "requests",
            Budget::Validate => "validate",
            Budget::Webhooks => "webhooks",
            Budget::Login => "login",
            Budget::Register => "register",
            Budget::LoginFailures => "login_failures",
            Budget::DeviceLoginFailures => "device_login_failures",
            Budget::EmailLinks => "email_links",
            Budget::EmailLinksPerAccount => "email_links_per_account",
        }
    }

    /// Failure budgets are reserved before the outcome is known, and refunded on success.
    fn is_refundable(self) -> bool {
        matches!(self, Budget::LoginFailures | Budget::DeviceLoginFailures)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `None` switches a budget off.
    pub requests_per_caller: Option<Rule>,
    pub validate_per_ip: Option<Rule>,
    pub webhooks_per_ip: Option<Rule>,
    pub login_per_ip: Option<Rule>,
    pub register_per_ip: Option<Rule>,
    pub failed_logins_per_account: Option<Rule>,
    pub failed_logins_per_device: Option<Rule>,
    pub email_links_per_ip: Option<Rule>,
    pub email_links_per_account: Option<Rule>,
    /// Never logged: it may carry a password.
    pub redis_url: Option<String>,
    /// Prepended to every Redis key, so several deployments can share one Redis.
    pub redis_key_prefix: String,
    /// How long one Redis round trip may take before the request falls back to local counters.
    pub redis_timeout: Duration,
}

impl RateLimitSettings {
    /// Every budget switched off, no Redis.
    pub fn off() -> Self {
        Self {
            requests_per_caller: None,
            validate_per_ip: None,
            webhooks_per_ip: None,
            login_per_ip: None,
            register_per_ip: None,
            failed_logins_per_account: None,
            failed_logins_per_device: None,
            email_links_per_ip: None,
            email_links_per_account: None,
            redis_url: None,
            redis_key_prefix: "mana:ratelimit:".into(),
            redis_timeout: Duration::from_millis(200),
        }
    }

    fn rule(&self, budget: Budget) -> Option<Rule> {
        match budget {
            Budget::Requests => self.requests_per_caller,
            Budget::Validate => self.validate_per_ip,
            Budget::Webhooks => self.webhooks_per_ip,
            Budget::Login => self.login_per_ip,
            Budget::Register => self.register_per_ip,
            Budget::LoginFailures => self.failed_logins_per_account,
            Budget::DeviceLoginFailures => self.failed_logins_per_device,
            Budget::EmailLinks => self.email_links_per_ip,
            Budget::EmailLinksPerAccount => self.email_links_per_account,
        }
    }
}

/// A refusal: the caller may try again after `retry_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds, never 0 (a 0 would invite an immediate retry).
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[derive(Clone)]
pub struct RateLimiter(Arc<Inner>);

struct Inner {
    settings: RateLimitSettings,
    local: Arc<LocalCounters>,
    redis: Option<RedisCounters>,
    /// Whether the last Redis call failed; flips are logged, so a Redis outage is two log
    /// lines, not one per request.
    redis_down: AtomicBool,
    /// While Redis is down it is tried again only this often (milliseconds since `started`),
    /// so a Redis that hangs costs one request a timeout, not every request.
    redis_next_attempt_ms: AtomicU64,
    started: Instant,
}

/// How long after a Redis failure the local counters are used without asking Redis.
const REDIS_RETRY_INTERVAL: Duration = Duration::from_secs(1);

impl RateLimiter {
    /// Connects to Redis lazily: the service starts, and serves, while Redis is down.
    pub fn new(settings: RateLimitSettings) -> anyhow::Result<Self> {
        let redis = match &settings.redis_url {
            Some(url) => Some(RedisCounters::new(url, &settings.redis_key_prefix, settings.redis_timeout)?),
            None => None,
        };
        let local = Arc::new(LocalCounters::new(&settings));
        local::spawn_housekeeping(&local);
        Ok(Self(Arc::new(Inner {
            settings,
            local,
            redis,
            redis_down: AtomicBool::new(false),
            redis_next_attempt_ms: AtomicU64::new(0),
            started: Instant::now(),
        })))
    }

    pub fn uses_redis(&self) -> bool {
        self.0.redis.is_some()
    }

    /// Spends one unit of `budget` for `key`.
    pub async fn check(&self, budget: Budget, key: &str) -> Result<(), Limited> {
        let Some(rule) = self.0.settings.rule(budget) else {
            return Ok(());
        };
        let verdict = match self.shared(|redis| redis.check(budget, key, rule)).await {
            Some(verdict) => verdict,
            None => self.0.local.check(budget, key),
        };
        if verdict.is_err() {
            metrics::counter!(RATE_LIMIT_REJECTIONS, "limit" => budget.name()).increment(1);
        }
        verdict
    }

    /// Takes one failure from `budget` for `key` before the outcome is known. The caller
    /// gives it back with [`RateLimiter::refund`] when the attempt turns out not to be a
    /// failure; reserving first is what keeps parallel guesses within the budget.
    pub async fn reserve(&self, budget: Budget, key: &str) -> Result<Reservation, Limited> {
        debug_assert!(budget.is_refundable());
        self.check(budget, key).await?;
        Ok(Reservation { budget, key: key.to_owned() })
    }

    /// Gives a reserved failure back.
    pub async fn refund(&self, reservation: Reservation) {
        let Some(rule) = self.0.settings.rule(reservation.budget) else {
            return;
        };
        let Reservation { budget, key } = reservation;
        if self.shared(|redis| redis.refund(budget, &key, rule)).await.is_none() {
            self.0.local.refund(budget, &key);
        }
    }

    /// Runs `call` against Redis if configured and reachable; `None` means "use local".
    async fn shared<'a, T, F>(&'a self, call: impl FnOnce(&'a RedisCounters) -> F) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let redis = self.0.redis.as_ref()?;
        let now_ms = self.0.started.elapsed().as_millis() as u64;
        if self.0.redis_down.load(Ordering::Relaxed) && now_ms < self.0.redis_next_attempt_ms.load(Ordering::Relaxed) {
            return None;
        }
        match call(redis).await {
            Ok(value) => {
                if self.0.redis_down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis reachable again; rate limits are shared across instances");
                }
                Some(value)
            }
            Err(error) => {
                metrics::counter!(REDIS_ERRORS).increment(1);
                let retry_at = self.0.started.elapsed() + REDIS_RETRY_INTERVAL;
                self.0.redis_next_attempt_ms.store(retry_at.as_millis() as u64, Ordering::Relaxed);
                if !self.0.redis_down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        error = %shared::describe(&error),
                        "Redis unreachable; rate limits fall back to this instance's counters"
                    );
                }
                None
            }
        }
    }
}

/// The key of a client address: one budget per IPv4 address, and per /64 for IPv6 (a single
/// IPv6 host is usually handed a whole /64, and could otherwise take a fresh address for every
/// request).
pub fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
    }
}

/// One failure taken from a budget, to be kept (the attempt failed) or refunded.
#[derive(Debug)]
#[must_use = "a reservation is either kept by dropping it after a failure, or refunded"]
pub struct Reservation {
    budget: Budget,
    key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rule: Rule) -> RateLimitSettings {
        RateLimitSettings {
            requests_per_caller: Some(rule),
            register_per_ip: Some(rule),
            failed_logins_per_account: Some(rule),
            ..RateLimitSettings::off()
        }
    }

    #[tokio::test]
    async fn a_budget_allows_its_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(settings(Rule::per_minute(3))).unwrap();
        for _ in 0..3 {
            assert!(limiter.check(Budget::Requests, "1.2.3.4").await.is_ok());
        }
        let refused = limiter.check(Budget::Requests, "1.2.3.4").await.unwrap_err();
        // One unit comes back every 20 s.
        assert!((1..=20).contains(&refused.retry_after_seconds()), "{refused:?}");
        assert!(limiter.check(Budget::Requests, "5.6.7.8").await.is_ok(), "keys are independent");
        assert!(limiter.check(Budget::Register, "1.2.3.4").await.is_ok(), "budgets are independent");
    }

    #[tokio::test]
    async fn a_switched_off_budget_never_refuses() {
        let limiter = RateLimiter::new(settings(Rule::per_minute(1))).unwrap();
        for _ in 0..10 {
            assert!(limiter.check(Budget::Login, "1.2.3.4").await.is_ok());
        }
    }

    #[tokio::test]
    async fn reserved_failures_are_kept_or_refunded() {
        let limiter = RateLimiter::new(settings(Rule::per_minute(2))).unwrap();
        for _ in 0..5 {
            let reservation = limiter.reserve(Budget::LoginFailures, "account").await.unwrap();
            limiter.refund(reservation).await;
        }
        for _ in 0..2 {
            drop(limiter.reserve(Budget::LoginFailures, "account").await.unwrap());
        }
        let locked = limiter.reserve(Budget::LoginFailures, "account").await.unwrap_err();
        assert!((1..=30).contains(&locked.retry_after_seconds()), "{locked:?}");
        assert!(limiter.reserve(Budget::LoginFailures, "another").await.is_ok());
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64() {
        let a = ip_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = ip_key("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, ip_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(ip_key("192.0.2.1".parse().unwrap()), "ip:192.0.2.1");
    }

    #[test]
    fn retry_after_is_rounded_up_to_a_whole_second() {
        assert_eq!(Limited { retry_after: Duration::from_millis(1) }.retry_after_seconds(), 1);
        assert_eq!(Limited { retry_after: Duration::from_millis(1500) }.retry_after_seconds(), 2);
    }
}
