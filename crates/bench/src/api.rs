//! Requests of the bench workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::load::Call;

pub const PASSWORD: &str = "bench password 123";

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl Api {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("HTTP client");
        Self { base: base.to_owned(), http }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn login(&self, email: &str) -> anyhow::Result<Session> {
        let (status, body) = self.post("/auth/login", &json!({"email": email, "password": PASSWORD}), None).await?;
        if status != 200 {
            bail!("login of {email} answered {status}: {body}");
        }
        Ok(Session {
            email: email.to_owned(),
            access: body["accessToken"].as_str().context("accessToken")?.to_owned(),
            refresh: body["refreshToken"].as_str().context("refreshToken")?.to_owned(),
        })
    }

    /// Registers `count` users in parallel and logs each in.
    pub async fn users(&self, prefix: &str, count: usize) -> anyhow::Result<Vec<Session>> {
        let tasks: Vec<_> = (0..count)
            .map(|i| {
                let api = self.clone();
                let email = format!("{prefix}-{i}-{}@bench.example", uuid::Uuid::new_v4().simple());
                tokio::spawn(async move {
                    let (status, body) =
                        api.post("/auth/register", &json!({"email": email, "password": PASSWORD}), None).await?;
                    if status != 201 {
                        bail!("register answered {status}: {body}");
                    }
                    api.login(&email).await
                })
            })
            .collect();
        let mut sessions = Vec::new();
        for task in tasks {
            sessions.push(task.await??);
        }
        Ok(sessions)
    }

    pub async fn balance(&self, access: &str) -> anyhow::Result<Value> {
        let response = self.http.get(self.url("/credits/balance")).bearer_auth(access).send().await?;
        Ok(response.json().await?)
    }

    pub fn health_call(&self) -> Call {
        let (http, url) = (self.http.clone(), format!("{}/health", self.base));
        Box::new(move || {
            let (http, url) = (http.clone(), url.clone());
            Box::pin(async move { http.get(url).send().await.is_ok_and(|r| r.status().is_success()) })
        })
    }

    pub fn validate_call(&self, access: &str) -> Call {
        let (api, body) = (self.clone(), json!({"token": access}));
        Box::new(move || {
            let (api, body) = (api.clone(), body.clone());
            Box::pin(async move {
                matches!(api.post("/auth/validate", &body, None).await, Ok((200, v)) if v["valid"] == true)
            })
        })
    }

    pub fn balance_call(&self, access: &str) -> Call {
        let (http, url, token) = (self.http.clone(), self.url("/credits/balance"), access.to_owned());
        Box::new(move || {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            Box::pin(
                async move { http.get(url).bearer_auth(token).send().await.is_ok_and(|r| r.status().is_success()) },
            )
        })
    }

    /// Follows its own refresh-token chain: each call presents the token the previous one got.
    pub fn refresh_call(&self, session: &Session) -> Call {
        let (api, current) = (self.clone(), Arc::new(Mutex::new(session.refresh.clone())));
        Box::new(move || {
            let (api, current) = (api.clone(), current.clone());
            Box::pin(async move {
                let mut token = current.lock().await;
                match api.post("/auth/refresh", &json!({"refreshToken": *token}), None).await {
                    Ok((200, body)) => {
                        *token = body["refreshToken"].as_str().unwrap_or_default().to_owned();
                        true
                    }
                    _ => false,
                }
            })
        })
    }

    pub fn login_call(&self, email: &str) -> Call {
        let (api, body) = (self.clone(), json!({"email": email, "password": PASSWORD}));
        Box::new(move || {
            let (api, body) = (api.clone(), body.clone());
            Box::pin(async move { matches!(api.post("/auth/login", &body, None).await, Ok((200, _))) })
        })
    }

    /// Asks for a reset link for `email` (an existing account: a token and a message are written).
    pub fn forgot_password_call(&self, email: &str) -> Call {
        let (api, body) = (self.clone(), json!({"email": email}));
        Box::new(move || {
            let (api, body) = (api.clone(), body.clone());
            Box::pin(async move { matches!(api.post("/auth/forgot-password", &body, None).await, Ok((202, _))) })
        })
    }

    /// Spends 1 credit per call, each with a fresh idempotency key (as real clients send).
    pub fn spend_call(&self, access: &str, spent: Arc<AtomicU64>) -> Call {
        let (api, token) = (self.clone(), access.to_owned());
        Box::new(move || {
            let (api, token, spent) = (api.clone(), token.clone(), spent.clone());
            Box::pin(async move {
                let body = json!({
                    "amount": 1, "appId": "bench", "description": "bench call",
                    "idempotencyKey": uuid::Uuid::new_v4().to_string(),
                });
                let ok = matches!(api.post("/credits/use", &body, Some(&token)).await, Ok((200, _)));
                if ok {
                    spent.fetch_add(1, Ordering::Relaxed);
                }
                ok
            })
        })
    }
}
