//! Signing in to the console and out of it. The sign-in is the API's own login (the same
//! budgets, failure counting and second factor; see `crate::login`), and its session is an
//! ordinary session of the administrator's account, named "Admin console" in their list.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use mana_core::ids::Role;
use mana_proto::{LoginRequest, LoginResponse, TokenResponse, VerifySecondFactorRequest};
use serde::Deserialize;

use super::pages::{Problem, render};
use super::session::{
    AdminForm, CONSOLE, ConsoleAdmin, NoFields, Refused, SIGN_IN, clear_session_cookie, sent_from_elsewhere,
    session_cookie, session_token, sign_in_csrf, sign_in_csrf_holds,
};
use crate::http::Client;
use crate::http::client_ip::ClientIp;
use crate::state::AppState;

/// The device name of a console session in the administrator's session list.
const DEVICE_NAME: &str = "Admin console";

#[derive(Template)]
#[template(path = "console/login.html")]
struct SignInPage<'a> {
    csrf: &'a str,
    email: &'a str,
    problem: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "console/second_factor.html")]
struct SecondFactorPage<'a> {
    csrf: &'a str,
    mfa_token: &'a str,
    problem: Option<&'a str>,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
}

/// The form, with a fresh CSRF token and its cookie; an administrator already signed in goes
/// to the dashboard.
pub async fn form(State(state): State<AppState>, admin: Result<ConsoleAdmin, Refused>) -> Response {
    if admin.is_ok() {
        return Redirect::to(CONSOLE).into_response();
    }
    sign_in_page(&state, StatusCode::OK, "", None)
}

fn sign_in_page(state: &AppState, status: StatusCode, email: &str, problem: Option<&str>) -> Response {
    let (csrf, cookie) = sign_in_csrf(state);
    let mut response = render(status, &SignInPage { csrf: &csrf, email, problem });
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    Form(form): Form<SignInForm>,
) -> Response {
    if sent_from_elsewhere(&headers) || !sign_in_csrf_holds(&state, &headers, &form.csrf) {
        return Refused::Forged.into_response();
    }
    let request = LoginRequest {
        email: form.email.clone(),
        password: form.password,
        device_id: None,
        device_name: Some(DEVICE_NAME.into()),
        device_token: None,
    };
    match crate::login::sign_in(&state, ip, &client, request).await {
        Ok(LoginResponse::Tokens(tokens)) => signed_in(&state, tokens, &client).await,
        Ok(LoginResponse::SecondFactorRequired(challenge)) => {
            let page = SecondFactorPage { csrf: &form.csrf, mfa_token: &challenge.mfa_token, problem: None };
            render(StatusCode::OK, &page)
        }
        Err(error) => {
            let problem = Problem::from(error);
            sign_in_page(&state, problem.status, &form.email, Some(&problem.message))
        }
    }
}

pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    Form(form): Form<SecondFactorForm>,
) -> Response {
    if sent_from_elsewhere(&headers) || !sign_in_csrf_holds(&state, &headers, &form.csrf) {
        return Refused::Forged.into_response();
    }
    // Six digits are a code from the app; anything else is tried as a backup code.
    let code = form.code.trim().to_owned();
    let is_totp = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
    let request = VerifySecondFactorRequest {
        mfa_token: form.mfa_token.clone(),
        code: is_totp.then(|| code.clone()),
        backup_code: (!is_totp).then_some(code),
    };
    match crate::login::verify_second_factor(&state, ip, &client, request).await {
        Ok(tokens) => signed_in(&state, tokens, &client).await,
        // A wrong code may be tried again with the same challenge, within its attempts.
        Err(error) if error.code == mana_proto::ErrorCode::InvalidTwoFactorCode => {
            let problem = Problem::from(error);
            let page =
                SecondFactorPage { csrf: &form.csrf, mfa_token: &form.mfa_token, problem: Some(&problem.message) };
            render(problem.status, &page)
        }
        Err(error) => {
            let problem = Problem::from(error);
            sign_in_page(&state, problem.status, "", Some(&problem.message))
        }
    }
}

/// Only an administrator's session becomes a console session; anyone else's is ended at once.
async fn signed_in(state: &AppState, tokens: TokenResponse, client: &mana_core::store::ClientInfo) -> Response {
    if tokens.user.role != Role::Admin.as_str() {
        if let Err(error) = state.auth().logout_with_refresh_token(&tokens.refresh_token, client).await {
            tracing::error!(error = format!("{error:#}"), "a non-administrator's console session was not ended");
        }
        return sign_in_page(
            state,
            StatusCode::FORBIDDEN,
            &tokens.user.email,
            Some("This account is not an administrator."),
        );
    }
    let mut response = Redirect::to(CONSOLE).into_response();
    response.headers_mut().append(header::SET_COOKIE, session_cookie(state, &tokens.refresh_token));
    response
}

/// Ends the console's session (the CSRF token is checked: a forged sign-out is refused too).
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Client(client): Client,
    AdminForm { .. }: AdminForm<NoFields>,
) -> Response {
    if let Some(token) = session_token(&state, &headers)
        && let Err(error) = state.auth().logout_with_refresh_token(token, &client).await
    {
        return Problem::from(error).into_response();
    }
    let mut response = Redirect::to(SIGN_IN).into_response();
    response.headers_mut().append(header::SET_COOKIE, clear_session_cookie(&state));
    response
}
