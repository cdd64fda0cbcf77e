//! Who is using the console: the cookie that holds the console's session, the CSRF token of
//! every form, and the extractors that let only an administrator's live session through.
//!
//! The cookie holds the refresh token of the session that the console's sign-in started;
//! it is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it)
//! and, outside development, `Secure` with the `__Host-` prefix (only this host, only over
//! TLS). The console never rotates the token: each request looks the session up by it
//! ([`mana_core::auth::AuthService::console_caller`]), so signing out, an administrator ending
//! the session, a lock or a demotion take effect at the next request.
//!
//! Every form carries a CSRF token derived from the session's secret (HMAC of the refresh
//! token), so a page elsewhere cannot make one, and nothing has to be stored for it. The
//! sign-in form, before there is a session, pairs a random token with a short-lived cookie
//! holding the same value.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use mana_core::auth::{Authenticated, CONSOLE_SESSION_HOURS};
use mana_core::crypto::{base64url_encode, constant_time_eq, hmac_sha256, random_bytes};
use mana_core::ids::Role;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::pages::message_page;
use crate::state::AppState;

/// Where the console lives, and where it sends a visitor who is not signed in.
pub const CONSOLE: &str = "/admin";
pub const SIGN_IN: &str = "/admin/login";

/// How long the sign-in form's own CSRF cookie lives, in seconds.
const SIGN_IN_FORM_SECONDS: i64 = 600;

/// The names of the session cookie and of the sign-in form's cookie. `__Host-` makes a
/// browser refuse the cookie unless it is `Secure`, has `Path=/` and names no domain: only
/// this host over TLS can set it. Development serves plain HTTP, where that prefix would make
/// the browser drop the cookie.
fn cookie_names(secure: bool) -> (&'static str, &'static str) {
    if secure { ("__Host-mana-admin", "__Host-mana-admin-signin") } else { ("mana-admin", "mana-admin-signin") }
}

/// A `Set-Cookie` value; `None` as the value clears the cookie.
fn set_cookie(name: &str, value: Option<&str>, max_age: i64, secure: bool) -> HeaderValue {
    let (value, max_age) = match value {
        Some(value) => (value, max_age),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("mana-admin=; Max-Age=0"))
}

/// The value of the cookie `name` in the request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn secure(state: &AppState) -> bool {
    state.http().secure_cookies
}

/// The session cookie for a session's refresh token, living as long as a console session may.
pub fn session_cookie(state: &AppState, refresh_token: &str) -> HeaderValue {
    let (session, _) = cookie_names(secure(state));
    set_cookie(session, Some(refresh_token), CONSOLE_SESSION_HOURS * 3600, secure(state))
}

pub fn clear_session_cookie(state: &AppState) -> HeaderValue {
    set_cookie(cookie_names(secure(state)).0, None, 0, secure(state))
}

/// The refresh token in the request's session cookie.
pub fn session_token<'a>(state: &AppState, headers: &'a HeaderMap) -> Option<&'a str> {
    cookie(headers, cookie_names(secure(state)).0)
}

/// A new CSRF token for the sign-in form, and the cookie that pairs with it.
pub fn sign_in_csrf(state: &AppState) -> (String, HeaderValue) {
    let token = base64url_encode(&random_bytes::<32>());
    let cookie = set_cookie(cookie_names(secure(state)).1, Some(&token), SIGN_IN_FORM_SECONDS, secure(state));
    (token, cookie)
}

/// Whether the sign-in form's token is the one its cookie holds.
pub fn sign_in_csrf_holds(state: &AppState, headers: &HeaderMap, sent: &str) -> bool {
    cookie(headers, cookie_names(secure(state)).1)
        .is_some_and(|expected| !sent.is_empty() && constant_time_eq(expected.as_bytes(), sent.as_bytes()))
}

/// The CSRF token of the forms of the session whose refresh token this is.
fn csrf_token(refresh_token: &str) -> String {
    base64url_encode(&hmac_sha256(refresh_token.as_bytes(), b"mana-core-auth admin console form"))
}

/// A browser says when a request comes from another origin's page (`Sec-Fetch-Site`); such a
/// request changes nothing here, whatever it carries. Stricter than the email-link pages'
/// check (`routes/pages.rs`), which a sibling app of the same site may link to: nothing but the
/// console's own pages posts to the console.
pub fn sent_from_elsewhere(headers: &HeaderMap) -> bool {
    headers.get("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site")
}

