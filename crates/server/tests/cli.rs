//! The binary as an operator meets it: each test runs `mana-core-auth` in an empty directory
//! with a clean environment.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mana-core-auth");

fn empty_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mana-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command.args(args).current_dir(dir).env_clear().envs(env.iter().copied());
    command
}

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn help_explains_every_subcommand() {
    let output = run(&empty_dir(), &["--help"], &[]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for subcommand in ["serve", "migrate", "keys", "healthcheck", "prune", "packages", "users"] {
        assert!(help.contains(subcommand), "{subcommand} missing from:\n{help}");
    }
    let keys_help = text(&run(&empty_dir(), &["keys", "generate", "--help"], &[]).stdout);
    assert!(keys_help.contains("0600"), "{keys_help}");
}

#[test]
fn keys_generate_writes_a_private_key_only_its_owner_can_read() {
    let dir = empty_dir();
    let output = run(&dir, &["keys", "generate", "--dir", "keys", "--algorithm", "EdDSA"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let files: Vec<_> = std::fs::read_dir(dir.join("keys")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1);
    assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
    let pem = std::fs::read_to_string(&files[0]).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!text(&output.stdout).contains("PRIVATE"), "key material is never printed");

    // KEYS_DIR is the default directory.
    let output = run(&dir, &["keys", "generate"], &[("KEYS_DIR", "from-env")]);
    assert!(output.status.success());
    assert_eq!(std::fs::read_dir(dir.join("from-env")).unwrap().count(), 1);
}

#[test]
fn a_bad_database_url_is_named_without_a_panic_or_its_password() {
    let output = run(&empty_dir(), &["serve"], &[("DATABASE_URL", "mysql://root:hunter2@db/mana")]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
}

#[test]
fn an_unreachable_database_is_named() {
    let port = free_port().to_string();
    let url = format!("postgres://postgres@127.0.0.1:{port}/nothing");
    let output = run(&empty_dir(), &["migrate"], &[("DATABASE_URL", url.as_str())]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    // The cause, at once, rather than "pool timed out while waiting for an open connection".
    assert!(stderr.contains(&format!("DATABASE_URL: PostgreSQL postgres@127.0.0.1:{port}/nothing")), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
}

#[test]
fn a_missing_database_is_named_once_without_the_password() {
    let Ok(server) = std::env::var("TEST_DATABASE_URL") else {
        // Only the PostgreSQL run of the suite has a server to ask.
        return;
    };
    let base = server.rsplit_once('/').unwrap().0;
    let url = format!("{base}/no_such_database_here");
    let output = run(&empty_dir(), &["migrate"], &[("DATABASE_URL", url.as_str())]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert_eq!(stderr.matches("does not exist").count(), 1, "said once: {stderr}");
    assert!(stderr.contains("no_such_database_here"), "{stderr}");
}

#[test]
fn an_unusable_key_file_is_named() {
    let dir = empty_dir();
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/1700000000-bad.pem"), "not a key").unwrap();
    let output = run(&dir, &["serve"], &[("KEYS_DIR", "keys"), ("LISTEN_ADDR", "127.0.0.1:0")]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("KEYS_DIR"), "{stderr}");
    assert!(stderr.contains("1700000000-bad.pem"), "{stderr}");
}

#[test]
fn production_refuses_to_start_without_a_signing_key() {
    let output = run(&empty_dir(), &["serve"], &[("ENVIRONMENT", "production"), ("LISTEN_ADDR", "127.0.0.1:0")]);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("KEYS_DIR") && stderr.contains("keys generate"), "{stderr}");
}

#[test]
fn production_refuses_to_start_without_an_smtp_relay() {
    let dir = empty_dir();
    let generated = run(&dir, &["keys", "generate", "--dir", "keys", "--algorithm", "EdDSA"], &[]);
    assert!(generated.status.success(), "{}", text(&generated.stderr));
    let env = [("ENVIRONMENT", "production"), ("KEYS_DIR", "keys"), ("LISTEN_ADDR", "127.0.0.1:0")];
    let output = run(&dir, &["serve"], &env);
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("SMTP_URL") && stderr.contains("required in production"), "{stderr}");
}

#[test]
fn migrate_prepares_a_fresh_database() {
    let dir = empty_dir();
    let output = run(&dir, &["migrate"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("migrations applied (sqlite)"));
    assert!(dir.join("data/mana.db").exists());
}

#[test]
fn healthcheck_fails_when_nothing_answers() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let output = run(&empty_dir(), &["healthcheck", "--url", &url], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("no answer"));
}

/// Runs `serve` until it answers `healthcheck`, then sends SIGTERM (as a container runtime
/// does); returns whether it became healthy, whether it exited 0, and everything it printed.
fn serve_once(dir: &Path, env: &[(&str, &str)]) -> (bool, bool, String) {
    let listen = env.iter().find(|(name, _)| *name == "LISTEN_ADDR").expect("LISTEN_ADDR is given").1;
    let server = command(dir, &["serve"], env).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthy = loop {
        if run(dir, &["healthcheck"], &[("LISTEN_ADDR", listen)]).status.success() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
    let output = server.wait_with_output().unwrap();
    (healthy, output.status.success(), text(&output.stdout) + &text(&output.stderr))
}

/// `serve` with no configuration at all: SQLite under ./data, a development key, migrations
/// applied, a start-up summary; `healthcheck` sees it; SIGTERM stops it cleanly.
#[test]
fn serve_starts_with_no_configuration_and_stops_on_sigterm() {
    let dir = empty_dir();
    let listen = format!("127.0.0.1:{}", free_port());
    let (healthy, exited_cleanly, logs) = serve_once(&dir, &[("LISTEN_ADDR", listen.as_str()), ("BCRYPT_COST", "4")]);
    assert!(healthy, "the server never answered /health:\n{logs}");
    assert!(exited_cleanly, "graceful shutdown exits 0:\n{logs}");
    assert!(dir.join("data/mana.db").exists());
    let keys: Vec<_> = std::fs::read_dir(dir.join("data/keys")).unwrap().collect();
    assert_eq!(keys.len(), 1, "one development key");
    let kid = keys[0].as_ref().unwrap().path().file_stem().unwrap().to_string_lossy().into_owned();
    // The start-up summary: where to go, where the data and keys are, what mode it is in.
    for expected in [
        format!("listening on http://{listen} (API reference: http://{listen}/docs)"),
        "environment development; database: SQLite at ./data/mana.db".to_owned(),
        format!("signing keys: ./data/keys (1 published), signing with {kid} (RS256)"),
        "rate limits: counted in this process".to_owned(),
        "DEVELOPMENT MODE".to_owned(),
    ] {
        assert!(logs.contains(&expected), "{expected:?} missing from:\n{logs}");
    }
    // Output to a pipe is plain text.
    assert!(!logs.contains('\u{1b}'), "no colour codes outside a terminal:\n{logs}");
}

/// The development-mode warning is given on every start, not only when the key is made.
#[test]
fn every_development_start_warns() {
    let dir = empty_dir();
    for _ in 0..2 {
        let listen = format!("127.0.0.1:{}", free_port());
        let (healthy, _, logs) = serve_once(&dir, &[("LISTEN_ADDR", listen.as_str())]);
        assert!(healthy && logs.contains("DEVELOPMENT MODE"), "{logs}");
    }
}

/// Connected as a superuser, the service would not be held to row-level security: it says so.
#[test]
fn a_database_role_that_bypasses_row_level_security_is_warned_about() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        // Only the PostgreSQL run of the suite has a server to ask.
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_store, owner_url) = runtime.block_on(mana_store_postgres::testing::fresh_database(1)).unwrap();
    let database = owner_url.rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    let admin = mana_store_postgres::testing::admin_url();
    let superuser_url = format!("{}/{database}", admin.rsplit_once('/').unwrap().0);
    let dir = empty_dir();
    for (url, warned) in [(superuser_url.as_str(), true), (owner_url.as_str(), false)] {
        let listen = format!("127.0.0.1:{}", free_port());
        let (healthy, _, logs) = serve_once(&dir, &[("LISTEN_ADDR", listen.as_str()), ("DATABASE_URL", url)]);
        assert!(healthy, "{logs}");
        assert_eq!(logs.contains("row-level security does not apply"), warned, "{logs}");
        assert!(logs.contains(&format!("/{database}")), "the summary names the database: {logs}");
    }
}

fn database_with_user(dir: &Path, email: &str) -> String {
    let url = format!("sqlite://{}/ledger.db", dir.display());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let backend = mana_server::storage::Backend::open(&url, 1, false).await.unwrap();
        backend.migrate().await.unwrap();
        let policy = mana_core::credits::CreditPolicy::default();
        let user = mana_store_conformance::new_user_with(email, &policy, chrono::Utc::now());
        backend.store().create_user(user).await.unwrap();
    });
    url
}

#[test]
fn credits_grant_adds_paid_credits_and_the_ledger_still_verifies() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "support@example.com");
    let env = [("DATABASE_URL", url.as_str())];
    let output = run(
        &dir,
        &["credits", "grant", "--email", "Support@Example.com", "--amount", "250", "--reason", "goodwill"],
        &env,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("paid balance now 250"), "{}", text(&output.stdout));

    let verify = run(&dir, &["ledger", "verify"], &env);
    assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
    assert!(text(&verify.stdout).contains("ledger verified"));
}

