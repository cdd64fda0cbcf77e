//! The OpenAPI 3.1 document of the API, served at `/openapi.json`.
//!
//! Handlers describe their own success and domain errors; what every route can answer because
//! of the layers around it (timeouts, rate limits, bad bodies, internal errors) is added here
//! to every operation, so the document lists every status a client can get.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use mana_proto::ErrorBody;
use utoipa::Number;
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::API_PREFIX;
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "mana-core-auth",
        description = "Authentication and credits for the mana apps. Errors always use the `ErrorBody` envelope.",
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Accounts, sessions and tokens"),
        (name = "account", description = "A signed-in user's own profile, sessions, log and password"),
        (name = "credits", description = "Balances, spending and the ledger"),
        (name = "discovery", description = "Keys and discovery for token verifiers"),
        (name = "operations", description = "Probes, metrics and this document"),
    ),
)]
struct BaseDocument;

pub fn base_document() -> OpenApi {
    let mut document = BaseDocument::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
    );
    document
}

/// The serialized document, rendered once when the router is built; each response shares it.
#[derive(Clone)]
pub struct OpenApiJson(pub Bytes);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "The OpenAPI document", body = Object, content_type = "application/json"),
))]
async fn openapi_json(Extension(OpenApiJson(json)): Extension<OpenApiJson>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

/// Operation ids must be unique in a document (OpenAPI 3.1, section 4.8.10), and client
/// generators refuse one where they are not. The discovery documents are served at the root
/// (where JWT libraries look) and again under the API prefix: the copies under the prefix are
/// named for it (`api_v1_jwks`).
pub fn qualify_repeated_operation_ids(document: &mut OpenApi) {
    let mut seen = std::collections::HashSet::new();
    let prefix = API_PREFIX.trim_matches('/').replace('/', "_");
    let mut paths: Vec<_> = document.paths.paths.iter_mut().collect();
    // The root's copies keep the plain names, whatever order the map keeps.
    paths.sort_by_key(|(path, _)| path.starts_with(API_PREFIX));
    for (path, item) in paths {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            let Some(id) = operation.operation_id.clone() else { continue };
            if !seen.insert(id.clone()) && path.starts_with(API_PREFIX) {
                let qualified = format!("{prefix}_{id}");
                seen.insert(qualified.clone());
                operation.operation_id = Some(qualified);
            }
        }
    }
}

/// Statuses any request can get from the layers, and those of requests with a body or query.
pub fn add_common_responses(document: &mut OpenApi) {
    const UNLIMITED: [&str; 3] = ["/health", "/ready", "/metrics"];
    for (path, item) in document.paths.paths.iter_mut() {
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            let mut common = vec![
                ("408", "`request_timeout`: the request took longer than the configured timeout"),
                ("500", "`internal_error`: nothing internal is revealed"),
            ];
            if !UNLIMITED.contains(&path.as_str()) {
                common.push(("429", "`rate_limited`: over a rate limit; see `Retry-After`"));
            }
            if path.starts_with("/api/v1/auth/") || path.starts_with("/api/v1/credits/") {
                common.push(("503", "`service_unavailable` or `not_ready`: the database is out of reach; retry"));
            }
            if operation.request_body.is_some() {
                common.push(("400", "`malformed_json`, `unknown_field`, `invalid_body` or `validation_failed`"));
                common.push(("413", "`payload_too_large`: the body is over 64 KiB"));
                common.push(("415", "`unsupported_media_type`: the body is not `application/json`"));
            } else if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
                common.push(("400", "`invalid_query` or `validation_failed`"));
            }
            for (status, description) in common {
                operation.responses.responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
            }
        }
    }
}

