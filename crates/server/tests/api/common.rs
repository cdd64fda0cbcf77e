//! A whole server per test: real HTTP on port 0, a fresh database (SQLite by default,
//! PostgreSQL with MANA_TEST_BACKEND=postgres), and a clock the test moves.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::Duration;
use mana_core::clock::ManualClock;
use mana_core::tokens::{KeyAlgorithm, KeyRing, SigningKey};
use mana_proto::{ErrorBody, TokenResponse};
use mana_server::app::{build_state, serve};
use mana_server::config::Config;
use mana_server::state::AppState;
pub use mana_server::storage::Backend;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// One RSA key for the whole test binary: generating 2048-bit keys is slow.
pub fn shared_rsa_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| SigningKey::generate(KeyAlgorithm::Rs256, "unused".into(), 0).unwrap().1)
}

pub fn test_key(algorithm: KeyAlgorithm, kid: &str, created_at: i64) -> SigningKey {
    match algorithm {
        KeyAlgorithm::Rs256 => SigningKey::from_pkcs8_pem(kid.into(), created_at, shared_rsa_pem()).unwrap(),
        other => SigningKey::generate(other, kid.into(), created_at).unwrap().0,
    }
}

pub const TEST_ENCRYPTION_KEY: &str = "dGVzdCBlbmNyeXB0aW9uIGtleSwgMzIgYnl0ZXMgb2s=";

pub fn test_config(overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("BCRYPT_COST".into(), "4".into()),
        ("PASSWORD_HASH_CONCURRENCY".into(), "4".into()),
        ("JWT_ISSUER".into(), "https://auth.mana.test".into()),
        ("JWT_AUDIENCE".into(), "mana-apps".into()),
        // Every test client is 127.0.0.1; the rate-limit tests switch these back on.
        ("RATE_LIMIT_REQUESTS_PER_MINUTE".into(), "0".into()),
        ("RATE_LIMIT_LOGIN_PER_MINUTE".into(), "0".into()),
        ("RATE_LIMIT_REGISTER_PER_MINUTE".into(), "0".into()),
        ("LOGIN_FAILURES_PER_ACCOUNT".into(), "0".into()),
        ("RATE_LIMIT_EMAIL_LINKS_PER_MINUTE".into(), "0".into()),
        // Fixed, so that instances of one test share it, as a deployment's instances do.
        ("ENCRYPTION_KEY".into(), TEST_ENCRYPTION_KEY.into()),
    ]);
    for (key, value) in overrides {
        vars.insert(key.to_string(), value.to_string());
    }
    Config::from_source(&move |name| vars.get(name).cloned()).expect("test configuration is valid")
}

pub async fn fresh_backend() -> Backend {
    match std::env::var("MANA_TEST_BACKEND").as_deref() {
        Ok("postgres") => {
            let (store, _) = mana_store_postgres::testing::fresh_database(8).await.expect("test PostgreSQL");
            Backend::Postgres(store)
        }
        _ => {
            let dir = std::env::temp_dir().join("mana-core-auth-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}/{}.db", dir.display(), uuid::Uuid::new_v4());
            let backend = Backend::open(&url, 8, false).await.unwrap();
            backend.migrate().await.unwrap();
            backend
        }
    }
}

