//! The local stand-in for GitHub and for Sign in with Apple (`scripts/provider-standin`, a Node
//! process of its own speaking their dialects), started for one test.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub struct ProviderStandIn {
    pub base: String,
    http: reqwest::Client,
    _process: Child,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl ProviderStandIn {
    pub async fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/provider-standin/standin.mjs");
        let mut process = Command::new("node")
            .args([script, "--port", "0"])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the provider stand-in");
        let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        let line = stdout.next_line().await.unwrap().expect("the stand-in says where it listens");
        let base = line.strip_prefix("listening on ").expect("the stand-in's first line names its address").to_owned();
        Self { base, http: reqwest::Client::new(), _process: process, _stdout: stdout }
    }

    /// Apple's issuer at the stand-in.
    pub fn apple_issuer(&self) -> String {
        format!("{}/apple", self.base)
    }

    pub async fn register_client(&self, client: Value) {
        self.control("/_standin/clients", client).await;
    }

    pub async fn add_account(&self, account: Value) {
        self.control("/_standin/accounts", account).await;
    }

    /// What the token endpoints were sent (without secrets).
    pub async fn requests(&self) -> Vec<Value> {
        let answer: Value =
            self.http.get(format!("{}/_standin/requests", self.base)).send().await.unwrap().json().await.unwrap();
        answer.as_array().unwrap().clone()
    }

    /// Apple signs with a new key from now on, and publishes only that one.
    pub async fn rotate_apple_key(&self) {
        self.control("/_standin/apple/rotate", json!({})).await;
    }

    /// How often the service fetched Apple's key set.
    pub async fn apple_key_fetches(&self) -> usize {
        self.requests().await.iter().filter(|r| r["endpoint"] == "apple_keys").count()
    }

    async fn control(&self, path: &str, body: Value) {
        let response = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 204, "{path}");
    }
}

/// A GitHub account with these addresses (`(email, primary, verified)`).
pub fn github_account(login: &str, id: i64, name: &str, emails: &[(&str, bool, bool)]) -> Value {
    let emails: Vec<Value> = emails
        .iter()
        .map(|(email, primary, verified)| json!({"email": email, "primary": primary, "verified": verified}))
        .collect();
    json!({"login": login, "id": id, "name": name, "emails": emails})
}
