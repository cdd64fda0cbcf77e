//! The HTTP client: rustls with the aws-lc-rs provider and the Mozilla roots built in (nothing
//! depends on the host's certificate store), no redirects followed.

use std::sync::Arc;
use std::time::Duration;

pub fn client(timeout: Duration) -> reqwest::Client {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    let builder = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none());
    let builder = match tls {
        Ok(tls) => builder.use_preconfigured_tls(tls),
        Err(_) => builder,
    };
    builder.build().unwrap_or_default()
}
