//! The verifier: the server's keys fetched once and kept, refetched when they grow old or when
//! a token names a key not seen yet (a rotation), at most once per `refetch_interval` so that
//! tokens with made-up key ids cannot make this service hammer the server.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mana_proto::{AccessTokenClaims, TokenRejection};

use crate::error::VerifyError;
use crate::keys::KeySet;
use crate::revocation::Revocations;
use crate::token::{Expectations, Parsed};

/// What a verifier checks tokens against, and how it keeps the server's keys.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server answers, e.g. `https://auth.example.com` (its `/.well-known/jwks.json`
    /// and `/api/v1/auth/validate` are under it).
    pub base_url: String,
    /// The `iss` tokens must carry (the server's `JWT_ISSUER`, by default its public URL).
    pub issuer: String,
    /// The `aud` tokens must carry (the server's `JWT_AUDIENCE`, by default `mana`).
    pub audience: String,
    /// How long fetched keys are used before they are fetched again (10 minutes).
    pub jwks_ttl: Duration,
    /// The least time between two fetches caused by unknown key ids (5 s).
    pub refetch_interval: Duration,
    /// Clock skew tolerated for `exp`, `nbf` and `iat` (30 s, as the server).
    pub leeway: Duration,
    /// Also ask the server whether each token's session is still live (`/auth/validate`),
    /// remembering each answer this long. A signature alone cannot show that a session was
    /// revoked (signed out, password changed, account locked) before its token expired.
    pub revocation_check: Option<Duration>,
    /// Timeout of each call to the server (5 s).
    pub timeout: Duration,
}

impl Config {
    /// Defaults for a server at `base_url` whose issuer is `base_url` and audience `mana`.
    pub fn new(base_url: impl Into<String>) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Self {
            issuer: base_url.clone(),
            base_url,
            audience: "mana".into(),
            jwks_ttl: Duration::from_secs(600),
            refetch_interval: Duration::from_secs(5),
            leeway: Duration::from_secs(30),
            revocation_check: None,
            timeout: Duration::from_secs(5),
        }
    }

    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Checks every token's session with the server too, remembering answers for `cache_for`.
    pub fn check_revocation(mut self, cache_for: Duration) -> Self {
        self.revocation_check = Some(cache_for);
        self
    }
}

/// Verifies access tokens of one mana-core-auth server. Cheap to clone: clones share the keys.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    expectations: Expectations,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    /// Held while fetching, so that concurrent misses make one request.
    fetching: tokio::sync::Mutex<()>,
    revocations: Option<Revocations>,
}

struct Keys {
    set: Arc<KeySet>,
    /// When the set was fetched; `None` before the first success.
    fetched_at: Option<Instant>,
    /// When a fetch was last tried, successful or not.
    tried_at: Option<Instant>,
}

impl Verifier {
    pub fn new(config: Config) -> Self {
        let http = crate::http::client(config.timeout);
        let expectations = Expectations {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway: config.leeway.as_secs() as i64,
        };
        let revocations = config.revocation_check.map(Revocations::new);
        let keys = RwLock::new(Keys { set: Arc::new(KeySet::default()), fetched_at: None, tried_at: None });
        Self {
            inner: Arc::new(Inner {
                config,
                expectations,
                http,
                keys,
                fetching: tokio::sync::Mutex::new(()),
                revocations,
            }),
        }
    }

    /// The token's claims if it is an access token of this server, for this audience, now
    /// valid (and, with a revocation check, of a live session).
    pub async fn verify(&self, token: &str) -> Result<AccessTokenClaims, VerifyError> {
        self.verify_at(token, unix_now()).await
    }

    /// As [`Verifier::verify`], with the token's lifetime judged at `unix_time` (seconds):
    /// for checking tokens from a log, and for tests.
    pub async fn verify_at(&self, token: &str, unix_time: i64) -> Result<AccessTokenClaims, VerifyError> {
        let parsed = Parsed::new(token)?;
        let keys = self.keys_for(parsed.kid()).await?;
        let claims = parsed.verify(&keys)?;
        self.inner.expectations.check(&claims, unix_time)?;
        if let Some(revocations) = &self.inner.revocations {
            revocations.check(&self.inner.http, &self.validate_url(), token, &claims).await?;
        }
        Ok(claims)
    }

    fn validate_url(&self) -> String {
        format!("{}/api/v1/auth/validate", self.inner.config.base_url)
    }

    /// The key set to check a token of `kid` with: the cached one while it is fresh and knows
    /// the key; otherwise a new one, unless one was tried too recently (then the cached one,
    /// which may refuse the key as unknown).
    async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, VerifyError> {
        let (set, fresh, may_refetch) = self.cached();
        if fresh && set.get(kid).is_some() {
            return Ok(set);
        }
        if may_refetch {
            self.refresh().await;
        }
        let (set, _, _) = self.cached();
        if set.len() == 0 {
            return Err(VerifyError::Unavailable("the server's signing keys could not be fetched".into()));
        }
        Ok(set)
    }

    /// (the set, whether it is younger than the TTL, whether a fetch may be tried now).
    fn cached(&self) -> (Arc<KeySet>, bool, bool) {
        let keys = self.inner.keys.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let config = &self.inner.config;
        let fresh = keys.fetched_at.is_some_and(|at| at.elapsed() < config.jwks_ttl);
        let may_refetch = keys.tried_at.is_none_or(|at| at.elapsed() >= config.refetch_interval);
        (keys.set.clone(), fresh, may_refetch)
    }

    /// Fetches the keys, once for everyone waiting, and not again within `refetch_interval`
    /// whatever the cause. When the fetch fails the old keys stay in use: a server briefly out
    /// of reach must not fail every request here.
    async fn refresh(&self) {
        let _one_at_a_time = self.inner.fetching.lock().await;
        if !self.cached().2 {
            return; // fetched by another task while this one waited
        }
        let fetched = self.fetch().await;
        let mut keys = self.inner.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        keys.tried_at = Some(Instant::now());
        match fetched {
            Ok(set) => {
                keys.set = Arc::new(set);
                keys.fetched_at = Some(Instant::now());
            }
            Err(error) => tracing::warn!(%error, "fetching the server's signing keys failed; keeping the ones known"),
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let url = format!("{}/.well-known/jwks.json", self.inner.config.base_url);
        let response = self.inner.http.get(&url).send().await.map_err(|e| format!("{}", e.without_url()))?;
        if !response.status().is_success() {
            return Err(format!("the JWKS answered {}", response.status()));
        }
        let body = response.bytes().await.map_err(|e| format!("{}", e.without_url()))?;
        KeySet::parse(&body)
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl From<TokenRejection> for VerifyError {
    fn from(rejection: TokenRejection) -> Self {
        VerifyError::Rejected(rejection)
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}
