//! Calls to identity providers: rustls, short timeouts, bounded answers, and errors that say
//! what went wrong for the log without ever carrying a provider's answer to the user.

use std::time::Duration;

use serde_json::Value;

/// The most of a provider's answer that is read (discovery documents and key sets are a few
/// kilobytes).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// What went wrong at a provider; the user sees only that the provider could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered {status}: {detail}")]
    Refused { status: u16, detail: String },
    #[error("the provider's answer could not be used: {0}")]
    Malformed(String),
}

#[derive(Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
}

impl ProviderHttp {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(crate::payments::tls::client_config())
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("mana-core-auth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    pub async fn get_json(&self, url: &str) -> Result<Value, ProviderError> {
        self.send(self.client.get(url).header("accept", "application/json")).await
    }

    pub async fn get_json_with_token(&self, url: &str, token: &str) -> Result<Value, ProviderError> {
        self.send(self.client.get(url).header("accept", "application/json").bearer_auth(token)).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Value, ProviderError> {
        self.send(self.client.post(url).header("accept", "application/json").form(form)).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let mut response = request.send().await.map_err(|error| ProviderError::Unreachable(without_url(&error)))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|error| ProviderError::Unreachable(without_url(&error)))?
        {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ProviderError::Malformed("the answer is too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let json: Result<Value, _> = serde_json::from_slice(&body);
        if !status.is_success() {
            // OAuth's error answers (RFC 6749 §5.2) name the problem in `error`; only that goes to the log.
            let detail = json.ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
            return Err(ProviderError::Refused { status: status.as_u16(), detail: detail.unwrap_or_default() });
        }
        json.map_err(|_| ProviderError::Malformed("not JSON".into()))
    }
}

/// reqwest's message without the URL, which may carry a code or a token in its query.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    kind.to_owned()
}
