//! The client: signs in, keeps the session in a [`TokenStore`], hands out an access token that
//! is always fresh (refreshed a minute before it expires, and again when the server answers
//! `401 token_expired`), and sends every call.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use futures_util::future::Shared;

use mana_proto::{
    ErrorBody, ErrorCode, LoginRequest, LoginResponse, MfaRequired, RefreshRequest, TokenResponse,
    VerifySecondFactorRequest,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ClientError, ClientResult};
use crate::store::{MemoryStore, Session, TokenStore};

/// What a sign-in gives: a session, or a second-factor challenge for
/// [`Client::verify_second_factor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Session(Session),
    SecondFactorRequired(MfaRequired),
}

/// The second factor of a sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor<'a> {
    /// The six digits an authenticator app shows now.
    Totp(&'a str),
    /// One of the backup codes given when the second factor was enabled (each works once).
    BackupCode(&'a str),
}

/// A client of one mana-core-auth server. Cheap to clone: clones share the session.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    base_url: String,
    http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    refresh_margin: i64,
    /// The refresh under way, if any: every caller with a due token awaits this one future,
    /// and gets its session (or its error) when it is done.
    refreshing: Mutex<Option<Refresh>>,
}

/// A refresh that several callers await at once.
type Refresh = Shared<Pin<Box<dyn Future<Output = ClientResult<Session>> + Send>>>;

/// Building a [`Client`].
pub struct ClientBuilder {
    base_url: String,
    store: Arc<dyn TokenStore>,
    refresh_margin: Duration,
    timeout: Duration,
}

impl ClientBuilder {
    /// Where the session is kept (default: in memory).
    pub fn store(mut self, store: impl TokenStore + 'static) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Refresh this long before the access token expires (default 60 s).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// Timeout of each call (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Client {
        Client {
            inner: Arc::new(Inner {
                base_url: self.base_url.trim_end_matches('/').to_owned(),
                http: crate::http::client(self.timeout),
                store: self.store,
                refresh_margin: self.refresh_margin.as_secs() as i64,
                refreshing: Mutex::new(None),
            }),
        }
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

/// One call: method, path under `/api/v1`, and an optional JSON body and query.
#[derive(Clone)]
pub(crate) struct Call<'a> {
    pub method: Method,
    pub path: String,
    pub body: Option<serde_json::Value>,
    pub query: &'a [(&'a str, String)],
}

impl<'a> Call<'a> {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), body: None, query: &[] }
    }

    pub fn json(mut self, body: &impl Serialize) -> ClientResult<Self> {
        self.body = Some(serde_json::to_value(body).map_err(|e| ClientError::Network(e.to_string()))?);
        Ok(self)
    }

    pub fn query(mut self, query: &'a [(&'a str, String)]) -> Self {
        self.query = query;
        self
    }
}

