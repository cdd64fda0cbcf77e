//! Every way we know to forge or misuse an access token, each refused by `/auth/validate` and
//! by Bearer-protected routes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mana_core::tokens::{AccessTokenSettings, AccessTokens, KeyAlgorithm, KeyRing};
use mana_proto::AccessTokenClaims;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, expect_error, shared_rsa_pem, test_key};

pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Checks that the forged token is refused for `reason`, both by validate and at a Bearer route.
async fn assert_refused(app: &TestApp, token: &str, reason: &str) {
    assert_eq!(app.validate(token).await, json!({"valid": false, "error": reason}));
    expect_error(app.logout_with_bearer(token).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

/// Real claims of a live session, to be re-signed or tampered with.
async fn live_claims(app: &TestApp) -> AccessTokenClaims {
    let tokens = app.signed_in("victim@example.com").await;
    serde_json::from_value(claims_of(&tokens.access_token)).unwrap()
}

fn signer_with(app: &TestApp, keys: KeyRing, issuer: &str, audience: &str) -> AccessTokens {
    let settings = app.state.auth().tokens().settings();
    AccessTokens::new(
        keys,
        AccessTokenSettings {
            issuer: issuer.into(),
            audience: audience.into(),
            ttl: settings.ttl,
            leeway: settings.leeway,
        },
    )
}

#[tokio::test]
async fn alg_none_is_refused() {
    let app = TestApp::spawn().await;
    let claims = serde_json::to_value(live_claims(&app).await).unwrap();
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": "test-key"});
        let token = format!("{}.{}.", b64(&header), b64(&claims));
        assert_refused(&app, &token, "wrong_algorithm").await;
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let app = TestApp::spawn().await;
    let claims = live_claims(&app).await;
    let jwks: Value = app.http.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
    let jwk = jwks["keys"][0].clone();
    let modulus = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    // The classic confusion attack: the published key used as an HMAC secret, in the forms an
    // attacker would try.
    for secret in [jwk.to_string().into_bytes(), modulus] {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = Some("test-key".into());
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        assert_refused(&app, &token, "wrong_algorithm").await;
    }
}

#[tokio::test]
async fn a_token_with_extra_or_missing_parts_is_refused() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("parts@example.com").await;
    let token = tokens.access_token;
    for broken in [format!("{token}.extra"), token.rsplit_once('.').unwrap().0.to_owned(), format!("{token}!")] {
        let verdict = app.validate(&broken).await;
        assert_eq!(verdict["valid"], false, "{broken}");
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let app = TestApp::spawn().await;
    let claims = live_claims(&app).await;
    let stranger = signer_with(
        &app,
        KeyRing::new(vec![test_key(KeyAlgorithm::Rs256, "other-key", 1)]).unwrap(),
        "https://auth.mana.test",
        "mana-apps",
    );
    assert_refused(&app, &stranger.sign(&claims).unwrap(), "unknown_key").await;
}

#[tokio::test]
async fn a_token_without_kid_is_refused() {
    let app = TestApp::spawn().await;
    let claims = live_claims(&app).await;
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    let key = EncodingKey::from_rsa_pem(shared_rsa_pem().as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    assert_refused(&app, &token, "unknown_key").await;
}

#[tokio::test]
async fn a_different_key_claiming_our_kid_is_refused() {
    let app = TestApp::spawn().await;
    let claims = live_claims(&app).await;
    let impostor = KeyRing::new(vec![test_key(KeyAlgorithm::EdDsa, "test-key", 1)]).unwrap();
    let forged = signer_with(&app, impostor, "https://auth.mana.test", "mana-apps").sign(&claims).unwrap();
    assert_refused(&app, &forged, "wrong_algorithm").await;
    let (rsa_impostor, _) = mana_core::tokens::SigningKey::generate(KeyAlgorithm::Rs256, "test-key".into(), 1).unwrap();
    let forged = signer_with(&app, KeyRing::new(vec![rsa_impostor]).unwrap(), "https://auth.mana.test", "mana-apps")
        .sign(&claims)
        .unwrap();
    assert_refused(&app, &forged, "invalid_signature").await;
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("tamper@example.com").await;
    let mut claims = claims_of(&tokens.access_token);
    claims["role"] = json!("admin");
    let parts: Vec<&str> = tokens.access_token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_refused(&app, &forged, "invalid_signature").await;
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let app = TestApp::spawn().await;
    let mut claims = live_claims(&app).await;
    claims.iss = "https://evil.example".into();
    assert_refused(&app, &app.state.auth().tokens().sign(&claims).unwrap(), "invalid_issuer").await;
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let app = TestApp::spawn().await;
    let mut claims = live_claims(&app).await;
    claims.aud = "some-other-service".into();
    let signer = app.state.auth().tokens();
    assert_refused(&app, &signer.sign(&claims).unwrap(), "invalid_audience").await;
}

#[tokio::test]
async fn a_token_of_another_type_is_refused() {
    let app = TestApp::spawn().await;
    let claims = live_claims(&app).await;
    let key = EncodingKey::from_rsa_pem(shared_rsa_pem().as_bytes()).unwrap();
    for typ in [Some("JWT"), None] {
        let mut header = Header::new(Algorithm::RS256);
        header.typ = typ.map(String::from);
        header.kid = Some("test-key".into());
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        assert_refused(&app, &token, "wrong_token_type").await;
    }
}

#[tokio::test]
async fn an_expired_token_is_refused_with_its_own_code_so_clients_know_to_refresh() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("late@example.com").await;
    app.advance(Duration::minutes(16));
    assert_eq!(app.validate(&tokens.access_token).await, json!({"valid": false, "error": "token_expired"}));
    let response = app.http.get(app.api("/credits/balance")).bearer_auth(&tokens.access_token).send().await.unwrap();
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains("invalid_token") && challenge.contains("expired"), "{challenge}");
    expect_error(response, StatusCode::UNAUTHORIZED, "token_expired").await;
}

/// Our own key signing a header and claims of the test's choosing.
fn signed_raw(header: &Value, claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(shared_rsa_pem().as_bytes()).unwrap();
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{message}.{signature}")
}

#[tokio::test]
async fn a_token_not_valid_before_a_future_time_is_refused() {
    let app = TestApp::spawn().await;
    let mut claims = serde_json::to_value(live_claims(&app).await).unwrap();
    claims["nbf"] = json!(claims["iat"].as_i64().unwrap() + 3600);
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "test-key"});
    assert_refused(&app, &signed_raw(&header, &claims), "token_not_yet_valid").await;
}

