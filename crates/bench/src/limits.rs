//! What the hardware allows, measured in the same run as the load, so that each result can be
//! shown as a fraction of its limit.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use mana_core::email::Email;
use mana_core::ids::{Role, SessionId, UserId};
use mana_core::password::{HashAlgorithm, Password, PasswordHasher};
use mana_core::store::User;
use mana_core::tokens::{AccessTokenSettings, AccessTokens, KeyAlgorithm, KeyRing, SigningKey};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor, Row};

use crate::load::{Stats, closed_loop};
use crate::server::{TempDir, server_binary};

/// Median time of one bcrypt verification at `cost`.
pub async fn password_hash_time(cost: u32) -> anyhow::Result<Duration> {
    let hasher = PasswordHasher::new(HashAlgorithm::Bcrypt { cost }, 1);
    let hash = hasher.hash(&Password::parse(crate::api::PASSWORD).map_err(anyhow::Error::msg)?).await?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        hasher.verify(crate::api::PASSWORD, &hash).await?;
        times.push(started.elapsed());
    }
    times.sort();
    Ok(times[2])
}

/// RS256 signatures and verifications per second on one core, with the key parsed once.
pub fn rs256_rates() -> anyhow::Result<(f64, f64)> {
    let (key, _) = SigningKey::generate(KeyAlgorithm::Rs256, "bench".into(), 0)?;
    let settings = AccessTokenSettings {
        issuer: "bench".into(),
        audience: "bench".into(),
        ttl: chrono::Duration::minutes(15),
        leeway: chrono::Duration::seconds(30),
    };
    let tokens = AccessTokens::new(KeyRing::new(vec![key])?, settings);
    let now = Utc::now();
    let user = User {
        id: UserId::generate(),
        email: Email::parse("e@x.io").map_err(|e| anyhow::anyhow!("{e}"))?,
        name: None,
        role: Role::User,
        email_verified: true,
        created_at: now,
        updated_at: now,
        deleted_at: None,
        locked_at: None,
    };
    let claims = tokens.claims(&user, SessionId::generate(), "j".into(), now, &["pwd".to_owned()]);
    let rate = |mut op: Box<dyn FnMut() -> bool>| {
        let started = Instant::now();
        let mut count = 0u64;
        while started.elapsed() < Duration::from_millis(700) {
            if op() {
                count += 1;
            }
        }
        count as f64 / started.elapsed().as_secs_f64()
    };
    let token = tokens.sign(&claims)?;
    let signer = tokens.clone();
    let sign = rate(Box::new(move || signer.sign(&claims).is_ok()));
    let verify = rate(Box::new(move || tokens.verify(&token, now).is_ok()));
    Ok((sign, verify))
}

/// The SQL of one spend as the service runs it on PostgreSQL, as a pgbench script over
/// `users` accounts (`:n` picks one; a hot run fixes it at 1).
// pgbench reads `:name` as a variable even inside string literals, hence `chr(58)` for ':'.
const PGBENCH_SPEND: &str = r#"
SELECT id AS uid FROM bench_users WHERE n = :n \gset
SELECT b.daily, b.free, b.paid, b.owed, b.total_earned, b.total_spent, b.daily_reset_at, b.version,
       i.key, i.request_hash, i.response, i.created_at
FROM credits.balances b LEFT JOIN credits.idempotency_keys i ON i.user_id = b.user_id AND i.key = 'none'
WHERE b.user_id = :uid;
BEGIN;
UPDATE credits.balances SET paid = paid - 1, total_spent = total_spent + 1, version = version + 1, updated_at = now()
WHERE user_id = :uid;
SELECT gen_random_uuid() AS tid \gset
INSERT INTO credits.transactions (id, user_id, kind, amount, balance_after, app_id, description, metadata, created_at)
VALUES (:tid, :uid, 'usage', -1, 0, 'bench', 'pgbench', NULL, now());
INSERT INTO credits.postings (transaction_id, user_id, account, amount)
VALUES (:tid, :uid, 'paid', -1), (:tid, NULL, 'usage' || chr(58) || 'bench', 1);
INSERT INTO credits.usage_stats (user_id, app_id, day, credits_used, uses) VALUES (:uid, 'bench', current_date, 1, 1)
ON CONFLICT (user_id, app_id, day)
DO UPDATE SET credits_used = usage_stats.credits_used + 1, uses = usage_stats.uses + 1;
INSERT INTO credits.idempotency_keys (user_id, key, request_hash, response, created_at)
VALUES (:uid, :tid, '\x00', '{}', now());
COMMIT;
"#;

