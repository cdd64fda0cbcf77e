//! `/auth/oauth/*` and `/auth/identities/*`: SPEC §6. The web flow (authorize, the provider's
//! callback, the one-time exchange code), the native flow (an ID token from a platform SDK),
//! and linking providers to an account or removing them.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use mana_core::Error;
use mana_core::store::{ClientInfo, OAuthFlow, ProviderIdentity};
use mana_proto::limits::DEVICE_TOKEN_MAX_CHARS;
use mana_proto::{
    AuthorizeQuery, CallbackParams, ConfirmLinkRequest, ErrorBody, ErrorCode, ExchangeRequest, IdTokenRequest,
    LinkRequest, LinkResponse, LoginResponse, MessageResponse,
};
use reqwest::StatusCode;
use reqwest::Url;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::client_ip::ClientIp;
use crate::http::{ApiError, AuthUser, Client, JsonBody, QueryParams};
use crate::oauth::{Provider, ProviderFailure};
use crate::ratelimit::{Budget, ip_key};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(authorize))
        .routes(routes!(callback, form_post_callback))
        .routes(routes!(exchange))
        .routes(routes!(id_token))
        .routes(routes!(link))
        .routes(routes!(confirm_link))
        .routes(routes!(unlink))
}

/// The longest ID token, exchange code or state read (real ones are far shorter).
const TOKEN_MAX_CHARS: usize = 8 * 1024;

fn provider(state: &AppState, name: &str) -> Result<Provider, ApiError> {
    state.oauth().get(name).ok_or_else(|| Error::NotFound.into())
}

fn check_redirect(state: &AppState, redirect_to: &str) -> Result<(), ApiError> {
    if state.oauth().redirect_allowed(redirect_to) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::RedirectNotAllowed,
        "redirectTo is not on this service's allow-list (OAUTH_REDIRECT_ALLOWLIST)",
    ))
}

/// A provider's failure as the user sees it: its cause goes to the log only.
fn provider_failure(provider: &str, failure: ProviderFailure) -> ApiError {
    match failure {
        ProviderFailure::Provider(cause) => {
            tracing::warn!(provider, error = %cause, "identity provider could not be used");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::OauthProviderError,
                "The sign-in provider could not be reached or gave an unusable answer; try again later",
            )
        }
        ProviderFailure::IdToken(rejection) => {
            tracing::info!(provider, %rejection, "ID token refused");
            ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidIdToken, rejection.to_string())
        }
    }
}

/// Starts a web sign-in: the browser goes to the provider with `state`, PKCE (S256) and a
/// `nonce`, all kept by this service, and comes back to the callback, which sends it on to
/// `redirectTo` with a one-time `code` for `POST /auth/oauth/exchange` (or with `error`).
#[utoipa::path(get, path = "/auth/oauth/{provider}/authorize", tag = "social",
    params(("provider" = String, Path, description = "A configured provider: google, apple, github, or an OpenID provider's name"), AuthorizeQuery),
    responses(
        (status = 303, description = "To the provider's sign-in page"),
        (status = 400, description = "`redirect_not_allowed`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such provider is configured", body = ErrorBody),
        (status = 502, description = "`oauth_provider_error`: the provider's discovery failed", body = ErrorBody),
    ),
)]
async fn authorize(
    State(state): State<AppState>,
    Path(name): Path<String>,
    QueryParams(query): QueryParams<AuthorizeQuery>,
) -> Result<Redirect, ApiError> {
    let provider = provider(&state, &name)?;
    check_redirect(&state, &query.redirect_to)?;
    let start = state.auth().begin_oauth_flow(&name, &query.redirect_to, None).await?;
    let callback = state.oauth().callback_url(&name);
    let url = provider.authorization_url(&start, &callback).await.map_err(|f| provider_failure(&name, f))?;
    Ok(Redirect::to(url.as_str()))
}

/// Where the provider returns the browser. Finishes the sign-in and sends the browser to the
/// flow's `redirectTo` with `code` (or, after a link, `linked`), or with `error` and
/// `error_description`. A callback whose `state` this service did not issue (or already used)
/// is refused here, since it has nowhere safe to go.
#[utoipa::path(get, path = "/auth/oauth/{provider}/callback", tag = "social",
    params(("provider" = String, Path), CallbackParams),
    responses(
        (status = 303, description = "To `redirectTo` with `code`, `linked` or `error`"),
        (status = 400, description = "`invalid_oauth_state`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Client(client): Client,
    QueryParams(params): QueryParams<CallbackParams>,
) -> Result<Response, ApiError> {
    finish_callback(&state, &name, params, &client).await
}

/// The same for providers that post their answer (Apple's `response_mode=form_post`). The
/// post comes from the provider's page, cross-site: nothing here needs a cookie.
#[utoipa::path(post, path = "/auth/oauth/{provider}/callback", tag = "social",
    params(("provider" = String, Path)),
    request_body(content = CallbackParams, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To `redirectTo` with `code`, `linked` or `error`"),
        (status = 400, description = "`invalid_oauth_state`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ),
)]
async fn form_post_callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Client(client): Client,
    Form(params): Form<CallbackParams>,
) -> Result<Response, ApiError> {
    finish_callback(&state, &name, params, &client).await
}

