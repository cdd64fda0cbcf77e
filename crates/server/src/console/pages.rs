//! Turning a template into an answer, and the pages every part of the console shares: a
//! message, and an error in words an administrator can act on.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use mana_core::Error;
use mana_proto::ErrorCode;

use crate::http::ApiError;
use crate::http::error::Enveloped;

/// The page, with `status`. An error page is marked final, so that the API's JSON envelope
/// does not replace it, and carries its code for the request log.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => mark(status, (status, Html(html)).into_response()),
        Err(error) => {
            tracing::error!(error = %error, "a console page did not render");
            mark(
                StatusCode::INTERNAL_SERVER_ERROR,
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response(),
            )
        }
    }
}

fn mark(status: StatusCode, mut response: Response) -> Response {
    let code = match status {
        status if !(status.is_client_error() || status.is_server_error()) => return response,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
        status if status.is_server_error() => ErrorCode::InternalError,
        _ => ErrorCode::BadRequest,
    };
    response.extensions_mut().insert(Enveloped(code));
    response
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
}

/// A page that only says something, with a way back into the console.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    render(status, &MessagePage { title, text })
}

/// The query string's fields; anything it cannot read is left at its default (a console link
/// is never worth an error page).
pub fn query<T: serde::de::DeserializeOwned + Default>(raw: Option<String>) -> T {
    raw.and_then(|raw| serde_urlencoded::from_str(&raw).ok()).unwrap_or_default()
}

/// What went wrong, as the API would say it (its status and message, and what is wrong with
/// which field); an internal error was logged by the conversion and is not shown.
pub struct Problem {
    pub status: StatusCode,
    pub message: String,
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        ApiError::from(error).into()
    }
}

impl From<ApiError> for Problem {
    fn from(error: ApiError) -> Self {
        let mut message = error.message;
        for field in error.errors.unwrap_or_default() {
            message.push_str(&format!(": {} {}", field.field, field.message));
        }
        Problem { status: error.status, message }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let title = if self.status == StatusCode::NOT_FOUND { "Not found" } else { "That did not work" };
        message_page(self.status, title, &self.message)
    }
}