/// `admin_url` pointing at database `name` instead, kept in a form libpq tools accept too.
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url.split_once('?').map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Applies the service's own migrations to `url` with its `migrate` command.
pub fn migrate(url: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new(server_binary()?)
        .arg("migrate")
        .env_clear()
        .env("DATABASE_URL", url)
        .env("LOG_LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(status.success(), "migrating the scratch database failed");
    Ok(())
}

/// A fresh database `<prefix>_<random>` on the PostgreSQL server, and a future that drops it.
pub async fn scratch_postgres(
    admin_url: &str,
    prefix: &str,
) -> anyhow::Result<(String, impl std::future::Future<Output = ()> + use<>)> {
    let admin = sqlx::postgres::PgConnectOptions::from_str(admin_url)?;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin.connect().await.context("connecting to PostgreSQL for the benchmark")?;
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await?;
    let url = with_database(admin_url, &name);
    Ok((url, async move {
        let _ = conn.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await;
    }))
}

pub struct PgbenchResult {
    pub tps: f64,
    pub latency_ms: f64,
}

/// Creates a scratch database on the same server, migrates it with the real migrations, and
/// runs the spend script with pgbench; the database is dropped afterwards.
pub async fn pgbench_spend(admin_url: &str, clients: u32, seconds: u64, hot: bool) -> anyhow::Result<PgbenchResult> {
    let (url, drop_database) = scratch_postgres(admin_url, "mana_bench_raw").await?;
    let result = async {
        migrate(&url)?;
        let mut db = sqlx::PgConnection::connect(&url).await?;
        seed_users(&mut db, "raw", 1_000_000_000_000).await?;
        db.close().await?;
        let pick = if hot { "\\set n 1\n" } else { "\\set n random(1, 64)\n" };
        run_pgbench(&url, clients, seconds, &format!("{pick}{PGBENCH_SPEND}")).await
    }
    .await;
    drop_database.await;
    result
}

/// 64 users, numbered 1 to 64 in `bench_users` for pgbench scripts, each with `paid` credits.
pub async fn seed_users(db: &mut sqlx::PgConnection, prefix: &str, paid: i64) -> anyhow::Result<()> {
    db.execute(
        "CREATE TABLE bench_users (n int PRIMARY KEY, id uuid NOT NULL);
         INSERT INTO bench_users SELECT g, gen_random_uuid() FROM generate_series(1, 64) g;",
    )
    .await?;
    sqlx::query(
        "INSERT INTO auth.users (id, email, created_at, updated_at)
         SELECT id, $1 || n || '@bench.example', now(), now() FROM bench_users",
    )
    .bind(prefix)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO credits.balances
             (user_id, daily, free, paid, total_earned, total_spent, daily_reset_at, version, updated_at)
         SELECT id, 0, 0, $1, $1, 0, now(), 1, now() FROM bench_users",
    )
    .bind(paid)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Runs `script` with pgbench against `url` (prepared statements, 2 threads).
pub async fn run_pgbench(url: &str, clients: u32, seconds: u64, script: &str) -> anyhow::Result<PgbenchResult> {
    {
        let dir = TempDir::new("mana-pgbench")?;
        let path = dir.0.join("script.sql");
        std::fs::write(&path, script)?;
        let output = tokio::process::Command::new("pgbench")
            .args(["-n", "-M", "prepared", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), "-f"])
            .arg(&path)
            .arg(url)
            .output()
            .await
            .context("running pgbench (Debian: apt-get install postgresql-client)")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!("pgbench failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
        }
        let number = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .and_then(|l| l[prefix.len()..].split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        };
        Ok(PgbenchResult {
            tps: number("tps = ").context("pgbench printed no tps")?,
            latency_ms: number("latency average = ").unwrap_or(f64::NAN),
        })
    }
}

