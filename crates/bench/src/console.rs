//! The admin console's pages on a seeded database (`seed.rs`): each page asked for one at a
//! time, as an administrator clicks, and timed from request to the last byte of the page.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::seed::{ADMIN_EMAIL, PASSWORD, Seeded};

/// Requests per page that are timed, after a few that warm the caches.
const TIMED: usize = 30;
const WARM_UP: usize = 3;
/// The ledger check reads the whole ledger; a few runs show its spread.
const VERIFY_TIMED: usize = 5;

pub struct PageTiming {
    pub page: String,
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
}

/// The value of the hidden field `name` in a page.
fn field(page: &str, name: &str) -> anyhow::Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).context("no such field")? + marker.len();
    Ok(page[start..].split('"').next().unwrap_or_default().to_owned())
}

fn cookie(response: &reqwest::Response, name: &str) -> anyhow::Result<String> {
    for header in response.headers().get_all(SET_COOKIE) {
        if let Some(pair) = header.to_str()?.split(';').next()
            && pair.starts_with(&format!("{name}="))
        {
            return Ok(pair.to_owned());
        }
    }
    bail!("no cookie {name}")
}

/// Signs in to the console; the session cookie (`name=value`).
async fn sign_in(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let form = client.get(format!("{base}/admin/login")).send().await?;
    let sign_in_cookie = cookie(&form, "mana-admin-signin")?;
    let csrf = field(&form.text().await?, "csrf")?;
    let fields = [("csrf", csrf.as_str()), ("email", ADMIN_EMAIL), ("password", PASSWORD)];
    let signed_in =
        client.post(format!("{base}/admin/login")).header(COOKIE, sign_in_cookie).form(&fields).send().await?;
    if signed_in.headers().get(LOCATION).is_none_or(|to| to != "/admin") {
        bail!("the console sign-in failed: {}", signed_in.status());
    }
    cookie(&signed_in, "mana-admin")
}

async fn time(request: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = request().send().await?;
    let status = response.status();
    response.bytes().await?;
    if !status.is_success() {
        bail!("the page answered {status}");
    }
    Ok(started.elapsed())
}

pub async fn measure(base: &str, seeded: &Seeded) -> anyhow::Result<Vec<PageTiming>> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let session = sign_in(&client, base).await?;
    let dashboard = client.get(format!("{base}/admin")).header(COOKIE, &session).send().await?.text().await?;
    let csrf = field(&dashboard, "csrf")?;
    let last_page = seeded.users.saturating_sub(50);
    let gets = [
        "/admin".to_owned(),
        "/admin/users".to_owned(),
        "/admin/users?q=user4242".to_owned(),
        "/admin/users?q=seeded+user9".to_owned(),
        "/admin/users?sort=email&offset=50000".to_owned(),
        format!("/admin/users?sort=oldest&offset={last_page}"),
        format!("/admin/users/{}", seeded.sample_user),
        "/admin/ledger".to_owned(),
        "/admin/packages".to_owned(),
    ];
    let mut timings = Vec::new();
    for page in &gets {
        let request = || client.get(format!("{base}{page}")).header(COOKIE, &session);
        timings.push(timed(page.clone(), WARM_UP, TIMED, request).await.with_context(|| page.clone())?);
    }
    let verify =
        || client.post(format!("{base}/admin/ledger/verify")).header(COOKIE, &session).form(&[("csrf", csrf.as_str())]);
    timings.push(timed("POST /admin/ledger/verify".into(), 1, VERIFY_TIMED, verify).await?);
    Ok(timings)
}

async fn timed(
    page: String,
    warm_up: usize,
    count: usize,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<PageTiming> {
    for _ in 0..warm_up {
        time(&request).await?;
    }
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        samples.push(time(&request).await?);
    }
    samples.sort();
    let at = |fraction: f64| samples[((samples.len() - 1) as f64 * fraction).round() as usize];
    Ok(PageTiming { page, p50: at(0.5), p95: at(0.95), max: at(1.0) })
}
