//! A service of its own that accepts the access tokens of a mana-core-auth server.
//!
//! ```sh
//! cargo run -- serve                                       # the auth server, on 127.0.0.1:3001
//! cargo run -p mana-verify --example protected_api         # this service, on 127.0.0.1:4000
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:4000/me
//! ```
//!
//! `MANA_AUTH_URL` (default `http://127.0.0.1:3001`) says where the server is,
//! `PROTECTED_API_ADDR` (default `127.0.0.1:4000`) where this service listens, and
//! `MANA_AUTH_CHECK_REVOCATION=1` also asks it about each token's session (remembered 5 s).

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use mana_verify::{Authenticated, Config, RequireToken, Verifier};
use serde_json::{Value, json};

/// Who is calling, from the token alone: no call to the auth server (with its keys cached).
async fn me(Authenticated(claims): Authenticated) -> Json<Value> {
    Json(json!({"userId": claims.sub, "email": claims.email, "role": claims.role, "sessionId": claims.sid}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = std::env::var("MANA_AUTH_URL").unwrap_or_else(|_| "http://127.0.0.1:3001".into());
    let mut config = Config::new(server);
    if std::env::var("MANA_AUTH_CHECK_REVOCATION").is_ok_and(|v| v == "1") {
        config = config.check_revocation(Duration::from_secs(5));
    }
    let app = Router::new().route("/me", get(me)).layer(RequireToken::new(Verifier::new(config)));
    let address = std::env::var("PROTECTED_API_ADDR").unwrap_or_else(|_| "127.0.0.1:4000".into());
    let listener = tokio::net::TcpListener::bind(address).await?;
    println!("protected_api listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
