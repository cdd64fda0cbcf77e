//! Social sign-in's side that talks to providers (SPEC §6): their settings, HTTP calls, ID
//! token checks, and the allow-list of where a finished web sign-in may send the browser. What
//! an identity signs in to is the domain's (`mana_core::auth::social`).

mod http;
mod id_token;
mod jwks;
mod openid;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use http::{ProviderError, ProviderHttp};
pub use id_token::IdTokenRejection;
pub use openid::OpenIdProvider;

/// How a provider failed a sign-in.
#[derive(Debug, thiserror::Error)]
pub enum ProviderFailure {
    /// Down, refusing us, or answering what cannot be used: 502 `oauth_provider_error`.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// An ID token that must not be trusted: 401 `invalid_id_token`.
    #[error(transparent)]
    IdToken(IdTokenRejection),
}

/// One configured provider. Never printed whole: it holds the client secret.
#[derive(Clone)]
pub struct ProviderSettings {
    /// The name in the provider's routes (`/auth/oauth/{name}/…`).
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    /// Further client ids whose ID tokens the native flow accepts (the iOS and Android apps'
    /// own client ids at Google, the app's bundle id at Apple).
    pub native_client_ids: Vec<String>,
    /// Outside development every URL of a provider must be https.
    pub require_https: bool,
}

impl std::fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("native_client_ids", &self.native_client_ids)
            .finish_non_exhaustive()
    }
}

impl ProviderSettings {
    /// The web client's id and the native apps'.
    pub fn native_audiences(&self) -> Vec<String> {
        std::iter::once(&self.client_id).chain(&self.native_client_ids).cloned().collect()
    }

    /// An endpoint a provider names must be a URL, and https where https is required.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        match reqwest::Url::parse(url) {
            Ok(parsed) if parsed.scheme() == "https" => Ok(()),
            Ok(parsed) if parsed.scheme() == "http" && !self.require_https => Ok(()),
            Ok(_) => Err(format!("{url} is not an https URL")),
            Err(_) => Err(format!("{url:?} is not a URL")),
        }
    }
}

/// The OpenID providers as configured: Google (`OAUTH_GOOGLE_*`) and each of `OAUTH_PROVIDERS`.
#[derive(Debug, Clone)]
pub struct OpenIdSettings {
    pub provider: ProviderSettings,
    pub issuer: String,
}

/// Everything `OAUTH_*` configures.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    pub openid: Vec<OpenIdSettings>,
    /// `OAUTH_REDIRECT_ALLOWLIST`: exact URLs, or prefixes written with a trailing `*`.
    pub redirect_allowlist: Vec<String>,
    pub timeout: Duration,
}

/// The configured providers, by name, and where sign-ins may return to.
pub struct OAuthProviders {
    openid: BTreeMap<String, Arc<OpenIdProvider>>,
    redirect_allowlist: Vec<String>,
    public_url: String,
}

impl OAuthProviders {
    pub fn new(settings: &OAuthSettings, public_url: &str) -> anyhow::Result<Self> {
        let http = ProviderHttp::new(settings.timeout)?;
        let openid = settings
            .openid
            .iter()
            .map(|p| {
                let provider = OpenIdProvider::new(p.provider.clone(), p.issuer.clone(), http.clone());
                (p.provider.name.clone(), Arc::new(provider))
            })
            .collect();
        Ok(Self {
            openid,
            redirect_allowlist: settings.redirect_allowlist.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn openid(&self, name: &str) -> Option<Arc<OpenIdProvider>> {
        self.openid.get(name).cloned()
    }

    pub fn names(&self) -> Vec<&str> {
        self.openid.keys().map(String::as_str).collect()
    }

    /// The callback URL registered with the provider.
    pub fn callback_url(&self, provider: &str) -> String {
        format!("{}{}/auth/oauth/{provider}/callback", self.public_url, crate::http::API_PREFIX)
    }

    /// Whether a finished sign-in may send the browser to `url`.
    pub fn redirect_allowed(&self, url: &str) -> bool {
        redirect_allowed(&self.redirect_allowlist, url)
    }
}

/// An entry matches exactly, or, ending in `*`, by the prefix before it. A URL that does not
/// parse, or carries credentials or a fragment, matches nothing.
fn redirect_allowed(allowlist: &[String], url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else { return false };
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.fragment().is_some() {
        return false;
    }
    allowlist.iter().any(|entry| match entry.strip_suffix('*') {
        Some(prefix) => url.starts_with(prefix),
        None => url == entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_match_exactly_or_by_a_starred_prefix() {
        let list = ["https://app.example.com/auth/done".to_owned(), "myapp://callback/*".to_owned()];
        assert!(redirect_allowed(&list, "https://app.example.com/auth/done"));
        assert!(!redirect_allowed(&list, "https://app.example.com/auth/done?x=1"), "exact means exact");
        assert!(!redirect_allowed(&list, "https://app.example.com/auth/donex"));
        assert!(redirect_allowed(&list, "myapp://callback/signed-in"));
        assert!(!redirect_allowed(&list, "myapp://callbackx"));
        assert!(!redirect_allowed(&list, "https://evil.example/auth/done"));
        assert!(!redirect_allowed(&list, "https://app.example.com/auth/done#frag"));
        assert!(!redirect_allowed(&list, "not a url"));
        assert!(!redirect_allowed(&[], "https://app.example.com/auth/done"), "an empty list allows nothing");
        let wide = ["https://app.example.com/*".to_owned()];
        assert!(!redirect_allowed(&wide, "https://user:pw@app.example.com/"), "no credentials");
    }

    #[test]
    fn settings_never_print_the_secret() {
        let settings = ProviderSettings {
            name: "google".into(),
            client_id: "id".into(),
            client_secret: "very-secret".into(),
            native_client_ids: vec![],
            require_https: true,
        };
        assert!(!format!("{settings:?}").contains("very-secret"));
        assert!(settings.check_url("http://accounts.example").is_err());
        assert!(settings.check_url("https://accounts.example/x").is_ok());
    }
}