#[test]
fn prune_deletes_what_served_its_purpose_and_keeps_the_ledger_whole() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "pruned@example.com");
    let env = [("DATABASE_URL", url.as_str()), ("SECURITY_EVENT_RETENTION_DAYS", "1")];
    let output = run(&dir, &["prune"], &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("security events older than 1 days"), "{}", text(&output.stdout));
    let verify = run(&dir, &["ledger", "verify"], &env);
    assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
    let unmigrated = run(&empty_dir(), &["prune"], &[]);
    assert!(!unmigrated.status.success());
    assert!(text(&unmigrated.stderr).contains("migrate"), "{}", text(&unmigrated.stderr));
}

#[test]
fn serve_prunes_on_its_timer() {
    let dir = empty_dir();
    let (mut server, base) = start_server(&dir, &[("PRUNE_INTERVAL_SECONDS", "1"), ("BCRYPT_COST", "4")]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let remaining = runtime.block_on(async {
        // A session that ends leaves its refresh tokens, and the welcome email, once delivered,
        // its outbox row: both are what a prune removes.
        let http = reqwest::Client::new();
        let body = serde_json::json!({"email": "timer@example.com", "password": "correct horse battery"});
        let registered = http.post(format!("{base}/api/v1/auth/register")).json(&body).send().await.unwrap();
        assert_eq!(registered.status(), 201);
        let login: serde_json::Value =
            http.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.unwrap().json().await.unwrap();
        let refresh = serde_json::json!({"refreshToken": login["refreshToken"]});
        let logout = http.post(format!("{base}/api/v1/auth/logout")).json(&refresh).send().await.unwrap();
        assert_eq!(logout.status(), 200);

        let database = format!("sqlite://{}", dir.join("data/mana.db").display());
        let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&database).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let count = |table: &str| format!("SELECT count(*) FROM {table}");
            let tokens: i64 = sqlx::query_scalar(&count("refresh_tokens")).fetch_one(&mut db).await.unwrap();
            let emails: i64 = sqlx::query_scalar(&count("email_outbox")).fetch_one(&mut db).await.unwrap();
            if (tokens, emails) == (0, 0) || Instant::now() > deadline {
                return (tokens, emails);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let _ = Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
    server.wait().unwrap();
    assert_eq!(remaining, (0, 0), "refresh tokens of the ended session and the delivered email were pruned");
    let delivered = std::fs::read_dir(dir.join("data/mail")).unwrap().count();
    assert_eq!(delivered, 1, "the email was delivered before its row went");
}

#[test]
fn packages_are_listed_added_changed_and_withdrawn() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "buyer@example.com");
    let env = [("DATABASE_URL", url.as_str())];
    let listed = run(&dir, &["packages", "list"], &env);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listing = text(&listed.stdout);
    assert!(listing.contains("standard") && listing.contains("1100"), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with("standard") && l.contains(" 100 ")), "bonus shown: {listing}");

    let add = ["packages", "upsert", "--id", "mega", "--name", "Mega", "--credits", "15000", "--price-cents", "10000"];
    let added = run(&dir, &add, &env);
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(text(&added.stdout).contains("15000 credits for 100.00 EUR (on sale)"), "{}", text(&added.stdout));
    let mut change = add.to_vec();
    change[7] = "16000";
    assert!(run(&dir, &change, &env).status.success());
    let listing = text(&run(&dir, &["packages", "list"], &env).stdout);
    assert!(listing.lines().any(|l| l.starts_with("mega") && l.contains("16000") && l.contains("yes")), "{listing}");

    let withdrawn = run(&dir, &["packages", "deactivate", "--id", "mega"], &env);
    assert!(withdrawn.status.success(), "{}", text(&withdrawn.stderr));
    let listing = text(&run(&dir, &["packages", "list"], &env).stdout);
    assert!(listing.lines().any(|l| l.starts_with("mega") && l.contains(" no ")), "{listing}");
    let unknown = run(&dir, &["packages", "deactivate", "--id", "nothing"], &env);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no package has the id"), "{}", text(&unknown.stderr));
}