async fn finish_callback(
    state: &AppState,
    name: &str,
    params: CallbackParams,
    client: &ClientInfo,
) -> Result<Response, ApiError> {
    let provider = provider(state, name)?;
    let invalid_state = || Error::InvalidOAuthState;
    let flow_state = params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= TOKEN_MAX_CHARS);
    let flow = state.auth().take_oauth_flow(name, flow_state.ok_or_else(invalid_state)?).await?;
    // From here on the browser goes back to the app, with the outcome in the URL.
    let target = match complete(state, &provider, name, &flow, params, client).await {
        Ok(outcome) => with_query(&flow.redirect_to, &[outcome]),
        Err(error) => {
            let message = error.message.clone();
            with_query(&flow.redirect_to, &[("error", error.code.as_str()), ("error_description", &message)])
        }
    };
    Ok(Redirect::to(&target).into_response())
}

/// The provider's answer checked, the identity signed in or linked: the query pair to return.
async fn complete(
    state: &AppState,
    provider: &Provider,
    name: &str,
    flow: &OAuthFlow,
    params: CallbackParams,
    client: &ClientInfo,
) -> Result<(&'static str, String), ApiError> {
    if params.error.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::OauthAccessDenied,
            "The sign-in was cancelled or refused at the provider",
        ));
    }
    // RFC 9207: an answer that names another issuer was meant for another flow.
    if let (Some(iss), Some(issuer)) = (params.iss.as_deref(), provider.issuer())
        && iss != issuer
    {
        return Err(Error::InvalidOAuthState.into());
    }
    let code = params.code.filter(|c| !c.is_empty() && c.len() <= TOKEN_MAX_CHARS);
    let code = code.ok_or_else(|| Error::invalid_field("code", "the provider sent no code"))?;
    let auth = state.auth();
    let callback = state.oauth().callback_url(name);
    let mut identity = provider
        .finish(&code, flow, &callback, auth.clock().now())
        .await
        .map_err(|failure| provider_failure(name, failure))?;
    if identity.name.is_none() {
        identity.name = params.user.as_deref().and_then(apple_user_name);
    }
    // A link completes only when the account that asked for it confirms it (the flow may
    // have been finished in someone else's browser).
    if let Some(user) = flow.link_user {
        return Ok(("linkCode", auth.issue_link_code(user, &identity).await?));
    }
    let (user, _) = auth.resolve_identity(&identity, client).await?;
    Ok(("code", auth.issue_exchange_code(user.id, name).await?))
}

/// The name in Apple's `user` form field (`{"name":{"firstName":…,"lastName":…}}`), which Apple
/// sends on the first authorization only and never puts in the ID token.
fn apple_user_name(user: &str) -> Option<String> {
    let user: serde_json::Value = serde_json::from_str(user).ok()?;
    let part = |key: &str| user["name"][key].as_str().map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned);
    let name = [part("firstName"), part("lastName")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

/// `url` with `pairs` added to its query; the URL was checked against the allow-list when the
/// flow began.
fn with_query<V: AsRef<str>>(url: &str, pairs: &[(&str, V)]) -> String {
    let Ok(mut parsed) = Url::parse(url) else { return url.to_owned() };
    {
        let mut query = parsed.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value.as_ref());
        }
    }
    parsed.into()
}

/// Trades the one-time `code` of a finished web sign-in (60 seconds, used once) for the login
/// answer: tokens, or the second-factor challenge of an account with 2FA.
#[utoipa::path(post, path = "/auth/oauth/exchange", tag = "social",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Tokens, or `{mfaRequired, mfaToken, methods}`", body = LoginResponse),
        (status = 400, description = "`invalid_exchange_code` or `validation_failed`", body = ErrorBody),
    ),
)]
async fn exchange(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    JsonBody(body): JsonBody<ExchangeRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    state.limiter().check(Budget::Login, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;
    if body.code.len() > DEVICE_TOKEN_MAX_CHARS {
        return Err(Error::InvalidExchangeCode.into());
    }
    let outcome = state.auth().exchange_code(&body.code, body.device_id, body.device_name, &client).await?;
    Ok(Json(crate::login::login_response(&state, outcome)?))
}

/// Signs in with an ID token from the platform's sign-in SDK (Sign in with Apple on iOS, Google
/// on Android): checked like the web flow's (signature by the provider's keys, `iss`, `aud` —
/// the web client or `OAUTH_<PROVIDER>_NATIVE_CLIENT_IDS` — `exp`, `nonce`), then the same
/// account rules and the same answer as a login.
#[utoipa::path(post, path = "/auth/oauth/{provider}/id-token", tag = "social",
    params(("provider" = String, Path)),
    request_body = IdTokenRequest,
    responses(
        (status = 200, description = "Tokens, or `{mfaRequired, mfaToken, methods}`", body = LoginResponse),
        (status = 400, description = "`validation_failed` or `email_not_provided`", body = ErrorBody),
        (status = 401, description = "`invalid_id_token`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`email_in_use`: an account has this email, which the provider does not vouch for; sign in and link", body = ErrorBody),
        (status = 502, description = "`oauth_provider_error`", body = ErrorBody),
    ),
)]
async fn id_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    Client(client): Client,
    JsonBody(body): JsonBody<IdTokenRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let Provider::OpenId(provider) = provider(&state, &name)? else {
        return Err(
            Error::invalid_field("idToken", format!("{name} has no ID tokens; sign in with the web flow")).into()
        );
    };
    state.limiter().check(Budget::Login, &ip_key(ip)).await.map_err(ApiError::rate_limited)?;
    if body.id_token.trim().is_empty() {
        return Err(Error::invalid_field("idToken", "is required").into());
    }
    if body.id_token.len() > TOKEN_MAX_CHARS || body.nonce.as_ref().is_some_and(|n| n.len() > TOKEN_MAX_CHARS) {
        return Err(Error::invalid_field("idToken", format!("must be at most {TOKEN_MAX_CHARS} characters")).into());
    }
    let auth = state.auth();
    let mut identity: ProviderIdentity = provider
        .verify_native(body.id_token.trim(), body.nonce.as_deref(), auth.clock().now())
        .await
        .map_err(|failure| provider_failure(&name, failure))?;
    if identity.name.is_none() {
        identity.name = body.name;
    }
    let (user, _) = auth.resolve_identity(&identity, &client).await?;
    let outcome = auth.social_login(user, body.device_id, body.device_name, &client).await?;
    Ok(Json(crate::login::login_response(&state, outcome)?))
}

