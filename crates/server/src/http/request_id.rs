//! Every request gets an id: the caller's `x-request-id` if it is a sane token, else a new
//! UUID. It is echoed on the response, put into error bodies and onto the request's log span.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

pub const HEADER: &str = "x-request-id";
const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being handled by this task, for error bodies.
pub fn current() -> String {
    CURRENT.try_with(Clone::clone).unwrap_or_else(|_| "unknown".to_owned())
}

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A caller-supplied id is kept only if it cannot smuggle anything into logs or headers.
fn acceptable(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= MAX_LEN
        && candidate.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| acceptable(value))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = CURRENT.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_are_accepted_from_callers() {
        assert!(acceptable("3f1c-abc_1.2:x"));
        assert!(!acceptable(""));
        assert!(!acceptable("with space"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"a".repeat(129)));
    }
}