#[test]
fn packages_upsert_names_every_bad_option() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "buyer@example.com");
    let bad = [
        "packages",
        "upsert",
        "--id",
        "Bad Id",
        "--name",
        "x",
        "--credits",
        "0",
        "--price-cents",
        "-1",
        "--currency",
        "euro",
    ];
    let output = run(&dir, &bad, &[("DATABASE_URL", url.as_str())]);
    assert!(!output.status.success());
    let error = text(&output.stderr);
    for option in ["--id", "--credits", "--price-cents", "--currency"] {
        assert!(error.contains(option), "{option} named in: {error}");
    }
    assert!(!error.contains("panicked"), "{error}");
}

#[test]
fn credits_grant_refuses_bad_input_with_a_clear_message() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "someone@example.com");
    let env = [("DATABASE_URL", url.as_str())];
    let zero =
        run(&dir, &["credits", "grant", "--email", "someone@example.com", "--amount", "0", "--reason", "x"], &env);
    assert!(!zero.status.success());
    assert!(text(&zero.stderr).contains("--amount"), "{}", text(&zero.stderr));
    let negative =
        run(&dir, &["credits", "grant", "--email", "someone@example.com", "--amount", "-5", "--reason", "x"], &env);
    assert!(!negative.status.success());
    let unknown =
        run(&dir, &["credits", "grant", "--email", "nobody@example.com", "--amount", "5", "--reason", "x"], &env);
    assert!(text(&unknown.stderr).contains("no active user"), "{}", text(&unknown.stderr));
    let no_reason =
        run(&dir, &["credits", "grant", "--email", "someone@example.com", "--amount", "5", "--reason", " "], &env);
    assert!(text(&no_reason.stderr).contains("--reason"), "{}", text(&no_reason.stderr));
}

