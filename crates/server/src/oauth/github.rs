//! GitHub's OAuth apps (not OpenID Connect): the code flow with PKCE, the token endpoint (which
//! answers its errors with status 200), and the account from its REST API. GitHub has no
//! `email_verified`: the email is the one its emails API marks primary and verified, or none.

use mana_core::auth::FlowStart;
use mana_core::email::Email;
use mana_core::store::ProviderIdentity;
use reqwest::Url;
use serde::Deserialize;
use serde_json::Value;

use super::http::{ProviderError, ProviderHttp};
use super::{ProviderFailure, ProviderSettings};

pub const GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// GitHub's endpoints (`OAUTH_GITHUB_AUTHORIZE_URL`, `_TOKEN_URL`, `_API_URL`).
#[derive(Debug, Clone)]
pub struct GitHubEndpoints {
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
}

pub struct GitHubProvider {
    settings: ProviderSettings,
    endpoints: GitHubEndpoints,
    http: ProviderHttp,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

impl GitHubProvider {
    pub fn new(settings: ProviderSettings, endpoints: GitHubEndpoints, http: ProviderHttp) -> Self {
        Self { settings, endpoints, http }
    }

    pub fn authorization_url(&self, start: &FlowStart, redirect_uri: &str) -> Result<Url, ProviderFailure> {
        let mut url = Url::parse(&self.endpoints.authorize_url).map_err(|_| malformed("bad authorize URL"))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "read:user user:email")
            .append_pair("state", &start.state)
            .append_pair("code_challenge", &start.code_challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "true");
        Ok(url)
    }

    pub async fn finish(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<ProviderIdentity, ProviderFailure> {
        let form = [
            ("client_id", self.settings.client_id.as_str()),
            ("client_secret", self.settings.client_secret.as_str()),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ];
        let answer = self.http.post_form(&self.endpoints.token_url, &form).await?;
        // GitHub reports a bad code or bad client credentials as 200 with `error`.
        if let Some(error) = answer.get("error").and_then(Value::as_str) {
            return Err(ProviderError::Refused { status: 200, detail: error.to_owned() }.into());
        }
        let token = answer.get("access_token").and_then(Value::as_str).ok_or_else(|| malformed("no access_token"))?;
        let api = self.endpoints.api_url.trim_end_matches('/');
        let user: GitHubUser =
            serde_json::from_value(self.http.get_json_with_token(&format!("{api}/user"), token).await?)
                .map_err(|_| malformed("the user is not in GitHub's shape"))?;
        let emails: Vec<GitHubEmail> =
            serde_json::from_value(self.http.get_json_with_token(&format!("{api}/user/emails"), token).await?)
                .map_err(|_| malformed("the emails are not in GitHub's shape"))?;
        let email = primary_verified_email(&emails);
        Ok(ProviderIdentity {
            provider: self.settings.name.clone(),
            subject: user.id.to_string(),
            email_verified: email.is_some(),
            email,
            name: user.name.filter(|name| !name.trim().is_empty()).or(Some(user.login)),
        })
    }
}

/// The address GitHub vouches for: primary and verified. Any other is not the account's for us.
fn primary_verified_email(emails: &[GitHubEmail]) -> Option<Email> {
    let found = emails.iter().find(|e| e.primary && e.verified)?;
    Email::parse(&found.email).ok()
}

fn malformed(detail: &str) -> ProviderFailure {
    ProviderFailure::Provider(ProviderError::Malformed(detail.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(address: &str, primary: bool, verified: bool) -> GitHubEmail {
        GitHubEmail { email: address.into(), primary, verified }
    }

    #[test]
    fn only_the_primary_verified_address_counts() {
        let emails = [email("verified-secondary@example.com", false, true), email("primary@example.com", true, true)];
        assert_eq!(primary_verified_email(&emails).unwrap().as_str(), "primary@example.com");
        let unverified_primary = [email("primary@example.com", true, false), email("other@example.com", false, true)];
        assert_eq!(primary_verified_email(&unverified_primary), None);
        assert_eq!(primary_verified_email(&[]), None);
    }
}