/// Writes the limits of [`mana_proto::limits`] into the request schemas: the same constants the
/// server checks requests against, so the document states exactly what is enforced.
pub fn apply_limits(document: &mut OpenApi) {
    use mana_proto::limits::*;
    let lengths = [
        ("RegisterRequest", "email", None, Some(EMAIL_MAX_CHARS)),
        ("RegisterRequest", "password", Some(PASSWORD_MIN_CHARS), Some(PASSWORD_MAX_CHARS)),
        ("RegisterRequest", "name", None, Some(NAME_MAX_CHARS)),
        ("LoginRequest", "deviceId", None, Some(DEVICE_FIELD_MAX_CHARS)),
        ("LoginRequest", "deviceName", None, Some(DEVICE_FIELD_MAX_CHARS)),
        ("LoginRequest", "deviceToken", None, Some(DEVICE_TOKEN_MAX_CHARS)),
        ("UseCreditsRequest", "description", Some(1), Some(DESCRIPTION_MAX_CHARS)),
        ("ForgotPasswordRequest", "email", None, Some(EMAIL_MAX_CHARS)),
        ("ResetPasswordRequest", "password", Some(PASSWORD_MIN_CHARS), Some(PASSWORD_MAX_CHARS)),
        ("ChangePasswordRequest", "newPassword", Some(PASSWORD_MIN_CHARS), Some(PASSWORD_MAX_CHARS)),
        ("UpdateProfileRequest", "name", None, Some(NAME_MAX_CHARS)),
        ("ChangeEmailRequest", "newEmail", None, Some(EMAIL_MAX_CHARS)),
    ];
    for (schema, field, min, max) in lengths {
        let property = property(document, schema, field);
        property.min_length = min.or(property.min_length);
        property.max_length = max;
    }
    for (schema, field) in [
        ("RegisterRequest", "password"),
        ("RegisterRequest", "name"),
        ("LoginRequest", "deviceId"),
        ("LoginRequest", "deviceName"),
        ("ResetPasswordRequest", "password"),
        ("ChangePasswordRequest", "newPassword"),
        ("UpdateProfileRequest", "name"),
    ] {
        property(document, schema, field).pattern = Some(NO_CONTROL_CHARACTERS.to_owned());
    }
    property(document, "UseCreditsRequest", "description").pattern = Some(PRINTABLE_NOT_BLANK.to_owned());
    property(document, "UseCreditsRequest", "appId").pattern = Some(app_id_pattern());
    property(document, "UseCreditsRequest", "idempotencyKey").pattern = Some(idempotency_key_pattern());
    let purchase = |document: &mut OpenApi, field, pattern: String| {
        property(document, "CreatePurchaseRequest", field).pattern = Some(pattern);
    };
    purchase(document, "flow", "^(checkout|payment_intent)$".to_owned());
    purchase(document, "packageId", "^[a-z0-9_-]{1,64}$".to_owned());
    purchase(document, "idempotencyKey", idempotency_key_pattern());
    let amount = property(document, "UseCreditsRequest", "amount");
    amount.minimum = Some(Number::Int(1));
    amount.maximum = Some(Number::Int(SPEND_MAX as isize));
    // Paging of the listings.
    for path in ["/api/v1/credits/transactions", "/api/v1/auth/security-events"] {
        let listing = document.paths.paths.get_mut(path).and_then(|item| item.get.as_mut());
        for parameter in listing.and_then(|operation| operation.parameters.as_mut()).into_iter().flatten() {
            let (min, max) = match parameter.name.as_str() {
                "limit" => (1, PAGE_LIMIT_MAX),
                "offset" => (0, PAGE_OFFSET_MAX),
                _ => continue,
            };
            if let Some(RefOr::T(Schema::Object(number))) = parameter.schema.as_mut() {
                number.minimum = Some(Number::Int(min as isize));
                number.maximum = Some(Number::Int(max as isize));
            }
        }
    }
    // The header form of the idempotency key.
    for path in ["/api/v1/credits/use", "/api/v1/credits/purchases"] {
        let operation = document.paths.paths.get_mut(path).and_then(|item| item.post.as_mut());
        for parameter in operation.and_then(|operation| operation.parameters.as_mut()).into_iter().flatten() {
            if let Some(RefOr::T(Schema::Object(header))) = parameter.schema.as_mut() {
                header.pattern = Some(idempotency_key_pattern());
            }
        }
    }
}

/// A property of a component schema; the names are this crate's own, so a miss is a bug.
fn property<'a>(document: &'a mut OpenApi, schema: &str, field: &str) -> &'a mut Object {
    let components = document.components.as_mut().expect("the document has components");
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
        panic!("schema {schema} is not an object in the document");
    };
    match object.properties.get_mut(field) {
        Some(RefOr::T(Schema::Object(property))) => property,
        _ => panic!("{schema}.{field} is not a plain property"),
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let envelope = Ref::from_schema_name(ErrorBody::name());
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(envelope)).build())
        .build()
        .into()
}
