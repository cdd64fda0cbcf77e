use std::fmt;

use serde::{Deserialize, Serialize};

/// The body of every error response.
///
/// `errors` is present only for validation failures and lists each offending field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The HTTP status, repeated for clients that only see the body.
    pub status_code: u16,
    /// What went wrong, from a fixed catalogue: branch on this, not on `message`.
    pub code: ErrorCode,
    /// A sentence for people; it may change between versions.
    pub message: String,
    /// The `x-request-id` of the request, to quote when asking for help.
    pub request_id: String,
    /// Each invalid field, for `validation_failed` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as sent (camelCase).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// A plain confirmation, e.g. of a logout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageResponse {
    pub message: String,
}

/// Declares the catalogue once: each code with its wire name and what it means, so the enum,
/// its string form, the list of all codes and their documentation cannot drift apart.
macro_rules! error_codes {
    ($($variant:ident = $name:literal: $meaning:literal,)+) => {
        /// Every `code` an error response can carry. The catalogue is closed: a client can match
        /// on it exhaustively, and `/openapi.json` lists it as an enum.
        // The wire names are the variants in snake_case (utoipa does not see a `rename` that
        // comes through a macro); the unit test below holds them equal to `as_str`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $(#[doc = $meaning] $variant,)+
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $name,)+ }
            }

            /// What the code means and what a client should do about it.
            pub fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)+ }
            }
        }
    };
}

