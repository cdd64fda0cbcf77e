//! `/openapi.json`: every route is in it, everything in it is a route, and what the routes
//! answer is what it documents.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::TestApp;

/// Every endpoint of SPEC §2, §3 and (so far) §4, with the status of its success.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("post", "/api/v1/auth/register", "201"),
    ("post", "/api/v1/auth/login", "200"),
    ("post", "/api/v1/auth/refresh", "200"),
    ("post", "/api/v1/auth/logout", "200"),
    ("post", "/api/v1/auth/validate", "200"),
    ("post", "/api/v1/auth/forgot-password", "202"),
    ("post", "/api/v1/auth/reset-password", "200"),
    ("post", "/api/v1/auth/verify-email", "200"),
    ("post", "/api/v1/auth/resend-verification", "202"),
    ("get", "/api/v1/auth/me", "200"),
    ("patch", "/api/v1/auth/me", "200"),
    ("get", "/api/v1/auth/sessions", "200"),
    ("delete", "/api/v1/auth/sessions/{id}", "200"),
    ("post", "/api/v1/auth/sessions/revoke-others", "200"),
    ("get", "/api/v1/auth/security-events", "200"),
    ("post", "/api/v1/auth/change-password", "200"),
    ("post", "/api/v1/auth/change-email", "202"),
    ("delete", "/api/v1/auth/me", "200"),
    ("get", "/api/v1/auth/me/export", "200"),
    ("post", "/api/v1/auth/2fa/totp/setup", "200"),
    ("post", "/api/v1/auth/2fa/totp/enable", "200"),
    ("post", "/api/v1/auth/2fa/disable", "200"),
    ("post", "/api/v1/auth/2fa/backup-codes", "200"),
    ("post", "/api/v1/auth/2fa/verify", "200"),
    ("get", "/api/v1/credits/balance", "200"),
    ("post", "/api/v1/credits/use", "200"),
    ("get", "/api/v1/credits/transactions", "200"),
    ("get", "/api/v1/credits/purchases", "200"),
    ("post", "/api/v1/credits/purchases", "201"),
    ("get", "/api/v1/credits/purchases/{id}", "200"),
    ("post", "/api/v1/webhooks/stripe", "200"),
    ("get", "/api/v1/auth/oauth/{provider}/authorize", "303"),
    ("get", "/api/v1/auth/oauth/{provider}/callback", "303"),
    ("post", "/api/v1/auth/oauth/{provider}/callback", "303"),
    ("post", "/api/v1/auth/oauth/exchange", "200"),
    ("post", "/api/v1/auth/oauth/{provider}/id-token", "200"),
    ("post", "/api/v1/auth/oauth/{provider}/link", "200"),
    ("post", "/api/v1/auth/oauth/link/confirm", "200"),
    ("delete", "/api/v1/auth/identities/{provider}", "200"),
    ("get", "/api/v1/admin/users", "200"),
    ("get", "/api/v1/admin/users/{id}", "200"),
    ("delete", "/api/v1/admin/users/{id}", "200"),
    ("post", "/api/v1/admin/users/{id}/restore", "200"),
    ("post", "/api/v1/admin/users/{id}/sessions/revoke", "200"),
    ("delete", "/api/v1/admin/users/{id}/sessions/{session_id}", "200"),
    ("post", "/api/v1/admin/users/{id}/lock", "200"),
    ("post", "/api/v1/admin/users/{id}/unlock", "200"),
    ("post", "/api/v1/admin/users/{id}/credits", "200"),
    ("get", "/api/v1/admin/ledger/verify", "200"),
    ("get", "/api/v1/admin/usage", "200"),
    ("get", "/api/v1/admin/packages", "200"),
    ("put", "/api/v1/admin/packages/{id}", "200"),
    ("delete", "/api/v1/admin/packages/{id}", "200"),
    ("get", "/api/v1/credits/packages", "200"),
    ("get", "/api/v1/.well-known/jwks.json", "200"),
    ("get", "/api/v1/.well-known/openid-configuration", "200"),
    ("get", "/.well-known/jwks.json", "200"),
    ("get", "/.well-known/openid-configuration", "200"),
    ("get", "/health", "200"),
    ("get", "/ready", "200"),
    ("get", "/metrics", "200"),
    ("get", "/openapi.json", "200"),
];

async fn document(app: &TestApp) -> Value {
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    found
}

#[tokio::test]
async fn the_document_lists_exactly_the_endpoints_with_their_errors() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    let listed: Vec<(String, String)> = operations(&document).into_iter().map(|(m, p, _)| (m, p)).collect();
    let mut expected: Vec<(String, String)> =
        ENDPOINTS.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "documented operations");
    for (method, path, success) in ENDPOINTS {
        let operation = &document["paths"][path][method];
        assert!(operation["responses"][success].is_object(), "{method} {path} documents {success}");
        assert!(
            operation["responses"]["500"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .is_some_and(|r| r.ends_with("/ErrorBody"))
        );
    }
    let spend = &document["paths"]["/api/v1/credits/use"]["post"];
    for status in ["400", "401", "402", "409", "413", "415", "429"] {
        assert!(spend["responses"][status].is_object(), "POST /credits/use documents {status}");
    }
    assert_eq!(spend["security"], json!([{"bearer": []}]));
    let register = &document["components"]["schemas"]["RegisterRequest"];
    assert_eq!(register["additionalProperties"], false, "unknown fields are refused, and documented so");
}

