//! Two-factor authentication over HTTP (SPEC §5), each rule tried against an attempt to break
//! it. Codes come from the tests' own TOTP (`support/totp.rs`) at times the manual clock sets.

use base64::Engine;
use chrono::Duration;
use mana_core::clock::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, expect_error};
use crate::totp;

/// A signed-in user with 2FA on: their first tokens, the secret and the backup codes.
pub(crate) struct Enrolled {
    pub(crate) email: String,
    pub(crate) secret: String,
    pub(crate) backup_codes: Vec<String>,
    pub(crate) access_token: String,
}

impl TestApp {
    async fn authed_post(&self, path: &str, access_token: &str, body: Value) -> reqwest::Response {
        self.http.post(self.api(path)).bearer_auth(access_token).json(&body).send().await.unwrap()
    }

    /// The code of `secret` at the manual clock's time.
    pub(crate) fn code_now(&self, secret: &str) -> String {
        totp::code(secret, self.clock.now().timestamp())
    }

    pub(crate) async fn enrolled(&self, email: &str) -> Enrolled {
        let tokens = self.signed_in(email).await;
        let setup: Value =
            self.authed_post("/auth/2fa/totp/setup", &tokens.access_token, json!({})).await.json().await.unwrap();
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let enabled =
            self.authed_post("/auth/2fa/totp/enable", &tokens.access_token, json!({"code": self.code_now(&secret)}));
        let enabled = enabled.await;
        assert_eq!(enabled.status(), StatusCode::OK);
        let codes: Value = enabled.json().await.unwrap();
        let backup_codes = codes["backupCodes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned());
        // The enabling code's step is used: the next login needs the next one.
        self.advance(Duration::seconds(30));
        Enrolled {
            email: email.to_owned(),
            secret,
            backup_codes: backup_codes.collect(),
            access_token: tokens.access_token,
        }
    }

    /// Logs in with the password; the `mfaToken` the answer asks for.
    async fn mfa_token(&self, email: &str) -> String {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["mfaRequired"], true, "{body}");
        assert!(body.get("accessToken").is_none(), "no tokens before the second factor: {body}");
        assert_eq!(body["methods"], json!(["totp", "backup_code"]));
        body["mfaToken"].as_str().unwrap().to_owned()
    }

    async fn verify(&self, body: Value) -> reqwest::Response {
        self.post("/auth/2fa/verify", body).await
    }
}

