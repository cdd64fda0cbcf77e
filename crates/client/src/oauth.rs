//! Social sign-in (SPEC §6). A browser is sent to [`Client::authorize_url`]; the server answers
//! the provider by redirecting to `redirect_to` with a one-time code for [`Client::exchange`].
//! Apps holding an ID token from the platform's own sign-in use [`Client::sign_in_with_id_token`].

use mana_proto::{
    ConfirmLinkRequest, ExchangeRequest, IdTokenRequest, LinkRequest, LinkResponse, LoginResponse, MessageResponse,
};
use reqwest::Method;

use crate::account::segment;
use crate::client::{Call, Client, SignIn};
use crate::error::ClientResult;

impl Client {
    /// Where to send a browser to sign in with `provider`, coming back to `redirect_to`.
    pub fn authorize_url(&self, provider: &str, redirect_to: &str) -> String {
        let mut url = format!("{}/auth/oauth/{}/authorize?redirectTo=", self.api_base(), segment(provider));
        url.push_str(&segment(redirect_to));
        url
    }

    pub async fn exchange(&self, request: &ExchangeRequest) -> ClientResult<SignIn> {
        let answer: LoginResponse =
            self.send(Call::new(Method::POST, "/auth/oauth/exchange").json(request)?, None).await?;
        self.signed_in(answer).await
    }

    pub async fn sign_in_with_id_token(&self, provider: &str, request: &IdTokenRequest) -> ClientResult<SignIn> {
        let path = format!("/auth/oauth/{}/id-token", segment(provider));
        let answer: LoginResponse = self.send(Call::new(Method::POST, path).json(request)?, None).await?;
        self.signed_in(answer).await
    }

    /// Starts linking `provider` to the signed-in account: the URL to send the browser to.
    pub async fn link(&self, provider: &str, redirect_to: &str) -> ClientResult<LinkResponse> {
        let request = LinkRequest { redirect_to: redirect_to.into() };
        self.authed(Call::new(Method::POST, format!("/auth/oauth/{}/link", segment(provider))).json(&request)?).await
    }

    pub async fn confirm_link(&self, code: &str) -> ClientResult<MessageResponse> {
        let request = ConfirmLinkRequest { code: code.into() };
        self.authed(Call::new(Method::POST, "/auth/oauth/link/confirm").json(&request)?).await
    }

    pub async fn unlink(&self, provider: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::DELETE, format!("/auth/identities/{}", segment(provider)))).await
    }
}
