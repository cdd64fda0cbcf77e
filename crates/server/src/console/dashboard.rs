//! The first page: how many accounts there are, sign-ups and credits spent per day over the
//! last 30 days, and how sign-ins ended.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use mana_core::Error;
use mana_core::paging::Page;
use mana_core::store::{SecurityEventKind, UserOrder};

use super::charts;
use super::pages::{Problem, render};
use super::session::ConsoleAdmin;
use crate::state::AppState;

/// The days the dashboard looks back over, today included.
const DAYS: i64 = 30;

/// Sign-ins by how they ended, as the security events record them.
const SIGN_IN_OUTCOMES: [(SecurityEventKind, &str); 3] = [
    (SecurityEventKind::LoginSuccess, "Signed in"),
    (SecurityEventKind::LoginFailure, "Refused (password)"),
    (SecurityEventKind::TwoFactorFailed, "Refused (second factor)"),
];

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage<'a> {
    admin_email: &'a str,
    csrf: &'a str,
    days: i64,
    users: i64,
    signups: i64,
    spent: i64,
    signups_chart: String,
    spent_chart: String,
    outcomes: Vec<(&'static str, i64)>,
    outcomes_chart: String,
}

pub async fn show(State(state): State<AppState>, admin: ConsoleAdmin) -> Response {
    match dashboard(&state, &admin).await {
        Ok(response) => response,
        Err(error) => Problem::from(error).into_response(),
    }
}

async fn dashboard(state: &AppState, admin: &ConsoleAdmin) -> Result<Response, Error> {
    let now = state.auth().clock().now();
    let last = now.date_naive();
    let first = last - Duration::days(DAYS - 1);
    let since = Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default());
    let store = state.auth().store();

    let everyone =
        state.auth().search_users(None, UserOrder::NewestFirst, false, Page { limit: Some(1), offset: None });
    let users = everyone.await?.total;
    let signups: Vec<_> =
        store.daily_signups(since, now).await.map_err(Error::from)?.iter().map(|d| (d.day, d.count)).collect();
    let mut spent = Vec::new();
    for usage in store.daily_usage(first, last).await.map_err(Error::from)? {
        match spent.last_mut() {
            Some((day, total)) if *day == usage.day => *total += usage.credits_used.0,
            _ => spent.push((usage.day, usage.credits_used.0)),
        }
    }
    let kinds = SIGN_IN_OUTCOMES.map(|(kind, _)| kind);
    let counted = store.count_events(&kinds, since, now).await.map_err(Error::from)?;
    let outcomes: Vec<(&'static str, i64)> = SIGN_IN_OUTCOMES
        .iter()
        .map(|(kind, label)| (*label, counted.iter().find(|c| c.kind == *kind).map_or(0, |c| c.count)))
        .collect();

    let signups = every_day(first, last, &signups);
    let spent = every_day(first, last, &spent);
    let named: Vec<(String, i64)> = outcomes.iter().map(|(label, count)| ((*label).to_owned(), *count)).collect();
    let page = DashboardPage {
        admin_email: admin.email(),
        csrf: &admin.csrf,
        days: DAYS,
        users,
        signups: signups.iter().map(|(_, n)| n).sum(),
        spent: spent.iter().map(|(_, n)| n).sum(),
        signups_chart: charts::columns("Sign-ups per day", &signups),
        spent_chart: charts::columns("Credits spent per day", &spent),
        outcomes_chart: charts::bars("Sign-ins by outcome", &named),
        outcomes,
    };
    Ok(render(StatusCode::OK, &page))
}

/// A value for every day from `first` to `last`: the counted ones, zero for the rest.
fn every_day(first: NaiveDate, last: NaiveDate, counted: &[(NaiveDate, i64)]) -> Vec<(String, i64)> {
    first
        .iter_days()
        .take_while(|day| *day <= last)
        .map(|day| (day.to_string(), counted.iter().find(|(d, _)| *d == day).map_or(0, |(_, n)| *n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_counts_are_zero() {
        let first = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let filled = every_day(first, first + Duration::days(2), &[(first + Duration::days(1), 4)]);
        assert_eq!(filled, [("2026-12-01".into(), 0), ("2026-12-02".into(), 4), ("2026-12-03".into(), 0)]);
    }
}
