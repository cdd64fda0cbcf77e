//! TLS for calls to payment and identity providers: rustls with the aws-lc-rs provider (as
//! jsonwebtoken and lettre use) and the Mozilla roots built in, so that nothing depends on the
//! host's certificate store.

use std::sync::Arc;

/// A client configuration trusting the Mozilla roots, TLS 1.2 and 1.3.
pub fn client_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}
