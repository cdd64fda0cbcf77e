//! Credits: the balance, spending and buying. Each spend or purchase is sent with one
//! idempotency key that every retry of it reuses, so a spend whose answer was lost is charged
//! once.

use mana_proto::{
    CreatePurchaseRequest, CreatePurchaseResponse, CreditBalance, CreditPackageView, CreditTransaction, PurchaseView,
    UseCreditsRequest, UseCreditsResponse,
};
use reqwest::Method;

use crate::account::segment;
use crate::client::{Call, Client};
use crate::error::{ClientError, ClientResult};

/// Attempts of one logical operation in all, the first included.
const ATTEMPTS: u32 = 3;

impl Client {
    pub async fn balance(&self) -> ClientResult<CreditBalance> {
        self.authed(Call::new(Method::GET, "/credits/balance")).await
    }

    /// Spends credits once: the request's idempotency key (a new one if it has none) goes with
    /// every attempt, and only what may not have reached the server is tried again.
    pub async fn use_credits(&self, request: UseCreditsRequest) -> ClientResult<UseCreditsResponse> {
        let request = UseCreditsRequest { idempotency_key: Some(key_of(request.idempotency_key.clone())), ..request };
        self.with_retries(|| async { self.authed(Call::new(Method::POST, "/credits/use").json(&request)?).await }).await
    }

    pub async fn transactions(&self, limit: u32, offset: u32) -> ClientResult<Vec<CreditTransaction>> {
        let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
        self.authed(Call::new(Method::GET, "/credits/transactions").query(&query)).await
    }

    /// The packages on sale (no session needed).
    pub async fn packages(&self) -> ClientResult<Vec<CreditPackageView>> {
        self.send(Call::new(Method::GET, "/credits/packages"), None).await
    }

    /// Starts a purchase once, whatever the retries (one idempotency key for all).
    pub async fn buy(&self, request: CreatePurchaseRequest) -> ClientResult<CreatePurchaseResponse> {
        let request =
            CreatePurchaseRequest { idempotency_key: Some(key_of(request.idempotency_key.clone())), ..request };
        self.with_retries(|| async { self.authed(Call::new(Method::POST, "/credits/purchases").json(&request)?).await })
            .await
    }

    pub async fn purchases(&self) -> ClientResult<Vec<PurchaseView>> {
        self.authed(Call::new(Method::GET, "/credits/purchases")).await
    }

    pub async fn purchase(&self, id: &str) -> ClientResult<PurchaseView> {
        self.authed(Call::new(Method::GET, format!("/credits/purchases/{}", segment(id)))).await
    }

    /// Runs `attempt` until it succeeds, fails for good, or has been tried [`ATTEMPTS`] times,
    /// waiting 200 ms and then twice as long each time (or what `Retry-After` says).
    pub(crate) async fn with_retries<T, F, Fut>(&self, attempt: F) -> ClientResult<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ClientResult<T>>,
    {
        let mut wait = std::time::Duration::from_millis(200);
        let mut tried = 0;
        loop {
            tried += 1;
            match attempt().await {
                Err(error) if tried < ATTEMPTS && error.is_retryable() => {
                    let asked = match &error {
                        ClientError::Api(api) => api.retry_after.map(std::time::Duration::from_secs),
                        _ => None,
                    };
                    tokio::time::sleep(asked.unwrap_or(wait)).await;
                    wait *= 2;
                }
                outcome => return outcome,
            }
        }
    }
}

pub(crate) fn key_of(given: Option<String>) -> String {
    given.unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
