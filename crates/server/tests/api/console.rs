//! The admin console over HTTP (SPEC §9), as a browser without script would use it: the
//! sign-in (with a second factor when the account has one), the cookie and the page policy,
//! and every way around them tried: no cookie, a user's account, a demoted or signed-out
//! administrator, an old session, forms without their CSRF token or from another site.
//! `scripts/check-console` drives the same pages in headless Chromium.

use chrono::Duration;
use mana_core::email::Email;
use mana_core::ids::Role;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::common::{PASSWORD, TestApp, expect_error};

/// A browser's side of the console: its cookies, no redirects followed.
struct Console<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl<'a> Console<'a> {
    fn new(app: &'a TestApp) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Console { app, http, cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    /// Keeps what `Set-Cookie` sets; a cookie with `Max-Age=0` is dropped, as a browser does.
    fn keep_cookies(&mut self, response: &Response) {
        for header in response.headers().get_all(SET_COOKIE) {
            let text = header.to_str().unwrap();
            let (name, rest) = text.split_once('=').unwrap();
            let value = rest.split(';').next().unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !text.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    async fn get(&mut self, path: &str) -> Response {
        let response = self.http.get(self.app.url(path)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_with(path, fields, &[]).await
    }

    async fn post_with(&mut self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Response {
        let mut request = self.http.post(self.app.url(path)).header(COOKIE, self.cookie_header()).form(fields);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    /// The CSRF token of the page's forms.
    async fn csrf(&mut self, path: &str) -> String {
        let page = self.get(path).await.text().await.unwrap();
        field_value(&page, "csrf")
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> Response {
        let csrf = self.csrf("/admin/login").await;
        self.post("/admin/login", &[("csrf", &csrf), ("email", email), ("password", password)]).await
    }

    async fn second_factor(&mut self, csrf: &str, mfa_token: &str, code: &str) -> Response {
        self.post("/admin/login/verify", &[("csrf", csrf), ("mfa_token", mfa_token), ("code", code)]).await
    }

    fn session_cookie(&self) -> Option<&str> {
        self.cookies.iter().find(|(name, _)| name == "mana-admin").map(|(_, value)| value.as_str())
    }
}

/// The value of the hidden field `name` in a page.
fn field_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no field {name} in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn redirects_to(response: &Response, path: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], path);
}

async fn set_role(app: &TestApp, email: &str, role: Role) {
    let now = mana_core::clock::Clock::now(app.clock.as_ref());
    app.state.auth().store().set_role(&Email::parse(email).unwrap(), role, now).await.unwrap().unwrap();
}

async fn user_id(app: &TestApp, email: &str) -> String {
    let found = app.state.auth().store().find_credentials(&Email::parse(email).unwrap()).await.unwrap().unwrap();
    found.user.id.to_string()
}

#[tokio::test]
async fn an_administrator_signs_in_to_strict_cookies_and_pages_that_allow_no_inline_code() {
    let app = TestApp::spawn().await;
    app.administrator("root@example.com").await;
    let user = app.signed_in("someone@example.com").await;
    let mut console = Console::new(&app);
    redirects_to(&console.get("/admin").await, "/admin/login");

    let form = console.get("/admin/login").await;
    let sign_in_cookie = form.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(sign_in_cookie.starts_with("mana-admin-signin=") && sign_in_cookie.contains("HttpOnly; SameSite=Strict"));
    let signed_in = console.sign_in("root@example.com", PASSWORD).await;
    redirects_to(&signed_in, "/admin");
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("mana-admin="), "{cookie}");
    assert!(cookie.contains("; Path=/; Max-Age=28800; HttpOnly; SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "development serves plain HTTP: {cookie}");

    let user_page = format!("/admin/users/{}", user.user.id);
    for path in [
        "/admin",
        "/admin/users",
        "/admin/users?q=some&sort=email&deleted=on",
        &user_page,
        "/admin/ledger",
        "/admin/packages",
    ] {
        let page = console.get(path).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{path}");
        let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
        assert!(policy.starts_with("default-src 'none'; style-src 'self';"), "{path}: {policy}");
        assert!(!policy.contains("unsafe") && !policy.contains("script-src"), "{path}: {policy}");
        let html = page.text().await.unwrap();
        assert!(!html.contains("<script") && !html.contains(" style=") && !html.contains("http://"), "{path}");
    }
    let found = console.get("/admin/users?q=someone").await.text().await.unwrap();
    assert!(found.contains(">someone@example.com</a>") && !found.contains(">root@example.com</a>"), "{found}");
    let stylesheet = console.get("/admin/console.css").await;
    assert_eq!(stylesheet.headers()[CONTENT_TYPE], "text/css; charset=utf-8");

    // Bad input is a page for people, not a 500.
    assert_eq!(console.get("/admin/users/not-a-uuid").await.status(), StatusCode::NOT_FOUND);
    let unknown = format!("/admin/users/{}", uuid::Uuid::new_v4());
    assert_eq!(console.get(&unknown).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(console.get("/admin/users?offset=-5&sort=%FF").await.status(), StatusCode::OK);
    assert_eq!(console.get("/admin/ledger?from=yesterday").await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn outside_development_the_cookie_is_secure_and_host_only() {
    let app = TestApp::spawn_with(&[("ENVIRONMENT", "production")], None).await;
    app.administrator("root@example.com").await;
    let mut console = Console::new(&app);
    let form = console.get("/admin/login").await;
    assert!(form.headers()[SET_COOKIE].to_str().unwrap().starts_with("__Host-mana-admin-signin="));
    let csrf = field_value(&form.text().await.unwrap(), "csrf");
    let signed_in =
        console.post("/admin/login", &[("csrf", &csrf), ("email", "root@example.com"), ("password", PASSWORD)]).await;
    let cookie = signed_in.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("__Host-mana-admin=") && cookie.ends_with("; Secure"), "{cookie}");
}

#[tokio::test]
async fn a_users_account_gets_no_console_session() {
    let app = TestApp::spawn().await;
    let user = app.signed_in("plain@example.com").await;
    let mut console = Console::new(&app);
    let refused = console.sign_in("plain@example.com", PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("not an administrator"));
    assert!(console.session_cookie().is_none());
    let sessions: Value = app.get_as("/auth/sessions", &user.access_token).await.json().await.unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "the console's session was ended: {sessions}");

    let wrong = console.sign_in("plain@example.com", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Invalid credentials"));
}

#[tokio::test]
async fn an_administrator_with_two_factor_needs_a_code_to_get_in() {
    let app = TestApp::spawn().await;
    let enrolled = app.enrolled("guarded@example.com").await;
    set_role(&app, "guarded@example.com", Role::Admin).await;
    let mut console = Console::new(&app);
    let challenge = console.sign_in(&enrolled.email, PASSWORD).await;
    assert_eq!(challenge.status(), StatusCode::OK);
    assert!(console.session_cookie().is_none(), "no session before the second factor");
    let page = challenge.text().await.unwrap();
    let (csrf, mfa_token) = (field_value(&page, "csrf"), field_value(&page, "mfa_token"));

    let wrong = console.second_factor(&csrf, &mfa_token, "000000").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(console.session_cookie().is_none());
    let forged = console.second_factor("forged", &mfa_token, "1").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let code = app.code_now(&enrolled.secret);
    let verified = console.second_factor(&csrf, &mfa_token, &code).await;
    redirects_to(&verified, "/admin");
    assert_eq!(console.get("/admin").await.status(), StatusCode::OK);

    // A backup code does as well.
    let mut other = Console::new(&app);
    let page = other.sign_in(&enrolled.email, PASSWORD).await.text().await.unwrap();
    let (csrf, mfa_token) = (field_value(&page, "csrf"), field_value(&page, "mfa_token"));
    let backup = &enrolled.backup_codes[0];
    let verified = other.second_factor(&csrf, &mfa_token, backup).await;
    redirects_to(&verified, "/admin");
}

#[tokio::test]
async fn forms_without_their_csrf_token_or_from_another_site_change_nothing() {
    let app = TestApp::spawn().await;
    app.administrator("root@example.com").await;
    app.signed_in("target@example.com").await;
    let target = user_id(&app, "target@example.com").await;
    let mut console = Console::new(&app);

    // The sign-in form itself: without the cookie that pairs with its token, refused.
    let mut stranger = Console::new(&app);
    let token = stranger.csrf("/admin/login").await;
    stranger.cookies.clear();
    let fields = [("csrf", token.as_str()), ("email", "root@example.com"), ("password", PASSWORD)];
    assert_eq!(stranger.post("/admin/login", &fields).await.status(), StatusCode::FORBIDDEN);

    console.sign_in("root@example.com", PASSWORD).await;
    let lock = format!("/admin/users/{target}/lock");
    let csrf = console.csrf(&format!("/admin/users/{target}")).await;
    assert_eq!(console.post(&lock, &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(console.post(&lock, &[("csrf", "forged")]).await.status(), StatusCode::FORBIDDEN);
    let other_session = Console::new(&app).csrf("/admin/login").await;
    assert_eq!(console.post(&lock, &[("csrf", &other_session)]).await.status(), StatusCode::FORBIDDEN);
    let cross_site = console.post_with(&lock, &[("csrf", &csrf)], &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.login("target@example.com", PASSWORD).await.status(), StatusCode::OK, "nothing was locked");

    // A form from the console's own page, and a request without the session cookie.
    let mut anonymous = Console::new(&app);
    redirects_to(&anonymous.post(&lock, &[("csrf", &csrf)]).await, "/admin/login");
    redirects_to(&console.post(&lock, &[("csrf", &csrf)]).await, &format!("/admin/users/{target}?done=locked"));
    expect_error(app.login("target@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_locked").await;
    let unlock = format!("/admin/users/{target}/unlock");
    redirects_to(&console.post(&unlock, &[("csrf", &csrf)]).await, &format!("/admin/users/{target}?done=unlocked"));
    assert_eq!(app.login("target@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_console_session_ends_with_sign_out_demotion_a_lock_and_after_eight_hours() {
    let app = TestApp::spawn().await;
    app.administrator("root@example.com").await;
    let mut console = Console::new(&app);
    console.sign_in("root@example.com", PASSWORD).await;
    let refresh_token = console.session_cookie().unwrap().to_owned();

    set_role(&app, "root@example.com", Role::User).await;
    assert_eq!(console.get("/admin").await.status(), StatusCode::FORBIDDEN, "demoted: refused at once");
    set_role(&app, "root@example.com", Role::Admin).await;
    assert_eq!(console.get("/admin").await.status(), StatusCode::OK);

    app.advance(Duration::hours(8));
    redirects_to(&console.get("/admin").await, "/admin/login");

    console.sign_in("root@example.com", PASSWORD).await;
    let csrf = console.csrf("/admin").await;
    let current = console.session_cookie().unwrap().to_owned();
    redirects_to(&console.post("/admin/logout", &[("csrf", &csrf)]).await, "/admin/login");
    assert!(console.session_cookie().is_none(), "the cookie is cleared");
    console.cookies.push(("mana-admin".into(), current.clone()));
    redirects_to(&console.get("/admin").await, "/admin/login");
    expect_error(app.refresh(&current).await, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    assert_ne!(refresh_token, current);

    // The session is an ordinary one: the API's refresh rotates it, and the console then
    // refuses the old token it holds.
    let mut rotated = Console::new(&app);
    rotated.sign_in("root@example.com", PASSWORD).await;
    let token = rotated.session_cookie().unwrap().to_owned();
    assert_eq!(app.refresh(&token).await.status(), StatusCode::OK);
    redirects_to(&rotated.get("/admin").await, "/admin/login");
}

#[tokio::test]
async fn credits_adjusted_from_the_console_move_once_per_form() {
    let app = TestApp::spawn().await;
    app.administrator("root@example.com").await;
    let user = app.signed_in("paid@example.com").await;
    let target = user.user.id.to_string();
    let mut console = Console::new(&app);
    console.sign_in("root@example.com", PASSWORD).await;
    let page = console.get(&format!("/admin/users/{target}")).await.text().await.unwrap();
    let (csrf, key) = (field_value(&page, "csrf"), field_value(&page, "key"));
    let path = format!("/admin/users/{target}/credits");
    let balance = || async { app.balance(&user.access_token).await["balance"].as_i64().unwrap() };
    let before = balance().await;
    let fields = [("csrf", csrf.as_str()), ("key", key.as_str()), ("amount", "40"), ("reason", "Refund for a bug")];
    for _ in 0..2 {
        redirects_to(&console.post(&path, &fields).await, &format!("/admin/users/{target}?done=credits"));
    }
    assert_eq!(balance().await, before + 40, "the form sent twice adjusts once");
    let page = console.get(&format!("/admin/users/{target}?done=credits")).await.text().await.unwrap();
    assert!(page.contains("The credits were adjusted.") && page.contains("Refund for a bug"));

    let too_much = [("csrf", csrf.as_str()), ("key", "k2"), ("amount", "-100000"), ("reason", "Chargeback")];
    assert_eq!(console.post(&path, &too_much).await.status(), StatusCode::PAYMENT_REQUIRED);
    let no_reason = [("csrf", csrf.as_str()), ("key", "k3"), ("amount", "5"), ("reason", "")];
    assert_eq!(console.post(&path, &no_reason).await.status(), StatusCode::BAD_REQUEST);
    let not_a_number = [("csrf", csrf.as_str()), ("key", "k4"), ("amount", "lots"), ("reason", "x")];
    let answer = console.post(&path, &not_a_number).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.unwrap().contains("amount must be a whole number"));
    assert_eq!(balance().await, before + 40);
}

/// Raises one user's cached paid balance behind the service's back (the ledger itself cannot
/// be changed).
async fn tamper_with_balance(app: &TestApp, user: &str) {
    let changed = match app.state.backend() {
        mana_server::storage::Backend::Sqlite(store) => {
            sqlx::query("UPDATE credit_balances SET paid = paid + 1000 WHERE user_id = $1")
                .bind(user)
                .execute(store.pool())
                .await
                .map(|done| done.rows_affected())
        }
        mana_server::storage::Backend::Postgres(store) => {
            sqlx::query("UPDATE credits.balances SET paid = paid + 1000 WHERE user_id = $1")
                .bind(uuid::Uuid::parse_str(user).unwrap())
                .execute(store.pool())
                .await
                .map(|done| done.rows_affected())
        }
    };
    assert_eq!(changed.unwrap(), 1);
}

#[tokio::test]
async fn the_ledger_page_verifies_on_demand_and_names_what_is_broken() {
    let app = TestApp::spawn().await;
    app.administrator("root@example.com").await;
    app.signed_in("someone@example.com").await;
    let mut console = Console::new(&app);
    redirects_to(&console.sign_in("root@example.com", PASSWORD).await, "/admin");
    let csrf = console.csrf("/admin/ledger").await;
    let sound = console.post("/admin/ledger/verify", &[("csrf", &csrf)]).await;
    assert_eq!(sound.status(), StatusCode::OK);
    let page = sound.text().await.unwrap();
    assert!(page.contains("id=\"ledger-ok\"") && page.contains("2 balances"), "{page}");

    let user = user_id(&app, "someone@example.com").await;
    tamper_with_balance(&app, &user).await;
    let broken = console.post("/admin/ledger/verify", &[("csrf", &csrf)]).await;
    assert_eq!(broken.status(), StatusCode::OK);
    let page = broken.text().await.unwrap();
    assert!(!page.contains("ledger-ok"), "{page}");
    assert!(page.contains(&format!("user {user}: cached paid balance")), "{page}");
}
