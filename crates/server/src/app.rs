//! Builds the service from its parts and serves it. `main` and the tests both start the
//! server through [`build_state`] and [`serve`], on a listener they bound themselves.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Request};
use axum::middleware;
use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use mana_core::auth::{AuthParts, AuthService, SessionSettings, TwoFactorSettings};
use mana_core::clock::Clock;
use mana_core::credits::CreditService;
use mana_core::crypto::{hex_encode, random_bytes};
use mana_core::mail::{LinkTemplates, MailComposer};
use mana_core::password::PasswordHasher;
use mana_core::tokens::{AccessTokenSettings, AccessTokens, KeyRing};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::config::{Config, Environment};
use crate::http::client_ip;
use crate::http::error::{Enveloped, envelope_stray_errors};
use crate::http::request_id::{self, RequestId};
use crate::http::security::{HttpSettings, add_headers, cors, security_headers};
use crate::http::{metrics, rate_limit};
use crate::payments::stripe_client::StripeClient;
use crate::ratelimit::RateLimiter;
use crate::routes;
use crate::routes::openapi::OpenApiJson;
use crate::state::{AppState, PaymentProvider, Payments};
use crate::storage::Backend;

pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn build_state(
    config: &Config,
    backend: Backend,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    let tokens = AccessTokens::new(
        keys,
        AccessTokenSettings {
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
            ttl: config.access_token_ttl,
            leeway: config.jwt_leeway,
        },
    );
    let sessions = SessionSettings {
        refresh_ttl: config.refresh_token_ttl,
        reuse_grace: config.refresh_reuse_grace,
        max_lifetime: config.session_max_lifetime,
        require_verified_email: config.require_email_verification,
    };
    let passwords = PasswordHasher::new(config.password_hash, config.password_hash_concurrency);
    let store = backend.store();
    let links = LinkTemplates {
        verify_email: config.email.verify_email_url.clone(),
        reset_password: config.email.reset_password_url.clone(),
    };
    let mail = MailComposer::new(links, config.email.templates_dir.as_deref())?;
    let policy = config.credit_policy.clone();
    let two_factor =
        TwoFactorSettings { issuer: config.totp_issuer.clone(), secrets: crate::encryption::secret_box(config)? };
    let parts = AuthParts { passwords, tokens, sessions, credit_policy: policy, mail, two_factor };
    let auth = AuthService::new(store.clone(), clock.clone(), parts);
    let credits = CreditService::new(store, clock, config.credit_policy.clone());
    let http = HttpSettings {
        cors_origins: config.cors_origins.clone(),
        hsts_max_age_seconds: config.hsts_max_age_seconds,
        request_timeout: config.request_timeout,
        header_read_timeout: config.header_read_timeout,
        metrics_on_api_port: config.metrics_listen_addr.is_none(),
        trusted_proxies: config.trusted_proxies.clone(),
        secure_cookies: config.environment == crate::config::Environment::Production,
    };
    let limiter = RateLimiter::new(config.rate_limits.clone())?;
    let payments = match &config.stripe {
        Some(settings) => Some(Payments {
            provider: PaymentProvider::Stripe {
                client: StripeClient::new(&settings.api_base, &settings.secret_key, settings.timeout)?,
                settings: settings.clone(),
            },
            webhook_secrets: settings.webhook_secrets.clone(),
        }),
        // Development without a key: the simulated checkout, with a secret of this process.
        None if config.environment == Environment::Development => Some(Payments {
            provider: PaymentProvider::Simulated { public_url: config.public_url.clone() },
            webhook_secrets: vec![format!("whsec_simulated_{}", hex_encode(&random_bytes::<32>()))],
        }),
        None => None,
    };
    AppState::new(auth, credits, http, backend, limiter, payments, config)
}

pub fn router(state: AppState) -> Router {
    metrics::handle();
    let headers = Arc::new(security_headers(state.http().hsts_max_age_seconds));
    let timeout = state.http().request_timeout;
    // Shared, not copied, by every request.
    let trusted = Arc::new(state.http().trusted_proxies.clone());
    // Each `layer` wraps what is already there, so the last one added runs first: the request
    // id exists before anything can fail; every response, a CORS preflight included, gets the
    // security headers; every stray error (a 404, a timeout, a caught panic) is enveloped.
    let (routes, document) = routes::all(state.http().metrics_on_api_port);
    let document = OpenApiJson(document.to_json().expect("the OpenAPI document serializes").into());
    let mut router = routes
        .layer(Extension(document))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_request(()).on_response(log_response))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::new())
        .layer(middleware::from_fn(envelope_stray_errors))
        // Inside CORS, so a browser can read a 429.
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit::enforce::<AppState>));
    if let Some(cors) = cors(&state.http().cors_origins) {
        router = router.layer(cors);
    }
    router
        .layer(middleware::map_response(move |response: axum::response::Response| {
            let headers = headers.clone();
            async move { add_headers(response, &headers) }
        }))
        .layer(middleware::from_fn(metrics::track_requests))
        .layer(middleware::from_fn_with_state(trusted, client_ip::assign))
        .layer(middleware::from_fn(request_id::assign))
        .with_state(state)
}

/// The span of one request: method, route template (never the raw URI, which could carry
/// secrets in a query string), request id, and the user once authenticated. Headers are never
/// recorded.
fn request_span(request: &Request) -> Span {
    let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("unmatched");
    let id = request.extensions().get::<RequestId>().map(|id| id.0.as_str()).unwrap_or("unknown");
    tracing::info_span!("http", method = %request.method(), route, request_id = id, user_id = tracing::field::Empty)
}

/// One line per request: status, latency in milliseconds (three decimals), and for an error
/// its code, so a log search for `invalid_token` finds the requests that got it.
fn log_response(response: &axum::response::Response, latency: Duration, _span: &Span) {
    let latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3;
    let status = response.status().as_u16();
    match response.extensions().get::<Enveloped>() {
        Some(Enveloped(code)) => tracing::info!(status, latency_ms, error_code = code.as_str(), "request"),
        None => tracing::info!(status, latency_ms, "request"),
    }
}

/// `/metrics` alone, for a listener of its own (`METRICS_LISTEN_ADDR`).
pub fn metrics_router(state: AppState) -> Router {
    let (routes, _document) = routes::metrics::routes().split_for_parts();
    routes.with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
///
/// A connection that does not send a complete request head within `header_read_timeout` is
/// closed (slowloris: otherwise each such connection holds a file descriptor for as long as
/// the client likes, and a few thousand of them stop the service). The clock runs from the
/// moment the connection waits for a request: right after it is accepted, and whenever a
/// kept-alive connection is idle. axum's own `serve` sets no such timeout, so connections are
/// served here with hyper's HTTP/1.1 builder and a timer. (HTTP/2 is left to the TLS proxy in
/// front; hyper's protocol detection would wait for the first bytes without any deadline.)
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_read_timeout = state.http().header_read_timeout;
    let app = router(state);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted: wait
                    // a moment instead of spinning, then accept again.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(axum::body::Body::new))
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
