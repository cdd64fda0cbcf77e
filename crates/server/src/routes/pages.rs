//! `/auth/verify-email` and `/auth/reset-password`: the small pages email links lead to unless
//! `EMAIL_VERIFY_URL`/`PASSWORD_RESET_URL` send them to an app (SPEC §4); and the simulated
//! checkout of development (`checkout.rs`).
//!
//! Plain HTML forms: no script, nothing from elsewhere, a policy that allows only their own
//! inline style and posting back here, and (as everywhere) `Referrer-Policy: no-referrer`, so
//! the token in the address never leaves in a `Referer`. Opening a link changes nothing (mail
//! scanners open links); the form's POST does, and it carries the token, which a cross-site
//! forger does not have; a browser's `Sec-Fetch-Site: cross-site` is refused besides.

use std::sync::LazyLock;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router, middleware};
use mana_core::Error;
use mana_core::crypto::{base64_encode, sha256};
use mana_core::mail::escape_html;
use mana_proto::ErrorCode;
use serde::Deserialize;

use crate::http::Client;
use crate::http::error::Enveloped;
use crate::state::AppState;

mod checkout;

pub use checkout::{SIMULATED_CHECKOUT, checkout_token};

pub const VERIFY_EMAIL_PAGE: &str = "/auth/verify-email";
pub const RESET_PASSWORD_PAGE: &str = "/auth/reset-password";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;\
color:#1d1d1f}h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem}input{width:100%;padding:.5rem;\
box-sizing:border-box}button{margin-top:1.2rem;padding:.6rem 1.2rem}.error{color:#b00020}";

/// Only this page's own inline style (by its hash), and forms posting back to this origin.
static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64_encode(&sha256(STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

pub fn router() -> Router<AppState> {
    Router::new()
        .route(VERIFY_EMAIL_PAGE, get(verify_form).post(verify_submit))
        .route(RESET_PASSWORD_PAGE, get(reset_form).post(reset_submit))
        .route(&format!("{SIMULATED_CHECKOUT}/{{id}}"), get(checkout::show).post(checkout::decide))
        .route_layer(middleware::map_response(|mut response: Response| async move {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, POLICY.clone());
            response
        }))
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct VerifyForm {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn verify_form(Query(query): Query<TokenQuery>) -> Response {
    let body = format!(
        "<p>Confirm your email address to finish setting up your account.</p>\
         <form method=\"post\" action=\"{VERIFY_EMAIL_PAGE}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
         <button type=\"submit\">Confirm my email address</button></form>",
        escape_html(&query.token)
    );
    page(StatusCode::OK, "Confirm your email address", &body)
}

async fn verify_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Client(client): Client,
    Form(form): Form<VerifyForm>,
) -> Response {
    if is_cross_site(&headers) {
        return cross_site();
    }
    match state.auth().verify_email(&form.token, &client).await {
        Ok(()) => page(
            StatusCode::OK,
            "Email address confirmed",
            "<p>Your email address is confirmed. You can close this page.</p>",
        ),
        Err(error) => failure(error),
    }
}

async fn reset_form(Query(query): Query<TokenQuery>) -> Response {
    reset_page(StatusCode::OK, &query.token, None)
}

async fn reset_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Client(client): Client,
    Form(form): Form<ResetForm>,
) -> Response {
    if is_cross_site(&headers) {
        return cross_site();
    }
    if form.password != form.confirm {
        return reset_page(StatusCode::BAD_REQUEST, &form.token, Some("The two passwords differ."));
    }
    match state.auth().reset_password(&form.token, &form.password, &client).await {
        Ok(()) => page(
            StatusCode::OK,
            "Password changed",
            "<p>Your password was changed and every device was signed out. Sign in again with the new password.</p>",
        ),
        Err(Error::Validation(problems)) => {
            let message = problems.iter().map(|p| format!("The password {}.", p.message)).collect::<Vec<_>>().join(" ");
            reset_page(StatusCode::BAD_REQUEST, &form.token, Some(&message))
        }
        Err(error) => failure(error),
    }
}

fn reset_page(status: StatusCode, token: &str, problem: Option<&str>) -> Response {
    let problem =
        problem.map(|p| format!("<p class=\"error\" role=\"alert\">{}</p>", escape_html(p))).unwrap_or_default();
    let body = format!(
        "{problem}<form method=\"post\" action=\"{RESET_PASSWORD_PAGE}\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <label for=\"password\">New password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
         <label for=\"confirm\">The same again</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>\
         <button type=\"submit\">Change my password</button></form>",
        escape_html(token)
    );
    page(status, "Choose a new password", &body)
}

/// A used, expired, unknown or wrong link reads the same; anything else is our fault.
fn failure(error: Error) -> Response {
    match error {
        Error::InvalidLinkToken | Error::Validation(_) => page(
            StatusCode::BAD_REQUEST,
            "This link does not work",
            "<p class=\"error\">The link is invalid, was already used, or has expired. Ask for a new one.</p>",
        ),
        Error::Unavailable(_) => {
            page(StatusCode::SERVICE_UNAVAILABLE, "Try again", "<p>Please try again in a moment.</p>")
        }
        other => {
            tracing::error!(error = format!("{other:#}"), "a link page failed");
            page(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", "<p>Please try again later.</p>")
        }
    }
}

fn is_cross_site(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|site| site == "cross-site")
}

fn cross_site() -> Response {
    page(StatusCode::FORBIDDEN, "Not allowed", "<p class=\"error\">This form can only be sent from its own page.</p>")
}

/// An answer for people. An error page carries its code for the request log, and is marked as
/// final so that it is not replaced by the JSON error envelope.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{STYLE}</style></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    );
    let mut response = (status, Html(html)).into_response();
    let code = match status {
        StatusCode::OK => None,
        StatusCode::FORBIDDEN => Some(ErrorCode::Forbidden),
        StatusCode::SERVICE_UNAVAILABLE => Some(ErrorCode::ServiceUnavailable),
        status if status.is_server_error() => Some(ErrorCode::InternalError),
        _ => Some(ErrorCode::BadRequest),
    };
    if let Some(code) = code {
        response.extensions_mut().insert(Enveloped(code));
    }
    response
}