/// The claims of an access token (its signature is the server's business, checked elsewhere).
fn claims(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn totp_is_set_up_enabled_with_a_code_and_then_asked_for_at_every_login() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("two@example.com").await;
    assert_eq!(claims(&tokens.access_token)["amr"], json!(["pwd"]));
    let setup: Value =
        app.authed_post("/auth/2fa/totp/setup", &tokens.access_token, json!({})).await.json().await.unwrap();
    let secret = setup["secret"].as_str().unwrap();
    assert_eq!(data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).unwrap().len(), 20, "160 bits");
    let url = setup["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/Mana:two%40example.com?secret=") && url.contains(secret), "{url}");
    assert!(setup["qrSvg"].as_str().unwrap().starts_with("<?xml"), "an SVG document");

    let wrong = app.authed_post("/auth/2fa/totp/enable", &tokens.access_token, json!({"code": "000000"})).await;
    let error = expect_error(wrong, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(error.errors.unwrap()[0].field, "code");
    let me: Value =
        app.http.get(app.api("/auth/me")).bearer_auth(&tokens.access_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["twoFactorEnabled"], false, "not on before a right code");

    let enabled =
        app.authed_post("/auth/2fa/totp/enable", &tokens.access_token, json!({"code": app.code_now(secret)})).await;
    assert_eq!(enabled.status(), StatusCode::OK);
    let codes: Value = enabled.json().await.unwrap();
    let codes = codes["backupCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.as_str().unwrap().len() == 19), "{codes:?}");
    let me: Value =
        app.http.get(app.api("/auth/me")).bearer_auth(&tokens.access_token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["twoFactorEnabled"], true);
    let again = app.authed_post("/auth/2fa/totp/setup", &tokens.access_token, json!({})).await;
    expect_error(again, StatusCode::CONFLICT, "two_factor_already_enabled").await;

    app.advance(Duration::seconds(30));
    let mfa_token = app.mfa_token("two@example.com").await;
    let verified = app.verify(json!({"mfaToken": mfa_token, "code": app.code_now(secret)})).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let signed: Value = verified.json().await.unwrap();
    let access = signed["accessToken"].as_str().unwrap();
    assert_eq!(claims(access)["amr"], json!(["pwd", "otp"]));
    assert!(signed["deviceToken"].is_string());
    // The second factor stays on the session's record: refreshed tokens say so too.
    let refreshed: Value = app.refresh(signed["refreshToken"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(claims(refreshed["accessToken"].as_str().unwrap())["amr"], json!(["pwd", "otp"]));

    let events: Value =
        app.http.get(app.api("/auth/security-events")).bearer_auth(access).send().await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"two_factor_enabled") && kinds.contains(&"two_factor_failed"), "{kinds:?}");
}

#[tokio::test]
async fn a_code_is_accepted_once_and_never_an_older_one() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("replay@example.com").await;
    let code = app.code_now(&user.secret);
    let first = app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "code": code})).await;
    assert_eq!(first.status(), StatusCode::OK);
    let replayed = app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "code": code})).await;
    expect_error(replayed, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    // The previous step's code is still inside the skew window, but older than the one used.
    let older = totp::code(&user.secret, app.clock.now().timestamp() - 30);
    let older = app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "code": older})).await;
    expect_error(older, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    app.advance(Duration::seconds(30));
    let next =
        app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "code": app.code_now(&user.secret)})).await;
    assert_eq!(next.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_verifies_of_one_code_at_once_make_one_login() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("race@example.com").await;
    let code = app.code_now(&user.secret);
    let mut attempts = Vec::new();
    for _ in 0..2 {
        let token = app.mfa_token(&user.email).await;
        let (http, url, code) = (app.http.clone(), app.api("/auth/2fa/verify"), code.clone());
        attempts.push(tokio::spawn(async move {
            http.post(url).json(&json!({"mfaToken": token, "code": code})).send().await.unwrap().status()
        }));
    }
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
}

