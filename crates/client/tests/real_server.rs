//! The client against the real server binary (SQLite, started per test): sign-up to spend,
//! sessions kept in a file, one refresh for many callers, a real expiry answered with
//! `token_expired`, a spend whose answer was lost, and every kind of error.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use mana_client::{Client, ClientError, FileStore, MemoryStore, SignIn, TokenStore};
use mana_proto::{ErrorCode, RegisterRequest, UseCreditsRequest, VerifyEmailRequest};
use mana_test_server::{CountingProxy, TestServer};

const PASSWORD: &str = "a passphrase for the client tests";

fn register(email: &str) -> RegisterRequest {
    RegisterRequest { email: email.into(), password: PASSWORD.into(), name: Some("Ada".into()) }
}

fn spend(amount: i64, key: Option<&str>) -> UseCreditsRequest {
    UseCreditsRequest {
        amount: Some(amount),
        app_id: "chat".into(),
        description: "an answer".into(),
        idempotency_key: key.map(str::to_owned),
        metadata: None,
    }
}

async fn signed_in(client: &Client, email: &str) {
    client.register(&register(email)).await.unwrap();
    assert!(matches!(client.sign_in(email, PASSWORD).await.unwrap(), SignIn::Session(_)));
}

fn api_code<T: std::fmt::Debug>(outcome: Result<T, ClientError>) -> ErrorCode {
    match outcome {
        Err(ClientError::Api(error)) => error.code,
        other => panic!("expected a refusal of the server, got {other:?}"),
    }
}

#[tokio::test]
async fn sign_up_to_spend_with_the_session_in_a_file() {
    let server = TestServer::start().await;
    let file = server.dir.join("session.json");
    let client = Client::builder(&server.base).store(FileStore::new(&file)).build();
    signed_in(&client, "ada@example.com").await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(client.me().await.unwrap().email, "ada@example.com");
    let before = client.balance().await.unwrap();
    let first = client.use_credits(spend(3, Some("answer-1"))).await.unwrap();
    let again = client.use_credits(spend(3, Some("answer-1"))).await.unwrap();
    assert_eq!(first.transaction.id, again.transaction.id, "one key, one spend");
    assert_eq!(client.balance().await.unwrap().total_spent - before.total_spent, 3);

    // Another process with the same file has the same session.
    let later = Client::builder(&server.base).store(FileStore::new(&file)).build();
    assert_eq!(later.me().await.unwrap().email, "ada@example.com");
    let token = later.access_token().await.unwrap();
    later.sign_out().await.unwrap();
    assert!(FileStore::new(&file).load().await.unwrap().is_none());
    assert!(!client.validate(&token).await.unwrap().valid, "signed out on the server too");
    server.stop().await;
}

#[tokio::test]
async fn ten_callers_with_a_due_token_make_one_refresh_stored_before_they_go_on() {
    let server = TestServer::start_with(&[("ACCESS_TOKEN_TTL_SECONDS", "60")]).await;
    let proxy = CountingProxy::start(&server.base).await;
    // Due a second after each refresh: a 60 s lifetime, a 59 s margin.
    let client = Client::builder(&proxy.base).refresh_margin(Duration::from_secs(59)).build();
    signed_in(&client, "ada@example.com").await;
    let first = client.access_token().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let calls = (0..10).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.access_token().await.unwrap() })
    });
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap());
    }
    assert_eq!(proxy.count("/api/v1/auth/refresh"), 1);
    assert!(tokens.iter().all(|t| *t == tokens[0]) && tokens[0] != first);
    assert_eq!(client.session().await.unwrap().unwrap().access_token, tokens[0], "stored");
    server.stop().await;
}

#[tokio::test]
async fn a_token_the_server_finds_expired_is_refreshed_and_the_call_sent_again() {
    let server = TestServer::start_with(&[("ACCESS_TOKEN_TTL_SECONDS", "60"), ("JWT_LEEWAY_SECONDS", "0")]).await;
    let proxy = CountingProxy::start(&server.base).await;
    let store = std::sync::Arc::new(MemoryStore::new());
    let client = Client::builder(&proxy.base).store(SharedStore(store.clone())).build();
    signed_in(&client, "ada@example.com").await;
    // The client's clock says the token has an hour left; the server's says it expired.
    tokio::time::sleep(Duration::from_millis(61_500)).await;
    let mut session = store.load().await.unwrap().unwrap();
    session.expires_at += 3600;
    store.save(&session).await.unwrap();
    assert!(client.balance().await.is_ok());
    assert_eq!(proxy.count("/api/v1/auth/refresh"), 1);
    assert_eq!(proxy.count("/api/v1/credits/balance"), 2, "refused once, then sent again");
    server.stop().await;
}

/// A store shared between the test and the client.
struct SharedStore(std::sync::Arc<MemoryStore>);

#[async_trait::async_trait]
impl TokenStore for SharedStore {
    async fn load(&self) -> mana_client::ClientResult<Option<mana_client::Session>> {
        self.0.load().await
    }
    async fn save(&self, session: &mana_client::Session) -> mana_client::ClientResult<()> {
        self.0.save(session).await
    }
    async fn clear(&self) -> mana_client::ClientResult<()> {
        self.0.clear().await
    }
}

