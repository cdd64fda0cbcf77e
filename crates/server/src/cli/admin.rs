//! Operator commands that work on the database directly: `ledger verify`, `credits grant`,
//! `prune`.

use std::sync::Arc;

use anyhow::{Context, bail};
use mana_core::clock::SystemClock;
use mana_core::credits::{CreditService, verify_ledger};
use mana_core::email::Email;
use mana_core::ids::Role;

use crate::config::Config;
use crate::storage::Backend;

pub(super) async fn open_migrated(config: &Config) -> anyhow::Result<Backend> {
    let backend = Backend::open(&config.database_url, 2, config.database_transaction_pooling).await?;
    if !backend.migrations_applied().await? {
        bail!("DATABASE_URL: the database has pending migrations; run `mana-core-auth migrate` first");
    }
    Ok(backend)
}

/// Re-seals every TOTP secret not sealed under the first encryption key. A secret that opens
/// with none of the keys is reported and left as it is (its owner must set 2FA up again).
pub async fn rotate_encryption(config: &Config) -> anyhow::Result<()> {
    let secrets = crate::encryption::secret_box(config)?;
    let backend = open_migrated(config).await?;
    let store = backend.store();
    let (mut resealed, mut current, mut unreadable) = (0, 0, 0);
    for (user, sealed) in store.sealed_totp_secrets().await.context("reading the TOTP secrets")? {
        if secrets.is_current(&sealed) {
            current += 1;
            continue;
        }
        let context = mana_core::auth::totp_sealing_context(user);
        match secrets.open(&sealed, &context) {
            Ok(plain) => {
                let fresh = secrets.seal(&plain, &context);
                // A setup in between wrote a secret under the new key already.
                if store.reseal_totp_secret(user, &sealed, &fresh).await? {
                    resealed += 1;
                }
            }
            Err(error) => {
                eprintln!("user {user}: the TOTP secret cannot be opened ({error}); left as it is");
                unreadable += 1;
            }
        }
    }
    println!(
        "encryption key {}: {resealed} secret(s) re-sealed, {current} already under it, {unreadable} unreadable",
        secrets.current_key_id()
    );
    if unreadable > 0 {
        bail!("{unreadable} secret(s) could not be opened with any configured key");
    }
    Ok(())
}

/// Checks every ledger invariant; the error lists each violation.
pub async fn ledger_verify(config: &Config) -> anyhow::Result<()> {
    let backend = open_migrated(config).await?;
    let verdict = verify_ledger(backend.store().as_ref()).await.context("reading the ledger")?;
    let problems = &verdict.violations;
    if problems.is_empty() {
        println!(
            "ledger verified: {} balances match their postings; every transaction balances; usage statistics agree; \
             {} purchases settled as their payments' events say",
            verdict.balances_checked, verdict.purchases_checked
        );
        return Ok(());
    }
    for problem in problems {
        println!("VIOLATION: {problem}");
    }
    bail!("the ledger has {} violation(s)", problems.len())
}

/// `users promote` / `demote`: the role of the live account with this email, recorded as a
/// `role_changed` security event on it.
pub async fn set_role(config: &Config, email: &str, role: Role) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let backend = open_migrated(config).await?;
    let store = backend.store();
    let user = store.set_role(&email, role, chrono::Utc::now()).await.context("changing the role")?;
    let Some(user) = user else { bail!("no active user has the email {email}") };
    let event = mana_core::store::NewSecurityEvent {
        user_id: Some(user),
        kind: mana_core::store::SecurityEventKind::RoleChanged,
        client: mana_core::store::ClientInfo::default(),
        at: chrono::Utc::now(),
        details: mana_core::store::EventDetails::default(),
    };
    store.record_security_event(event).await.context("recording the change")?;
    println!("{email} is now {}", role.as_str());
    Ok(())
}

/// Adds paid credits to a live user's account as an `adjustment`.
pub async fn credits_grant(config: &Config, email: &str, amount: i64, reason: &str) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let backend = open_migrated(config).await?;
    let store = backend.store();
    let user = store
        .find_credentials(&email)
        .await
        .context("looking up the user")?
        .with_context(|| format!("no active user has the email {email}"))?
        .user;
    let credits = CreditService::new(store, Arc::new(SystemClock), config.credit_policy.clone());
    let (transaction, balance) = credits.grant_paid(user.id, amount, reason).await.map_err(validation_message)?;
    println!(
        "granted {amount} paid credits to {email} (transaction {}); paid balance now {}",
        transaction.id, balance.paid
    );
    Ok(())
}

/// A domain error as an operator reads it: each bad field named as its command-line option.
pub(super) fn validation_message(error: mana_core::Error) -> anyhow::Error {
    match error {
        mana_core::Error::Validation(errors) => {
            let option = |field: &str| {
                // camelCase field names are kebab-case options.
                field.chars().fold(String::new(), |mut name, c| {
                    if c.is_ascii_uppercase() {
                        name.push('-');
                    }
                    name.push(c.to_ascii_lowercase());
                    name
                })
            };
            let text: Vec<String> = errors.iter().map(|e| format!("--{} {}", option(&e.field), e.message)).collect();
            anyhow::anyhow!(text.join("; "))
        }
        other => anyhow::anyhow!(other),
    }
}

/// Deletes what has served its purpose, once, and says how much.
pub async fn prune(config: &Config) -> anyhow::Result<()> {
    let backend = open_migrated(config).await?;
    let store = backend.store();
    let Some(report) = crate::retention::prune_once(store.as_ref(), &config.retention, &SystemClock).await? else {
        bail!("another instance is pruning right now; nothing was done");
    };
    println!(
        "pruned {} refresh tokens of ended sessions, {} used or expired email-link tokens, {} used or expired second-factor challenges, {} used or expired social sign-in flows and {} exchange codes, {} delivered emails, \
         {} idempotency keys older than {} days, {} security events older than {} days; the ledger is kept whole",
        report.refresh_tokens,
        report.link_tokens,
        report.mfa_challenges,
        report.oauth_flows,
        report.exchange_codes,
        report.delivered_emails,
        report.idempotency_keys,
        config.retention.idempotency_days,
        report.security_events,
        config.retention.security_event_days
    );
    Ok(())
}