/// The same spend SQL against SQLite through sqlx, one writer (SQLite serializes writers), with
/// the server's settings (WAL, synchronous=NORMAL).
pub async fn sqlite_spend(seconds: u64, hot: bool) -> anyhow::Result<Stats> {
    let dir = TempDir::new("mana-sqlite-raw")?;
    let url = format!("sqlite://{}/raw.db", dir.0.display());
    migrate(&url)?;
    let options = SqliteConnectOptions::from_str(&url)?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true);
    let mut db = options.connect().await?;
    let mut users = Vec::new();
    for n in 0..64 {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query("INSERT INTO users (id, email, created_at, updated_at) VALUES (?1, ?2, 0, 0)")
            .bind(&id)
            .bind(format!("raw{n}@bench.example"))
            .execute(&mut db)
            .await?;
        sqlx::query("INSERT INTO credit_balances VALUES (?1, 0, 0, 1000000000000, 1000000000000, 0, 0, 1, 0)")
            .bind(&id)
            .execute(&mut db)
            .await?;
        users.push(id);
    }
    let db = std::sync::Arc::new(tokio::sync::Mutex::new(db));
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let call: crate::load::Call = Box::new(move || {
        let (db, users, counter) = (db.clone(), users.clone(), counter.clone());
        Box::pin(async move {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let user = if hot { &users[0] } else { &users[n % users.len()] };
            let mut db = db.lock().await;
            spend_once(&mut db, user).await.is_ok()
        })
    });
    Ok(closed_loop(vec![call], Duration::from_secs(seconds)).await)
}

async fn spend_once(db: &mut sqlx::SqliteConnection, user: &str) -> anyhow::Result<()> {
    let row = sqlx::query(
        "SELECT b.daily, b.free, b.paid, b.owed, b.total_earned, b.total_spent, b.daily_reset_at, b.version,
                i.key AS i_key, i.request_hash, i.response, i.created_at AS i_created_at
         FROM credit_balances b LEFT JOIN credit_idempotency_keys i ON i.user_id = b.user_id AND i.key = ?2
         WHERE b.user_id = ?1",
    )
    .bind(user)
    .bind("none")
    .fetch_one(&mut *db)
    .await?;
    let version: i64 = row.try_get("version")?;
    let mut tx = db.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "UPDATE credit_balances SET paid = paid - 1, total_spent = total_spent + 1, version = ?2, updated_at = 0
         WHERE user_id = ?1 AND version = ?2 - 1",
    )
    .bind(user)
    .bind(version + 1)
    .execute(&mut *tx)
    .await?;
    let id = uuid::Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO credit_transactions (id, user_id, kind, amount, balance_after, app_id, description, metadata, created_at)
         VALUES (?1, ?2, 'usage', -1, 0, 'bench', 'raw', NULL, 0)",
    )
    .bind(&id)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO credit_postings (transaction_id, user_id, account, amount)
         VALUES (?1, ?2, 'paid', -1), (?1, NULL, 'usage:bench', 1)",
    )
    .bind(&id)
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO credit_usage_stats (user_id, app_id, day, credits_used, uses) VALUES (?1, 'bench', '2026-01-01', 1, 1)
         ON CONFLICT (user_id, app_id, day) DO UPDATE SET credits_used = credits_used + 1, uses = uses + 1",
    )
    .bind(user)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO credit_idempotency_keys VALUES (?1, ?2, x'00', '{}', 0)")
        .bind(user)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
