//! A standard JWT library, given only our discovery documents, verifies our tokens.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use mana_proto::{AccessTokenClaims, OpenIdConfiguration};

use crate::common::TestApp;

#[tokio::test]
async fn a_standard_library_verifies_tokens_with_the_published_keys() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("jwks@example.com").await;

    let discovery: OpenIdConfiguration =
        app.http.get(app.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(discovery.issuer, "https://auth.mana.test");
    assert_eq!(discovery.id_token_signing_alg_values_supported, ["RS256"]);
    // The deployment's public URL is configured, not the test's port, so fetch by path.
    let jwks_path =
        discovery.jwks_uri.split_once("/.well-known").map(|(_, rest)| format!("/.well-known{rest}")).unwrap();
    let jwks: JwkSet = app.http.get(app.url(&jwks_path)).send().await.unwrap().json().await.unwrap();

    let kid = decode_header(&tokens.access_token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the signing key is published");
    assert_eq!(jwk.common.key_id.as_deref(), Some("test-key"));
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[discovery.issuer.as_str()]);
    validation.set_audience(&["mana-apps"]);
    let verified = decode::<AccessTokenClaims>(&tokens.access_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the token verifies with the published key");
    assert_eq!(verified.claims.sub, tokens.user.id);
}

#[tokio::test]
async fn published_keys_say_how_they_may_be_used() {
    let app = TestApp::spawn().await;
    for path in ["/.well-known/jwks.json", "/api/v1/.well-known/jwks.json"] {
        let jwks: serde_json::Value = app.http.get(app.url(path)).send().await.unwrap().json().await.unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kid"], "test-key");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kty"], "RSA");
        assert!(key.get("d").is_none(), "no private material");
    }
}
