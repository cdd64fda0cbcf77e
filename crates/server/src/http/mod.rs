//! HTTP plumbing shared by every route: request ids, the error envelope, extractors.

pub mod client_ip;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod request_id;
pub mod security;

pub use error::ApiError;

/// Where the versioned API lives; discovery, probes and documents are outside it.
pub const API_PREFIX: &str = "/api/v1";
pub use extract::{AuthUser, Client, JsonBody, QueryParams};
