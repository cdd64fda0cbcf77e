//! `/auth/2fa/*`: SPEC §5. Setting up and enabling TOTP, backup codes, disabling, and the
//! second step of a login. Every code checked with an access token counts against the
//! account's failed-login budget, as passwords do.

use axum::extract::State;
use axum::{Extension, Json};
use mana_proto::{
    BackupCodesResponse, DisableTwoFactorRequest, ErrorBody, MessageResponse, TokenResponse, TotpSetupResponse,
    TwoFactorCodeRequest, VerifySecondFactorRequest,
};
use qrcode::QrCode;
use qrcode::render::svg;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::client_ip::ClientIp;
use crate::http::{ApiError, AuthUser, Client, JsonBody};
use crate::routes::account::with_password_budget;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(set_up_totp))
        .routes(routes!(enable_totp))
        .routes(routes!(disable))
        .routes(routes!(regenerate_backup_codes))
        .routes(routes!(verify))
}

/// Makes a new TOTP secret for the caller: type `secret` into an authenticator app or scan
/// `qrSvg`, then confirm with `POST /auth/2fa/totp/enable`. A setup not yet enabled is replaced.
#[utoipa::path(post, path = "/auth/2fa/totp/setup", tag = "two-factor", security(("bearer" = [])), responses(
    (status = 200, description = "The secret, its otpauth URL and a QR code of it", body = TotpSetupResponse),
    (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
    (status = 409, description = "`two_factor_already_enabled`", body = ErrorBody),
))]
async fn set_up_totp(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<TotpSetupResponse>, ApiError> {
    let setup = state.auth().set_up_totp(caller.user_id).await?;
    let qr_svg = qr_svg(&setup.otpauth_url)?;
    Ok(Json(TotpSetupResponse { secret: setup.secret.base32(), otpauth_url: setup.otpauth_url, qr_svg }))
}

/// The QR code of `text` as a standalone SVG document: black modules on white with the quiet
/// zone, sized for a phone camera.
fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|error| mana_core::Error::Internal(anyhow::anyhow!("cannot draw the QR code: {error}")))?;
    Ok(code.render::<svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build())
}

/// Turns 2FA on with a code from the app, proving it holds the secret. The answer's ten backup
/// codes are shown this once.
#[utoipa::path(post, path = "/auth/2fa/totp/enable", tag = "two-factor", security(("bearer" = [])),
    request_body = TwoFactorCodeRequest,
    responses(
        (status = 200, description = "2FA is on; the backup codes", body = BackupCodesResponse),
        (status = 400, description = "`validation_failed`: the code is wrong", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 409, description = "`two_factor_already_enabled` or `two_factor_not_set_up`", body = ErrorBody),
    ),
)]
async fn enable_totp(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<TwoFactorCodeRequest>,
) -> Result<Json<BackupCodesResponse>, ApiError> {
    let enabling = state.auth().enable_totp(caller.user_id, &body.code, &client);
    let codes = with_password_budget(&state, &caller, enabling).await?;
    Ok(Json(BackupCodesResponse { backup_codes: codes.iter().map(|code| code.display()).collect() }))
}

/// Turns 2FA off, with the password and a code from the app (or a backup code).
#[utoipa::path(post, path = "/auth/2fa/disable", tag = "two-factor", security(("bearer" = [])),
    request_body = DisableTwoFactorRequest,
    responses(
        (status = 200, description = "2FA is off", body = MessageResponse),
        (status = 400, description = "`validation_failed`: the password or the code is wrong", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 409, description = "`two_factor_not_enabled`", body = ErrorBody),
    ),
)]
async fn disable(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<DisableTwoFactorRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    let disabling = state.auth().disable_two_factor(caller.user_id, &body.password, &body.code, &client);
    with_password_budget(&state, &caller, disabling).await?;
    Ok(Json(MessageResponse { message: "Two-factor authentication is off".into() }))
}

/// A new set of backup codes after a code from the app; the old set stops working.
#[utoipa::path(post, path = "/auth/2fa/backup-codes", tag = "two-factor", security(("bearer" = [])),
    request_body = TwoFactorCodeRequest,
    responses(
        (status = 200, description = "The new backup codes, shown this once", body = BackupCodesResponse),
        (status = 400, description = "`validation_failed`: the code is wrong", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 409, description = "`two_factor_not_enabled`", body = ErrorBody),
    ),
)]
async fn regenerate_backup_codes(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<TwoFactorCodeRequest>,
) -> Result<Json<BackupCodesResponse>, ApiError> {
    let regenerating = state.auth().regenerate_backup_codes(caller.user_id, &body.code, &client);
    let codes = with_password_budget(&state, &caller, regenerating).await?;
    Ok(Json(BackupCodesResponse { backup_codes: codes.iter().map(|code| code.display()).collect() }))
}

/// Completes a login that answered `mfaRequired`: its `mfaToken` with a code from the app or a
/// backup code. The answer is the login's.
#[utoipa::path(post, path = "/auth/2fa/verify", tag = "two-factor", request_body = VerifySecondFactorRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "`validation_failed`: neither or both of `code` and `backupCode`", body = ErrorBody),
        (status = 401, description = "`invalid_mfa_token` or `invalid_two_factor_code`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ),
)]
async fn verify(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    JsonBody(body): JsonBody<VerifySecondFactorRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    Ok(Json(crate::login::verify_second_factor(&state, ip, &client, body).await?))
}
