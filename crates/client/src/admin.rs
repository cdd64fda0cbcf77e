//! Administration (SPEC §9), for a signed-in account with the `admin` role.

use mana_proto::{
    AdjustCreditsRequest, AdjustCreditsResponse, AdminPackageView, AdminUserDetailView, DailyUsageView, LedgerReport,
    MessageResponse, PackageRequest, RevokedSessions, UserList,
};
use reqwest::Method;

use crate::account::segment;
use crate::client::{Call, Client};
use crate::credits::key_of;
use crate::error::ClientResult;

fn user(id: &str) -> String {
    format!("/admin/users/{}", segment(id))
}

impl Client {
    /// Users whose email or name starts with `prefix` (all without one), `sort` = `newest`,
    /// `oldest` or `email`.
    pub async fn search_users(
        &self,
        prefix: Option<&str>,
        sort: &str,
        limit: u32,
        offset: u32,
    ) -> ClientResult<UserList> {
        let mut query = vec![("sort", sort.to_owned()), ("limit", limit.to_string()), ("offset", offset.to_string())];
        if let Some(prefix) = prefix {
            query.push(("q", prefix.to_owned()));
        }
        self.authed(Call::new(Method::GET, "/admin/users").query(&query)).await
    }

    pub async fn user_detail(&self, id: &str) -> ClientResult<AdminUserDetailView> {
        self.authed(Call::new(Method::GET, user(id))).await
    }

    pub async fn delete_user(&self, id: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::DELETE, user(id))).await
    }

    pub async fn restore_user(&self, id: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, format!("{}/restore", user(id)))).await
    }

    pub async fn lock_user(&self, id: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, format!("{}/lock", user(id)))).await
    }

    pub async fn unlock_user(&self, id: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::POST, format!("{}/unlock", user(id)))).await
    }

    pub async fn revoke_user_sessions(&self, id: &str) -> ClientResult<RevokedSessions> {
        self.authed(Call::new(Method::POST, format!("{}/sessions/revoke", user(id)))).await
    }

    pub async fn revoke_user_session(&self, id: &str, session: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::DELETE, format!("{}/sessions/{}", user(id), segment(session)))).await
    }

    /// Adjusts a user's credits once, whatever the retries (one idempotency key for all).
    pub async fn adjust_credits(&self, id: &str, request: AdjustCreditsRequest) -> ClientResult<AdjustCreditsResponse> {
        let request =
            AdjustCreditsRequest { idempotency_key: Some(key_of(request.idempotency_key.clone())), ..request };
        let path = format!("{}/credits", user(id));
        self.with_retries(|| async { self.authed(Call::new(Method::POST, path.clone()).json(&request)?).await }).await
    }

    pub async fn admin_packages(&self) -> ClientResult<Vec<AdminPackageView>> {
        self.authed(Call::new(Method::GET, "/admin/packages")).await
    }

    pub async fn save_package(&self, id: &str, request: &PackageRequest) -> ClientResult<AdminPackageView> {
        self.authed(Call::new(Method::PUT, format!("/admin/packages/{}", segment(id))).json(request)?).await
    }

    pub async fn withdraw_package(&self, id: &str) -> ClientResult<MessageResponse> {
        self.authed(Call::new(Method::DELETE, format!("/admin/packages/{}", segment(id)))).await
    }

    /// Credits used per app and day, `from` and `to` as `YYYY-MM-DD` (default: the last 30 days).
    pub async fn usage(&self, from: Option<&str>, to: Option<&str>) -> ClientResult<Vec<DailyUsageView>> {
        let mut query = Vec::new();
        query.extend(from.map(|from| ("from", from.to_owned())));
        query.extend(to.map(|to| ("to", to.to_owned())));
        self.authed(Call::new(Method::GET, "/admin/usage").query(&query)).await
    }

    pub async fn verify_ledger(&self) -> ClientResult<LedgerReport> {
        self.authed(Call::new(Method::GET, "/admin/ledger/verify")).await
    }
}
