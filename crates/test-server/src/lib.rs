//! For the tests of the SDK crates (`mana-verify`, `mana-client`): the real `mana-core-auth`
//! binary, started on a fresh SQLite database for each test, and a forwarding proxy in front of
//! it that counts what reaches the server and can refuse a call once.

// Test support: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub const PASSWORD: &str = "a passphrase for the verifier tests";

/// The server binary of this workspace, built first if it is not there yet.
fn server_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let binary = target.join("debug/mana-core-auth");
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = std::process::Command::new(cargo)
            .args(["build", "-p", "mana-server", "--bin", "mana-core-auth"])
            .status()
            .expect("running cargo to build the server");
        assert!(built.success(), "building mana-core-auth failed");
    }
    binary
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct TestServer {
    pub base: String,
    pub dir: PathBuf,
    child: Child,
    http: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Started with more environment (e.g. `ACCESS_TOKEN_TTL_SECONDS`).
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("mana-verify-{}", std::process::id())).join(format!(
            "{}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(server_binary())
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", format!("sqlite://{}/auth.db", dir.display()))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("PUBLIC_URL", &base)
            .env("KEYS_DIR", dir.join("keys"))
            .env("BCRYPT_COST", "4")
            .env("LOG_LEVEL", "warn")
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("starting mana-core-auth");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { base, dir, child, http }
    }

    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        let mut request = self.http.post(format!("{}/api/v1{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Registers `email` (if new) and signs in: the login answer.
    pub async fn sign_in(&self, email: &str) -> Value {
        self.post("/auth/register", json!({"email": email, "password": PASSWORD}), None).await;
        let (status, body) = self.post("/auth/login", json!({"email": email, "password": PASSWORD}), None).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Adds a new signing key with the server's own CLI and makes the server read it now.
    pub async fn rotate_keys(&self) {
        let done = Command::new(server_binary())
            .args(["keys", "rotate", "--dir"])
            .arg(self.dir.join("keys"))
            .env_clear()
            .current_dir(&self.dir)
            .output()
            .await
            .unwrap();
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
        let pid = self.child.id().unwrap().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().await.unwrap().success());
    }

    /// Makes `email` an administrator with the server's own CLI.
    pub async fn promote(&self, email: &str) {
        let done = Command::new(server_binary())
            .args(["users", "promote", "--email", email])
            .env_clear()
            .env("DATABASE_URL", format!("sqlite://{}/auth.db", self.dir.display()))
            .current_dir(&self.dir)
            .output()
            .await
            .unwrap();
        assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Forwards every request to the server, counting the requests per path; a path given to
/// [`CountingProxy::refuse_once_after_forwarding`] is answered `503 service_unavailable` once,
/// after the server handled it (an answer lost on the way back).
pub struct CountingProxy {
    pub base: String,
    counts: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    refuse: Arc<std::sync::Mutex<Option<String>>>,
}

impl CountingProxy {
    pub async fn start(target: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let counts: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
        let refuse: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
        let (target, http) = (target.to_owned(), reqwest::Client::new());
        let (seen, refusing) = (counts.clone(), refuse.clone());
        let forward = move |request: axum::extract::Request| {
            let (target, http, seen, refusing) = (target.clone(), http.clone(), seen.clone(), refusing.clone());
            async move {
                let path = request.uri().path().to_owned();
                let path_and_query = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                *seen.lock().unwrap().entry(path.clone()).or_default() += 1;
                let method = request.method().clone();
                let headers = request.headers().clone();
                let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
                let mut outgoing = http.request(method, format!("{target}{path_and_query}")).body(body);
                for name in ["content-type", "authorization"] {
                    if let Some(value) = headers.get(name) {
                        outgoing = outgoing.header(name, value.as_bytes());
                    }
                }
                let answer = outgoing.send().await.unwrap();
                let (status, bytes) = (answer.status(), answer.bytes().await.unwrap());
                let lost = {
                    let mut refusing = refusing.lock().unwrap();
                    if refusing.as_deref() == Some(path.as_str()) { refusing.take().is_some() } else { false }
                };
                if lost {
                    let body = json!({"statusCode": 503, "code": "service_unavailable",
                        "message": "the proxy lost the answer", "requestId": ""});
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("content-type", "application/json")],
                        body.to_string().into(),
                    );
                }
                (
                    axum::http::StatusCode::from_u16(status.as_u16()).unwrap(),
                    [("content-type", "application/json")],
                    bytes,
                )
            }
        };
        tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(forward)).await.unwrap() });
        Self { base, counts, refuse }
    }

    /// How many requests for `path` (e.g. `/api/v1/auth/refresh`) reached the server.
    pub fn count(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or_default()
    }

    pub fn refuse_once_after_forwarding(&self, path: &str) {
        *self.refuse.lock().unwrap() = Some(path.to_owned());
    }
}
