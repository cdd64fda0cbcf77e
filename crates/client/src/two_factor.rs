//! Two-factor authentication (SPEC §5). A sign-in that needs the second factor is completed
//! with [`Client::verify_second_factor`].

use mana_proto::{
    BackupCodesResponse, DisableTwoFactorRequest, MessageResponse, TotpSetupResponse, TwoFactorCodeRequest,
};
use reqwest::Method;

use crate::client::{Call, Client};
use crate::error::ClientResult;

impl Client {
    /// A new TOTP secret (and its QR code) to enter in an authenticator app.
    pub async fn set_up_totp(&self) -> ClientResult<TotpSetupResponse> {
        self.authed(Call::new(Method::POST, "/auth/2fa/totp/setup")).await
    }

    /// Enables TOTP with a first code from the app; answers the backup codes, shown once.
    pub async fn enable_totp(&self, code: &str) -> ClientResult<BackupCodesResponse> {
        let request = TwoFactorCodeRequest { code: code.into() };
        self.authed(Call::new(Method::POST, "/auth/2fa/totp/enable").json(&request)?).await
    }

    pub async fn regenerate_backup_codes(&self, code: &str) -> ClientResult<BackupCodesResponse> {
        let request = TwoFactorCodeRequest { code: code.into() };
        self.authed(Call::new(Method::POST, "/auth/2fa/backup-codes").json(&request)?).await
    }

    pub async fn disable_two_factor(&self, request: &DisableTwoFactorRequest) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, "/auth/2fa/disable").json(request)?).await
    }
}