/// An administrator signed in to the console, and the CSRF token for the forms of the page.
pub struct ConsoleAdmin {
    pub admin: Authenticated,
    pub csrf: String,
}

impl ConsoleAdmin {
    pub fn email(&self) -> &str {
        &self.admin.claims.email
    }
}

/// What stands in for a page when the caller may not see it.
pub enum Refused {
    /// Not signed in (or the session ended): to the sign-in page.
    SignIn,
    /// Signed in, but not as an administrator.
    NotAdmin,
    /// A form without its CSRF token, or sent from another site.
    Forged,
    Unavailable,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::SignIn => Redirect::to(SIGN_IN).into_response(),
            Refused::NotAdmin => message_page(
                StatusCode::FORBIDDEN,
                "Not an administrator",
                "This account is not an administrator. Sign in with an administrator's account.",
            ),
            Refused::Forged => message_page(
                StatusCode::FORBIDDEN,
                "Form refused",
                "This form did not come from a page of this console, or its page is too old. Go back, reload the page and try again.",
            ),
            Refused::Unavailable => message_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "The service is busy; try again in a moment.",
            ),
        }
    }
}

async fn console_admin(state: &AppState, headers: &HeaderMap) -> Result<ConsoleAdmin, Refused> {
    let token = session_token(state, headers).ok_or(Refused::SignIn)?;
    let admin = match state.auth().console_caller(token).await {
        Ok(Some(admin)) => admin,
        Ok(None) => return Err(Refused::SignIn),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "the console could not look up a session");
            return Err(Refused::Unavailable);
        }
    };
    if admin.role != Role::Admin {
        return Err(Refused::NotAdmin);
    }
    tracing::Span::current().record("user_id", tracing::field::display(admin.user_id));
    Ok(ConsoleAdmin { admin, csrf: csrf_token(token) })
}

impl FromRequestParts<AppState> for ConsoleAdmin {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        console_admin(state, &parts.headers).await
    }
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form that has nothing but its CSRF token.
#[derive(Deserialize)]
pub struct NoFields {}

/// A form sent by a signed-in administrator from a page of this console: the session is
/// checked, then the form's CSRF token, before the handler sees any field. Every console
/// route that changes something takes its form this way.
pub struct AdminForm<T> {
    pub admin: ConsoleAdmin,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        if sent_from_elsewhere(request.headers()) {
            return Err(Refused::Forged.into_response());
        }
        let admin = console_admin(state, request.headers()).await.map_err(IntoResponse::into_response)?;
        let bytes = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        let sent: CsrfField = serde_urlencoded::from_bytes(&bytes).map_err(|_| Refused::Forged.into_response())?;
        if !constant_time_eq(sent.csrf.as_bytes(), admin.csrf.as_bytes()) {
            tracing::warn!("an admin console form without its CSRF token was refused");
            return Err(Refused::Forged.into_response());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            message_page(
                StatusCode::BAD_REQUEST,
                "Form not understood",
                "A field of the form has the wrong kind of value.",
            )
        })?;
        Ok(AdminForm { admin, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_by_its_exact_name_among_several_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("mana-admin-signin=a; other=b"));
        headers.append(header::COOKIE, HeaderValue::from_static("mana-admin=token"));
        assert_eq!(cookie(&headers, "mana-admin"), Some("token"));
        assert_eq!(cookie(&headers, "mana-admin-signin"), Some("a"));
        assert_eq!(cookie(&headers, "mana"), None);
    }

    #[test]
    fn the_session_cookie_is_strict_http_only_and_secure_with_its_prefix_outside_development() {
        let secure = set_cookie(cookie_names(true).0, Some("t"), 60, true);
        assert_eq!(secure, "__Host-mana-admin=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure");
        let development = set_cookie(cookie_names(false).0, Some("t"), 60, false);
        assert_eq!(development, "mana-admin=t; Path=/; Max-Age=60; HttpOnly; SameSite=Strict");
        assert_eq!(
            set_cookie("mana-admin", None, 60, false),
            "mana-admin=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn the_csrf_token_depends_on_the_session_and_reveals_nothing_of_it() {
        let (one, two) = (csrf_token("refresh-one"), csrf_token("refresh-two"));
        assert_ne!(one, two);
        assert_eq!(one, csrf_token("refresh-one"));
        assert!(!one.contains("refresh"));
    }
}