#[tokio::test]
async fn every_operation_has_its_own_id() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let mut seen = std::collections::BTreeMap::new();
    for (method, path, operation) in operations(&document) {
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no id")).to_owned();
        if let Some(first) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("{id} names both {first} and {method} {path}");
        }
    }
    assert_eq!(document["paths"]["/.well-known/jwks.json"]["get"]["operationId"], "jwks");
    assert_eq!(document["paths"]["/api/v1/.well-known/jwks.json"]["get"]["operationId"], "api_v1_jwks");
}

#[tokio::test]
async fn every_documented_operation_is_served_and_answers_a_documented_status() {
    // A social-login provider is configured (at an address where nothing answers), so that the
    // provider's routes are served rather than 404 for an unknown provider.
    let overrides = [
        ("OAUTH_PROVIDERS", "corp"),
        ("OAUTH_CORP_ISSUER", "http://127.0.0.1:9"),
        ("OAUTH_CORP_CLIENT_ID", "id"),
        ("OAUTH_CORP_CLIENT_SECRET", "secret"),
        ("OAUTH_REDIRECT_ALLOWLIST", "https://app.example/"),
    ];
    let app = TestApp::spawn_with(&overrides, None).await;
    let document = document(&app).await;
    for (method, path, operation) in operations(&document) {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let path = path.replace("{provider}", "corp");
        let mut request = app.http.request(method.clone(), app.url(&path));
        if operation.get("requestBody").is_some() {
            request = request.json(&json!({}));
        }
        let status = request.send().await.unwrap().status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {status}"
        );
        assert!(
            operation["responses"][status.as_str()].is_object(),
            "{method} {path} answered {status}, which the document does not list"
        );
    }
}

#[tokio::test]
async fn routes_are_declared_only_through_the_documenting_macro() {
    // `routes!` registers a handler together with its #[utoipa::path]; a plain `.route(` would
    // add a route the document does not know. The exceptions are HTML pages for people, not API
    // clients, with tests of their own: the pages email links open (`routes/pages.rs`) and the
    // admin console (`console/`).
    let sources = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut undocumented = Vec::new();
    let mut pending = vec![sources.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.ends_with("routes/pages.rs")
                && !path.starts_with(sources.join("console"))
            {
                let text = std::fs::read_to_string(&path).unwrap();
                if text.contains(".route(") || text.contains(".route_service(") || text.contains(".nest_service(") {
                    undocumented.push(path.display().to_string());
                }
            }
        }
    }
    assert!(undocumented.is_empty(), "plain axum routes in {undocumented:?}");
}

#[tokio::test]
async fn every_error_code_is_in_the_reference_and_the_document() {
    use mana_proto::{ErrorCode, TokenRejection};
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/API.md")).unwrap();
    for code in ErrorCode::ALL {
        assert!(reference.contains(&format!("| `{code}` |")), "docs/API.md lists {code}");
    }
    for reason in TokenRejection::ALL {
        assert!(reference.contains(&format!("`{reason}`")), "docs/API.md explains {reason}");
    }
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let listed: Vec<&str> = document["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("ErrorBody.code is an enum")
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let expected: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn required_fields_are_required_and_not_nullable() {
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let spend = &document["components"]["schemas"]["UseCreditsRequest"];
    let required: Vec<&str> = spend["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for field in ["amount", "appId", "description"] {
        assert!(required.contains(&field), "{field} is required: {required:?}");
    }
    assert_eq!(spend["properties"]["amount"]["type"], "integer", "{}", spend["properties"]["amount"]);
    // Descriptions are for API users, not notes about our parser.
    let text = document.to_string();
    for internal in ["deserialize", "serde"] {
        assert!(!text.contains(internal), "the document mentions {internal}");
    }
}

#[tokio::test]
async fn the_document_states_the_limits_the_server_enforces() {
    use mana_proto::limits::*;
    let app = TestApp::spawn().await;
    let document = document(&app).await;
    let schemas = &document["components"]["schemas"];
    let register = &schemas["RegisterRequest"]["properties"];
    assert_eq!(register["email"]["maxLength"], EMAIL_MAX_CHARS);
    assert_eq!(register["password"]["minLength"], PASSWORD_MIN_CHARS);
    assert_eq!(register["password"]["maxLength"], PASSWORD_MAX_CHARS);
    assert_eq!(register["name"]["maxLength"], NAME_MAX_CHARS);
    assert_eq!(schemas["LoginRequest"]["properties"]["deviceToken"]["maxLength"], DEVICE_TOKEN_MAX_CHARS);
    let spend = &schemas["UseCreditsRequest"]["properties"];
    assert_eq!(spend["amount"]["maximum"], SPEND_MAX);
    assert_eq!(spend["description"]["maxLength"], DESCRIPTION_MAX_CHARS);
    assert_eq!(spend["appId"]["pattern"], app_id_pattern());
    // And the server holds requests to them: one past each limit is refused.
    let name = "n".repeat(NAME_MAX_CHARS + 1);
    let response =
        app.post("/auth/register", json!({"email": "l@example.com", "password": "k9#mQ2!x-long", "name": name})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let token = "t".repeat(DEVICE_TOKEN_MAX_CHARS + 1);
    let response =
        app.post("/auth/login", json!({"email": "l@example.com", "password": "x", "deviceToken": token})).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
