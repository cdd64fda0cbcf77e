//! The local OpenID provider (`scripts/oidc-standin`: panva's certified `oidc-provider`, run by
//! Node) started for one test, and a small browser that signs in on its pages.
//!
//! The stand-in's npm packages are installed under `target/oidc-standin` by `scripts/test` (or
//! here, on first use, with `npm ci`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use reqwest::Url;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

pub const CLIENT_ID: &str = "mana-web";
pub const CLIENT_SECRET: &str = "mana-web-secret-mana-web-secret-0123456789";

pub struct OidcStandIn {
    pub issuer: String,
    http: reqwest::Client,
    // Stopped when the test ends (kill_on_drop); its output kept open while it runs.
    _process: Child,
    _stdout: Lines<BufReader<ChildStdout>>,
}

/// `target/oidc-standin`, with the stand-in's script and its installed packages.
fn installed_standin() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let source = root.join("scripts/oidc-standin");
        let dir = root.join("target/oidc-standin");
        std::fs::create_dir_all(&dir).unwrap();
        for file in ["package.json", "package-lock.json", "standin.mjs"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        if !dir.join("node_modules/oidc-provider/package.json").exists() {
            let status = std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir)
                .status()
                .expect("npm installs the OpenID stand-in's packages");
            assert!(status.success(), "npm ci in {} failed", dir.display());
        }
        dir
    })
    .clone()
}

impl OidcStandIn {
    pub async fn start() -> Self {
        let dir = installed_standin();
        let mut process = Command::new("node")
            .args(["standin.mjs", "--port", "0"])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the OpenID stand-in");
        let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        let line = stdout.next_line().await.unwrap().expect("the stand-in says where it listens");
        let issuer =
            line.strip_prefix("listening on ").expect("the stand-in's first line names its address").to_owned();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { issuer, http, _process: process, _stdout: stdout }
    }

    /// Registers a client of the provider (its redirect URI is known once the service runs).
    pub async fn register_client(&self, client_id: &str, secret: &str, redirect_uris: &[String]) {
        let body = json!({"client_id": client_id, "client_secret": secret, "redirect_uris": redirect_uris});
        self.control("/_standin/clients", body).await;
    }

    /// An account to sign in as, by typing `sub` as the login.
    pub async fn add_account(&self, sub: &str, email: &str, email_verified: bool, name: &str) {
        let body = json!({"sub": sub, "email": email, "email_verified": email_verified, "name": name});
        self.control("/_standin/accounts", body).await;
    }

    async fn control(&self, path: &str, body: Value) {
        let response = self.http.post(format!("{}{path}", self.issuer)).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 204, "{path}");
    }

    /// An ID token for `client_id` as an app that signs in at the provider itself would get it
    /// (the native flow): the authorization code flow with PKCE, as `sub`, carrying `nonce`.
    pub async fn id_token_for(
        &self,
        client_id: &str,
        secret: &str,
        redirect_uri: &str,
        sub: &str,
        nonce: &str,
    ) -> String {
        let verifier = "native-app-verifier-native-app-verifier-0123456789";
        let challenge = {
            use base64::Engine;
            use sha2::Digest;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
        };
        let mut authorize = Url::parse(&format!("{}/auth", self.issuer)).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email profile")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", "native")
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let returned = Browser::new().sign_in(authorize.as_str(), sub, redirect_uri).await;
        let code = query_value(&returned, "code").expect("the provider returned a code");
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
            ("client_secret", secret),
            ("code_verifier", verifier),
        ];
        let answer: Value =
            self.http.post(format!("{}/token", self.issuer)).form(&form).send().await.unwrap().json().await.unwrap();
        answer["id_token"].as_str().unwrap_or_else(|| panic!("no id_token: {answer}")).to_owned()
    }
}

/// The value of a query parameter of `url`.
pub fn query_value(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// A browser enough for the provider's sign-in pages: it keeps cookies, follows redirects,
/// fills in the login and consent forms, and stops where the flow leaves for `stop_at`.
pub struct Browser {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { http, cookies: BTreeMap::new() }
    }

    /// Goes to `start`, signs in as `login` when asked, agrees when asked, and returns the
    /// first URL it is sent to that begins with `stop_at`.
    pub async fn sign_in(&mut self, start: &str, login: &str, stop_at: &str) -> Url {
        let mut url = Url::parse(start).unwrap();
        let mut form: Option<Vec<(String, String)>> = None;
        for _ in 0..20 {
            if url.as_str().starts_with(stop_at) {
                return url;
            }
            let request = match form.take() {
                Some(fields) => self.http.post(url.clone()).form(&fields),
                None => self.http.get(url.clone()),
            };
            let response = request.header(COOKIE, self.cookie_header()).send().await.unwrap();
            for value in response.headers().get_all(SET_COOKIE) {
                let pair = value.to_str().unwrap().split(';').next().unwrap();
                if let Some((name, value)) = pair.split_once('=') {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
            if let Some(location) = response.headers().get(LOCATION) {
                url = url.join(location.to_str().unwrap()).unwrap();
                continue;
            }
            let status = response.status();
            let page = response.text().await.unwrap();
            assert!(status.is_success(), "{status} at {url}: {page}");
            // The login form, the consent form, or a page that posts itself on (Apple's form_post).
            let (action, hidden) = page_form(&page).unwrap_or_else(|| panic!("no form at {url}: {page}"));
            url = url.join(&action).unwrap();
            let asks_login = hidden.iter().any(|(name, value)| name == "prompt" && value == "login");
            let mut fields = hidden;
            if asks_login {
                fields.push(("login".into(), login.into()));
                fields.push(("password".into(), "any".into()));
            }
            form = Some(fields);
        }
        panic!("the sign-in did not reach {stop_at}");
    }

    /// The cookies the browser holds, as a `Cookie` header.
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }
}

/// The first form of a page: its `action` (empty: the page itself) and its hidden inputs.
fn page_form(page: &str) -> Option<(String, Vec<(String, String)>)> {
    let form = &page[page.find("<form")?..];
    let action = attribute(&form[..form.find('>')?], "action").unwrap_or_default();
    let mut hidden = Vec::new();
    let mut rest = form;
    while let Some(start) = rest.find("<input") {
        let tag = &rest[start..start + rest[start..].find('>')?];
        if attribute(tag, "type").as_deref() == Some("hidden")
            && let (Some(name), Some(value)) = (attribute(tag, "name"), attribute(tag, "value"))
        {
            hidden.push((name, value));
        }
        rest = &rest[start + tag.len()..];
    }
    Some((action, hidden))
}

/// An attribute's value in a tag, with the HTML entities the pages use decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let value = &tag[start..start + tag[start..].find('"')?];
    Some(unescape(value))
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(';') else { break };
        let entity = &rest[at + 1..at + end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => entity.strip_prefix('#').and_then(|n| n.parse::<u32>().ok()).and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[at..at + end + 1]),
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}