/// Begins linking a provider to the caller's account: send the browser to `url`; it returns to
/// `redirectTo` with a one-time `linkCode` (or `error`), which the same account confirms with
/// `POST /auth/oauth/link/confirm`. An identity linked to another account is refused
/// (`identity_in_use`).
#[utoipa::path(post, path = "/auth/oauth/{provider}/link", tag = "social", security(("bearer" = [])),
    params(("provider" = String, Path)),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "Where to send the browser", body = LinkResponse),
        (status = 400, description = "`redirect_not_allowed`", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 502, description = "`oauth_provider_error`", body = ErrorBody),
    ),
)]
async fn link(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<LinkRequest>,
) -> Result<Json<LinkResponse>, ApiError> {
    let provider = provider(&state, &name)?;
    check_redirect(&state, &body.redirect_to)?;
    let start = state.auth().begin_oauth_flow(&name, &body.redirect_to, Some(caller.user_id)).await?;
    let callback = state.oauth().callback_url(&name);
    let url = provider.authorization_url(&start, &callback).await.map_err(|f| provider_failure(&name, f))?;
    Ok(Json(LinkResponse { url: url.into() }))
}

/// Finishes a link: the `linkCode` the browser returned with, confirmed by the account that
/// began the link (anyone else's code is `invalid_exchange_code`, and nothing is linked).
#[utoipa::path(post, path = "/auth/oauth/link/confirm", tag = "social", security(("bearer" = [])),
    request_body = ConfirmLinkRequest,
    responses(
        (status = 200, description = "Linked", body = MessageResponse),
        (status = 400, description = "`invalid_exchange_code`", body = ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 409, description = "`identity_in_use`", body = ErrorBody),
    ),
)]
async fn confirm_link(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    JsonBody(body): JsonBody<ConfirmLinkRequest>,
) -> Result<Json<MessageResponse>, ApiError> {
    if body.code.len() > DEVICE_TOKEN_MAX_CHARS {
        return Err(Error::InvalidExchangeCode.into());
    }
    let identity = state.auth().confirm_link(&caller, &body.code, &client).await?;
    Ok(Json(MessageResponse { message: format!("{} is now linked to this account", identity.provider) }))
}

/// Removes a provider from the caller's account; refused (`last_sign_in_method`) when the
/// account would be left with no password and no other provider.
#[utoipa::path(delete, path = "/auth/identities/{provider}", tag = "social", security(("bearer" = [])),
    params(("provider" = String, Path)),
    responses(
        (status = 200, description = "Removed", body = MessageResponse),
        (status = 401, description = "`missing_token`, `invalid_token` or `token_expired`", body = ErrorBody),
        (status = 404, description = "`not_found`: no identity at this provider is linked", body = ErrorBody),
        (status = 409, description = "`last_sign_in_method`", body = ErrorBody),
    ),
)]
async fn unlink(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Client(client): Client,
    Path(name): Path<String>,
) -> Result<Json<MessageResponse>, ApiError> {
    state.auth().unlink_identity(caller.user_id, &name, &client).await?;
    Ok(Json(MessageResponse { message: format!("{name} is no longer linked to this account") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apples_user_field_gives_the_name_once_it_is_there() {
        let user = r#"{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"ada@privaterelay.appleid.com"}"#;
        assert_eq!(apple_user_name(user).as_deref(), Some("Ada Lovelace"));
        assert_eq!(apple_user_name(r#"{"name":{"firstName":"Ada"}}"#).as_deref(), Some("Ada"));
        assert_eq!(apple_user_name(r#"{"name":{}}"#), None);
        assert_eq!(apple_user_name("not json"), None);
    }
}