error_codes! {
    ValidationFailed = "validation_failed": "Some fields are not acceptable; `errors` names each one.",
    MalformedJson = "malformed_json": "The body is not valid JSON.",
    UnknownField = "unknown_field": "The body has a field this endpoint does not know (often a typo).",
    InvalidBody = "invalid_body": "The body is JSON but not of the expected shape (for example an array instead of an object).",
    InvalidQuery = "invalid_query": "The query string has an unknown or malformed parameter.",
    UnsupportedMediaType = "unsupported_media_type": "The body is not `application/json`.",
    PayloadTooLarge = "payload_too_large": "The body is larger than 64 KiB.",
    BadRequest = "bad_request": "The request is malformed at the HTTP level.",
    MissingToken = "missing_token": "The endpoint needs `Authorization: Bearer <accessToken>`.",
    InvalidToken = "invalid_token": "The access token is not valid (signature, issuer, audience, revoked session, deleted user, …); sign in again.",
    TokenExpired = "token_expired": "The access token has expired; refresh it and retry.",
    InvalidCredentials = "invalid_credentials": "Wrong email or password (the answer does not say which).",
    InvalidRefreshToken = "invalid_refresh_token": "The refresh token is unknown, expired, revoked or was already used; sign in again.",
    AccountLocked = "account_locked": "An administrator locked this account; it cannot sign in until it is unlocked.",
    EmailNotVerified = "email_not_verified": "The account's email address must be verified before it can sign in; follow the link in the verification email, or ask for a new one.",
    InvalidLinkToken = "invalid_link_token": "The token from an email link is malformed, unknown, already used, expired or meant for another purpose; ask for a new link.",
    InvalidMfaToken = "invalid_mfa_token": "The login's `mfaToken` is malformed, unknown, already used, expired (5 minutes) or out of attempts (5); log in again.",
    InvalidTwoFactorCode = "invalid_two_factor_code": "The code from the authenticator app (or the backup code) is wrong or was used before; the `mfaToken` has one attempt fewer.",
    TwoFactorAlreadyEnabled = "two_factor_already_enabled": "Two-factor authentication is already on; disable it first to set up a new secret.",
    TwoFactorNotEnabled = "two_factor_not_enabled": "Two-factor authentication is not on for this account.",
    TwoFactorNotSetUp = "two_factor_not_set_up": "Call `POST /auth/2fa/totp/setup` first, then enable with a code from the app.",
    RedirectNotAllowed = "redirect_not_allowed": "`redirectTo` is not on the service's allow-list (`OAUTH_REDIRECT_ALLOWLIST`).",
    InvalidOauthState = "invalid_oauth_state": "A social-login callback whose `state` this service did not issue, already used, or that is older than ten minutes; start the sign-in again.",
    OauthAccessDenied = "oauth_access_denied": "The sign-in was cancelled or refused at the provider.",
    OauthProviderError = "oauth_provider_error": "The sign-in provider could not be reached or gave an unusable answer; try again later.",
    InvalidIdToken = "invalid_id_token": "The provider's ID token is not valid here (signature, issuer, audience, expiry or nonce); `message` says which.",
    InvalidExchangeCode = "invalid_exchange_code": "The exchange code is malformed, unknown, already used or older than 60 seconds; sign in again.",
    EmailInUse = "email_in_use": "An account already uses the provider's email, and the provider does not vouch for it; sign in to that account and link the provider.",
    EmailNotProvided = "email_not_provided": "The provider gave no (verified primary) email address, which a new account needs.",
    IdentityInUse = "identity_in_use": "This provider account is linked to another account, or this account has one of this provider already.",
    LastSignInMethod = "last_sign_in_method": "The account would be left with no password and no provider to sign in with; set a password first.",
    Unauthorized = "unauthorized": "Authentication is required.",
    Forbidden = "forbidden": "The caller may not do this.",
    NotFound = "not_found": "No such route or resource.",
    MethodNotAllowed = "method_not_allowed": "The route exists but not with this method; see `Allow`.",
    RequestTimeout = "request_timeout": "The request took longer than the server allows; retry.",
    EmailTaken = "email_taken": "A live account already uses this email.",
    InsufficientCredits = "insufficient_credits": "The caller's credits cannot cover the amount; nothing was spent.",
    IdempotencyKeyReused = "idempotency_key_reused": "This idempotency key was used before for a different request.",
    Conflict = "conflict": "A concurrent request changed the same data; retry.",
    RateLimited = "rate_limited": "Over a rate limit; wait `Retry-After` seconds.",
    InvalidSignature = "invalid_signature": "A webhook's signature is missing, malformed, too old or too new, or made with no configured secret; nothing was read.",
    PaymentsNotConfigured = "payments_not_configured": "This deployment takes no payments (no Stripe key is configured).",
    PaymentProviderError = "payment_provider_error": "The payment provider could not be reached or refused the request; nothing was charged. Retry with the same idempotency key.",
    NotReady = "not_ready": "The service cannot serve yet (database unreachable or migrations pending).",
    ServiceUnavailable = "service_unavailable": "The database (or, for a Stripe webhook, Stripe) is briefly out of reach; retry after `Retry-After` seconds.",
    InternalError = "internal_error": "A fault on the server; nothing about it is revealed. Quote `requestId` when reporting it.",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an access token was refused: the `error` of `/auth/validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TokenRejection {
    /// Not a compact JWS, or its parts do not decode.
    #[serde(rename = "malformed_token")]
    Malformed,
    /// `typ` is not `at+jwt`.
    #[serde(rename = "wrong_token_type")]
    WrongType,
    /// `kid` names no published key.
    UnknownKey,
    /// `alg` is not the algorithm of the key named by `kid`.
    WrongAlgorithm,
    /// The header lists a `crit` extension this server does not understand.
    #[serde(rename = "unsupported_critical_header")]
    UnsupportedCritical,
    #[serde(rename = "invalid_signature")]
    BadSignature,
    #[serde(rename = "invalid_issuer")]
    WrongIssuer,
    #[serde(rename = "invalid_audience")]
    WrongAudience,
    #[serde(rename = "token_expired")]
    Expired,
    /// `nbf` or `iat` lies in the future.
    #[serde(rename = "token_not_yet_valid")]
    NotYetValid,
    SessionRevoked,
    UserDeleted,
}

impl TokenRejection {
    pub const ALL: [TokenRejection; 12] = [
        TokenRejection::Malformed,
        TokenRejection::WrongType,
        TokenRejection::UnknownKey,
        TokenRejection::WrongAlgorithm,
        TokenRejection::UnsupportedCritical,
        TokenRejection::BadSignature,
        TokenRejection::WrongIssuer,
        TokenRejection::WrongAudience,
        TokenRejection::Expired,
        TokenRejection::NotYetValid,
        TokenRejection::SessionRevoked,
        TokenRejection::UserDeleted,
    ];

    /// The reason as it appears on the wire.
    pub fn code(self) -> &'static str {
        match self {
            TokenRejection::Malformed => "malformed_token",
            TokenRejection::WrongType => "wrong_token_type",
            TokenRejection::UnknownKey => "unknown_key",
            TokenRejection::WrongAlgorithm => "wrong_algorithm",
            TokenRejection::UnsupportedCritical => "unsupported_critical_header",
            TokenRejection::BadSignature => "invalid_signature",
            TokenRejection::WrongIssuer => "invalid_issuer",
            TokenRejection::WrongAudience => "invalid_audience",
            TokenRejection::Expired => "token_expired",
            TokenRejection::NotYetValid => "token_not_yet_valid",
            TokenRejection::SessionRevoked => "session_revoked",
            TokenRejection::UserDeleted => "user_deleted",
        }
    }
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_serializes_as_its_wire_name() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(code.as_str()));
        }
        for reason in TokenRejection::ALL {
            assert_eq!(serde_json::to_value(reason).unwrap(), serde_json::json!(reason.code()));
        }
    }
}
