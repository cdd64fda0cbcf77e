//! Social sign-in's side that talks to providers (SPEC §6): their settings, HTTP calls, ID
//! token checks, and the allow-list of where a finished web sign-in may send the browser. What
//! an identity signs in to is the domain's (`mana_core::auth::social`).

mod apple;
mod github;
mod http;
mod id_token;
mod jwks;
mod openid;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mana_core::auth::FlowStart;
use mana_core::store::{OAuthFlow, ProviderIdentity};

pub use apple::AppleClientSecret;
pub use github::{GITHUB_API_URL, GITHUB_AUTHORIZE_URL, GITHUB_TOKEN_URL, GitHubEndpoints, GitHubProvider};
pub use http::{ProviderError, ProviderHttp};
pub use id_token::IdTokenRejection;
pub use openid::{ClientSecret, Dialect, OpenIdProvider};

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

/// GitHub (`OAUTH_GITHUB_*`).
#[derive(Debug, Clone)]
pub struct GitHubSettings {
    pub provider: ProviderSettings,
    pub endpoints: GitHubEndpoints,
}

/// Sign in with Apple (`OAUTH_APPLE_*`): an OpenID provider whose client secret is made from
/// the team's `.p8` key.
#[derive(Debug, Clone)]
pub struct AppleSettings {
    /// `client_secret` is unused: it is made from the key.
    pub provider: ProviderSettings,
    pub issuer: String,
    pub team_id: String,
    pub key_id: String,
    pub private_key_file: PathBuf,
}

pub const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// Everything `OAUTH_*` configures.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    pub openid: Vec<OpenIdSettings>,
    pub github: Option<GitHubSettings>,
    pub apple: Option<AppleSettings>,
    /// `OAUTH_REDIRECT_ALLOWLIST`: exact URLs, or prefixes written with a trailing `*`.
    pub redirect_allowlist: Vec<String>,
    pub timeout: Duration,
}

/// A configured provider.
#[derive(Clone)]
pub enum Provider {
    OpenId(Arc<OpenIdProvider>),
    GitHub(Arc<GitHubProvider>),
}

impl Provider {
    pub async fn authorization_url(
        &self,
        start: &FlowStart,
        redirect_uri: &str,
    ) -> Result<reqwest::Url, ProviderFailure> {
        match self {
            Provider::OpenId(provider) => provider.authorization_url(start, redirect_uri).await,
            Provider::GitHub(provider) => provider.authorization_url(start, redirect_uri),
        }
    }

    /// The issuer a callback's `iss` (RFC 9207) must name, for providers that send one.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            Provider::OpenId(provider) => Some(provider.issuer()),
            Provider::GitHub(_) => None,
        }
    }

    /// Trades the callback's code for the identity, with the flow's PKCE verifier and nonce.
    pub async fn finish(
        &self,
        code: &str,
        flow: &OAuthFlow,
        redirect_uri: &str,
        now: DateTime<Utc>,
    ) -> Result<ProviderIdentity, ProviderFailure> {
        match self {
            Provider::OpenId(provider) => {
                provider.finish(code, &flow.code_verifier, &flow.nonce, redirect_uri, now).await
            }
            Provider::GitHub(provider) => provider.finish(code, &flow.code_verifier, redirect_uri).await,
        }
    }
}

/// The configured providers, by name, and where sign-ins may return to.
pub struct OAuthProviders {
    providers: BTreeMap<String, Provider>,
    redirect_allowlist: Vec<String>,
    public_url: String,
}

impl OAuthProviders {
    pub fn new(settings: &OAuthSettings, public_url: &str) -> anyhow::Result<Self> {
        let http = ProviderHttp::new(settings.timeout)?;
        let mut providers = BTreeMap::new();
        for p in &settings.openid {
            let dialect = Dialect { secret: ClientSecret::Static(p.provider.client_secret.clone()), apple: false };
            let provider = OpenIdProvider::new(p.provider.clone(), dialect, p.issuer.clone(), http.clone());
            providers.insert(p.provider.name.clone(), Provider::OpenId(Arc::new(provider)));
        }
        if let Some(github) = &settings.github {
            let provider = GitHubProvider::new(github.provider.clone(), github.endpoints.clone(), http.clone());
            providers.insert(github.provider.name.clone(), Provider::GitHub(Arc::new(provider)));
        }
        if let Some(apple) = &settings.apple {
            let pem = std::fs::read_to_string(&apple.private_key_file).map_err(|error| {
                anyhow::anyhow!(
                    "OAUTH_APPLE_PRIVATE_KEY_FILE {} cannot be read: {error}",
                    apple.private_key_file.display()
                )
            })?;
            let secret = AppleClientSecret::new(
                apple.team_id.clone(),
                apple.key_id.clone(),
                apple.provider.client_id.clone(),
                apple.issuer.clone(),
                &pem,
            )?;
            let dialect = Dialect { secret: ClientSecret::Apple(secret), apple: true };
            let provider = OpenIdProvider::new(apple.provider.clone(), dialect, apple.issuer.clone(), http.clone());
            providers.insert(apple.provider.name.clone(), Provider::OpenId(Arc::new(provider)));
        }
        Ok(Self {
            providers,
            redirect_allowlist: settings.redirect_allowlist.clone(),
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    pub fn get(&self, name: &str) -> Option<Provider> {
        self.providers.get(name).cloned()
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
    fn an_apple_key_file_that_cannot_be_read_stops_the_start_with_its_name() {
        let provider = ProviderSettings {
            name: "apple".into(),
            client_id: "com.example.web".into(),
            client_secret: String::new(),
            native_client_ids: vec![],
            require_https: false,
        };
        let apple = AppleSettings {
            provider,
            issuer: APPLE_ISSUER.into(),
            team_id: "T".into(),
            key_id: "K".into(),
            private_key_file: "/nonexistent/apple.p8".into(),
        };
        let settings =
            OAuthSettings { apple: Some(apple), timeout: Duration::from_secs(1), ..OAuthSettings::default() };
        let error = OAuthProviders::new(&settings, "http://localhost").err().expect("refused").to_string();
        assert!(error.contains("OAUTH_APPLE_PRIVATE_KEY_FILE"), "{error}");
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
