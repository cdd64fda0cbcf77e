//! GitHub's and Apple's dialects of social sign-in over HTTP, against a local stand-in speaking
//! them (`support/providers.rs`): GitHub's emails API and its errors answered with 200, Apple's
//! form_post callback, its client secret made from a `.p8` key (checked by the stand-in against
//! the key's public half), string booleans, and the name sent only on the first sign-in.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, expect_error, fresh_backend};
use crate::oidc::{Browser, query_value};
use crate::providers::{ProviderStandIn, github_account};

const RETURN_TO: &str = "https://app.example/signed-in";
const APPLE_CLIENT: &str = "com.example.web";
const TEAM_ID: &str = "TEAM123456";
const KEY_ID: &str = "KEY1234567";

async fn spawn(overrides: &[(&str, String)]) -> TestApp {
    let mut overrides = overrides.to_vec();
    overrides.push(("OAUTH_REDIRECT_ALLOWLIST", RETURN_TO.into()));
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_public(fresh_backend().await, &overrides).await
}

async fn github(stand_in: &ProviderStandIn, client_secret: &str) -> TestApp {
    let base = &stand_in.base;
    let app = spawn(&[
        ("OAUTH_GITHUB_CLIENT_ID", "gh-client".into()),
        ("OAUTH_GITHUB_CLIENT_SECRET", client_secret.into()),
        ("OAUTH_GITHUB_AUTHORIZE_URL", format!("{base}/login/oauth/authorize")),
        ("OAUTH_GITHUB_TOKEN_URL", format!("{base}/login/oauth/access_token")),
        ("OAUTH_GITHUB_API_URL", format!("{base}/api")),
    ])
    .await;
    let callback = format!("{}/api/v1/auth/oauth/github/callback", app.base);
    stand_in
        .register_client(json!({"client_id": "gh-client", "client_secret": "gh-secret", "redirect_uris": [callback]}))
        .await;
    app
}

/// The `.p8` key Apple would issue (PKCS#8 P-256), in a file, and its public half.
fn p8_key_file() -> (std::path::PathBuf, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let path = std::env::temp_dir().join(format!("mana-apple-{}.p8", uuid::Uuid::new_v4()));
    std::fs::write(&path, key.serialize_pem()).unwrap();
    (path, key.public_key_pem())
}

/// The service configured for Apple with one key; the stand-in knows `registered_public_key`.
async fn apple(stand_in: &ProviderStandIn, key_file: &std::path::Path, registered_public_key: &str) -> TestApp {
    let app = spawn(&[
        ("OAUTH_APPLE_CLIENT_ID", APPLE_CLIENT.into()),
        ("OAUTH_APPLE_TEAM_ID", TEAM_ID.into()),
        ("OAUTH_APPLE_KEY_ID", KEY_ID.into()),
        ("OAUTH_APPLE_PRIVATE_KEY_FILE", key_file.display().to_string()),
        ("OAUTH_APPLE_ISSUER", stand_in.apple_issuer()),
    ])
    .await;
    let callback = format!("{}/api/v1/auth/oauth/apple/callback", app.base);
    let client = json!({"client_id": APPLE_CLIENT, "redirect_uris": [callback], "team_id": TEAM_ID,
        "key_id": KEY_ID, "public_key_pem": registered_public_key});
    stand_in.register_client(client).await;
    app
}

impl TestApp {
    async fn provider_sign_in(&self, provider: &str, login: &str) -> reqwest::Url {
        let start = self.api(&format!("/auth/oauth/{provider}/authorize?redirectTo={RETURN_TO}"));
        Browser::new().sign_in(&start, login, RETURN_TO).await
    }

