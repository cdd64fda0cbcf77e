use serde::{Deserialize, Serialize};

// Missing strings deserialize as empty so that validation can name every missing field at
// once instead of stopping at the first one serde meets.

/// `POST /auth/register`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, format = Email))]
    #[serde(default)]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /auth/login`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// The `deviceToken` of an earlier successful login on this device: while the account is
    /// locked by failed logins, a device that presents one is not shut out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// `POST /auth/refresh`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub refresh_token: String,
}

/// `POST /auth/forgot-password`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, format = Email))]
    #[serde(default)]
    pub email: String,
}

/// `POST /auth/reset-password`: the token from the reset link and the new password.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub token: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub password: String,
}

/// `POST /auth/verify-email`: the token from the verification link.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyEmailRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub token: String,
}

/// `POST /auth/logout` without a Bearer token names the session by its refresh token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// `POST /auth/validate`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidateRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub token: String,
}

/// The answer of `/auth/validate`: either the verified claims or the reason they were refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidateResponse {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<AccessTokenClaims>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::TokenRejection>,
}

/// The claims of an access token (a JWT of type `at+jwt`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessTokenClaims {
    /// The user id.
    pub sub: String,
    pub email: String,
    /// Whether the user confirmed `email` (tokens issued before this claim existed read false).
    #[serde(default)]
    pub email_verified: bool,
    pub role: String,
    /// The session id; stays the same across refresh-token rotations.
    pub sid: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    /// Not valid before this time (seconds); tokens issued here leave it out, but a token
    /// that carries one in the future is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    /// How the session's login was made (RFC 8176): `["pwd"]`, or `["pwd", "otp"]` after a
    /// second factor. Tokens issued before this claim existed read `[]`.
    #[serde(default)]
    pub amr: Vec<String>,
}

/// A newly registered user (`201` of `/auth/register`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUser {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub email_verified: bool,
    /// RFC 3339.
    pub created_at: String,
}

/// The user as embedded in a token response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenUser {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
}

/// The answer of `/auth/login` and `/auth/refresh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub user: TokenUser,
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: String,
    /// After a login: keep it on this device and send it with later logins (see `LoginRequest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
}

/// `GET /.well-known/openid-configuration`: enough discovery for standard JWT libraries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpenIdConfiguration {
    pub issuer: String,
    pub jwks_uri: String,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
}

/// `GET /auth/me`: the caller's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub email_verified: bool,
    /// RFC 3339.
    pub created_at: String,
    pub two_factor_enabled: bool,
    /// Sign-in methods linked besides the password.
    pub identities: Vec<IdentityView>,
}

/// A sign-in provider linked to the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdentityView {
    pub provider: String,
    pub email: Option<String>,
}

/// `PATCH /auth/me`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProfileRequest {
    /// The display name; `null`, blank or absent clears it.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /auth/change-password`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub current_password: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub new_password: String,
}

/// One live session of the caller, `GET /auth/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub id: String,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
    pub last_used_at: String,
    /// The session of the access token that asked.
    pub current: bool,
}

/// `POST /auth/sessions/revoke-others`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokedSessions {
    pub revoked: u64,
}

/// One entry of the caller's security log, `GET /auth/security-events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SecurityEventView {
    pub id: i64,
    /// `register`, `login_success`, `login_failure`, `logout`, `password_reset`, …
    pub kind: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: String,
    /// The session the event concerns, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Why a login failed (`wrong_password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The administrator who acted on the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_id: Option<String>,
    /// The social-login provider concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// `POST /auth/change-email`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeEmailRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, format = Email))]
    #[serde(default)]
    pub new_email: String,
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub password: String,
}

/// `DELETE /auth/me`: the password confirms it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteAccountRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub password: String,
}

/// `GET /auth/me/export`: everything stored about the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccountExport {
    /// RFC 3339: when this document was made.
    pub exported_at: String,
    pub profile: ProfileView,
    /// Every session, ended ones included (`current` marks the one asking).
    pub sessions: Vec<SessionView>,
    pub security_events: Vec<SecurityEventView>,
    pub credit_transactions: Vec<crate::CreditTransaction>,
    pub purchases: Vec<crate::PurchaseView>,
}
