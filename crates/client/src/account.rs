//! Registration and the signed-in user's account (SPEC §4): profile, email and password,
//! sessions, security events, export and deletion, and the flows that start from an email.

use mana_proto::{
    AccountExport, ChangeEmailRequest, ChangePasswordRequest, DeleteAccountRequest, ForgotPasswordRequest,
    MessageResponse, ProfileView, RegisterRequest, RegisteredUser, ResetPasswordRequest, RevokedSessions,
    SecurityEventView, SessionView, UpdateProfileRequest, ValidateRequest, ValidateResponse, VerifyEmailRequest,
};
use reqwest::Method;

use crate::client::{Call, Client};
use crate::error::ClientResult;

impl Client {
    /// Registers an account (it is not signed in: call [`Client::sign_in`]).
    pub async fn register(&self, request: &RegisterRequest) -> ClientResult<RegisteredUser> {
        self.send(Call::new(Method::POST, "/auth/register").json(request)?, None).await
    }

    pub async fn me(&self) -> ClientResult<ProfileView> {
        self.authed(Call::new(Method::GET, "/auth/me")).await
    }

    pub async fn update_profile(&self, request: &UpdateProfileRequest) -> ClientResult<ProfileView> {
        self.authed(Call::new(Method::PATCH, "/auth/me").json(request)?).await
    }

    /// Changes the password; the server ends every other session of the account.
    pub async fn change_password(&self, request: &ChangePasswordRequest) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, "/auth/change-password").json(request)?).await
    }

    /// Sends a confirmation link to the new address; the change happens when it is followed.
    pub async fn change_email(&self, request: &ChangeEmailRequest) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, "/auth/change-email").json(request)?).await
    }

    pub async fn resend_verification(&self) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, "/auth/resend-verification")).await
    }

    pub async fn verify_email(&self, request: &VerifyEmailRequest) -> ClientResult<MessageResponse> {
        self.send(Call::new(Method::POST, "/auth/verify-email").json(request)?, None).await
    }

    pub async fn forgot_password(&self, request: &ForgotPasswordRequest) -> ClientResult<MessageResponse> {
        self.send(Call::new(Method::POST, "/auth/forgot-password").json(request)?, None).await
    }

    pub async fn reset_password(&self, request: &ResetPasswordRequest) -> ClientResult<MessageResponse> {
        self.send(Call::new(Method::POST, "/auth/reset-password").json(request)?, None).await
    }

    pub async fn sessions(&self) -> ClientResult<Vec<SessionView>> {
        self.authed(Call::new(Method::GET, "/auth/sessions")).await
    }

    pub async fn revoke_session(&self, id: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::DELETE, format!("/auth/sessions/{}", segment(id)))).await
    }

    pub async fn revoke_other_sessions(&self) -> ClientResult<RevokedSessions> {
        self.authed(Call::new(Method::POST, "/auth/sessions/revoke-others")).await
    }

    pub async fn security_events(&self, limit: u32, offset: u32) -> ClientResult<Vec<SecurityEventView>> {
        let query = [("limit", limit.to_string()), ("offset", offset.to_string())];
        self.authed(Call::new(Method::GET, "/auth/security-events").query(&query)).await
    }

    pub async fn export_account(&self) -> ClientResult<AccountExport> {
        self.authed(Call::new(Method::GET, "/auth/me/export")).await
    }

    /// Deletes the account (the password confirms it) and forgets the session.
    pub async fn delete_account(&self, request: &DeleteAccountRequest) -> ClientResult<MessageResponse> {
        let answer = self.authed(Call::new(Method::DELETE, "/auth/me").json(request)?).await?;
        self.forget().await?;
        Ok(answer)
    }

    /// Asks the server whether a token is valid now, its session included.
    pub async fn validate(&self, token: &str) -> ClientResult<ValidateResponse> {
        let request = ValidateRequest { token: token.into() };
        self.send(Call::new(Method::POST, "/auth/validate").json(&request)?, None).await
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
pub(crate) fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