#[tokio::test]
async fn a_critical_header_the_verifier_does_not_understand_is_refused() {
    let app = TestApp::spawn().await;
    let claims = serde_json::to_value(live_claims(&app).await).unwrap();
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "test-key", "crit": ["b64"], "b64": false});
    assert_refused(&app, &signed_raw(&header, &claims), "unsupported_critical_header").await;
    // The same claims and key without `crit` are accepted: the refusal is about the header.
    let plain = json!({"alg": "RS256", "typ": "at+jwt", "kid": "test-key"});
    assert_eq!(app.validate(&signed_raw(&plain, &claims)).await["valid"], true);
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let app = TestApp::spawn().await;
    let mut claims = live_claims(&app).await;
    claims.iat += 3600;
    claims.exp += 3600;
    assert_refused(&app, &app.state.auth().tokens().sign(&claims).unwrap(), "token_not_yet_valid").await;
}

#[tokio::test]
async fn a_token_naming_a_session_of_another_user_is_refused() {
    let app = TestApp::spawn().await;
    let mut claims = live_claims(&app).await;
    let other = app.signed_in("other@example.com").await;
    claims.sid = claims_of(&other.access_token)["sid"].as_str().unwrap().into();
    assert_refused(&app, &app.state.auth().tokens().sign(&claims).unwrap(), "malformed_token").await;
}

#[tokio::test]
async fn eddsa_and_es256_keys_can_be_selected() {
    for (algorithm, name) in [(KeyAlgorithm::EdDsa, "EdDSA"), (KeyAlgorithm::Es256, "ES256")] {
        let app = TestApp::spawn_with(&[("JWT_ALGORITHM", name)], None).await;
        let tokens = app.signed_in("curves@example.com").await;
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(tokens.access_token.split('.').next().unwrap()).unwrap())
                .unwrap();
        assert_eq!(header["alg"], algorithm.jwt_name());
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(app.validate(&tokens.access_token).await["valid"], true);
    }
}

#[tokio::test]
async fn tokens_signed_by_an_older_published_key_stay_valid_after_rotation() {
    // The RSA test key is the same on every call, so the ring used to sign below holds the very
    // key the server publishes as "100-old".
    let old = test_key(KeyAlgorithm::Rs256, "100-old", 100);
    let new = test_key(KeyAlgorithm::EdDsa, "200-new", 200);
    let old_only = KeyRing::new(vec![test_key(KeyAlgorithm::Rs256, "100-old", 100)]).unwrap();
    let app = TestApp::spawn_with(&[], Some(KeyRing::new(vec![old, new]).unwrap())).await;

    let tokens = app.signed_in("rotation@example.com").await;
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(tokens.access_token.split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header["kid"], "200-new", "the newest key signs");

    // The same session's claims, as the previous key would have signed them before rotation.
    let claims: AccessTokenClaims = serde_json::from_value(claims_of(&tokens.access_token)).unwrap();
    let by_old_key = signer_with(&app, old_only, "https://auth.mana.test", "mana-apps").sign(&claims).unwrap();
    assert_eq!(app.validate(&by_old_key).await["valid"], true);
}