#[test]
fn ledger_verify_reports_a_tampered_balance_and_fails() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "victim@example.com");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE credit_balances SET paid = paid + 1000").execute(&mut connection).await.unwrap();
    });
    let output = run(&dir, &["ledger", "verify"], &[("DATABASE_URL", url.as_str())]);
    assert_eq!(output.status.code(), Some(1));
    let report = text(&output.stdout);
    assert!(report.contains("VIOLATION") && report.contains("cached paid balance 1000"), "{report}");
    assert!(text(&output.stderr).contains("violation"), "{}", text(&output.stderr));
}

#[test]
fn ledger_verify_wants_a_migrated_database() {
    let dir = empty_dir();
    let output = run(&dir, &["ledger", "verify"], &[]);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("mana-core-auth migrate"), "{}", text(&output.stderr));
}

/// Starts `serve` on a free port with `env` and waits for /health; returns it and its base URL.
fn start_server(dir: &Path, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all_env = vec![("LISTEN_ADDR", listen.as_str())];
    all_env.extend_from_slice(env);
    let server = command(dir, &["serve"], &all_env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run(dir, &["healthcheck", "--url", &format!("http://{listen}")], &[]).status.success() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, format!("http://{listen}"))
}

/// Registers a user, then sends a login (slow at this bcrypt cost) and SIGTERM while it runs.
/// Returns the login's status (None if it got no answer) and the server's exit status.
fn login_during_shutdown(dir: &Path, env: &[(&str, &str)]) -> (Option<u16>, std::process::ExitStatus) {
    let (mut server, base) = start_server(dir, env);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let status = runtime.block_on(async {
        let http = reqwest::Client::new();
        let body = serde_json::json!({"email": "late@example.com", "password": "correct horse battery"});
        let registered = http.post(format!("{base}/api/v1/auth/register")).json(&body).send().await.unwrap();
        assert_eq!(registered.status(), 201);
        let login = tokio::spawn(async move {
            http.post(format!("{base}/api/v1/auth/login")).json(&body).send().await.ok().map(|r| r.status().as_u16())
        });
        // The login is hashing now; ask the server to stop.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
        login.await.unwrap()
    });
    (status, server.wait().unwrap())
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let (login, exit) = login_during_shutdown(&empty_dir(), &[("BCRYPT_COST", "14")]);
    assert_eq!(login, Some(200), "the login that was running when SIGTERM came is answered");
    assert!(exit.success());
}

