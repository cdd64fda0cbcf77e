//! The Grafana dashboard in deploy/ asks only for metrics the service really exports.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{PASSWORD, TestApp};

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/grafana/dashboards/mana-core-auth.json");

/// The metric names in a PromQL expression: identifiers not followed by `(` (functions), once
/// label matchers `{…}`, ranges `[…]` and `by (…)` lists are taken out.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut cleaned = String::new();
    let mut depth = 0;
    for c in expr.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    for grouping in ["by", "without"] {
        while let Some(start) = cleaned.find(&format!("{grouping} (")) {
            let end = cleaned[start..].find(')').map_or(cleaned.len(), |i| start + i + 1);
            cleaned.replace_range(start..end, " ");
        }
    }
    let mut names = BTreeSet::new();
    let chars: Vec<char> = cleaned.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_alphabetic() || chars[i] == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if next != Some(&'(') {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every series name on a Prometheus page, histograms with their `_bucket`, `_sum`, `_count`.
fn exported(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn metric_names_are_read_out_of_expressions() {
    let names =
        metric_names(r#"histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{route="/x"}[5m]))) / b_total"#);
    assert_eq!(names, BTreeSet::from(["a_seconds_bucket".to_owned(), "b_total".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_queries_only_metrics_the_service_exports() {
    // Traffic that records every metric at least once: a login of each outcome, a spend, a
    // refresh-token reuse, rate-limit rejections and a Redis error.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let redis_url = format!("redis://127.0.0.1:{closed_port}/");
    let app =
        TestApp::spawn_with(&[("REDIS_URL", redis_url.as_str()), ("RATE_LIMIT_LOGIN_PER_MINUTE", "3")], None).await;
    app.record_domain_metrics("dashboard@example.com", "dashboard", 1).await;
    // Over the login budget of 3 a minute: a rate-limit rejection.
    for _ in 0..3 {
        app.login("dashboard@example.com", PASSWORD).await;
    }
    let exported = exported(&app.metrics_page().await);

    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).unwrap();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            queried.extend(metric_names(target["expr"].as_str().unwrap()));
        }
    }
    assert!(queried.len() >= 8, "the dashboard queries {queried:?}");
    let unknown: Vec<&String> = queried.iter().filter(|name| !exported.contains(*name)).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics /metrics does not have: {unknown:?}\nexported: {exported:?}"
    );
}