    /// The returned code exchanged for the login answer.
    async fn provider_tokens(&self, provider: &str, login: &str) -> Value {
        let returned = self.provider_sign_in(provider, login).await;
        let code = query_value(&returned, "code").unwrap_or_else(|| panic!("no code: {returned}"));
        let response = self.post("/auth/oauth/exchange", json!({"code": code})).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn profile(&self, tokens: &Value) -> Value {
        let request = self.http.get(self.api("/auth/me")).bearer_auth(tokens["accessToken"].as_str().unwrap());
        request.send().await.unwrap().json().await.unwrap()
    }
}

#[tokio::test]
async fn github_signs_in_with_its_primary_verified_address() {
    let stand_in = ProviderStandIn::start().await;
    let app = github(&stand_in, "gh-secret").await;
    let emails = [("old@example.com", false, true), ("octo@example.com", true, true)];
    stand_in.add_account(github_account("octocat", 583231, "The Octocat", &emails)).await;

    let tokens = app.provider_tokens("github", "octocat").await;
    let me = app.profile(&tokens).await;
    assert_eq!((me["email"].as_str(), me["emailVerified"].as_bool()), (Some("octo@example.com"), Some(true)));
    assert_eq!(me["name"], "The Octocat");
    assert_eq!(me["identities"], json!([{"provider": "github", "email": "octo@example.com"}]));
    let again = app.provider_tokens("github", "octocat").await;
    assert_eq!(again["user"]["id"], tokens["user"]["id"], "keyed by GitHub's numeric id");
    let requests = stand_in.requests().await;
    assert!(requests.iter().all(|r| r["has_verifier"] == true), "PKCE on every exchange: {requests:?}");
}

#[tokio::test]
async fn github_without_a_primary_verified_address_makes_no_account_and_no_link() {
    let stand_in = ProviderStandIn::start().await;
    let app = github(&stand_in, "gh-secret").await;
    let emails = [("unverified@example.com", true, false), ("secondary@example.com", false, true)];
    stand_in.add_account(github_account("nomail", 42, "No Mail", &emails)).await;
    let returned = app.provider_sign_in("github", "nomail").await;
    assert_eq!(query_value(&returned, "error").as_deref(), Some("email_not_provided"), "{returned}");

    // An existing account with the unverified address is not reached either.
    app.signed_in("unverified@example.com").await;
    let returned = app.provider_sign_in("github", "nomail").await;
    assert_eq!(query_value(&returned, "error").as_deref(), Some("email_not_provided"), "{returned}");

    let native = app.post("/auth/oauth/github/id-token", json!({"idToken": "a.b.c"})).await;
    expect_error(native, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn githubs_errors_answered_with_200_are_errors() {
    let stand_in = ProviderStandIn::start().await;
    let app = github(&stand_in, "not-the-secret").await;
    stand_in.add_account(github_account("octocat", 1, "Octo", &[("octo@example.com", true, true)])).await;
    let returned = app.provider_sign_in("github", "octocat").await;
    assert_eq!(query_value(&returned, "error").as_deref(), Some("oauth_provider_error"), "{returned}");
    assert!(query_value(&returned, "code").is_none());
}

#[tokio::test]
async fn apple_posts_its_answer_and_gives_the_name_once_which_is_kept() {
    let stand_in = ProviderStandIn::start().await;
    let (key_file, public_key) = p8_key_file();
    let app = apple(&stand_in, &key_file, &public_key).await;
    let account = json!({"login": "ada", "id": "001234.abcdef.0042", "email": "x7k2@privaterelay.appleid.com",
        "email_verified": true, "is_private_email": true, "first_name": "Ada", "last_name": "Lovelace"});
    stand_in.add_account(account).await;

    let tokens = app.provider_tokens("apple", "ada").await;
    let me = app.profile(&tokens).await;
    assert_eq!(me["email"], "x7k2@privaterelay.appleid.com", "a private relay address is an address");
    assert_eq!(me["emailVerified"], true, "Apple's string \"true\"");
    assert_eq!(me["name"], "Ada Lovelace", "from the first sign-in's user field");
    let requests = stand_in.requests().await;
    assert_eq!(requests[0]["client_secret_problem"], Value::Null, "the client secret holds: {requests:?}");

    // Apple sends no name the second time; the stored one stays.
    let again = app.provider_tokens("apple", "ada").await;
    assert_eq!(again["user"]["id"], tokens["user"]["id"]);
    assert_eq!(app.profile(&again).await["name"], "Ada Lovelace");
    std::fs::remove_file(key_file).unwrap();
}

#[tokio::test]
async fn a_client_secret_signed_with_another_key_is_refused_by_apple() {
    let stand_in = ProviderStandIn::start().await;
    let (key_file, _) = p8_key_file();
    let (_, registered) = p8_key_file();
    let app = apple(&stand_in, &key_file, &registered).await;
    stand_in.add_account(json!({"login": "eve", "email": "eve@example.com", "first_name": "Eve"})).await;
    let returned = app.provider_sign_in("apple", "eve").await;
    assert_eq!(query_value(&returned, "error").as_deref(), Some("oauth_provider_error"), "{returned}");
    assert_eq!(stand_in.requests().await[0]["client_secret_problem"], "bad signature");
    std::fs::remove_file(key_file).unwrap();
}

#[tokio::test]
async fn a_rotated_provider_key_is_fetched_when_first_seen_and_made_up_ones_at_most_every_ten_seconds() {
    let stand_in = ProviderStandIn::start().await;
    let (key_file, public_key) = p8_key_file();
    let app = apple(&stand_in, &key_file, &public_key).await;
    stand_in.add_account(json!({"login": "kim", "email": "kim@example.com", "first_name": "Kim"})).await;
    app.provider_tokens("apple", "kim").await;
    app.provider_tokens("apple", "kim").await;
    assert_eq!(stand_in.apple_key_fetches().await, 1, "the key set is cached");

    stand_in.rotate_apple_key().await;
    app.provider_tokens("apple", "kim").await;
    assert_eq!(stand_in.apple_key_fetches().await, 2, "a token under a new key id fetches the set again");

    // Tokens naming key ids the provider never had: refused, and the set is not fetched again
    // for each of them (at most once every ten seconds).
    for n in 0..5 {
        let header = base64url(&json!({"alg": "RS256", "kid": format!("made-up-{n}")}).to_string());
        let token = format!("{header}.{}.{}", base64url("{}"), base64url("sig"));
        let refused = app.post("/auth/oauth/apple/id-token", json!({"idToken": token})).await;
        expect_error(refused, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
    }
    assert_eq!(stand_in.apple_key_fetches().await, 2, "made-up key ids within ten seconds fetch nothing");
    std::fs::remove_file(key_file).unwrap();
}

fn base64url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}