#[test]
fn the_shutdown_deadline_bounds_how_long_requests_may_hold_the_process() {
    let (login, exit) =
        login_during_shutdown(&empty_dir(), &[("BCRYPT_COST", "16"), ("SHUTDOWN_TIMEOUT_SECONDS", "0")]);
    assert_eq!(login, None, "the process exited without waiting for the slow login");
    assert!(exit.success());
}

#[test]
fn keys_rotate_adds_a_key_and_retires_only_keys_superseded_long_ago() {
    let dir = empty_dir();
    let keys = dir.join("keys");
    let day = 86_400;
    let now = chrono::Utc::now().timestamp();
    let ed = mana_core::tokens::KeyAlgorithm::EdDsa;
    let (oldest, _) = mana_server::keys::generate_key(&keys, ed, now - 10 * day).unwrap();
    let (previous, _) = mana_server::keys::generate_key(&keys, ed, now - 5 * day).unwrap();
    let (current, _) = mana_server::keys::generate_key(&keys, ed, now - 60).unwrap();

    let output = run(&dir, &["keys", "rotate", "--dir", "keys", "--algorithm", "EdDSA"], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    // `previous` was superseded 60 s ago: tokens it signed may still be valid.
    let published: Vec<String> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".pem"))
        .collect();
    let file = |kid: &str| format!("{kid}.pem");
    assert_eq!(published.len(), 3, "the new key, current and previous: {published:?}");
    assert!(published.contains(&file(previous.kid())) && published.contains(&file(current.kid())));
    assert!(!published.contains(&file(oldest.kid())));
    assert!(keys.join("retired").join(file(oldest.kid())).exists());
    assert!(stdout.contains(&format!("retired key {}", oldest.kid())), "{stdout}");
    assert!(stdout.contains("within KEYS_RELOAD_INTERVAL_SECONDS (or at once on SIGHUP)"), "{stdout}");
    // The published set still loads; the new key signs, the others still verify.
    let ring = mana_server::keys::load_key_ring(&keys).unwrap();
    assert!(![oldest.kid(), previous.kid(), current.kid()].contains(&ring.signing_key().kid()));
    assert!(ring.get(previous.kid()).is_some() && ring.get(current.kid()).is_some());
    assert!(ring.get(oldest.kid()).is_none());
}

/// A plain HTTP GET, enough for a test of the binary.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// `keys rotate` while the service runs: on SIGHUP it reads the key directory again, and the
/// new key is published (and signs) without a restart.
#[test]
fn sighup_makes_a_running_service_pick_up_a_rotated_key() {
    let dir = empty_dir();
    let listen = format!("127.0.0.1:{}", free_port());
    let env = [("LISTEN_ADDR", listen.as_str()), ("KEYS_RELOAD_INTERVAL_SECONDS", "0")];
    let server = command(&dir, &["serve"], &env).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !run(&dir, &["healthcheck"], &[("LISTEN_ADDR", listen.as_str())]).status.success() {
        assert!(Instant::now() < deadline, "the server never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = http_get(&listen, "/.well-known/jwks.json");
    assert_eq!(before.matches("\"kid\"").count(), 1, "{before}");
    let rotated = run(&dir, &["keys", "rotate", "--dir", "data/keys"], &[]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let _ = Command::new("kill").arg("-HUP").arg(server.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let jwks = http_get(&listen, "/.well-known/jwks.json");
        if jwks.matches("\"kid\"").count() == 2 || Instant::now() > deadline {
            break jwks;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
    let status = server.wait_with_output().unwrap().status;
    assert_eq!(after.matches("\"kid\"").count(), 2, "both keys published after SIGHUP: {after}");
    assert!(status.success(), "SIGHUP does not stop the service");
}

/// The server's top-level modules depend on each other in one direction only (no circle): an
/// HTTP layer that knows nothing of routes, routes that know the layer, and so on.
#[test]
fn the_server_modules_have_no_import_circle() {
    use std::collections::{BTreeMap, BTreeSet};
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut pending = vec![sources.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let relative = path.strip_prefix(&sources).unwrap().to_string_lossy().into_owned();
            let module = relative.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            for used in code.split("crate::").skip(1) {
                let name: String = used.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != module {
                    uses.entry(module.clone()).or_default().insert(name);
                }
            }
        }
    }
    fn reaches(uses: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
        uses.get(from)
            .into_iter()
            .flatten()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(uses, next, to, seen)))
    }
    for (module, used) in &uses {
        for other in used {
            assert!(
                !reaches(&uses, other, module, &mut BTreeSet::new()),
                "{module} and {other} import each other: {uses:?}"
            );
        }
    }
}

/// A database whose one user has 2FA on with `secret`, sealed under `key`.
fn database_with_two_factor(dir: &Path, key: &str, secret: &[u8]) -> (String, mana_core::ids::UserId) {
    let url = database_with_user(dir, "sealed@example.com");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let user = runtime.block_on(async {
        let backend = mana_server::storage::Backend::open(&url, 1, false).await.unwrap();
        let store = backend.store();
        let email = mana_core::email::Email::parse("sealed@example.com").unwrap();
        let user = store.find_credentials(&email).await.unwrap().unwrap().user.id;
        let sealer = mana_core::mfa::SecretBox::new(&mana_core::mfa::parse_keys(key).unwrap()).unwrap();
        let sealed = sealer.seal(secret, &mana_core::auth::totp_sealing_context(user));
        assert!(store.set_up_totp(user, &sealed, chrono::Utc::now()).await.unwrap());
        assert!(store.enable_totp(user, 1, &[], chrono::Utc::now()).await.unwrap());
        user
    });
    (url, user)
}

fn sealed_secret_of(url: &str, user: mana_core::ids::UserId) -> String {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let backend = mana_server::storage::Backend::open(url, 1, false).await.unwrap();
        backend.store().totp_factor(user).await.unwrap().unwrap().sealed_secret
    })
}

