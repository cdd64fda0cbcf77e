//! Social sign-in on the wire (`/auth/oauth/*`, `/auth/identities/*`).

use serde::{Deserialize, Serialize};

/// `GET /auth/oauth/{provider}/authorize?redirectTo=…`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeQuery {
    /// Where the browser returns with `code` (or `error`); must be on `OAUTH_REDIRECT_ALLOWLIST`.
    #[cfg_attr(feature = "openapi", param(required = true, min_length = 1))]
    #[serde(default)]
    pub redirect_to: String,
}

/// What a provider sends back to the callback, as query (`GET`) or form (`POST`, Apple's
/// `form_post`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct CallbackParams {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    /// RFC 9207: the provider names itself, so a response cannot be replayed from another.
    #[serde(default)]
    pub iss: Option<String>,
    /// The provider's refusal (`access_denied` when the user cancelled).
    #[serde(default)]
    pub error: Option<String>,
    /// Apple's first sign-in: the user's name as JSON (`{"name":{"firstName",…}}`).
    #[serde(default)]
    pub user: Option<String>,
}

/// `POST /auth/oauth/exchange`: the one-time `code` a finished web sign-in returned with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// `POST /auth/oauth/{provider}/id-token`: an ID token from the platform's sign-in SDK.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdTokenRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub id_token: String,
    /// The nonce the app gave the SDK, in clear (Apple's SHA-256 of it is recognised too).
    /// Required when the token carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The user's name, for a first sign-in whose token has none (Apple tells it to the app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
}

/// `POST /auth/oauth/{provider}/link`: where the browser returns once the provider is linked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub redirect_to: String,
}

/// Where to send the browser to link the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LinkResponse {
    pub url: String,
}

/// `POST /auth/oauth/link/confirm`: the `linkCode` a link's browser flow returned with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmLinkRequest {
    #[cfg_attr(feature = "openapi", schema(required = true, min_length = 1))]
    #[serde(default)]
    pub code: String,
}
