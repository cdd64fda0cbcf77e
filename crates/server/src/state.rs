//! What every handler can reach.

use std::sync::Arc;

use mana_core::auth::AuthService;
use mana_core::credits::CreditService;
use mana_proto::OpenIdConfiguration;

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
}

impl AppState {
    pub fn new(
        auth: AuthService,
        credits: CreditService,
        credits_per_euro: i64,
        http: HttpSettings,
        backend: Backend,
        public_url: &str,
        limiter: RateLimiter,
    ) -> Self {
        let jwks_uri = format!("{public_url}/.well-known/jwks.json");
        Self(Arc::new(Inner { auth, credits, credits_per_euro, http, backend, jwks_uri, limiter }))
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
}

impl crate::http::HttpState for AppState {
    fn auth(&self) -> &AuthService {
        &self.0.auth
    }

    fn limiter(&self) -> &RateLimiter {
        &self.0.limiter
    }
}
