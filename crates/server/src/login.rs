//! The login policy, top to bottom, in the order a login meets it. The password check itself
//! (one verification for every outcome, a dummy hash for unknown accounts, the security events)
//! is the domain's, in `mana_core::auth`; everything around it that decides whether a password
//! is checked at all is here.
//!
//! 1. The client address's login budget (`RATE_LIMIT_LOGIN_PER_MINUTE`) slows bursts from one
//!    address.
//! 2. A `deviceToken` from an earlier successful login, valid and for this account, marks a
//!    known device (OWASP's device cookies).
//! 3. One failure is reserved from the known device's own budget (`LOGIN_FAILURES_PER_DEVICE`),
//!    or else from the account's (`LOGIN_FAILURES_PER_ACCOUNT`), before the password is
//!    checked: parallel guesses, on one instance or several, cannot get more checks than the
//!    budget. A spent budget is 429 whatever the password, so a lock confirms no guess, and an
//!    attacker who keeps the account locked does not keep its owner's known devices out.
//! 4. The password is checked.
//! 5. A wrong one keeps the reserved failure. Anything else gives it back, and a success hands
//!    out a fresh device token.
//! 6. For an account with a second factor, the right password answers a challenge instead
//!    (a known device skips nothing). Each code tried against it (`POST /auth/2fa/verify`)
//!    spends the address's login budget and reserves one of the account's failures, given back
//!    if the code is right: guessing codes through many challenges is as slow as guessing
//!    passwords.

use std::net::IpAddr;

use mana_core::Error;
use mana_core::auth::{LoginAttempt, LoginOutcome, SecondFactor};
use mana_core::store::ClientInfo;
use mana_core::tokens::account_key;
use mana_proto::limits::DEVICE_TOKEN_MAX_CHARS;
use mana_proto::{LoginRequest, LoginResponse, MfaRequired, TokenResponse, VerifySecondFactorRequest};

use crate::http::ApiError;
use crate::ratelimit::{Budget, ip_key};
use crate::state::AppState;
use crate::views::token_response;

pub async fn sign_in(
    state: &AppState,
    ip: IpAddr,
    client: &ClientInfo,
    request: LoginRequest,
) -> Result<LoginResponse, ApiError> {
    let (auth, limiter) = (state.auth(), state.limiter());
    limiter.check(Budget::Login, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;

    if request.device_token.as_ref().is_some_and(|token| token.len() > DEVICE_TOKEN_MAX_CHARS) {
        let message = format!("must be at most {DEVICE_TOKEN_MAX_CHARS} characters");
        return Err(Error::invalid_field("deviceToken", message).into());
    }
    let account = account_key(&request.email);
    let now = auth.clock().now();
    let device = request.device_token.as_deref().and_then(|token| auth.tokens().known_device(token, &account, now));

    let reservation = match &device {
        Some(device) => limiter.reserve(Budget::DeviceLoginFailures, &device.id).await,
        None => limiter.reserve(Budget::LoginFailures, &account).await,
    }
    .map_err(|limited| {
        tracing::warn!(known_device = device.is_some(), "failed-login budget spent; login refused");
        ApiError::rate_limited(limited)
    })?;

    let attempt = LoginAttempt {
        email: request.email,
        password: request.password,
        device_id: request.device_id,
        device_name: request.device_name,
    };
    let outcome = match auth.login(attempt, client).await {
        Err(Error::InvalidCredentials) => return Err(Error::InvalidCredentials.into()),
        other => {
            limiter.refund(reservation).await;
            other?
        }
    };
    login_response(state, outcome)
}

/// The answer to a first factor that held: tokens (with a device token), or the challenge of
/// an account with a second factor.
pub fn login_response(state: &AppState, outcome: LoginOutcome) -> Result<LoginResponse, ApiError> {
    match outcome {
        LoginOutcome::Signed(issued) => Ok(LoginResponse::Tokens(with_device_token(state, issued)?)),
        LoginOutcome::SecondFactorRequired { mfa_token } => Ok(LoginResponse::SecondFactorRequired(MfaRequired {
            mfa_required: true,
            mfa_token,
            methods: vec!["totp".into(), "backup_code".into()],
        })),
    }
}

/// The login's second step: `mfaToken` with a code from the app or a backup code.
pub async fn verify_second_factor(
    state: &AppState,
    ip: IpAddr,
    client: &ClientInfo,
    request: VerifySecondFactorRequest,
) -> Result<TokenResponse, ApiError> {
    let (auth, limiter) = (state.auth(), state.limiter());
    limiter.check(Budget::Login, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;
    let factor = match (request.code, request.backup_code) {
        (Some(code), None) => SecondFactor::Totp(code),
        (None, Some(code)) => SecondFactor::BackupCode(code),
        _ => return Err(Error::invalid_field("code", "send either code or backupCode").into()),
    };
    if request.mfa_token.trim().is_empty() {
        return Err(Error::invalid_field("mfaToken", "is required").into());
    }
    if request.mfa_token.len() > DEVICE_TOKEN_MAX_CHARS {
        return Err(Error::InvalidMfaToken.into());
    }
    // The account is known from the challenge; its failures are reserved before the code is
    // checked, as a password's are.
    let Some(account) = auth.second_factor_account(&request.mfa_token).await? else {
        return Err(Error::InvalidMfaToken.into());
    };
    let reservation = limiter.reserve(Budget::LoginFailures, &account).await.map_err(ApiError::rate_limited)?;
    let issued = match auth.verify_second_factor(&request.mfa_token, factor, client).await {
        Err(Error::InvalidSecondFactor) => return Err(Error::InvalidSecondFactor.into()),
        other => {
            limiter.refund(reservation).await;
            other?
        }
    };
    with_device_token(state, issued)
}

fn with_device_token(state: &AppState, issued: mana_core::auth::IssuedTokens) -> Result<TokenResponse, ApiError> {
    let auth = state.auth();
    let account = account_key(issued.user.email.as_str());
    let device_token = auth.tokens().issue_device_token(&account, auth.clock().now()).map_err(Error::Internal)?;
    let mut response = token_response(issued);
    response.device_token = Some(device_token);
    Ok(response)
}
