//! The command line: `serve`, `migrate`, `keys generate`, `healthcheck`, `ledger verify`,
//! `credits grant`.

mod admin;
mod packages;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mana_core::clock::{Clock, SystemClock};
use mana_core::ids::Role;
use mana_core::tokens::{KeyAlgorithm, KeyRing};
use tokio::net::TcpListener;

use crate::app::{build_state, serve};
use crate::config::{Config, Environment};
use crate::keys::{generate_key, load_key_ring, read_keys, retire_superseded_keys};
use crate::logging;
use crate::storage::Backend;

#[derive(Debug, Parser)]
#[command(name = "mana-core-auth", version, about = "Authentication and credits for a family of apps.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service. With no configuration: SQLite at ./data/mana.db, a development
    /// signing key in ./data/keys, listening on 127.0.0.1:3001.
    Serve {
        /// Do not apply pending database migrations at start-up.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations to DATABASE_URL and exit.
    Migrate,
    /// Manage the keys that sign access tokens.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Inspect the credit ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Support tools for credit accounts.
    Credits {
        #[command(subcommand)]
        command: CreditsCommand,
    },
    /// Administrators: `promote` gives a live account the `admin` role (the bootstrap of the
    /// admin API and console), `demote` takes it back. Their sessions see the change at once.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// The catalogue of credit packages on sale.
    Packages {
        #[command(subcommand)]
        command: packages::PackagesCommand,
    },
    /// Delete what has served its purpose: refresh tokens of ended sessions, used or expired
    /// email-link tokens, delivered emails, idempotency keys older than
    /// IDEMPOTENCY_RETENTION_DAYS, security events older than SECURITY_EVENT_RETENTION_DAYS.
    /// The ledger is never pruned. `serve` does the same every PRUNE_INTERVAL_SECONDS.
    Prune,
    /// Exit 0 if the service answers GET /health with 200, else 1 (for container health checks).
    Healthcheck {
        /// Base URL of the service; defaults to http://<LISTEN_ADDR>.
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new signing key pair to KEYS_DIR (private key file mode 0600). The newest key
    /// signs new tokens once instances reload the directory; older keys keep verifying.
    Generate {
        /// Directory for the key; defaults to KEYS_DIR.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// RS256, ES256 or EdDSA; defaults to JWT_ALGORITHM.
        #[arg(long)]
        algorithm: Option<String>,
    },
    /// Generate a new signing key and move to KEYS_DIR/retired/ every key superseded long
    /// enough ago that no token it signed can still be valid. Running instances read the
    /// directory again every KEYS_RELOAD_INTERVAL_SECONDS, or at once on SIGHUP.
    Rotate {
        /// Directory of the keys; defaults to KEYS_DIR.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// RS256, ES256 or EdDSA; defaults to JWT_ALGORITHM.
        #[arg(long)]
        algorithm: Option<String>,
        /// Seconds a successor must have existed before a key is retired; defaults to the
        /// access-token lifetime plus leeway plus an hour for the restarts to roll out.
        #[arg(long)]
        retire_after: Option<i64>,
    },
    /// Re-seal every stored TOTP secret under the first key of ENCRYPTION_KEY. Put a new key
    /// first (NEW,OLD), restart the instances, run this, then remove OLD.
    RotateEncryption,
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check every invariant: each transaction's postings sum to zero, each cached balance
    /// equals the sum of its postings, no bucket is negative, nobody spent more than they had,
    /// usage statistics equal the usage postings, and each purchase's ledger transactions equal
    /// what it settled and what its payment's events make due. Exits 1 with a report if any
    /// fails.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Make the account an administrator.
    Promote {
        #[arg(long)]
        email: String,
    },
    /// Make the administrator an ordinary user again.
    Demote {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CreditsCommand {
    /// Add paid credits to a user's account, recorded as an `adjustment` with the reason.
    Grant {
        #[arg(long)]
        email: String,
        /// Whole credits, at least 1.
        #[arg(long, allow_negative_numbers = true)]
        amount: i64,
        /// Shown to the user as the transaction's description.
        #[arg(long)]
        reason: String,
    },
}

/// Runs a command; the error, if any, is for the user to read (no backtrace, no panic).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { no_migrate } => serve_command(no_migrate).await,
        Command::Migrate => migrate_command().await,
        Command::Keys { command: KeysCommand::Generate { dir, algorithm } } => keys_generate(dir, algorithm),
        Command::Keys { command: KeysCommand::Rotate { dir, algorithm, retire_after } } => {
            keys_rotate(dir, algorithm, retire_after)
        }
        Command::Keys { command: KeysCommand::RotateEncryption } => admin::rotate_encryption(&load_config()?).await,
        Command::Healthcheck { url, timeout } => healthcheck(url, timeout).await,
        Command::Prune => admin::prune(&load_config()?).await,
        Command::Users { command: UsersCommand::Promote { email } } => {
            admin::set_role(&load_config()?, &email, Role::Admin).await
        }
        Command::Users { command: UsersCommand::Demote { email } } => {
            admin::set_role(&load_config()?, &email, Role::User).await
        }
        Command::Packages { command } => packages::run(&load_config()?, command).await,
        Command::Ledger { command: LedgerCommand::Verify } => admin::ledger_verify(&load_config()?).await,
        Command::Credits { command: CreditsCommand::Grant { email, amount, reason } } => {
            admin::credits_grant(&load_config()?, &email, amount, &reason).await
        }
    }
}

fn load_config() -> anyhow::Result<Config> {
    Config::from_env().map_err(anyhow::Error::new)
}

async fn serve_command(no_migrate: bool) -> anyhow::Result<()> {
    let config = load_config()?;
    logging::init(config.log_format, &config.log_level);
    let backend =
        Backend::open(&config.database_url, config.database_max_connections, config.database_transaction_pooling)
            .await?;
    if config.run_migrations && !no_migrate {
        backend.migrate().await?;
    }
    let keys = ensure_keys(&config)?;
    let mailer = Arc::new(open_mailer(&config)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = build_state(&config, backend, keys, clock.clone())?;
    let passwords = state.auth().passwords().clone();
    tokio::spawn(async move {
        if let Err(error) = passwords.warm_up().await {
            tracing::warn!(error = format!("{error:#}"), "could not prepare the dummy password hash");
        }
    });
    let listener = TcpListener::bind(config.listen_addr)
        .await
        .with_context(|| format!("LISTEN_ADDR: cannot listen on {}", config.listen_addr))?;
    announce(&config, &state).await;
    tracing::info!("email goes to {}", mailer.describe());
    crate::mail::OutboxWorker::new(state.backend().store(), mailer, clock.clone(), config.email.first_retry).spawn();
    crate::retention::spawn(state.backend().store(), config.retention.clone(), clock);
    crate::keys::spawn_reloader(state.auth().tokens().clone(), config.keys_dir.clone(), config.keys_reload_interval);
    if let Some(address) = config.metrics_listen_addr {
        let metrics_listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("METRICS_LISTEN_ADDR: cannot listen on {address}"))?;
        let metrics = crate::app::metrics_router(state.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(metrics_listener, metrics).await {
                tracing::error!(error = %error, "the metrics listener failed");
            }
        });
        tracing::info!(%address, "metrics are served on their own listener");
    }
    let backend = state.backend().clone();
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signal_seen = stopping.clone();
    let server = serve(listener, state, async move {
        shutdown_signal().await;
        signal_seen.notify_one();
    });
    // In-flight requests may finish, but not for longer than the deadline.
    let deadline = async {
        stopping.notified().await;
        tokio::time::sleep(config.shutdown_timeout).await;
    };
    tokio::select! {
        served = server => served.context("the HTTP server failed")?,
        () = deadline => tracing::warn!(
            timeout_seconds = config.shutdown_timeout.as_secs(),
            "requests were still running at the shutdown deadline; exiting anyway"
        ),
    }
    // Connections held by requests abandoned at the deadline never come back; do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(5), backend.close()).await;
    tracing::info!("shut down");
    Ok(())
}

