//! The verifier against the real server binary (SQLite, started per test): tokens it issues
//! verify; every way of changing one is refused for the right reason; a key rotation is picked
//! up while old tokens keep verifying; revoked sessions are refused when asked; and the layer
//! and extractor answer in the server's own error shape.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mana_test_server::{CountingProxy, TestServer};
use mana_verify::{Authenticated, Config, RequireToken, TokenRejection, Verifier, VerifyError};
use serde_json::{Value, json};

fn token_of(login: &Value) -> String {
    login["accessToken"].as_str().unwrap().to_owned()
}

/// The token with its header (or payload) replaced by `edit` of the decoded JSON; signature kept.
fn edited(token: &str, part: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut json: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[part]).unwrap()).unwrap();
    edit(&mut json);
    parts[part] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap());
    parts.join(".")
}

fn kid_of(token: &str) -> String {
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn refused(outcome: Result<mana_verify::AccessTokenClaims, VerifyError>) -> TokenRejection {
    match outcome {
        Err(VerifyError::Rejected(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_of_the_server_verifies_and_every_change_to_it_is_refused_for_its_reason() {
    let server = TestServer::start().await;
    let login = server.sign_in("ada@example.com").await;
    let token = token_of(&login);
    let verifier = Verifier::new(Config::new(&server.base));
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.sub, login["user"]["id"].as_str().unwrap());
    assert_eq!((claims.email.as_str(), claims.role.as_str(), claims.aud.as_str()), ("ada@example.com", "user", "mana"));
    assert_eq!(claims.iss, server.base);

    assert_eq!(refused(verifier.verify_at(&token, claims.exp + 31).await), TokenRejection::Expired);
    assert!(verifier.verify_at(&token, claims.exp + 29).await.is_ok(), "30 s of leeway, as the server");
    assert_eq!(refused(verifier.verify_at(&token, claims.iat - 31).await), TokenRejection::NotYetValid);
    let other_audience = Verifier::new(Config::new(&server.base).audience("billing"));
    assert_eq!(refused(other_audience.verify(&token).await), TokenRejection::WrongAudience);
    let other_issuer = Verifier::new(Config::new(&server.base).issuer("https://auth.example.com"));
    assert_eq!(refused(other_issuer.verify(&token).await), TokenRejection::WrongIssuer);

    let cases = [
        (edited(&token, 1, |claims| claims["role"] = json!("admin")), TokenRejection::BadSignature),
        (edited(&token, 0, |header| header["alg"] = json!("HS256")), TokenRejection::WrongAlgorithm),
        (edited(&token, 0, |header| header["alg"] = json!("none")), TokenRejection::WrongAlgorithm),
        (edited(&token, 0, |header| header["typ"] = json!("JWT")), TokenRejection::WrongType),
        (edited(&token, 0, |header| header["crit"] = json!(["exp"])), TokenRejection::UnsupportedCritical),
        (edited(&token, 0, |header| header["kid"] = json!("made-up")), TokenRejection::UnknownKey),
        (format!("{token}.extra"), TokenRejection::Malformed),
        ("not a token".to_owned(), TokenRejection::Malformed),
    ];
    for (changed, reason) in cases {
        assert_eq!(refused(verifier.verify(&changed).await), reason, "{changed}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_while_tokens_of_the_old_one_still_verify() {
    let server = TestServer::start().await;
    let proxy = CountingProxy::start(&server.base).await;
    let mut config = Config::new(&proxy.base).issuer(&server.base);
    // Long enough that nothing in this test takes that long between two lookups, even on a
    // loaded machine.
    config.refetch_interval = Duration::from_secs(1);
    let verifier = Verifier::new(config);
    let old = token_of(&server.sign_in("ada@example.com").await);
    verifier.verify(&old).await.unwrap();
    assert_eq!(proxy.count("/.well-known/jwks.json"), 1);

    server.rotate_keys().await;
    // The server reads its key directory on SIGHUP; wait until it signs with the new key.
    let new = loop {
        let token = token_of(&server.sign_in("ada@example.com").await);
        if kid_of(&token) != kid_of(&old) {
            break token;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Within the refetch interval of the last fetch, a new kid is not fetched for yet.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier.verify(&new).await.unwrap();
    assert_eq!(proxy.count("/.well-known/jwks.json"), 2, "an unknown kid fetched the keys once");
    verifier.verify(&old).await.unwrap();
    assert_eq!(proxy.count("/.well-known/jwks.json"), 2, "the old key is still published, and known");

    // Made-up key ids, all at once and one after another: at most one fetch per interval.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let forged = edited(&new, 0, |header| header["kid"] = json!("made-up"));
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (verifier, forged) = (verifier.clone(), forged.clone());
        attempts.spawn(async move { verifier.verify(&forged).await });
    }
    for outcome in attempts.join_all().await {
        assert_eq!(refused(outcome), TokenRejection::UnknownKey);
    }
    assert_eq!(proxy.count("/.well-known/jwks.json"), 3, "twenty lookups of one unknown kid made one fetch");
    for _ in 0..5 {
        assert_eq!(refused(verifier.verify(&forged).await), TokenRejection::UnknownKey);
    }
    assert_eq!(proxy.count("/.well-known/jwks.json"), 3, "none more within the interval");
    server.stop().await;
}

#[tokio::test]
async fn with_a_revocation_check_a_signed_out_session_is_refused_once_its_answer_is_old() {
    let server = TestServer::start().await;
    let proxy = CountingProxy::start(&server.base).await;
    let checking =
        Verifier::new(Config::new(&proxy.base).issuer(&server.base).check_revocation(Duration::from_secs(2)));
    let offline = Verifier::new(Config::new(&server.base));
    let token = token_of(&server.sign_in("ada@example.com").await);
    checking.verify(&token).await.unwrap();
    checking.verify(&token).await.unwrap();
    assert_eq!(proxy.count("/api/v1/auth/validate"), 1, "the answer is remembered");

    let (status, _) = server.post("/auth/logout", json!({}), Some(&token)).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(refused(checking.verify(&token).await), TokenRejection::SessionRevoked);
    // A signature cannot show a revocation: that is what the check is for.
    assert!(offline.verify(&token).await.is_ok());
    server.stop().await;
}

#[tokio::test]
async fn known_keys_keep_working_while_the_server_is_away_and_unknown_ones_are_unavailable() {
    let server = TestServer::start().await;
    let token = token_of(&server.sign_in("ada@example.com").await);
    let mut config = Config::new(&server.base);
    config.refetch_interval = Duration::ZERO;
    let verifier = Verifier::new(config.clone());
    verifier.verify(&token).await.unwrap();
    server.stop().await;
    assert!(verifier.verify(&token).await.is_ok(), "the cached keys still verify");
    let cold = Verifier::new(config);
    assert!(matches!(cold.verify(&token).await, Err(VerifyError::Unavailable(_))));
}

#[tokio::test]
async fn the_layer_and_the_extractor_answer_in_the_servers_error_shape() {
    let server = TestServer::start().await;
    let verifier = Verifier::new(Config::new(&server.base));
    let whoami = |Authenticated(claims): Authenticated| async move { claims.email };
    let guarded = Router::new().route("/me", get(whoami)).layer(RequireToken::new(verifier.clone()));
    let optional = Router::new().route("/maybe", get(whoami)).layer(axum::Extension(verifier));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, guarded.merge(optional)).await.unwrap() });

    let token = token_of(&server.sign_in("ada@example.com").await);
    let http = reqwest::Client::new();
    for path in ["/me", "/maybe"] {
        let ok = http.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "ada@example.com");

        let missing = http.get(format!("{base}{path}")).header("x-request-id", "req-1").send().await.unwrap();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.headers()["www-authenticate"], "Bearer");
        let body: Value = missing.json().await.unwrap();
        assert_eq!((body["statusCode"].as_u64(), body["code"].as_str()), (Some(401), Some("missing_token")));
        assert_eq!(body["requestId"], "req-1");

        let forged = edited(&token, 1, |claims| claims["role"] = json!("admin"));
        let refused = http.get(format!("{base}{path}")).bearer_auth(&forged).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        assert_eq!(refused.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "invalid_token");
        assert!(!body.to_string().contains("invalid_signature"), "the reason stays in this service's logs: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_example_service_answers_with_the_caller_of_a_valid_token() {
    let server = TestServer::start().await;
    let example =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/examples/protected_api");
    let example = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| std::path::PathBuf::from(dir).join("debug/examples/protected_api"))
        .unwrap_or(example);
    // `cargo test` builds the examples (unless tests are picked with --test).
    assert!(example.exists(), "build it with cargo build -p mana-verify --examples: {}", example.display());
    let address = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let _service = tokio::process::Command::new(example)
        .env("MANA_AUTH_URL", &server.base)
        .env("PROTECTED_API_ADDR", address.to_string())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let login = server.sign_in("ada@example.com").await;
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let me = loop {
        match http.get(format!("http://{address}/me")).bearer_auth(token_of(&login)).send().await {
            Ok(response) => break response,
            Err(_) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(error) => panic!("the example did not answer: {error}"),
        }
    };
    assert_eq!(me.status(), 200);
    let body: Value = me.json().await.unwrap();
    assert_eq!(
        (body["email"].as_str(), body["userId"].as_str()),
        (Some("ada@example.com"), login["user"]["id"].as_str())
    );
    let anonymous = http.get(format!("http://{address}/me")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    server.stop().await;
}
