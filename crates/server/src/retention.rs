//! Retention (SPEC §4): `mana-core-auth prune`, and the same work on a timer inside `serve`.
//! Instances sharing a database take turns (the store skips a run while another holds it).

use std::sync::Arc;

use chrono::Duration;
use mana_core::clock::Clock;
use mana_core::store::{PruneCutoffs, PruneReport, Store};

use crate::config::RetentionSettings;

/// What a run started `now` deletes.
pub fn cutoffs(settings: &RetentionSettings, now: chrono::DateTime<chrono::Utc>) -> PruneCutoffs {
    PruneCutoffs {
        now,
        idempotency_before: now - Duration::days(settings.idempotency_days),
        events_before: now - Duration::days(settings.security_event_days),
    }
}

/// One run; `None` when another instance was pruning.
pub async fn prune_once(
    store: &dyn Store,
    settings: &RetentionSettings,
    clock: &dyn Clock,
) -> anyhow::Result<Option<PruneReport>> {
    Ok(store.prune(cutoffs(settings, clock.now())).await?)
}

/// Prunes every `settings.interval` until the process ends (the first run one interval after
/// start, so that instances restarted together do not all begin with it).
pub fn spawn(store: Arc<dyn Store>, settings: RetentionSettings, clock: Arc<dyn Clock>) {
    let Some(interval) = settings.interval else {
        return;
    };
    tokio::spawn(async move {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        loop {
            timer.tick().await;
            match prune_once(store.as_ref(), &settings, clock.as_ref()).await {
                Ok(Some(report)) => tracing::info!(?report, "pruned what has served its purpose"),
                Ok(None) => tracing::debug!("another instance is pruning"),
                Err(error) => tracing::warn!(error = format!("{error:#}"), "pruning failed; trying again later"),
            }
        }
    });
}
