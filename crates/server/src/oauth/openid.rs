//! An OpenID Connect provider (Google, or any provider by issuer URL): discovery, the
//! authorization URL with state, PKCE S256 and nonce, the code exchange, and the ID token.

use mana_core::auth::FlowStart;
use mana_core::email::Email;
use mana_core::store::ProviderIdentity;
use reqwest::Url;
use serde_json::Value;
use tokio::sync::OnceCell;

use super::apple::AppleClientSecret;
use super::http::{ProviderError, ProviderHttp};
use super::id_token::{self, Expectations, IdTokenClaims, NonceCheck};
use super::jwks::JwksCache;
use super::{ProviderFailure, ProviderSettings};

/// How the provider's token endpoint knows us.
pub enum ClientSecret {
    /// `OAUTH_<NAME>_CLIENT_SECRET`.
    Static(String),
    /// Apple's: a JWT signed with the team's key.
    Apple(AppleClientSecret),
}

/// What differs between OpenID providers: the client secret, and Apple's ways.
pub struct Dialect {
    pub secret: ClientSecret,
    /// Apple: the answer is posted to the callback (required for the `name` and `email`
    /// scopes), and the scopes are `name email`.
    pub apple: bool,
}

/// The endpoints discovery names (OpenID Connect Discovery 1.0 §3).
struct Endpoints {
    authorization: String,
    token: String,
    keys: JwksCache,
}

pub struct OpenIdProvider {
    settings: ProviderSettings,
    dialect: Dialect,
    issuer: String,
    http: ProviderHttp,
    /// Discovered once, when first needed; a failed discovery is tried again next time.
    endpoints: OnceCell<Endpoints>,
}

impl OpenIdProvider {
    pub fn new(settings: ProviderSettings, dialect: Dialect, issuer: String, http: ProviderHttp) -> Self {
        Self { settings, dialect, issuer, http, endpoints: OnceCell::new() }
    }

    async fn endpoints(&self) -> Result<&Endpoints, ProviderFailure> {
        self.endpoints.get_or_try_init(|| self.discover()).await
    }

    async fn discover(&self) -> Result<Endpoints, ProviderFailure> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
        let document = self.http.get_json(&url).await?;
        let field = |name: &str| -> Result<String, ProviderFailure> {
            let value = document.get(name).and_then(Value::as_str);
            let value = value.ok_or_else(|| malformed(format!("discovery names no {name}")))?;
            self.settings.check_url(value).map_err(malformed)?;
            Ok(value.to_owned())
        };
        // The document must be the issuer's own (Discovery §4.3), or it could send us elsewhere.
        if document.get("issuer").and_then(Value::as_str) != Some(self.issuer.as_str()) {
            return Err(malformed("discovery names another issuer".into()));
        }
        Ok(Endpoints {
            authorization: field("authorization_endpoint")?,
            token: field("token_endpoint")?,
            keys: JwksCache::new(field("jwks_uri")?),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the browser goes to sign in at the provider.
    pub async fn authorization_url(&self, start: &FlowStart, redirect_uri: &str) -> Result<Url, ProviderFailure> {
        let endpoints = self.endpoints().await?;
        let mut url = Url::parse(&endpoints.authorization).map_err(|_| malformed("bad authorization URL".into()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", if self.dialect.apple { "openid name email" } else { "openid email profile" })
            .append_pair("state", &start.state)
            .append_pair("nonce", &start.nonce)
            .append_pair("code_challenge", &start.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if self.dialect.apple {
            url.query_pairs_mut().append_pair("response_mode", "form_post");
        }
        Ok(url)
    }

    /// Trades the callback's code for an ID token and checks it against the flow's nonce.
    pub async fn finish(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: &str,
        redirect_uri: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ProviderIdentity, ProviderFailure> {
        let endpoints = self.endpoints().await?;
        let secret = match &self.dialect.secret {
            ClientSecret::Static(secret) => secret.clone(),
            ClientSecret::Apple(apple) => apple.at(now).map_err(|error| malformed(format!("{error:#}")))?,
        };
        let secret = secret.as_str();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", secret),
        ];
        let answer = self.http.post_form(&endpoints.token, &form).await?;
        let id_token = answer.get("id_token").and_then(Value::as_str);
        let id_token = id_token.ok_or_else(|| malformed("the token answer has no id_token".into()))?;
        let claims = self.verify_id_token(id_token, NonceCheck::Exactly(nonce), now, false).await?;
        Ok(self.identity(claims))
    }

    /// Checks an ID token a platform SDK handed to an app (the native flow).
    pub async fn verify_native(
        &self,
        id_token: &str,
        nonce: Option<&str>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<ProviderIdentity, ProviderFailure> {
        let claims = self.verify_id_token(id_token, NonceCheck::Native(nonce), now, true).await?;
        Ok(self.identity(claims))
    }

    async fn verify_id_token(
        &self,
        token: &str,
        nonce: NonceCheck<'_>,
        now: chrono::DateTime<chrono::Utc>,
        native: bool,
    ) -> Result<IdTokenClaims, ProviderFailure> {
        let endpoints = self.endpoints().await?;
        let audiences = if native { self.settings.native_audiences() } else { vec![self.settings.client_id.clone()] };
        let expect = Expectations { issuer: &self.issuer, audiences: &audiences, nonce, now };
        id_token::verify(&self.http, &endpoints.keys, token, expect).await
    }

    fn identity(&self, claims: IdTokenClaims) -> ProviderIdentity {
        let email = claims.email.as_deref().and_then(|email| Email::parse(email).ok());
        ProviderIdentity {
            provider: self.settings.name.clone(),
            subject: claims.sub,
            email_verified: email.is_some() && claims.email_verified,
            email,
            name: claims.name,
        }
    }
}

fn malformed(detail: String) -> ProviderFailure {
    ProviderFailure::Provider(ProviderError::Malformed(detail))
}
