//! Social sign-in as stored (SPEC §6): identities at providers linked to accounts, the web
//! flows between leaving for a provider and coming back, and the one-time codes that carry a
//! finished sign-in to the app without putting tokens in a URL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{NewUser, StoreResult, User};
use crate::email::Email;
use crate::ids::UserId;
use crate::tokens::TokenHash;

/// The unique constraint a second link of one provider account trips.
pub const IDENTITY_CONSTRAINT: &str = "accounts_provider_provider_account_id_key";

/// An account at a provider, as the provider vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The configured provider's name (`google`, `apple`, `github`, or an OpenID provider's).
    pub provider: String,
    /// The provider's stable id of the account (`sub`, or GitHub's numeric id).
    pub subject: String,
    pub email: Option<Email>,
    /// Whether the provider asserts that the account owns `email`.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Who an identity belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityOwner {
    pub user_id: UserId,
    pub user_deleted: bool,
}

/// Why an identity could not be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlinkOutcome {
    Unlinked,
    NotLinked,
    /// It is the account's last way to sign in: no password and no other identity.
    LastSignInMethod,
}

/// A web sign-in that left for its provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthFlow {
    /// SHA-256 of the `state` parameter; the state itself travels only through the browser.
    pub state_hash: TokenHash,
    pub provider: String,
    /// The PKCE verifier whose S256 challenge went to the provider.
    pub code_verifier: String,
    /// The `nonce` the ID token must carry (OpenID providers).
    pub nonce: String,
    /// Where the browser goes afterwards, already checked against the allow-list.
    pub redirect_to: String,
    /// Set when a signed-in user links a provider to their account.
    pub link_user: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn identity_owner(&self, provider: &str, subject: &str) -> StoreResult<Option<IdentityOwner>>;

    /// The live user with this email, whether or not they have a password.
    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;

    /// Links the identity to a live user. [`super::StoreError::Conflict`] with
    /// [`IDENTITY_CONSTRAINT`] when the provider account is linked already; `false` when the
    /// user is gone.
    async fn link_identity(&self, user: UserId, identity: &ProviderIdentity, at: DateTime<Utc>) -> StoreResult<bool>;

    /// A provider-verified identity takes over the unverified account holding its email, in
    /// one transaction: the email becomes verified, the password, every session, pending email
    /// links and every other identity are removed, and the identity is linked. `false` (and
    /// nothing changes) unless the account is live and still unverified.
    async fn take_over_account(
        &self,
        user: UserId,
        identity: &ProviderIdentity,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Creates the user (without a password when `new_user.password_hash` is `None`) with the
    /// identity linked, in one transaction.
    async fn create_user_with_identity(&self, new_user: NewUser, identity: &ProviderIdentity) -> StoreResult<User>;

    /// Removes the user's identity at `provider` unless it is their last way to sign in,
    /// decided in the transaction that removes it.
    async fn unlink_identity(&self, user: UserId, provider: &str) -> StoreResult<UnlinkOutcome>;

    async fn create_oauth_flow(&self, flow: OAuthFlow) -> StoreResult<()>;

    /// Uses the flow of this state for `provider`: returned once, while it is unexpired.
    async fn take_oauth_flow(
        &self,
        state_hash: &TokenHash,
        provider: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OAuthFlow>>;

    async fn create_exchange_code(
        &self,
        code_hash: &TokenHash,
        user: UserId,
        provider: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// A one-time code holding a provider's identity that `user` asked to link; it links only
    /// when `user` confirms it.
    async fn create_link_code(
        &self,
        code_hash: &TokenHash,
        user: UserId,
        identity: &ProviderIdentity,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Redeems `user`'s link code once while it is unexpired: the identity to link.
    async fn redeem_link_code(
        &self,
        code_hash: &TokenHash,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ProviderIdentity>>;

    /// Redeems an exchange code (not a link code) once while it is unexpired: whose sign-in and
    /// at which provider.
    async fn redeem_exchange_code(
        &self,
        code_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(UserId, String)>>;
}