#[tokio::test]
async fn an_mfa_token_dies_after_five_minutes_after_use_and_after_five_wrong_codes() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("limits@example.com").await;

    let expiring = app.mfa_token(&user.email).await;
    app.advance(Duration::seconds(301));
    let late = app.verify(json!({"mfaToken": expiring, "code": app.code_now(&user.secret)})).await;
    expect_error(late, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;

    let guessed = app.mfa_token(&user.email).await;
    for guess in ["000000", "111111", "222222", "333333", "444444"] {
        let wrong = app.verify(json!({"mfaToken": guessed, "code": guess})).await;
        expect_error(wrong, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    }
    let sixth = app.verify(json!({"mfaToken": guessed, "code": app.code_now(&user.secret)})).await;
    expect_error(sixth, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;

    let used = app.mfa_token(&user.email).await;
    let ok = app.verify(json!({"mfaToken": used, "code": app.code_now(&user.secret)})).await;
    assert_eq!(ok.status(), StatusCode::OK);
    app.advance(Duration::seconds(30));
    let again = app.verify(json!({"mfaToken": used, "code": app.code_now(&user.secret)})).await;
    expect_error(again, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
    for junk in ["", "not-a-token", &"A".repeat(43)] {
        let dead = app.verify(json!({"mfaToken": junk, "code": "123456"})).await;
        assert_eq!(dead.status(), if junk.is_empty() { StatusCode::BAD_REQUEST } else { StatusCode::UNAUTHORIZED });
    }
}

#[tokio::test]
async fn an_mfa_token_is_useless_with_another_users_code_and_as_a_bearer_token() {
    let app = TestApp::spawn().await;
    let ann = app.enrolled("ann@example.com").await;
    let bob = app.enrolled("bob@example.com").await;
    let anns_token = app.mfa_token(&ann.email).await;
    let bobs_code = app.verify(json!({"mfaToken": anns_token, "code": app.code_now(&bob.secret)})).await;
    expect_error(bobs_code, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    let bobs_backup = app.verify(json!({"mfaToken": anns_token, "backupCode": bob.backup_codes[0]})).await;
    expect_error(bobs_backup, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    let as_bearer = app.http.get(app.api("/auth/me")).bearer_auth(&anns_token).send().await.unwrap();
    expect_error(as_bearer, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let as_refresh = app.refresh(&anns_token).await;
    expect_error(as_refresh, StatusCode::UNAUTHORIZED, "invalid_refresh_token").await;
    // Bob's backup code still works for Bob.
    let bobs =
        app.verify(json!({"mfaToken": app.mfa_token(&bob.email).await, "backupCode": bob.backup_codes[0]})).await;
    assert_eq!(bobs.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_backup_code_works_once_and_a_new_set_voids_the_old() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("backup@example.com").await;
    let code = user.backup_codes[3].to_uppercase().replace('-', " ");
    let first = app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "backupCode": code})).await;
    assert_eq!(first.status(), StatusCode::OK, "accepted as typed, any case, any separator");
    let signed: Value = first.json().await.unwrap();
    assert_eq!(claims(signed["accessToken"].as_str().unwrap())["amr"], json!(["pwd", "otp"]));
    let reused =
        app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "backupCode": user.backup_codes[3]})).await;
    expect_error(reused, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    let both =
        app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "code": "123456", "backupCode": "x"})).await;
    expect_error(both, StatusCode::BAD_REQUEST, "validation_failed").await;

    let renewed = app
        .authed_post("/auth/2fa/backup-codes", &user.access_token, json!({"code": app.code_now(&user.secret)}))
        .await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let renewed: Value = renewed.json().await.unwrap();
    let old =
        app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "backupCode": user.backup_codes[0]})).await;
    expect_error(old, StatusCode::UNAUTHORIZED, "invalid_two_factor_code").await;
    let new = renewed["backupCodes"][0].as_str().unwrap();
    let fresh = app.verify(json!({"mfaToken": app.mfa_token(&user.email).await, "backupCode": new})).await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let access = fresh.json::<Value>().await.unwrap()["accessToken"].as_str().unwrap().to_owned();
    let events: Value =
        app.http.get(app.api("/auth/security-events")).bearer_auth(&access).send().await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"backup_code_used") && kinds.contains(&"backup_codes_regenerated"), "{kinds:?}");
}

#[tokio::test]
async fn disabling_needs_the_password_and_a_right_code() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("off@example.com").await;
    let wrong_code =
        app.authed_post("/auth/2fa/disable", &user.access_token, json!({"password": PASSWORD, "code": "000000"})).await;
    let error = expect_error(wrong_code, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(error.errors.unwrap()[0].field, "code");
    let wrong_password = app
        .authed_post(
            "/auth/2fa/disable",
            &user.access_token,
            json!({"password": "nope", "code": app.code_now(&user.secret)}),
        )
        .await;
    let error = expect_error(wrong_password, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(error.errors.unwrap()[0].field, "password");
    assert!(app.login(&user.email, PASSWORD).await.json::<Value>().await.unwrap()["mfaRequired"] == true, "still on");

    let off = app
        .authed_post(
            "/auth/2fa/disable",
            &user.access_token,
            json!({"password": PASSWORD, "code": app.code_now(&user.secret)}),
        )
        .await;
    assert_eq!(off.status(), StatusCode::OK);
    let login: Value = app.login(&user.email, PASSWORD).await.json().await.unwrap();
    assert!(login["accessToken"].is_string(), "a password alone signs in again: {login}");
    let twice =
        app.authed_post("/auth/2fa/disable", &user.access_token, json!({"password": PASSWORD, "code": "123456"})).await;
    expect_error(twice, StatusCode::CONFLICT, "two_factor_not_enabled").await;
}

#[tokio::test]
async fn a_known_device_does_not_skip_the_second_factor() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("device@example.com").await;
    let device_token = tokens.device_token.clone().unwrap();
    let setup: Value =
        app.authed_post("/auth/2fa/totp/setup", &tokens.access_token, json!({})).await.json().await.unwrap();
    let code = app.code_now(setup["secret"].as_str().unwrap());
    app.authed_post("/auth/2fa/totp/enable", &tokens.access_token, json!({"code": code})).await;
    let login = json!({"email": "device@example.com", "password": PASSWORD, "deviceToken": device_token});
    let answer: Value = app.post("/auth/login", login).await.json().await.unwrap();
    assert_eq!(answer["mfaRequired"], true, "{answer}");
}

