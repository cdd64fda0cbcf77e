//! Two-factor authentication on the wire (`/auth/2fa/*`, and login's second step).

use serde::{Deserialize, Serialize};

use crate::TokenResponse;

/// What `POST /auth/login` answers: tokens, or, for an account with a second factor, a
/// challenge for `POST /auth/2fa/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum LoginResponse {
    Tokens(TokenResponse),
    SecondFactorRequired(MfaRequired),
}

/// The password was right; the login completes with a second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// For `POST /auth/2fa/verify` only: five minutes, five codes, used once.
    pub mfa_token: String,
    /// `totp` and `backup_code`.
    pub methods: Vec<String>,
}

/// `POST /auth/2fa/verify`: the login's token and one of `code` (from the authenticator app)
/// or `backupCode`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifySecondFactorRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub mfa_token: String,
    /// Six digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One of the backup codes, with or without its dashes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_code: Option<String>,
}

/// `POST /auth/2fa/totp/setup`: a secret to put into an authenticator app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TotpSetupResponse {
    /// Base32, for typing into the app.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code holds.
    pub otpauth_url: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

/// A code from the authenticator app (`enable`, `backup-codes`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwoFactorCodeRequest {
    /// Six digits.
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub code: String,
}

/// `POST /auth/2fa/disable`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisableTwoFactorRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub password: String,
    /// Six digits from the app, or a backup code.
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub code: String,
}

/// Backup codes, shown this once: each works once, in place of a code from the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BackupCodesResponse {
    pub backup_codes: Vec<String>,
}