#[tokio::test]
async fn a_spend_whose_answer_was_lost_is_sent_again_with_its_key_and_charged_once() {
    let server = TestServer::start().await;
    let proxy = CountingProxy::start(&server.base).await;
    let client = Client::new(&proxy.base);
    signed_in(&client, "ada@example.com").await;
    let before = client.balance().await.unwrap();
    proxy.refuse_once_after_forwarding("/api/v1/credits/use");
    client.use_credits(spend(2, None)).await.unwrap();
    assert_eq!(proxy.count("/api/v1/credits/use"), 2);
    assert_eq!(client.balance().await.unwrap().total_spent - before.total_spent, 2, "charged once");
    server.stop().await;
}

#[tokio::test]
async fn each_refusal_arrives_with_the_servers_code() {
    let server = TestServer::start().await;
    let client = Client::new(&server.base);
    signed_in(&client, "ada@example.com").await;

    assert_eq!(api_code(client.sign_in("ada@example.com", "not the password").await), ErrorCode::InvalidCredentials);
    let weak = client.register(&RegisterRequest { password: "short".into(), ..register("weak@example.com") }).await;
    match weak {
        Err(ClientError::Api(error)) => {
            assert_eq!((error.status, error.code), (400, ErrorCode::ValidationFailed));
            assert_eq!(error.field_errors[0].field, "password");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(api_code(client.register(&register("ada@example.com")).await), ErrorCode::EmailTaken);
    assert_eq!(api_code(client.use_credits(spend(1_000_000, None)).await), ErrorCode::InsufficientCredits);
    assert_eq!(api_code(client.purchase("00000000-0000-7000-8000-000000000000").await), ErrorCode::NotFound);
    assert_eq!(api_code(client.search_users(None, "newest", 10, 0).await), ErrorCode::Forbidden);
    assert_eq!(
        api_code(client.verify_second_factor("made-up", mana_client::SecondFactor::Totp("123456")).await),
        ErrorCode::InvalidMfaToken
    );
    assert_eq!(
        api_code(client.verify_email(&VerifyEmailRequest { token: "made-up".into() }).await),
        ErrorCode::InvalidLinkToken
    );

    // A changed access token in the store is refused by the server as invalid.
    let store = std::sync::Arc::new(MemoryStore::new());
    let forged = Client::builder(&server.base).store(SharedStore(store.clone())).build();
    assert!(matches!(forged.sign_in("ada@example.com", PASSWORD).await.unwrap(), SignIn::Session(_)));
    let mut session = store.load().await.unwrap().unwrap();
    session.access_token.truncate(session.access_token.len() - 4);
    session.access_token.push_str("AAAA");
    store.save(&session).await.unwrap();
    assert_eq!(api_code(forged.me().await), ErrorCode::InvalidToken);

    // Sessions ended elsewhere: the refresh token is refused and the store cleared.
    let due = Client::builder(&server.base).refresh_margin(Duration::from_secs(3600)).build();
    assert!(matches!(due.sign_in("ada@example.com", PASSWORD).await.unwrap(), SignIn::Session(_)));
    client.revoke_other_sessions().await.unwrap();
    assert_eq!(api_code(due.access_token().await), ErrorCode::InvalidRefreshToken);
    assert!(due.session().await.unwrap().is_none());

    client.sign_out().await.unwrap();
    assert_eq!(client.me().await.unwrap_err(), ClientError::NoSession);
    assert!(matches!(Client::new("http://127.0.0.1:9").packages().await, Err(ClientError::Network(_))));
    server.stop().await;
}

#[tokio::test]
async fn an_administrator_uses_the_admin_endpoints() {
    let server = TestServer::start().await;
    let admin = Client::new(&server.base);
    signed_in(&admin, "root@example.com").await;
    server.promote("root@example.com").await;
    admin.sign_out().await.unwrap();
    assert!(matches!(admin.sign_in("root@example.com", PASSWORD).await.unwrap(), SignIn::Session(_)));
    let user = Client::new(&server.base);
    signed_in(&user, "grace@example.com").await;
    let id = user.me().await.unwrap().id;

    let found = admin.search_users(Some("grace"), "email", 10, 0).await.unwrap();
    assert_eq!(found.users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    let request =
        mana_proto::AdjustCreditsRequest { amount: Some(40), reason: "support gesture".into(), idempotency_key: None };
    assert_eq!(admin.adjust_credits(&id, request).await.unwrap().transaction.amount, 40);
    assert!(admin.user_detail(&id).await.unwrap().balance.total_earned >= 40);
    assert!(admin.verify_ledger().await.unwrap().ok);
    admin.lock_user(&id).await.unwrap();
    assert_eq!(api_code(user.me().await), ErrorCode::InvalidToken, "locking ends the user's sessions");
    admin.unlock_user(&id).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn the_quick_start_example_runs_and_is_the_readmes() {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(manifest.join("README.md")).unwrap();
    let example = std::fs::read_to_string(manifest.join("examples/quickstart.rs")).unwrap();
    let block = readme.split("```rust\n").nth(1).unwrap().split("```").next().unwrap();
    let squeeze = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        assert!(squeeze(&example).contains(&squeeze(line)), "the README's line is not in the example: {line}");
    }

    let server = TestServer::start().await;
    let binary = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"))
        .join("debug/examples/quickstart");
    assert!(binary.exists(), "cargo test builds the examples: {}", binary.display());
    let run = tokio::process::Command::new(binary)
        .env("MANA_AUTH_URL", &server.base)
        .current_dir(&server.dir)
        .output()
        .await
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).starts_with("spent 5; "), "{}", String::from_utf8_lossy(&run.stdout));
    assert!(!server.dir.join("session.json").exists(), "signed out: the session file is gone");
    server.stop().await;
}
