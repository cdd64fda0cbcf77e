//! The local Stripe stand-in (`scripts/stripe-standin`, a process of its own that keeps
//! test-mode state and answers in the shape of Stripe's API) started for one test, and the
//! calls a test makes to it: Stripe's own API as the dashboard or a buyer would use it, and the
//! stand-in's `/_standin` actions (pay a checkout page, deliver an event again).

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The key the stand-in is called with from tests; any `sk_test_…` is accepted.
pub const SECRET_KEY: &str = "sk_test_standin";

/// One API request the stand-in received.
#[allow(dead_code, reason = "not every test crate that includes the stand-in reads requests")]
#[derive(Debug, Clone)]
pub struct Request {
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    pub form: Vec<(String, String)>,
}

pub struct StandIn {
    pub base: String,
    http: reqwest::Client,
    // Stopped when the test ends (kill_on_drop).
    _process: Child,
}

impl StandIn {
    pub async fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/stripe-standin");
        let mut process = Command::new("python3")
            .args([script, "--port", "0"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the Stripe stand-in");
        let stdout = process.stdout.take().unwrap();
        let line =
            BufReader::new(stdout).lines().next_line().await.unwrap().expect("the stand-in says where it listens");
        let base = line.strip_prefix("listening on ").expect("the stand-in's first line names its address").to_owned();
        Self { base, http: reqwest::Client::new(), _process: process }
    }

    /// Events go to `url`, signed with `secret`; with `hold`, they wait for [`Self::deliver`].
    #[allow(dead_code, reason = "not every test crate that includes the stand-in receives events")]
    pub async fn send_events_to(&self, url: &str, secret: &str, hold: bool) {
        let config = json!({"url": url, "secret": secret, "hold": hold});
        let response = self.http.post(format!("{}/_standin/webhook", self.base)).json(&config).send().await.unwrap();
        assert!(response.status().is_success());
    }

    /// A call to the stand-in's Stripe API with the test key; the status and the body.
    pub async fn api(&self, method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(SECRET_KEY).form(form);
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// A successful POST to Stripe's API; the object made or changed.
    #[allow(dead_code, reason = "not every test crate that includes the stand-in changes objects")]
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.api(reqwest::Method::POST, path, form).await;
        assert_eq!(status, 200, "POST {path}: {body}");
        body
    }

    /// The buyer pays checkout session `id` with one of Stripe's test payment methods
    /// (`pm_card_visa`, `pm_card_chargeDeclined`, `pm_card_createDispute`); the session.
    #[allow(dead_code, reason = "not every test crate that includes the stand-in pays")]
    pub async fn pay(&self, session: &str, payment_method: &str) -> Value {
        let url = format!("{}/_standin/checkout/sessions/{session}/pay", self.base);
        let response = self.http.post(url).form(&[("payment_method", payment_method)]).send().await.unwrap();
        assert!(response.status().is_success());
        response.json::<Value>().await.unwrap()["object"].clone()
    }

    /// Every event so far, oldest first: `{id, type, object, deliveries}` where `deliveries`
    /// holds the webhook's answers.
    #[allow(dead_code, reason = "not every test crate that includes the stand-in reads events")]
    pub async fn events(&self) -> Vec<Value> {
        let body: Value =
            self.http.get(format!("{}/_standin/events", self.base)).send().await.unwrap().json().await.unwrap();
        body["data"].as_array().unwrap().clone()
    }

    /// Delivers event `id` (again); the webhook's status.
    #[allow(dead_code, reason = "not every test crate that includes the stand-in delivers")]
    pub async fn deliver(&self, id: &str) -> u16 {
        let url = format!("{}/_standin/events/{id}/deliver", self.base);
        let body: Value = self.http.post(url).send().await.unwrap().json().await.unwrap();
        body["status"].as_u64().unwrap() as u16
    }

    /// The API requests to `path`, in order.
    #[allow(dead_code, reason = "not every test crate that includes the stand-in counts requests")]
    pub async fn requests_to(&self, path: &str) -> Vec<Request> {
        let body: Value =
            self.http.get(format!("{}/_standin/requests", self.base)).send().await.unwrap().json().await.unwrap();
        let text = |v: &Value| v.as_str().map(str::to_owned);
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["path"] == path)
            .map(|r| Request {
                idempotency_key: text(&r["idempotencyKey"]),
                authorization: text(&r["authorization"]),
                form: r["form"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|pair| (text(&pair[0]).unwrap(), text(&pair[1]).unwrap()))
                    .collect(),
            })
            .collect()
    }
}

#[allow(dead_code, reason = "not every test crate that includes the stand-in reads forms")]
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}
