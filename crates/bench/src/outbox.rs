//! Email delivery throughput: messages queued in the outbox of a PostgreSQL database, sent by
//! one or more instances of the service to a local SMTP sink (postfix's `smtp-sink`, which
//! accepts and discards, so that the relay is not what is measured).

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use sqlx::{Connection, Row};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

use crate::api::{Api, PASSWORD};
use crate::limits::scratch_postgres;
use crate::server::Server;

/// A running `smtp-sink` and the count of messages it accepted.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    /// Its running count, read as it prints it: a pipe left unread would stop the sink.
    counter: tokio::task::JoinHandle<u64>,
}

impl SmtpSink {
    pub async fn start() -> anyhow::Result<Self> {
        let binary = ["/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink"]
            .into_iter()
            .find(|path| std::path::Path::new(path).exists())
            .context("smtp-sink is needed (Debian: apt-get install postfix)")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut command = Command::new(binary);
        // -c: a running count on stdout; -u: the user it runs as (required when started as root).
        command.arg("-c");
        if running_as_root() {
            command.args(["-u", "nobody"]);
        }
        let mut child = command
            .args([format!("127.0.0.1:{port}"), "256".into()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting smtp-sink")?;
        let mut output = child.stdout.take().context("smtp-sink output")?;
        let counter = tokio::spawn(async move {
            let (mut buffer, mut tail, mut last) = ([0u8; 4096], String::new(), 0);
            while let Ok(read) = output.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                tail.push_str(&String::from_utf8_lossy(&buffer[..read]));
                // Lines end in '\r': `sess=N quit=N mesg=N`.
                if let Some(end) = tail.rfind('\r') {
                    if let Some(count) = tail[..end].rsplit("mesg=").next().and_then(|n| n.trim().parse().ok()) {
                        last = count;
                    }
                    tail.drain(..=end);
                }
            }
            last
        });
        let sink = Self { port, child, counter };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(sink);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("smtp-sink did not start on port {port}")
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Stops the sink and returns how many messages it accepted (its last `mesg=N`).
    pub async fn stop(mut self) -> anyhow::Result<u64> {
        self.child.start_kill()?;
        let _ = self.child.wait().await;
        Ok(self.counter.await?)
    }
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

pub struct Delivery {
    pub instances: usize,
    pub messages: u64,
    /// From the commit of the queued messages to the last delivery, as the poller saw it.
    pub end_to_end: Duration,
    /// From the first delivery to the last, as the workers recorded them.
    pub steady: Duration,
    pub accepted_by_sink: u64,
}

impl Delivery {
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.end_to_end.as_secs_f64()
    }

    pub fn steady_rate(&self) -> f64 {
        self.messages as f64 / self.steady.as_secs_f64().max(1e-3)
    }
}

/// Starts `instances` servers on a fresh database, queues `messages` password-reset-sized
/// messages at once, and waits until every one is delivered.
pub async fn outbox_delivery(admin_url: &str, instances: usize, messages: u64) -> anyhow::Result<Delivery> {
    let (url, drop_database) = scratch_postgres(admin_url, "mana_bench_mail").await?;
    let result = deliver(&url, instances, messages).await;
    drop_database.await;
    result
}

async fn deliver(url: &str, instances: usize, messages: u64) -> anyhow::Result<Delivery> {
    let sink = SmtpSink::start().await?;
    let environment =
        [("SMTP_URL", sink.url()), ("SMTP_TLS", "none".to_owned()), ("PRUNE_INTERVAL_SECONDS", "0".to_owned())];
    let mut servers = Vec::new();
    for _ in 0..instances {
        // One after the other: the first applies the migrations.
        servers.push(Server::start(Some(url.to_owned()), 4, None, &environment).await?);
    }
    // The messages belong to one account (the outbox's rows each name one).
    let api = Api::new(&servers[0].base);
    let (status, body) =
        api.post("/auth/register", &json!({"email": "mail-owner@bench.example", "password": PASSWORD}), None).await?;
    anyhow::ensure!(status == 201, "register answered {status}: {body}");
    let mut db = sqlx::PgConnection::connect(url).await?;
    // Its verification email goes first, so that the count below starts from an empty outbox.
    wait_until_sent(&mut db, Duration::from_secs(30)).await?;

    let link = "https://app.example.com/reset-password?token=7Kq2b9vJXh0mZr4WcT1yLpNe8sQa3UdGfBiOw5Vx6Yk";
    let text = format!(
        "Hello,\n\nsomeone asked to reset the password of your account. Open this link within an hour:\n\n{link}\n\n\
         If it was not you, ignore this message; your password stays as it is.\n"
    );
    let html = format!(
        "<!doctype html><html><body><p>Hello,</p><p>someone asked to reset the password of your account. \
         <a href=\"{link}\">Reset your password</a> within an hour.</p><p>If it was not you, ignore this \
         message; your password stays as it is.</p></body></html>"
    );
    sqlx::query(
        "INSERT INTO auth.email_outbox (id, user_id, to_address, subject, text_body, html_body, created_at, next_attempt_at)
         SELECT gen_random_uuid(), u.id, 'reader' || n || '@bench.example', 'Reset your password', $2, $3, now(), now()
         FROM auth.users u, generate_series(1, $1) n",
    )
    .bind(i64::try_from(messages)?)
    .bind(&text)
    .bind(&html)
    .execute(&mut db)
    .await?;
    let committed = Instant::now();
    wait_until_sent(&mut db, Duration::from_secs(300)).await?;
    let end_to_end = committed.elapsed();

    let row = sqlx::query(
        "SELECT count(*) FILTER (WHERE failed_at IS NOT NULL) AS failed,
                extract(epoch FROM max(delivered_at) - min(delivered_at))::float8 AS span
         FROM auth.email_outbox WHERE subject = 'Reset your password'",
    )
    .fetch_one(&mut db)
    .await?;
    let failed: i64 = row.try_get("failed")?;
    anyhow::ensure!(failed == 0, "{failed} messages failed");
    let span: f64 = row.try_get("span")?;
    for server in servers {
        server.stop().await;
    }
    // The owner's verification email came first.
    let accepted_by_sink = sink.stop().await?.saturating_sub(1);
    Ok(Delivery { instances, messages, end_to_end, steady: Duration::from_secs_f64(span), accepted_by_sink })
}

async fn wait_until_sent(db: &mut sqlx::PgConnection, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM auth.email_outbox WHERE delivered_at IS NULL AND failed_at IS NULL",
        )
        .fetch_one(&mut *db)
        .await?;
        if pending == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{pending} messages still unsent after {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
