//! What every handler can reach.

use std::sync::Arc;

use mana_core::auth::AuthService;
use mana_core::credits::CreditService;
use mana_proto::OpenIdConfiguration;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::http::security::HttpSettings;
use crate::ratelimit::RateLimiter;
use crate::storage::Backend;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    auth: AuthService,
    credits: CreditService,
    credits_per_euro: i64,
    http: HttpSettings,
    backend: Backend,
    jwks_uri: String,
    limiter: RateLimiter,
    after_answer: AfterAnswer,
    payments: Option<Payments>,
    oauth: crate::oauth::OAuthProviders,
}

/// How this deployment takes payments, and the secrets its webhook accepts.
pub struct Payments {
    pub provider: PaymentProvider,
    pub webhook_secrets: Vec<String>,
}

pub enum PaymentProvider {
    Stripe {
        client: crate::payments::stripe_client::StripeClient,
        settings: crate::config::StripeSettings,
    },
    /// Development without a Stripe key: the built-in simulated checkout at `public_url`,
    /// whose events are signed with the one webhook secret.
    Simulated {
        public_url: String,
    },
}

impl Payments {
    /// The secret of the simulated checkout, if that is the provider.
    pub fn simulated_secret(&self) -> Option<&str> {
        match self.provider {
            PaymentProvider::Simulated { .. } => self.webhook_secrets.first().map(String::as_str),
            PaymentProvider::Stripe { .. } => None,
        }
    }
}

/// Work done after its request was answered (a password-reset request looks the address up only
/// then, so that the answer does not tell whether it exists) may hold this share of the
/// database pool at once. Without a bound, a flood of cheap requests queues unbounded database
/// work that takes every connection from the requests behind it (measured: /auth/validate p99
/// 5 s under a forgot-password flood); with it, the flood waits for its turn, and that wait does
/// not depend on the address.
const AFTER_ANSWER_POOL_SHARE: u32 = 4;

impl AppState {
    /// `config` gives the scalar settings: credits per euro, the public URL (of the JWKS), and
    /// the pool size that bounds the work done after answers.
    pub fn new(
        auth: AuthService,
        credits: CreditService,
        http: HttpSettings,
        backend: Backend,
        limiter: RateLimiter,
        payments: Option<Payments>,
        config: &Config,
    ) -> anyhow::Result<Self> {
        let jwks_uri = format!("{}/.well-known/jwks.json", config.public_url);
        let after_answer =
            AfterAnswer::new((config.database_max_connections / AFTER_ANSWER_POOL_SHARE).max(1) as usize);
        let credits_per_euro = config.credits_per_euro;
        let oauth = crate::oauth::OAuthProviders::new(&config.oauth, &config.public_url)?;
        Ok(Self(Arc::new(Inner {
            auth,
            credits,
            credits_per_euro,
            http,
            backend,
            jwks_uri,
            limiter,
            after_answer,
            payments,
            oauth,
        })))
    }

    /// The configured social-login providers.
    pub fn oauth(&self) -> &crate::oauth::OAuthProviders {
        &self.0.oauth
    }

    pub fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    pub fn credits(&self) -> &CreditService {
        &self.0.credits
    }

    pub fn credits_per_euro(&self) -> i64 {
        self.0.credits_per_euro
    }

    pub fn http(&self) -> &HttpSettings {
        &self.0.http
    }

    pub fn backend(&self) -> &Backend {
        &self.0.backend
    }

    /// The discovery document; built on each call because the key ring can be reloaded.
    pub fn discovery(&self) -> OpenIdConfiguration {
        let tokens = self.0.auth.tokens();
        OpenIdConfiguration {
            issuer: tokens.settings().issuer.clone(),
            jwks_uri: self.0.jwks_uri.clone(),
            id_token_signing_alg_values_supported: tokens.keys().algorithms().into_iter().map(String::from).collect(),
            response_types_supported: vec!["token".into()],
            subject_types_supported: vec!["public".into()],
        }
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }

    /// `None` when this deployment takes no payments.
    pub fn payments(&self) -> Option<&Payments> {
        self.0.payments.as_ref()
    }

    /// Runs `work` in the background once one of its places (a share of the pool) is free;
    /// returns when it has started, so that the caller's answer waits while all are taken.
    pub async fn after_answer(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.0.after_answer.run(work).await;
    }
}

impl crate::http::HttpState for AppState {
    fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }
}

/// Background work with a fixed number of places.
struct AfterAnswer(Arc<Semaphore>);

impl AfterAnswer {
    fn new(places: usize) -> Self {
        Self(Arc::new(Semaphore::new(places)))
    }

    /// Waits for a place, then runs `work` in it in the background.
    async fn run(&self, work: impl Future<Output = ()> + Send + 'static) {
        // The semaphore is never closed, so a place always comes.
        let Ok(place) = self.0.clone().acquire_owned().await else { return };
        tokio::spawn(async move {
            work.await;
            drop(place);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn work_after_answers_never_runs_more_than_its_places_at_once() {
        let places = AfterAnswer::new(2);
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        for _ in 0..20 {
            let (running, most) = (running.clone(), most.clone());
            places
                .run(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await;
        }
        // Every job has started once the last call returns; waiting for both places drains them.
        let _all = places.0.acquire_many(2).await.unwrap();
        assert_eq!(running.load(Ordering::SeqCst), 0, "all twenty ran");
        assert_eq!(most.load(Ordering::SeqCst), 2, "never more than two at once");
    }
}