impl Client {
    /// A client of the server at `base_url`, its session in memory.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::builder(base_url).build()
    }

    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            store: Arc::new(MemoryStore::new()),
            refresh_margin: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }

    /// Signs in with a password; a device token kept from an earlier login is sent along.
    pub async fn sign_in(&self, email: &str, password: &str) -> ClientResult<SignIn> {
        let device_token = self.session().await?.and_then(|s| s.device_token);
        let request = LoginRequest {
            email: email.into(),
            password: password.into(),
            device_id: None,
            device_name: None,
            device_token,
        };
        let answer: LoginResponse = self.send(Call::new(Method::POST, "/auth/login").json(&request)?, None).await?;
        self.signed_in(answer).await
    }

    /// Completes a sign-in that asked for a second factor.
    pub async fn verify_second_factor(&self, mfa_token: &str, factor: SecondFactor<'_>) -> ClientResult<Session> {
        let (code, backup_code) = match factor {
            SecondFactor::Totp(code) => (Some(code.to_owned()), None),
            SecondFactor::BackupCode(code) => (None, Some(code.to_owned())),
        };
        let request = VerifySecondFactorRequest { mfa_token: mfa_token.into(), code, backup_code };
        let tokens: TokenResponse =
            self.send(Call::new(Method::POST, "/auth/2fa/verify").json(&request)?, None).await?;
        self.start(tokens).await
    }

    pub(crate) async fn signed_in(&self, answer: LoginResponse) -> ClientResult<SignIn> {
        match answer {
            LoginResponse::Tokens(tokens) => Ok(SignIn::Session(self.start(tokens).await?)),
            LoginResponse::SecondFactorRequired(challenge) => Ok(SignIn::SecondFactorRequired(challenge)),
        }
    }

    async fn start(&self, tokens: TokenResponse) -> ClientResult<Session> {
        let session = Session::from_tokens(tokens, now());
        self.inner.store.save(&session).await?;
        Ok(session)
    }

    /// Ends the session on the server (its tokens stop working) and forgets it.
    pub async fn sign_out(&self) -> ClientResult<()> {
        if let Some(session) = self.session().await? {
            let body = serde_json::json!({"refreshToken": session.refresh_token});
            match self.send::<serde_json::Value>(Call::new(Method::POST, "/auth/logout").json(&body)?, None).await {
                Ok(_) => {}
                // Ended on the server already: forgetting it here is all that is left.
                Err(ClientError::Api(error))
                    if matches!(error.code, ErrorCode::InvalidRefreshToken | ErrorCode::InvalidToken) => {}
                Err(error) => return Err(error),
            }
        }
        self.inner.store.clear().await
    }

    /// Forgets the session here (the server ended it).
    pub(crate) async fn forget(&self) -> ClientResult<()> {
        self.inner.store.clear().await
    }

    pub(crate) fn api_base(&self) -> String {
        format!("{}/api/v1", self.inner.base_url)
    }

    /// The stored session, as it is (not refreshed).
    pub async fn session(&self) -> ClientResult<Option<Session>> {
        self.inner.store.load().await
    }

    /// An access token valid for at least the refresh margin; refreshed first when due.
    pub async fn access_token(&self) -> ClientResult<String> {
        let session = self.session().await?.ok_or(ClientError::NoSession)?;
        if !self.is_due(&session) {
            return Ok(session.access_token);
        }
        Ok(self.refresh(&session).await?.access_token)
    }

    fn is_due(&self, session: &Session) -> bool {
        session.expires_at - self.inner.refresh_margin <= now()
    }

    /// One refresh for every caller at once: the first starts it, the others await the same
    /// future, and all get its outcome. The rotated session is stored inside that future, so
    /// no caller goes on before the store holds it.
    async fn refresh(&self, seen: &Session) -> ClientResult<Session> {
        let refresh = {
            let mut slot = self.inner.refreshing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match slot.as_ref() {
                Some(running) => running.clone(),
                None => {
                    let (client, seen) = (self.clone(), seen.clone());
                    let rotation: Pin<Box<dyn Future<Output = ClientResult<Session>> + Send>> =
                        Box::pin(async move { client.rotate(&seen).await });
                    let shared = rotation.shared();
                    *slot = Some(shared.clone());
                    shared
                }
            }
        };
        let outcome = refresh.clone().await;
        let mut slot = self.inner.refreshing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.as_ref().is_some_and(|running| running.ptr_eq(&refresh)) {
            *slot = None;
        }
        outcome
    }

    /// Rotates the refresh token, unless the stored one is no longer the one the caller saw
    /// (rotated meanwhile by a clone or a process sharing the store) and is still fresh.
    async fn rotate(&self, seen: &Session) -> ClientResult<Session> {
        let current = self.session().await?.ok_or(ClientError::NoSession)?;
        if current.refresh_token != seen.refresh_token && !self.is_due(&current) {
            return Ok(current);
        }
        let request = RefreshRequest { refresh_token: current.refresh_token.clone() };
        let refreshed =
            self.send::<TokenResponse>(Call::new(Method::POST, "/auth/refresh").json(&request)?, None).await;
        match refreshed {
            Ok(tokens) => self.start(tokens).await,
            Err(ClientError::Api(error)) if error.code == ErrorCode::InvalidRefreshToken => {
                self.inner.store.clear().await?;
                Err(ClientError::Api(error))
            }
            Err(error) => Err(error),
        }
    }

    /// Sends a call with a fresh access token; when the server answers that it expired anyway
    /// (clocks disagree), refreshes once and sends it again.
    pub(crate) async fn authed<T: DeserializeOwned>(&self, call: Call<'_>) -> ClientResult<T> {
        let token = self.access_token().await?;
        match self.send(call.clone(), Some(&token)).await {
            Err(ClientError::Api(error)) if error.code == ErrorCode::TokenExpired => {
                let session = self.session().await?.ok_or(ClientError::NoSession)?;
                let fresh = self.refresh(&session).await?;
                self.send(call, Some(&fresh.access_token)).await
            }
            other => other,
        }
    }

    /// One call, its answer read as `T`, a refusal as [`ApiError`].
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call<'_>, token: Option<&str>) -> ClientResult<T> {
        let url = format!("{}/api/v1{}", self.inner.base_url, call.path);
        let mut request = self.inner.http.request(call.method, url).query(call.query);
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| ClientError::Network(e.without_url().to_string()))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.bytes().await.map_err(|e| ClientError::Network(e.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ClientError::Network(format!("an answer of {status} that is not as documented: {e}")));
        }
        let body: ErrorBody = serde_json::from_slice(&bytes)
            .map_err(|_| ClientError::Network(format!("an answer of {status} without an error body")))?;
        Err(ClientError::Api(ApiError::new(status.as_u16(), body, retry_after)))
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("base_url", &self.inner.base_url).finish_non_exhaustive()
    }
}
