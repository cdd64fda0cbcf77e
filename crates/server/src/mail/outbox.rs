//! The outbox worker: claims due messages, sends them, records each outcome.
//!
//! A claim leases its rows (`OutboxStore::claim_outbox`), so instances sharing a database never
//! send one row at the same time, and a row whose sender died is claimed again when its lease
//! runs out. A message is marked delivered right after the relay accepts it; only a crash in
//! between can send it twice, which no SMTP client can rule out.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use mana_core::clock::Clock;
use mana_core::store::{OutboxMessage, Store};
use tokio::task::JoinSet;

use super::{Mailer, SendError};

/// Messages the relay (or the mail directory) accepted.
pub const EMAILS_SENT: &str = "email_sent_total";
/// Failed attempts; `final="true"` when the message is given up.
pub const EMAIL_FAILURES: &str = "email_failures_total";

/// Longer than any one SMTP exchange may take (lettre gives up after a minute).
const LEASE: Duration = Duration::minutes(5);
/// Messages claimed, and sent concurrently, at a time.
const BATCH: i64 = 32;
/// Attempts before a message is given up (about four hours of retries).
const MAX_ATTEMPTS: i64 = 10;
/// How often an idle worker looks for new messages.
const POLL: StdDuration = StdDuration::from_secs(1);

/// The wait before attempt `attempts + 1`: `first` (`EMAIL_RETRY_SECONDS`, 30 s by default),
/// doubling, at most an hour.
pub fn retry_delay(first: Duration, attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 12)).unwrap_or(12);
    (first * 2_i32.pow(doublings)).min(Duration::hours(1).max(first))
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryRound {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub abandoned: usize,
}

#[derive(Clone)]
pub struct OutboxWorker {
    store: Arc<dyn Store>,
    mailer: Arc<Mailer>,
    clock: Arc<dyn Clock>,
    first_retry: Duration,
}

impl OutboxWorker {
    pub fn new(store: Arc<dyn Store>, mailer: Arc<Mailer>, clock: Arc<dyn Clock>, first_retry: Duration) -> Self {
        Self { store, mailer, clock, first_retry }
    }

    /// Runs until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.deliver_due().await {
                    Ok(round) if round.claimed as i64 == BATCH => continue,
                    Ok(_) => tokio::time::sleep(POLL).await,
                    Err(error) => {
                        tracing::warn!(error = format!("{error:#}"), "the outbox could not be read; trying again");
                        tokio::time::sleep(POLL * 5).await;
                    }
                }
            }
        })
    }

    /// Claims the messages due now and sends them, concurrently.
    pub async fn deliver_due(&self) -> anyhow::Result<DeliveryRound> {
        let now = self.clock.now();
        let messages = self.store.claim_outbox(now, now + LEASE, BATCH).await?;
        let mut round = DeliveryRound { claimed: messages.len(), ..DeliveryRound::default() };
        let mut sends = JoinSet::new();
        for message in messages {
            let mailer = self.mailer.clone();
            sends.spawn(async move {
                let result = mailer.send(&message).await;
                (message, result)
            });
        }
        // Outcomes are recorded one at a time, as sends finish: the sends wait on the relay, but
        // recording them at once would take a whole batch of database connections from requests.
        while let Some(sent) = sends.join_next().await {
            let (message, result) = sent?;
            match self.record(message, result).await {
                Outcome::Delivered => round.delivered += 1,
                Outcome::Retried => round.retried += 1,
                Outcome::Abandoned => round.abandoned += 1,
            }
        }
        Ok(round)
    }

    async fn record(&self, message: OutboxMessage, result: Result<(), SendError>) -> Outcome {
        let now = self.clock.now();
        let (outcome, recorded) = match result {
            Ok(()) => {
                metrics::counter!(EMAILS_SENT).increment(1);
                (Outcome::Delivered, self.store.mark_delivered(message.id, now).await)
            }
            Err(error) => {
                let give_up = error.permanent || message.attempts >= MAX_ATTEMPTS;
                let retry_at = (!give_up).then(|| now + retry_delay(self.first_retry, message.attempts));
                tracing::warn!(
                    message_id = %message.id,
                    attempts = message.attempts,
                    permanent = error.permanent,
                    retry_at = ?retry_at,
                    reason = %error.reason,
                    "an email could not be delivered"
                );
                metrics::counter!(EMAIL_FAILURES, "final" => if give_up { "true" } else { "false" }).increment(1);
                let recorded = self.store.mark_failed(message.id, &error.reason, now, retry_at).await;
                (if give_up { Outcome::Abandoned } else { Outcome::Retried }, recorded)
            }
        };
        if let Err(error) = recorded {
            // The lease runs out and the message is claimed again: at worst it is sent twice.
            tracing::error!(message_id = %message.id, error = %error, "could not record an email's outcome");
        }
        outcome
    }
}

enum Outcome {
    Delivered,
    Retried,
    Abandoned,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_thirty_seconds_to_an_hour() {
        let delays: Vec<i64> =
            (1..=9).map(|attempts| retry_delay(Duration::seconds(30), attempts).num_seconds()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(retry_delay(Duration::seconds(1), 3).num_seconds(), 4);
    }
}
