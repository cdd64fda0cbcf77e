//! The ledger: credits used per app and day over a chosen period, and the full invariant check
//! on demand (it reads the whole ledger, so it runs when asked, not on every visit).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mana_proto::{DailyUsageView, LedgerReport};
use serde::Deserialize;

use super::charts;
use super::pages::{Problem, query, render};
use super::session::{AdminForm, ConsoleAdmin, NoFields};
use crate::administration;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct PeriodQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// Violations listed on the page; a ledger broken everywhere would make one too long to read,
/// and the CLI lists them all.
const SHOWN_VIOLATIONS: usize = 100;

#[derive(Template)]
#[template(path = "console/ledger.html")]
struct LedgerPage<'a> {
    shown_violations: usize,
    admin_email: &'a str,
    csrf: &'a str,
    from: String,
    to: String,
    usage: Vec<DailyUsageView>,
    chart: String,
    report: Option<LedgerReport>,
}

pub async fn show(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Response {
    let query: PeriodQuery = query(raw);
    ledger_page(&state, &admin, &query, None).await
}

async fn ledger_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    period: &PeriodQuery,
    report: Option<LedgerReport>,
) -> Response {
    let outcome = async {
        let (from, to) = administration::usage_days(state, Some(&period.from), Some(&period.to))?;
        Ok::<_, mana_core::Error>((from, to, administration::usage(state, from, to).await?))
    }
    .await;
    let (from, to, usage) = match outcome {
        Ok(found) => found,
        Err(error) => return Problem::from(error).into_response(),
    };
    let mut per_day = BTreeMap::new();
    for day in from.iter_days().take_while(|day| *day <= to) {
        per_day.insert(day.to_string(), 0);
    }
    for row in &usage {
        *per_day.entry(row.day.clone()).or_insert(0) += row.credits_used;
    }
    let per_day: Vec<(String, i64)> = per_day.into_iter().collect();
    let page = LedgerPage {
        shown_violations: SHOWN_VIOLATIONS,
        admin_email: admin.email(),
        csrf: &admin.csrf,
        from: from.to_string(),
        to: to.to_string(),
        chart: charts::columns("Credits used per day", &per_day),
        usage,
        report,
    };
    render(StatusCode::OK, &page)
}

pub async fn verify(State(state): State<AppState>, AdminForm { admin, .. }: AdminForm<NoFields>) -> Response {
    match administration::ledger_report(&state).await {
        Ok(report) => ledger_page(&state, &admin, &PeriodQuery::default(), Some(report)).await,
        Err(error) => Problem::from(error).into_response(),
    }
}