#[test]
fn rotate_encryption_reseals_every_secret_under_the_new_key() {
    let dir = empty_dir();
    let (old, new) = (mana_core::mfa::generate_key(), mana_core::mfa::generate_key());
    let secret = b"twenty bytes secret!";
    let (url, user) = database_with_two_factor(&dir, &old, secret);

    let both = format!("{new},{old}");
    let env = [("DATABASE_URL", url.as_str()), ("ENCRYPTION_KEY", both.as_str())];
    let output = run(&dir, &["keys", "rotate-encryption"], &env);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("1 secret(s) re-sealed, 0 already under it"), "{}", text(&output.stdout));
    let sealed = sealed_secret_of(&url, user);
    let only_new = mana_core::mfa::SecretBox::new(&mana_core::mfa::parse_keys(&new).unwrap()).unwrap();
    let context = mana_core::auth::totp_sealing_context(user);
    assert_eq!(only_new.open(&sealed, &context).unwrap(), secret, "the new key alone opens it");
    assert!(!text(&output.stdout).contains(&old) && !text(&output.stdout).contains(&new), "no key is printed");

    let again = run(&dir, &["keys", "rotate-encryption"], &env);
    assert!(text(&again.stdout).contains("0 secret(s) re-sealed, 1 already under it"), "{}", text(&again.stdout));

    // A key that opens nothing: reported, nothing changed, a failing exit.
    let stranger = mana_core::mfa::generate_key();
    let wrong = [("DATABASE_URL", url.as_str()), ("ENCRYPTION_KEY", stranger.as_str())];
    let output = run(&dir, &["keys", "rotate-encryption"], &wrong);
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("cannot be opened"), "{}", text(&output.stderr));
    assert_eq!(sealed_secret_of(&url, user), sealed);
}

#[test]
fn users_promote_and_demote_change_the_stored_role() {
    let dir = empty_dir();
    let url = database_with_user(&dir, "boss@example.com");
    let env = [("DATABASE_URL", url.as_str())];
    let role = || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let backend = mana_server::storage::Backend::open(&url, 1, false).await.unwrap();
            let email = mana_core::email::Email::parse("boss@example.com").unwrap();
            backend.store().find_credentials(&email).await.unwrap().unwrap().user.role
        })
    };
    let promoted = run(&dir, &["users", "promote", "--email", "Boss@Example.com"], &env);
    assert!(promoted.status.success(), "{}", text(&promoted.stderr));
    assert!(text(&promoted.stdout).contains("boss@example.com is now admin"), "{}", text(&promoted.stdout));
    assert_eq!(role(), mana_core::ids::Role::Admin);
    let demoted = run(&dir, &["users", "demote", "--email", "boss@example.com"], &env);
    assert!(demoted.status.success(), "{}", text(&demoted.stderr));
    assert_eq!(role(), mana_core::ids::Role::User);
    let unknown = run(&dir, &["users", "promote", "--email", "nobody@example.com"], &env);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no active user"), "{}", text(&unknown.stderr));
    let malformed = run(&dir, &["users", "promote", "--email", "not an address"], &env);
    assert!(!malformed.status.success() && text(&malformed.stderr).contains("--email"), "{}", text(&malformed.stderr));
}