#[tokio::test]
async fn a_deleted_account_cannot_finish_its_login() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("gone@example.com").await;
    let mfa_token = app.mfa_token(&user.email).await;
    let deleted = app
        .http
        .delete(app.api("/auth/me"))
        .bearer_auth(&user.access_token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let late = app.verify(json!({"mfaToken": mfa_token, "code": app.code_now(&user.secret)})).await;
    expect_error(late, StatusCode::UNAUTHORIZED, "invalid_mfa_token").await;
}

/// Every value of every row of every table, as text (blobs in hex).
async fn every_stored_value(app: &TestApp) -> String {
    use sqlx::Row;
    let mut dump = String::new();
    match app.state.backend() {
        mana_server::storage::Backend::Sqlite(store) => {
            let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(store.pool())
                .await
                .unwrap();
            for table in tables {
                let columns: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{table}')"))
                        .fetch_all(store.pool())
                        .await
                        .unwrap();
                let quoted: Vec<String> = columns.iter().map(|c| format!("quote(\"{c}\")")).collect();
                let query = format!("SELECT {} AS row FROM \"{table}\"", quoted.join(" || ' ' || "));
                for row in sqlx::query(&query).fetch_all(store.pool()).await.unwrap() {
                    dump.push_str(&row.get::<String, _>("row"));
                    dump.push('\n');
                }
            }
        }
        mana_server::storage::Backend::Postgres(store) => {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables
                 WHERE table_schema IN ('auth', 'credits') AND table_type = 'BASE TABLE'",
            )
            .fetch_all(store.pool())
            .await
            .unwrap();
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
                dump.push_str(&rows.join("\n"));
            }
        }
    }
    dump.to_lowercase()
}

#[tokio::test]
async fn the_database_holds_no_totp_secret_and_no_backup_code_in_clear() {
    let app = TestApp::spawn().await;
    let user = app.enrolled("vault@example.com").await;
    let dump = every_stored_value(&app).await;
    assert!(dump.contains("vault@example.com") && dump.contains("v1."), "the dump reads the factor's table too");
    let raw = data_encoding::BASE32_NOPAD.decode(user.secret.as_bytes()).unwrap();
    let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    assert!(!dump.contains(&user.secret.to_lowercase()), "the base32 secret is stored");
    assert!(!dump.contains(&hex), "the raw secret is stored");
    for code in &user.backup_codes {
        assert!(!dump.contains(code) && !dump.contains(&code.replace('-', "")), "a backup code is stored");
    }
}

/// What an authenticator app's camera sees: the served SVG drawn to pixels by resvg and read
/// by rqrr, neither of which shares code with the server's encoder.
fn scan_qr(svg: &str) -> String {
    let tree = resvg::usvg::Tree::from_str(svg, &resvg::usvg::Options::default()).expect("a valid SVG document");
    let scale = 4.0;
    let size = tree.size().to_int_size().scale_by(scale).unwrap();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&tree, resvg::tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    let (width, height) = (pixmap.width() as usize, pixmap.height() as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        pixmap.pixel(x as u32, y as u32).map_or(255, |pixel| pixel.red())
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, content) = grids[0].decode().expect("a readable QR code");
    content
}

#[tokio::test]
async fn the_setup_qr_code_scans_to_the_otpauth_url() {
    let app = TestApp::spawn().await;
    let tokens = app.signed_in("scan@example.com").await;
    let setup: Value =
        app.authed_post("/auth/2fa/totp/setup", &tokens.access_token, json!({})).await.json().await.unwrap();
    let otpauth_url = setup["otpauthUrl"].as_str().unwrap();
    assert!(otpauth_url.starts_with("otpauth://totp/"), "{otpauth_url}");
    assert!(otpauth_url.contains(&format!("secret={}", setup["secret"].as_str().unwrap())), "{otpauth_url}");
    assert_eq!(scan_qr(setup["qrSvg"].as_str().unwrap()), otpauth_url);
}
