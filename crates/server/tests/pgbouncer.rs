//! The service through a real PgBouncer in transaction mode (Debian's `pgbouncer`): the main
//! flow of the HTTP suite, with more concurrent requests than PgBouncer has server
//! connections, so consecutive transactions of one client connection land on different
//! server connections. Works only if nothing relies on session state outside a transaction.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

#[allow(dead_code)] // shared with the HTTP suite, which uses all of it
#[path = "api/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use common::{PASSWORD, TestApp};
use mana_proto::{CreditBalance, TokenResponse};
use mana_server::storage::Backend;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;

/// Server connections PgBouncer may open per database and user; the service pool is larger.
const SERVER_CONNECTIONS: u32 = 2;
const SERVICE_POOL: u32 = 8;

struct PgBouncer {
    port: u16,
    dir: PathBuf,
    process: Child,
}

impl PgBouncer {
    /// Starts PgBouncer in front of the test PostgreSQL server.
    fn start() -> Self {
        let upstream = PgConnectOptions::from_str(&mana_store_postgres::testing::admin_url()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("mana-pgbouncer-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let owner = mana_store_postgres::testing::OWNER_ROLE;
        std::fs::write(dir.join("users.txt"), format!("\"{owner}\" \"{owner}\"\n")).unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host={host} port={upstream_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {dir}/users.txt\n\
                 pool_mode = transaction\ndefault_pool_size = {SERVER_CONNECTIONS}\nmax_client_conn = 200\n\
                 ignore_startup_parameters = extra_float_digits\n\
                 logfile = {dir}/pgbouncer.log\npidfile = {dir}/pgbouncer.pid\n",
                host = upstream.get_host(),
                upstream_port = upstream.get_port(),
                dir = dir.display(),
            ),
        )
        .unwrap();
        let process = pgbouncer_command(&dir)
            // Its log goes to pgbouncer.log; an inherited stderr would keep the test's output
            // open after the test ends.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pgbouncer is needed for this test (Debian: apt-get install pgbouncer)");
        let bouncer = PgBouncer { port, dir, process };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return bouncer;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("pgbouncer did not start; see {}", bouncer.dir.join("pgbouncer.log").display());
    }

    /// `url`, a direct connection to the test server, rewritten to go through PgBouncer.
    fn url_for(&self, url: &str) -> String {
        let direct = PgConnectOptions::from_str(url).unwrap();
        let database = direct.get_database().unwrap();
        let owner = mana_store_postgres::testing::OWNER_ROLE;
        format!("postgres://{owner}:{owner}@127.0.0.1:{}/{database}", self.port)
    }
}

/// PgBouncer refuses to run as root; as root (CI), it runs as the `postgres` user.
fn pgbouncer_command(dir: &Path) -> Command {
    let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or("pgbouncer");
    let config = dir.join("pgbouncer.ini");
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false);
    if is_root {
        Command::new("chown").args(["-R", "postgres"]).arg(dir).status().unwrap();
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--", binary]).arg(config);
        command
    } else {
        let mut command = Command::new(binary);
        command.arg(config);
        command
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // Under runuser the child is runuser, not PgBouncer: stop PgBouncer by its pid file.
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_flow_works_through_pgbouncer_in_transaction_mode() {
    let bouncer = PgBouncer::start();
    let (direct, direct_url) = mana_store_postgres::testing::fresh_database(1).await.unwrap();
    direct.pool().close().await;
    let backend = Backend::open(&bouncer.url_for(&direct_url), SERVICE_POOL, true).await.unwrap();
    // Migrating again through PgBouncer finds nothing to do, and leaves no lock behind.
    backend.migrate().await.unwrap();
    backend.migrate().await.unwrap();
    assert!(backend.migrations_applied().await.unwrap());
    let app = Arc::new(TestApp::spawn_on(backend, &[], None).await);

    // Register and sign in several users at once, then refresh, validate and spend in parallel.
    let users = concurrently((0..6).map(|n| {
        let app = app.clone();
        async move { app.signed_in(&format!("bouncer{n}@example.com")).await }
    }))
    .await;
    let refreshed = concurrently(users.into_iter().map(|user| {
        let app = app.clone();
        async move {
            let response = app.refresh(&user.refresh_token).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<TokenResponse>().await.unwrap()
        }
    }))
    .await;
    for tokens in &refreshed {
        assert_eq!(app.validate(&tokens.access_token).await["valid"], true);
    }
    let spender = refreshed[0].clone();
    let statuses = concurrently((0..24).map(|n| {
        let (app, token) = (app.clone(), spender.access_token.clone());
        async move {
            let key = format!("k{}", n % 12);
            let body = json!({"amount": 2, "appId": "chat", "description": "through pgbouncer", "idempotencyKey": key});
            app.http.post(app.api("/credits/use")).bearer_auth(token).json(&body).send().await.unwrap().status()
        }
    }))
    .await;
    assert!(statuses.iter().all(|status| *status == StatusCode::OK), "{statuses:?}");
    let balance: CreditBalance = app
        .http
        .get(app.api("/credits/balance"))
        .bearer_auth(&spender.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // 12 distinct keys, each spent once.
    assert_eq!(balance.total_spent, 24);
    let history =
        app.http.get(app.api("/credits/transactions")).bearer_auth(&spender.access_token).send().await.unwrap();
    assert_eq!(history.status(), StatusCode::OK);

    assert_eq!(app.logout_with_bearer(&spender.access_token).await.status(), StatusCode::OK);
    assert_eq!(app.validate(&spender.access_token).await["valid"], false);
    assert_eq!(app.refresh(&spender.refresh_token).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.login("bouncer1@example.com", PASSWORD).await.status(), StatusCode::OK);
}

/// Runs every future on its own task at once and collects the outputs in order.
async fn concurrently<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.unwrap());
    }
    outputs
}
