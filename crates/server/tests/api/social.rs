//! Social sign-in over HTTP (SPEC §6) against a real OpenID provider running locally
//! (`oidc-provider`, see `support/oidc.rs`), standing in for Google and for a provider
//! configured by issuer URL. Each rule is tried against an attempt to break it.

use base64::Engine;
use chrono::Duration;
use mana_core::tokens::KeyAlgorithm;
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};

use crate::common::{
    PASSWORD, TestApp, backend_pair, expect_error, fresh_backend, link_token, mailbox, message_to, test_key,
};
use crate::oidc::{Browser, CLIENT_ID, CLIENT_SECRET, OidcStandIn, query_value};

/// Where the app wants the browser back; on the service's allow-list.
const RETURN_TO: &str = "https://app.example/signed-in";
/// The native app's own client id at the provider, accepted for ID tokens from the SDK.
const NATIVE_CLIENT: &str = "mana-ios";
const NATIVE_REDIRECT: &str = "https://native.example/callback";

fn oauth_overrides(issuer: &str) -> Vec<(&'static str, String)> {
    vec![
        ("OAUTH_GOOGLE_CLIENT_ID", CLIENT_ID.into()),
        ("OAUTH_GOOGLE_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("OAUTH_GOOGLE_ISSUER", issuer.into()),
        ("OAUTH_GOOGLE_NATIVE_CLIENT_IDS", NATIVE_CLIENT.into()),
        ("OAUTH_REDIRECT_ALLOWLIST", format!("{RETURN_TO},myapp://auth/*")),
    ]
}

/// The provider, and the service configured with it as Google.
async fn google() -> (OidcStandIn, TestApp) {
    let provider = OidcStandIn::start().await;
    let app = spawn_against(&provider, fresh_backend().await, None).await;
    (provider, app)
}

async fn spawn_against(provider: &OidcStandIn, backend: crate::common::Backend, public_url: Option<&str>) -> TestApp {
    let mut overrides = oauth_overrides(&provider.issuer);
    if let Some(url) = public_url {
        overrides.push(("PUBLIC_URL", url.into()));
    }
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_public(backend, &overrides).await;
    let callback = format!("{}/api/v1/auth/oauth/google/callback", public_url.unwrap_or(&app.base));
    provider.register_client(CLIENT_ID, CLIENT_SECRET, &[callback]).await;
    provider.register_client(NATIVE_CLIENT, "native-secret-native-secret-0123456789", &[NATIVE_REDIRECT.into()]).await;
    provider.register_client("someone-else", "someone-else-secret-0123456789abcdef", &[NATIVE_REDIRECT.into()]).await;
    app
}

impl TestApp {
    /// Signs in at the provider as `sub` through the web flow, from `authorize` to the app's
    /// return address; the URL the browser was sent back to.
    async fn web_sign_in(&self, sub: &str) -> Url {
        self.web_flow(&self.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}")), sub).await
    }

    async fn web_flow(&self, start: &str, sub: &str) -> Url {
        Browser::new().sign_in(start, sub, RETURN_TO).await
    }

    async fn exchange(&self, code: &str) -> reqwest::Response {
        self.post("/auth/oauth/exchange", json!({"code": code, "deviceName": "Phone"})).await
    }

    /// The web flow through to tokens.
    async fn social_tokens(&self, sub: &str) -> Value {
        let returned = self.web_sign_in(sub).await;
        let code = query_value(&returned, "code").unwrap_or_else(|| panic!("no code in {returned}"));
        let response = self.exchange(&code).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    async fn bearer(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::Response {
        self.http.request(method, self.api(path)).bearer_auth(token).send().await.unwrap()
    }

    async fn me(&self, token: &str) -> Value {
        self.bearer(reqwest::Method::GET, "/auth/me", token).await.json().await.unwrap()
    }

    async fn event_kinds(&self, token: &str) -> Vec<String> {
        let events: Value =
            self.bearer(reqwest::Method::GET, "/auth/security-events", token).await.json().await.unwrap();
        events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
    }

    async fn native(&self, id_token: &str, nonce: Option<&str>) -> reqwest::Response {
        self.post("/auth/oauth/google/id-token", json!({"idToken": id_token, "nonce": nonce})).await
    }
}

/// A client that shows each redirect instead of following it.
fn direct() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn the_web_flow_creates_an_account_and_returns_a_one_time_code_for_tokens() {
    let (provider, app) = google().await;
    provider.add_account("alice-sub", "Alice@Example.com", true, "Alice Liddell").await;

    let start = direct().get(app.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}"))).send();
    let start = start.await.unwrap();
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let to_provider = Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    assert!(to_provider.as_str().starts_with(&provider.issuer), "{to_provider}");
    for (name, expected) in [("client_id", Some(CLIENT_ID)), ("code_challenge_method", Some("S256"))] {
        assert_eq!(query_value(&to_provider, name).as_deref(), expected);
    }
    for name in ["state", "nonce", "code_challenge"] {
        assert!(query_value(&to_provider, name).is_some_and(|v| v.len() >= 43), "{name} in {to_provider}");
    }

    let returned = app.web_sign_in("alice-sub").await;
    assert!(returned.as_str().starts_with(RETURN_TO));
    assert!(
        query_value(&returned, "access_token").is_none() && !returned.as_str().contains("eyJ"),
        "no tokens in URLs"
    );
    let code = query_value(&returned, "code").unwrap();
    let tokens: Value = app.exchange(&code).await.json().await.unwrap();
    let access = tokens["accessToken"].as_str().unwrap();
    assert_eq!(tokens["user"]["email"], "alice@example.com");
    assert_eq!(tokens["user"]["name"], "Alice Liddell");
    assert_eq!(claims(access)["amr"], json!(["oauth"]));
    let me = app.me(access).await;
    assert_eq!(me["emailVerified"], true, "the provider vouched for it");
    assert_eq!(me["identities"], json!([{"provider": "google", "email": "alice@example.com"}]), "{me}");
    let balance: Value = app.bearer(reqwest::Method::GET, "/credits/balance", access).await.json().await.unwrap();
    assert_eq!(balance["freeCreditsRemaining"], 150, "the signup bonus, like any account");
    let events = app.event_kinds(access).await;
    assert!(events.contains(&"register".to_owned()) && events.contains(&"login_success".to_owned()), "{events:?}");

    // The second sign-in finds the same account; the bonus is not given again.
    let again = app.social_tokens("alice-sub").await;
    assert_eq!(again["user"]["id"], tokens["user"]["id"]);
    let balance: Value = app.bearer(reqwest::Method::GET, "/credits/balance", access).await.json().await.unwrap();
    assert_eq!(balance["freeCreditsRemaining"], 150);
    // No password was set: a password login finds nothing to check.
    expect_error(app.login("alice@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn a_replayed_exchange_code_or_callback_is_refused_and_codes_expire() {
    let (provider, app) = google().await;
    provider.add_account("bob-sub", "bob@example.com", true, "Bob").await;
    let returned = app.web_sign_in("bob-sub").await;
    let code = query_value(&returned, "code").unwrap();
    assert_eq!(app.exchange(&code).await.status(), StatusCode::OK);
    expect_error(app.exchange(&code).await, StatusCode::BAD_REQUEST, "invalid_exchange_code").await;

    let late = query_value(&app.web_sign_in("bob-sub").await, "code").unwrap();
    app.advance(Duration::seconds(61));
    expect_error(app.exchange(&late).await, StatusCode::BAD_REQUEST, "invalid_exchange_code").await;
    expect_error(app.exchange("not-a-code").await, StatusCode::BAD_REQUEST, "invalid_exchange_code").await;
    expect_error(app.exchange("").await, StatusCode::BAD_REQUEST, "invalid_exchange_code").await;
}

#[tokio::test]
async fn a_callback_with_a_state_this_service_did_not_issue_or_already_used_is_refused() {
    let (provider, app) = google().await;
    provider.add_account("carol-sub", "carol@example.com", true, "Carol").await;
    let callback = |query: &str| direct().get(app.api(&format!("/auth/oauth/google/callback?{query}"))).send();
    expect_error(callback("code=abc&state=forged").await.unwrap(), StatusCode::BAD_REQUEST, "invalid_oauth_state")
        .await;
    expect_error(callback("code=abc").await.unwrap(), StatusCode::BAD_REQUEST, "invalid_oauth_state").await;

    // The provider's answer, replayed: the state was used by the first callback.
    let start = app.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}"));
    let at_callback = Browser::new().sign_in(&start, "carol-sub", &app.api("/auth/oauth/google/callback")).await;
    let first = direct().get(at_callback.clone()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let replay = direct().get(at_callback.clone()).send().await.unwrap();
    expect_error(replay, StatusCode::BAD_REQUEST, "invalid_oauth_state").await;

    // A state issued for another provider's flow does not finish this one.
    let state = query_value(&at_callback, "state").unwrap();
    let other = direct().get(app.api(&format!("/auth/oauth/corp/callback?state={state}&code=x"))).send().await.unwrap();
    expect_error(other, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_replayed_provider_code_sends_the_app_an_error() {
    let (provider, app) = google().await;
    provider.add_account("dan-sub", "dan@example.com", true, "Dan").await;
    let start = app.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}"));
    let at_callback = Browser::new().sign_in(&start, "dan-sub", &app.api("/auth/oauth/google/callback")).await;
    assert_eq!(direct().get(at_callback.clone()).send().await.unwrap().status(), StatusCode::SEE_OTHER);

    // A new flow's state with the old code: the provider refuses the code a second time.
    let fresh = direct().get(&start).send().await.unwrap();
    let fresh = Url::parse(fresh.headers()["location"].to_str().unwrap()).unwrap();
    let code = query_value(&at_callback, "code").unwrap();
    let state = query_value(&fresh, "state").unwrap();
    let replay = direct().get(app.api(&format!("/auth/oauth/google/callback?state={state}&code={code}")));
    let replay = replay.send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    let back = Url::parse(replay.headers()["location"].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(RETURN_TO));
    assert_eq!(query_value(&back, "error").as_deref(), Some("oauth_provider_error"), "{back}");
    assert!(query_value(&back, "code").is_none());
}

#[tokio::test]
async fn redirects_off_the_allow_list_and_unknown_providers_are_refused() {
    let (_provider, app) = google().await;
    let authorize = |redirect: &str| {
        direct().get(app.api(&format!("/auth/oauth/google/authorize?redirectTo={}", urlencode(redirect)))).send()
    };
    for bad in ["https://evil.example/signed-in", "https://app.example/signed-in/x", "javascript:alert(1)", ""] {
        let response = authorize(bad).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(authorize("myapp://auth/done").await.unwrap().status(), StatusCode::SEE_OTHER, "a starred prefix");
    let unknown = direct().get(app.api(&format!("/auth/oauth/myspace/authorize?redirectTo={RETURN_TO}"))).send();
    expect_error(unknown.await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
}

fn urlencode(text: &str) -> String {
    Url::parse_with_params("http://x/", [("v", text)]).unwrap().query().unwrap()[2..].to_owned()
}

#[tokio::test]
async fn the_native_flow_signs_in_with_an_id_token_from_the_platform_sdk() {
    let (provider, app) = google().await;
    provider.add_account("erin-sub", "erin@example.com", true, "Erin").await;
    let id_token = provider
        .id_token_for(
            NATIVE_CLIENT,
            "native-secret-native-secret-0123456789",
            NATIVE_REDIRECT,
            "erin-sub",
            "n-0123456789",
        )
        .await;
    let response = app.native(&id_token, Some("n-0123456789")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["user"]["email"], "erin@example.com");
    assert_eq!(claims(tokens["accessToken"].as_str().unwrap())["amr"], json!(["oauth"]));

    // Apple's way: the token carries the SHA-256 of the nonce the app passes in clear.
    let raw = "raw-nonce-from-the-app";
    let hashed = mana_core::crypto::hex_encode(&mana_core::crypto::sha256(raw.as_bytes()));
    let id_token = provider
        .id_token_for(NATIVE_CLIENT, "native-secret-native-secret-0123456789", NATIVE_REDIRECT, "erin-sub", &hashed)
        .await;
    assert_eq!(app.native(&id_token, Some(raw)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn id_tokens_with_the_wrong_nonce_audience_age_or_key_are_refused() {
    let (provider, app) = google().await;
    provider.add_account("frank-sub", "frank@example.com", true, "Frank").await;
    let secret = "native-secret-native-secret-0123456789";
    let token = provider.id_token_for(NATIVE_CLIENT, secret, NATIVE_REDIRECT, "frank-sub", "right-nonce").await;

    expect_error(app.native(&token, Some("wrong-nonce")).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
    expect_error(app.native(&token, None).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;

    let stranger = provider
        .id_token_for("someone-else", "someone-else-secret-0123456789abcdef", NATIVE_REDIRECT, "frank-sub", "n")
        .await;
    let refused =
        expect_error(app.native(&stranger, Some("n")).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
    assert!(refused.message.contains("another client"), "{}", refused.message);

    // The provider's tokens live an hour.
    app.advance(Duration::hours(2));
    let expired =
        expect_error(app.native(&token, Some("right-nonce")).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
    assert!(expired.message.contains("expired"), "{}", expired.message);
    app.advance(Duration::hours(-2));
    assert_eq!(app.native(&token, Some("right-nonce")).await.status(), StatusCode::OK, "the same token, in time");

    // The same claims signed by a key the provider does not publish, once under a key id of
    // its own and once under the provider's.
    let payload = token.split('.').nth(1).unwrap();
    let mut claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["email"] = json!("frank@example.com");
    let provider_kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    let forger = test_key(KeyAlgorithm::Rs256, "forged", 0);
    for kid in ["forged-kid", provider_kid.as_str()] {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid.into());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(crate::common::shared_rsa_pem().as_bytes()).unwrap();
        let forged = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        let _ = &forger;
        let refused =
            expect_error(app.native(&forged, Some("right-nonce")).await, StatusCode::UNAUTHORIZED, "invalid_id_token")
                .await;
        assert!(refused.message.contains("key") || refused.message.contains("signature"), "{kid}: {}", refused.message);
    }
    // `alg: none` and garbage.
    let unsigned =
        format!("{}.{payload}.", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
    expect_error(app.native(&unsigned, Some("right-nonce")).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
    expect_error(app.native("garbage", None).await, StatusCode::UNAUTHORIZED, "invalid_id_token").await;
    expect_error(app.native("", None).await, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn a_verified_identity_takes_over_an_unverified_account_with_its_email() {
    let (provider, app) = google().await;
    // Someone pre-registers the victim's address and keeps a session.
    let squatter = app.signed_in("victim@example.com").await;
    provider.add_account("victim-sub", "victim@example.com", true, "Victim").await;

    let tokens = app.social_tokens("victim-sub").await;
    let access = tokens["accessToken"].as_str().unwrap();
    assert_eq!(app.me(access).await["emailVerified"], true);
    expect_error(app.login("victim@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
    let refreshed = app.refresh(&squatter.refresh_token).await;
    expect_error(refreshed, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    let old_access = app.bearer(reqwest::Method::GET, "/auth/me", &squatter.access_token).await;
    expect_error(old_access, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert!(app.event_kinds(access).await.contains(&"account_taken_over".to_owned()));

    // The owner can set a password by reset.
    mailbox(&app).await;
    let asked = app.post("/auth/forgot-password", json!({"email": "victim@example.com"})).await;
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let reset = message_to(&app, "victim@example.com").await;
    let body = json!({"token": link_token(&reset), "password": "a brand new passphrase"});
    assert_eq!(app.post("/auth/reset-password", body).await.status(), StatusCode::OK);
    assert_eq!(app.login("victim@example.com", "a brand new passphrase").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_identity_links_to_a_verified_account_and_an_unvouched_email_is_refused() {
    let (provider, app) = google().await;
    let verified = app.signed_in("owner@example.com").await;
    let token = link_token(&mailbox(&app).await[0]);
    assert_eq!(app.post("/auth/verify-email", json!({"token": token})).await.status(), StatusCode::OK);
    provider.add_account("owner-sub", "owner@example.com", true, "Owner").await;
    let tokens = app.social_tokens("owner-sub").await;
    assert_eq!(tokens["user"]["id"], verified.user.id.to_string(), "the existing account");
    assert_eq!(app.login("owner@example.com", PASSWORD).await.status(), StatusCode::OK, "its password stays");
    assert!(app.event_kinds(tokens["accessToken"].as_str().unwrap()).await.contains(&"identity_linked".to_owned()));

    // A provider that does not vouch for the address never reaches the account.
    provider.add_account("impostor-sub", "owner@example.com", false, "Impostor").await;
    let returned = app.web_sign_in("impostor-sub").await;
    assert_eq!(query_value(&returned, "error").as_deref(), Some("email_in_use"), "{returned}");
    assert!(query_value(&returned, "code").is_none());
}

#[tokio::test]
async fn a_signed_in_user_links_and_unlinks_a_provider_but_never_the_last_way_in() {
    let (provider, app) = google().await;
    let user = app.signed_in("linker@example.com").await;
    provider.add_account("linker-sub", "different-address@example.com", false, "Linker").await;
    let link = app.http.post(app.api("/auth/oauth/google/link")).bearer_auth(&user.access_token);
    let link: Value = link.json(&json!({"redirectTo": RETURN_TO})).send().await.unwrap().json().await.unwrap();
    let returned = app.web_flow(link["url"].as_str().unwrap(), "linker-sub").await;
    let code = query_value(&returned, "linkCode").unwrap_or_else(|| panic!("no linkCode: {returned}"));
    assert!(
        app.me(&user.access_token).await["identities"].as_array().unwrap().is_empty(),
        "not before it is confirmed"
    );
    // Someone else's token cannot confirm it; the owner's can, once.
    let stranger = app.signed_in("stranger-linker@example.com").await;
    let confirm = |token: &str, code: &str| {
        app.http.post(app.api("/auth/oauth/link/confirm")).bearer_auth(token).json(&json!({"code": code})).send()
    };
    expect_error(
        confirm(&stranger.access_token, &code).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_exchange_code",
    )
    .await;
    assert_eq!(confirm(&user.access_token, &code).await.unwrap().status(), StatusCode::OK);
    expect_error(confirm(&user.access_token, &code).await.unwrap(), StatusCode::BAD_REQUEST, "invalid_exchange_code")
        .await;
    // A link code is not a sign-in code.
    expect_error(app.exchange(&code).await, StatusCode::BAD_REQUEST, "invalid_exchange_code").await;
    let me = app.me(&user.access_token).await;
    assert_eq!(me["identities"][0]["provider"], "google");

    // The provider now signs in to this account, whatever address it names.
    let tokens = app.social_tokens("linker-sub").await;
    assert_eq!(tokens["user"]["id"], user.user.id.to_string());
    // Linked elsewhere: another account cannot link it.
    let other = app.signed_in("other-linker@example.com").await;
    let link = app.http.post(app.api("/auth/oauth/google/link")).bearer_auth(&other.access_token);
    let link: Value = link.json(&json!({"redirectTo": RETURN_TO})).send().await.unwrap().json().await.unwrap();
    let returned = app.web_flow(link["url"].as_str().unwrap(), "linker-sub").await;
    let code = query_value(&returned, "linkCode").unwrap();
    expect_error(confirm(&other.access_token, &code).await.unwrap(), StatusCode::CONFLICT, "identity_in_use").await;

    // With a password left, the provider can go.
    let unlink = app.bearer(reqwest::Method::DELETE, "/auth/identities/google", &user.access_token).await;
    assert_eq!(unlink.status(), StatusCode::OK);
    assert!(app.event_kinds(&user.access_token).await.contains(&"identity_unlinked".to_owned()));
    let again = app.bearer(reqwest::Method::DELETE, "/auth/identities/google", &user.access_token).await;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;

    // An account made by the provider has no password: its only way in stays.
    provider.add_account("only-sub", "only@example.com", true, "Only").await;
    let only = app.social_tokens("only-sub").await;
    let refused = app.bearer(reqwest::Method::DELETE, "/auth/identities/google", only["accessToken"].as_str().unwrap());
    expect_error(refused.await, StatusCode::CONFLICT, "last_sign_in_method").await;
    let link = app.http.post(app.api("/auth/oauth/google/link"));
    expect_error(
        link.json(&json!({"redirectTo": RETURN_TO})).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
}

#[tokio::test]
async fn a_flow_begun_on_one_instance_finishes_on_another() {
    let provider = OidcStandIn::start().await;
    provider.add_account("grace-sub", "grace@example.com", true, "Grace").await;
    let (first_backend, second_backend) = backend_pair().await;
    let first = spawn_against(&provider, first_backend, None).await;
    // Both instances are one service behind one public address: the first's.
    let second = spawn_against(&provider, second_backend, Some(&first.base)).await;
    let start = second.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}"));
    let returned = Browser::new().sign_in(&start, "grace-sub", RETURN_TO).await;
    let code = query_value(&returned, "code").expect("the first instance finished the second's flow");
    // And the code is good on either.
    assert_eq!(second.exchange(&code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_account_with_two_factor_authentication_is_asked_for_it_after_the_provider() {
    let (provider, app) = google().await;
    provider.add_account("henry-sub", "henry@example.com", true, "Henry").await;
    let tokens = app.social_tokens("henry-sub").await;
    let access = tokens["accessToken"].as_str().unwrap();
    let setup: Value = app
        .http
        .post(app.api("/auth/2fa/totp/setup"))
        .bearer_auth(access)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = setup["secret"].as_str().unwrap();
    let code = crate::totp::code(secret, mana_core::clock::Clock::now(app.clock.as_ref()).timestamp());
    let enabled = app.http.post(app.api("/auth/2fa/totp/enable")).bearer_auth(access).json(&json!({"code": code}));
    assert_eq!(enabled.send().await.unwrap().status(), StatusCode::OK);
    app.advance(Duration::seconds(30));

    let returned = app.web_sign_in("henry-sub").await;
    let challenge: Value = app.exchange(&query_value(&returned, "code").unwrap()).await.json().await.unwrap();
    assert_eq!(challenge["mfaRequired"], true, "{challenge}");
    assert!(challenge.get("accessToken").is_none());
    let code = crate::totp::code(secret, mana_core::clock::Clock::now(app.clock.as_ref()).timestamp());
    let verified = app.post("/auth/2fa/verify", json!({"mfaToken": challenge["mfaToken"], "code": code})).await;
    let verified: Value = verified.json().await.unwrap();
    assert_eq!(claims(verified["accessToken"].as_str().unwrap())["amr"], json!(["oauth", "otp"]));
}

#[tokio::test]
async fn a_provider_that_is_down_gives_a_clear_error_and_no_account() {
    let provider = OidcStandIn::start().await;
    // Nothing listens on the issuer's port once the provider is stopped.
    let issuer = provider.issuer.clone();
    drop(provider);
    let overrides = oauth_overrides(&issuer);
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_public(fresh_backend().await, &overrides).await;
    let authorize = direct().get(app.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}"))).send();
    let error = expect_error(authorize.await.unwrap(), StatusCode::BAD_GATEWAY, "oauth_provider_error").await;
    assert!(!error.message.contains("127.0.0.1"), "no internals: {}", error.message);
    expect_error(app.native("a.b.c", None).await, StatusCode::BAD_GATEWAY, "oauth_provider_error").await;
}

#[tokio::test]
async fn any_openid_provider_is_configured_by_name_and_issuer() {
    let provider = OidcStandIn::start().await;
    provider.add_account("ivy-sub", "ivy@example.com", true, "Ivy").await;
    let overrides = [
        ("OAUTH_PROVIDERS", "corp".to_owned()),
        ("OAUTH_CORP_ISSUER", provider.issuer.clone()),
        ("OAUTH_CORP_CLIENT_ID", CLIENT_ID.to_owned()),
        ("OAUTH_CORP_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
        ("OAUTH_REDIRECT_ALLOWLIST", RETURN_TO.to_owned()),
    ];
    let overrides: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = TestApp::spawn_public(fresh_backend().await, &overrides).await;
    provider
        .register_client(CLIENT_ID, CLIENT_SECRET, &[format!("{}/api/v1/auth/oauth/corp/callback", app.base)])
        .await;
    let start = app.api(&format!("/auth/oauth/corp/authorize?redirectTo={RETURN_TO}"));
    let returned = Browser::new().sign_in(&start, "ivy-sub", RETURN_TO).await;
    let tokens: Value = app.exchange(&query_value(&returned, "code").unwrap()).await.json().await.unwrap();
    assert_eq!(tokens["user"]["email"], "ivy@example.com");
    let me = app.me(tokens["accessToken"].as_str().unwrap()).await;
    assert_eq!(me["identities"][0]["provider"], "corp");
    let google = direct().get(app.api(&format!("/auth/oauth/google/authorize?redirectTo={RETURN_TO}"))).send();
    expect_error(google.await.unwrap(), StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_link_begun_by_an_attacker_and_finished_in_a_victims_browser_links_nothing() {
    let (provider, app) = google().await;
    let attacker = app.signed_in("attacker@example.com").await;
    let victim = app.signed_in("victim-of-csrf@example.com").await;
    provider.add_account("victim-sub", "victim-of-csrf@example.com", true, "Victim").await;
    // The attacker starts a link and gets the victim to open the provider's page.
    let link = app.http.post(app.api("/auth/oauth/google/link")).bearer_auth(&attacker.access_token);
    let link: Value = link.json(&json!({"redirectTo": RETURN_TO})).send().await.unwrap().json().await.unwrap();
    let returned = app.web_flow(link["url"].as_str().unwrap(), "victim-sub").await;
    let code = query_value(&returned, "linkCode").unwrap();
    // The victim's app, signed in as the victim, confirms what came back: refused.
    let confirm = app.http.post(app.api("/auth/oauth/link/confirm")).bearer_auth(&victim.access_token);
    let refused = confirm.json(&json!({"code": code})).send().await.unwrap();
    expect_error(refused, StatusCode::BAD_REQUEST, "invalid_exchange_code").await;
    assert!(app.me(&attacker.access_token).await["identities"].as_array().unwrap().is_empty());
    assert!(app.me(&victim.access_token).await["identities"].as_array().unwrap().is_empty());
}