/// The way email leaves. Production must name a relay: messages written to files there would
/// never reach anyone.
fn open_mailer(config: &Config) -> anyhow::Result<crate::mail::Mailer> {
    if config.environment == Environment::Production && config.email.smtp.is_none() {
        anyhow::bail!(
            "SMTP_URL: required in production (smtp://user:password@host:587, or smtps://… for implicit TLS); \
             without it no verification or password-reset email would reach anyone"
        );
    }
    crate::mail::Mailer::from_settings(&config.email)
}

/// Loads the key ring; in development, makes a key on first start so that no setup is needed.
fn ensure_keys(config: &Config) -> anyhow::Result<KeyRing> {
    if config.environment == Environment::Development && read_keys(&config.keys_dir)?.is_empty() {
        let now = chrono::Utc::now().timestamp();
        let (key, path) = generate_key(&config.keys_dir, config.jwt_algorithm, now)?;
        tracing::warn!(kid = key.kid(), path = %path.display(), "created a development signing key");
    }
    load_key_ring(&config.keys_dir)
}

/// What a person starting the service needs to know, in a few lines: where to reach it,
/// where its data and keys are, and what would be wrong in production.
async fn announce(config: &Config, state: &crate::state::AppState) {
    let url = &config.public_url;
    tracing::info!("mana-core-auth {} listening on {url} (API reference: {url}/docs)", env!("CARGO_PKG_VERSION"));
    let environment = match config.environment {
        Environment::Development => "development",
        Environment::Production => "production",
    };
    tracing::info!("environment {environment}; database: {}", state.backend().describe(&config.database_url));
    let keys = state.auth().tokens().keys();
    let signing = keys.signing_key();
    tracing::info!(
        "signing keys: {} ({} published), signing with {} ({})",
        config.keys_dir.display(),
        keys.kids().len(),
        signing.kid(),
        signing.algorithm().jwt_name()
    );
    let rate_limits = if config.rate_limits.redis_url.is_some() {
        "shared by every instance through Redis"
    } else {
        "counted in this process (set REDIS_URL to share them between instances)"
    };
    tracing::info!("rate limits: {rate_limits}");
    if config.environment == Environment::Development {
        tracing::warn!(
            "DEVELOPMENT MODE: the signing keys in {} may have been made by this service; in \
             production set ENVIRONMENT=production and provide keys made with `mana-core-auth keys generate`",
            config.keys_dir.display()
        );
    }
    match state.backend().bypasses_row_level_security().await {
        Ok(true) => tracing::warn!(
            "the database role is a superuser or has BYPASSRLS: row-level security does not apply to it; \
             connect as an ordinary role that owns the tables (see deploy/README.md)"
        ),
        Ok(false) => {}
        Err(error) => tracing::warn!(error = format!("{error:#}"), "could not check the database role"),
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

async fn migrate_command() -> anyhow::Result<()> {
    let config = load_config()?;
    logging::init(config.log_format, &config.log_level);
    let backend = Backend::open(&config.database_url, 1, config.database_transaction_pooling).await?;
    backend.migrate().await?;
    println!("migrations applied ({})", backend.store().backend_name());
    Ok(())
}

fn keys_generate(dir: Option<PathBuf>, algorithm: Option<String>) -> anyhow::Result<()> {
    let config = load_config()?;
    let algorithm = key_algorithm(algorithm, &config)?;
    let dir = dir.unwrap_or(config.keys_dir);
    let (key, path) = generate_key(&dir, algorithm, chrono::Utc::now().timestamp())?;
    println!("created {} key {} at {}", algorithm.jwt_name(), key.kid(), path.display());
    Ok(())
}

fn keys_rotate(dir: Option<PathBuf>, algorithm: Option<String>, retire_after: Option<i64>) -> anyhow::Result<()> {
    let config = load_config()?;
    let algorithm = key_algorithm(algorithm, &config)?;
    let retire_after = retire_after
        .unwrap_or((config.access_token_ttl + config.jwt_leeway + chrono::Duration::hours(1)).num_seconds());
    anyhow::ensure!(retire_after >= 0, "--retire-after: must be 0 or more seconds");
    let dir = dir.unwrap_or(config.keys_dir);
    let now = chrono::Utc::now().timestamp();
    for kid in retire_superseded_keys(&dir, now, retire_after)? {
        println!("retired key {kid} (moved to {})", dir.join(crate::keys::RETIRED_DIR).display());
    }
    let (key, path) = generate_key(&dir, algorithm, now)?;
    println!("created {} key {} at {}", algorithm.jwt_name(), key.kid(), path.display());
    println!(
        "running instances sign with {} within KEYS_RELOAD_INTERVAL_SECONDS (or at once on SIGHUP); the other keys keep verifying",
        key.kid()
    );
    Ok(())
}

fn key_algorithm(name: Option<String>, config: &Config) -> anyhow::Result<KeyAlgorithm> {
    match name {
        Some(name) => KeyAlgorithm::parse(&name)
            .with_context(|| format!("--algorithm: unknown algorithm {name:?} (use RS256, ES256 or EdDSA)")),
        None => Ok(config.jwt_algorithm),
    }
}

async fn healthcheck(url: Option<String>, timeout: u64) -> anyhow::Result<()> {
    let base = match url {
        Some(url) => url,
        None => {
            let listen = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
            // A wildcard listen address is reached through loopback.
            let listen = listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
            format!("http://{listen}")
        }
    };
    let url = format!("{}/health", base.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(timeout)).build()?;
    let response = client.get(&url).send().await.with_context(|| format!("no answer from {url}"))?;
    anyhow::ensure!(response.status().is_success(), "{url} answered {}", response.status());
    println!("healthy: {url}");
    Ok(())
}
