//! The server under test: the release binary, started as a child process and stopped on drop.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

pub struct Server {
    pub base: String,
    pub database_url: String,
    pub startup: Duration,
    child: Child,
    _dir: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    /// Leaves the directory in place.
    pub fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `mana-core-auth` binary built beside this one.
pub fn server_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("mana-core-auth");
    if !path.exists() {
        bail!("{} is missing; build it with `cargo build --release -p mana-server`", path.display());
    }
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts the server on `database_url` (`None`: SQLite in a temporary directory) and waits
    /// until `/ready` answers; `startup` is the time from spawn to the first 200. `extra` is
    /// further environment, set last (it may override the bench defaults).
    pub async fn start(
        database_url: Option<String>,
        bcrypt_cost: u32,
        pool: Option<u32>,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let dir = TempDir::new("mana-bench")?;
        let database_url = database_url.unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.0.display()));
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let mut command = Command::new(server_binary()?);
        command.env_clear();
        if let Some(pool) = pool {
            command.env("DATABASE_MAX_CONNECTIONS", pool.to_string());
        }
        let child = command
            .arg("serve")
            .env("DATABASE_URL", &database_url)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("KEYS_DIR", dir.0.join("keys"))
            .env("BCRYPT_COST", bcrypt_cost.to_string())
            // Every bench user can spend for the whole run.
            .env("SIGNUP_BONUS_CREDITS", "1000000000")
            .env("LOG_LEVEL", "warn")
            // The load comes from one address at thousands of requests a second: measured is
            // the service, not its rate limiter refusing the generator.
            .env("RATE_LIMIT_REQUESTS_PER_MINUTE", "0")
            .env("RATE_LIMIT_LOGIN_PER_MINUTE", "0")
            .env("RATE_LIMIT_REGISTER_PER_MINUTE", "0")
            .env("LOGIN_FAILURES_PER_ACCOUNT", "0")
            .env("LOGIN_FAILURES_PER_DEVICE", "0")
            .env("RATE_LIMIT_VALIDATE_PER_MINUTE", "0")
            .env("RATE_LIMIT_WEBHOOKS_PER_MINUTE", "0")
            .env("RATE_LIMIT_EMAIL_LINKS_PER_MINUTE", "0")
            .env("EMAIL_LINKS_PER_ACCOUNT_PER_HOUR", "0")
            .envs(extra.iter().map(|(name, value)| (*name, value.as_str())))
            .current_dir(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting mana-core-auth")?;
        let client = reqwest::Client::new();
        let deadline = started + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{base}/ready")).send().await
                && response.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("the server did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let startup = started.elapsed();
        Ok(Self { base, database_url, startup, child, _dir: dir })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Resident memory of the server process, from /proc.
    pub fn rss_mib(&self) -> Option<f64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// Stops the server gracefully; the returned directory (and a SQLite database in it) lives
    /// until the caller drops it.
    pub async fn stop(mut self) -> TempDir {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        self._dir
    }
}
