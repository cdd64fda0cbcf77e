//! Domain counters, recorded through the `metrics` facade (the server installs the exporter).
//! Names are part of the operations contract: dashboards and alerts refer to them.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

pub const LOGINS: &str = "auth_logins_total";
pub const REFRESH_TOKEN_REUSE: &str = "auth_refresh_token_reuse_total";
pub const CREDITS_SPENT: &str = "credits_spent_total";

/// Distinct `app` label values kept; later apps are counted as `other`. App ids come from
/// clients, and every new label value is a new time series for Prometheus to keep.
const MAX_APP_LABELS: usize = 100;

pub fn login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

pub fn refresh_token_reused() {
    metrics::counter!(REFRESH_TOKEN_REUSE).increment(1);
}

pub fn credits_spent(app: &str, amount: i64) {
    let label = app_label(app);
    metrics::counter!(CREDITS_SPENT, "app" => label).increment(amount.max(0) as u64);
}

fn app_label(app: &str) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.contains(app) || (seen.len() < MAX_APP_LABELS && seen.insert(app.to_owned())) {
        app.to_owned()
    } else {
        "other".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_labels_are_bounded() {
        for n in 0..MAX_APP_LABELS + 20 {
            app_label(&format!("app-{n}"));
        }
        assert_eq!(app_label("app-0"), "app-0", "an app seen early keeps its label");
        assert_eq!(app_label("app-brand-new"), "other");
    }
}