/// Two backends on one database, as two instances of the service have.
pub async fn backend_pair() -> (Backend, Backend) {
    match std::env::var("MANA_TEST_BACKEND").as_deref() {
        Ok("postgres") => {
            let (store, url) = mana_store_postgres::testing::fresh_database(8).await.expect("test PostgreSQL");
            let second = mana_store_postgres::PostgresBackend::connect(&url, 8, false).await.unwrap();
            (Backend::Postgres(store), Backend::Postgres(second))
        }
        _ => {
            let dir = std::env::temp_dir().join("mana-core-auth-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let url = format!("sqlite://{}/{}.db", dir.display(), uuid::Uuid::new_v4());
            let first = Backend::open(&url, 8, false).await.unwrap();
            first.migrate().await.unwrap();
            (first, Backend::open(&url, 8, false).await.unwrap())
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[], None).await
    }

    /// With configuration overrides and, optionally, a specific key ring.
    pub async fn spawn_with(overrides: &[(&str, &str)], keys: Option<KeyRing>) -> Self {
        Self::spawn_on(fresh_backend().await, overrides, keys).await
    }

    /// On a backend the test prepared itself.
    pub async fn spawn_on(backend: Backend, overrides: &[(&str, &str)], keys: Option<KeyRing>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::spawn_listening(listener, backend, overrides, keys).await
    }

    /// With `PUBLIC_URL` its own address (unless `overrides` names another), as social
    /// sign-in's callback needs: the provider sends the browser there.
    pub async fn spawn_public(backend: Backend, overrides: &[(&str, &str)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut overrides = overrides.to_vec();
        if !overrides.iter().any(|(name, _)| *name == "PUBLIC_URL") {
            overrides.push(("PUBLIC_URL", base.as_str()));
        }
        Self::spawn_listening(listener, backend, &overrides, None).await
    }

    async fn spawn_listening(
        listener: TcpListener,
        backend: Backend,
        overrides: &[(&str, &str)],
        keys: Option<KeyRing>,
    ) -> Self {
        let config = test_config(overrides);
        let keys = keys.unwrap_or_else(|| {
            let now = chrono::Utc::now().timestamp();
            KeyRing::new(vec![test_key(config.jwt_algorithm, "test-key", now)]).unwrap()
        });
        let clock = Arc::new(ManualClock::starting_now());
        let state = build_state(&config, backend, keys, clock.clone()).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, signal) = tokio::sync::oneshot::channel::<()>();
        let serving = state.clone();
        tokio::spawn(async move {
            serve(listener, serving, async {
                let _ = signal.await;
            })
            .await
            .unwrap();
        });
        let http = reqwest::Client::builder().user_agent("mana-tests/1.0").build().unwrap();
        TestApp { base, http, clock, state, _shutdown: shutdown }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http.post(self.api(path)).json(&body).send().await.unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.post("/auth/register", json!({ "email": email, "password": password })).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/auth/login", json!({ "email": email, "password": password })).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post("/auth/refresh", json!({ "refreshToken": refresh_token })).await
    }

    pub async fn validate(&self, token: &str) -> Value {
        let response = self.post("/auth/validate", json!({ "token": token })).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn logout_with_bearer(&self, access_token: &str) -> Response {
        self.http.post(self.api("/auth/logout")).bearer_auth(access_token).send().await.unwrap()
    }

    /// Registers `email` and logs in.
    pub async fn signed_in(&self, email: &str) -> TokenResponse {
        assert_eq!(self.register(email, PASSWORD).await.status(), StatusCode::CREATED);
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Traffic that records every domain metric: a signup and login, a failed login, a spend
    /// of `amount` for `app_id`, and a refresh token replayed after the grace window. Returns
    /// the tokens of the login.
    pub async fn record_domain_metrics(&self, email: &str, app_id: &str, amount: i64) -> TokenResponse {
        let tokens = self.signed_in(email).await;
        self.login(email, "not the password").await;
        let spend = json!({"amount": amount, "appId": app_id, "description": "metered"});
        let spent = self
            .http
            .post(self.api("/credits/use"))
            .bearer_auth(&tokens.access_token)
            .json(&spend)
            .send()
            .await
            .unwrap();
        assert_eq!(spent.status(), StatusCode::OK);
        self.refresh(&tokens.refresh_token).await;
        self.advance(Duration::seconds(11));
        self.refresh(&tokens.refresh_token).await;
        tokens
    }
}

/// Asserts the envelope of an error response and returns it.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> ErrorBody {
    assert_eq!(response.status(), status, "status");
    let header_id = response.headers().get("x-request-id").expect("x-request-id header").to_str().unwrap().to_owned();
    let body: ErrorBody = response.json().await.expect("error body is the envelope");
    assert_eq!(body.status_code, status.as_u16());
    assert_eq!(body.code.as_str(), code);
    assert_eq!(body.request_id, header_id, "the body names the request's id");
    assert!(!body.message.is_empty());
    body
}

/// The value of the first sample of `name` on a Prometheus page whose labels include every one
/// of `labels`.
pub fn metric_sample(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    page.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

impl TestApp {
    pub async fn metrics_page(&self) -> String {
        self.http.get(self.url("/metrics")).send().await.unwrap().text().await.unwrap()
    }
}

/// Messages queued since the last look (they are claimed, as the delivery worker would).
pub async fn mailbox(app: &TestApp) -> Vec<mana_core::store::OutboxMessage> {
    let now = app.state.auth().clock().now();
    app.state.auth().store().claim_outbox(now, now + Duration::hours(1), 100).await.unwrap()
}

/// Waits for the message to `to` that work after an answer queues.
pub async fn message_to(app: &TestApp, to: &str) -> mana_core::store::OutboxMessage {
    for _ in 0..200 {
        if let Some(message) = mailbox(app).await.into_iter().find(|m| m.to == to) {
            return message;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no message to {to}");
}

/// The token in the message's link.
pub fn link_token(message: &mana_core::store::OutboxMessage) -> String {
    let start = message.text_body.find("token=").expect("a link with a token") + "token=".len();
    message.text_body[start..].split_whitespace().next().unwrap().to_owned()
}
