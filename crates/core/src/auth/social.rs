//! Social sign-in (SPEC §6), once the provider has vouched for an identity: which account it
//! signs in to, linking and its takeover rule, the web flow's server-side state and the
//! one-time exchange code. Talking to providers is the server's business.

use chrono::Duration;

use super::{AuthService, Authenticated, LoginOutcome};
use crate::credits::Movements;
use crate::crypto::{base64url_encode, sha256};
use crate::error::{Error, Result};
use crate::ids::{Role, UserId};
use crate::store::{
    ClientInfo, EventDetails, IDENTITY_CONSTRAINT, NewUser, OAuthFlow, ProviderIdentity, SecurityEventKind, StoreError,
    USERS_EMAIL_CONSTRAINT, UnlinkOutcome, User,
};
use crate::tokens::{LinkPurpose, RefreshToken, TokenHash};

/// How long a web sign-in may stay at its provider.
pub const OAUTH_FLOW_LIFETIME: Duration = Duration::minutes(10);
/// How long the app has to exchange the code it was redirected with.
pub const EXCHANGE_CODE_LIFETIME: Duration = Duration::seconds(60);
/// The `amr` of a session begun at a provider (as Supabase names it; RFC 8176 has no value
/// for a federated login).
pub const AMR_OAUTH: &[&str] = &["oauth"];

/// The secrets of a web flow that leave with the browser: `state` and the PKCE verifier's
/// challenge and `nonce` go to the provider; the server keeps the flow under the state's hash.
#[derive(Debug, Clone)]
pub struct FlowStart {
    pub state: String,
    pub code_challenge: String,
    pub nonce: String,
}

/// How a provider's identity reached its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityResolution {
    /// Linked before.
    Returning,
    /// Linked now to the verified account with its email.
    Linked,
    /// Linked now to the unverified account with its email, which it took over.
    TookOver,
    /// A new account.
    Created,
}

fn state_hash(state: &str) -> TokenHash {
    TokenHash(sha256(state.as_bytes()))
}

/// base64url of 32 random bytes: a PKCE verifier (RFC 7636 §4.1 asks for 43 to 128
/// characters), a state or a nonce.
fn random_token() -> String {
    RefreshToken::generate().expose()
}

fn device_fields(device_id: &Option<String>, device_name: &Option<String>) -> Result<(Option<String>, Option<String>)> {
    let mut errors = Vec::new();
    let device = super::login::validate_device(&mut errors, device_id, device_name);
    if errors.is_empty() { Ok(device) } else { Err(Error::Validation(errors)) }
}

/// The S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64url_encode(&sha256(verifier.as_bytes()))
}

impl AuthService {
    /// Begins a web sign-in (or, with `link_user`, the linking of a provider to that account):
    /// the flow is stored, so that whichever instance the provider returns to can finish it.
    pub async fn begin_oauth_flow(
        &self,
        provider: &str,
        redirect_to: &str,
        link_user: Option<UserId>,
    ) -> Result<FlowStart> {
        let (state, code_verifier, nonce) = (random_token(), random_token(), random_token());
        let now = self.clock.now();
        let flow = OAuthFlow {
            state_hash: state_hash(&state),
            provider: provider.to_owned(),
            code_verifier: code_verifier.clone(),
            nonce: nonce.clone(),
            redirect_to: redirect_to.to_owned(),
            link_user,
            created_at: now,
            expires_at: now + OAUTH_FLOW_LIFETIME,
        };
        self.store.create_oauth_flow(flow).await?;
        Ok(FlowStart { state, code_challenge: pkce_challenge(&code_verifier), nonce })
    }

    /// The flow a provider's callback belongs to, used up: unknown, expired, used or another
    /// provider's state is [`Error::InvalidOAuthState`].
    pub async fn take_oauth_flow(&self, provider: &str, state: &str) -> Result<OAuthFlow> {
        let flow = self.store.take_oauth_flow(&state_hash(state), provider, self.clock.now()).await?;
        flow.ok_or(Error::InvalidOAuthState)
    }

    /// The account a provider's identity signs in to, by SPEC §6: the account it is linked to;
    /// else the account with its email, if the provider vouches for the email (linked when
    /// that account's email is verified, taken over when it is not); else a new account. An
    /// email the provider does not vouch for never reaches an existing account:
    /// [`Error::EmailInUse`].
    pub async fn resolve_identity(
        &self,
        identity: &ProviderIdentity,
        client: &ClientInfo,
    ) -> Result<(User, IdentityResolution)> {
        // A lost race (two first sign-ins at once, an account verified meanwhile) is decided
        // again from what the winner wrote.
        for _ in 0..3 {
            if let Some(resolved) = self.try_resolve_identity(identity, client).await? {
                return Ok(resolved);
            }
        }
        Err(Error::Conflict)
    }

    async fn try_resolve_identity(
        &self,
        identity: &ProviderIdentity,
        client: &ClientInfo,
    ) -> Result<Option<(User, IdentityResolution)>> {
        let now = self.clock.now();
        if let Some(owner) = self.store.identity_owner(&identity.provider, &identity.subject).await? {
            let user = self.live_user(owner.user_id).await.map_err(|_| Error::InvalidCredentials)?;
            return Ok(Some((user, IdentityResolution::Returning)));
        }
        let email = identity.email.clone().ok_or(Error::EmailNotProvided)?;
        let Some(existing) = self.store.find_user_by_email(&email).await? else {
            return match self.create_social_user(identity, email).await {
                Ok(user) => {
                    self.record_identity_event(user.id, SecurityEventKind::Register, identity, client).await?;
                    Ok(Some((user, IdentityResolution::Created)))
                }
                Err(StoreError::Conflict { constraint })
                    if constraint == USERS_EMAIL_CONSTRAINT || constraint == IDENTITY_CONSTRAINT =>
                {
                    Ok(None)
                }
                Err(other) => Err(other.into()),
            };
        };
        if !identity.email_verified {
            return Err(Error::EmailInUse);
        }
        let (resolution, kind) = if existing.email_verified {
            match self.store.link_identity(existing.id, identity, now).await {
                Ok(true) => (IdentityResolution::Linked, SecurityEventKind::IdentityLinked),
                Ok(false) => return Ok(None),
                Err(StoreError::Conflict { constraint }) if constraint == IDENTITY_CONSTRAINT => return Ok(None),
                Err(other) => return Err(other.into()),
            }
        } else {
            match self.store.take_over_account(existing.id, identity, now).await {
                Ok(true) => (IdentityResolution::TookOver, SecurityEventKind::AccountTakenOver),
                Ok(false) => return Ok(None),
                Err(StoreError::Conflict { constraint }) if constraint == IDENTITY_CONSTRAINT => return Ok(None),
                Err(other) => return Err(other.into()),
            }
        };
        self.record_identity_event(existing.id, kind, identity, client).await?;
        let user = self.live_user(existing.id).await?;
        Ok(Some((user, resolution)))
    }

    /// A new account for the identity: no password, the signup bonus like any account, its
    /// email verified if the provider vouches for it (else a verification link is sent, as
    /// at registration).
    async fn create_social_user(
        &self,
        identity: &ProviderIdentity,
        email: crate::email::Email,
    ) -> std::result::Result<User, StoreError> {
        let (id, now) = (UserId::generate(), self.clock.now());
        let (opening_balance, opening_transactions) = Movements::open_account(id, &self.credit_policy, now)
            .map_err(|_| StoreError::Other(anyhow::anyhow!("the opening credit balance overflows")))?
            .into_parts();
        let name = super::register::parse_display_name(identity.name.as_deref()).ok().flatten();
        let user = User {
            id,
            email,
            name,
            role: Role::User,
            email_verified: identity.email_verified,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            locked_at: None,
        };
        let verification = (!identity.email_verified).then(|| self.link_mail(&user, LinkPurpose::EmailVerification));
        let new_user = NewUser {
            id,
            email: user.email,
            name: user.name,
            role: user.role,
            password_hash: None,
            email_verified: identity.email_verified,
            created_at: now,
            opening_balance,
            opening_transactions,
            verification,
        };
        self.store.create_user_with_identity(new_user, identity).await
    }

    /// Links a provider's identity to a signed-in user's account (SPEC §6's explicit link):
    /// [`Error::IdentityInUse`] if it belongs to another account.
    pub async fn link_identity(&self, user: UserId, identity: &ProviderIdentity, client: &ClientInfo) -> Result<()> {
        let user = self.live_user(user).await?;
        if let Some(owner) = self.store.identity_owner(&identity.provider, &identity.subject).await? {
            return if owner.user_id == user.id { Ok(()) } else { Err(Error::IdentityInUse) };
        }
        match self.store.link_identity(user.id, identity, self.clock.now()).await {
            Ok(true) => {}
            Ok(false) => return Err(Error::InvalidAccessToken(crate::tokens::TokenRejection::UserDeleted)),
            Err(StoreError::Conflict { constraint }) if constraint == IDENTITY_CONSTRAINT => {
                return Err(Error::IdentityInUse);
            }
            Err(other) => return Err(other.into()),
        }
        self.record_identity_event(user.id, SecurityEventKind::IdentityLinked, identity, client).await
    }

    /// Removes a provider from the account, unless it is the last way to sign in.
    pub async fn unlink_identity(&self, user: UserId, provider: &str, client: &ClientInfo) -> Result<()> {
        let user = self.live_user(user).await?;
        match self.store.unlink_identity(user.id, provider).await? {
            UnlinkOutcome::Unlinked => {}
            UnlinkOutcome::NotLinked => return Err(Error::NotFound),
            UnlinkOutcome::LastSignInMethod => return Err(Error::LastSignInMethod),
        }
        let details = EventDetails { provider: Some(provider.to_owned()), ..EventDetails::default() };
        self.record_event(Some(user.id), SecurityEventKind::IdentityUnlinked, client, details).await
    }

    /// A one-time code holding the identity `user` asked to link (60 s, single use), for
    /// [`Self::confirm_link`].
    pub async fn issue_link_code(&self, user: UserId, identity: &ProviderIdentity) -> Result<String> {
        let code = RefreshToken::generate();
        let now = self.clock.now();
        self.store.create_link_code(&code.hash(), user, identity, now, now + EXCHANGE_CODE_LIFETIME).await?;
        Ok(code.expose())
    }

    /// Links the identity of a link code, if the code is the caller's own: a link begun by one
    /// account and finished in another's browser links nothing.
    pub async fn confirm_link(
        &self,
        caller: &Authenticated,
        code: &str,
        client: &ClientInfo,
    ) -> Result<ProviderIdentity> {
        let code = RefreshToken::parse(code.trim()).ok_or(Error::InvalidExchangeCode)?;
        let identity = self
            .store
            .redeem_link_code(&code.hash(), caller.user_id, self.clock.now())
            .await?
            .ok_or(Error::InvalidExchangeCode)?;
        self.link_identity(caller.user_id, &identity, client).await?;
        Ok(identity)
    }

    /// A one-time code for the app to exchange for the sign-in's tokens (60 s, single use).
    pub async fn issue_exchange_code(&self, user: UserId, provider: &str) -> Result<String> {
        let code = RefreshToken::generate();
        let now = self.clock.now();
        self.store.create_exchange_code(&code.hash(), user, provider, now, now + EXCHANGE_CODE_LIFETIME).await?;
        Ok(code.expose())
    }

    /// Trades an exchange code for the login's answer: tokens, or the second-factor challenge
    /// of an account with 2FA (a provider is a first factor, like a password).
    pub async fn exchange_code(
        &self,
        code: &str,
        device_id: Option<String>,
        device_name: Option<String>,
        client: &ClientInfo,
    ) -> Result<LoginOutcome> {
        // A malformed device field must not use the code up.
        let (device_id, device_name) = device_fields(&device_id, &device_name)?;
        let code = RefreshToken::parse(code.trim()).ok_or(Error::InvalidExchangeCode)?;
        let (user, _provider) =
            self.store.redeem_exchange_code(&code.hash(), self.clock.now()).await?.ok_or(Error::InvalidExchangeCode)?;
        let user = self.live_user(user).await.map_err(|_| Error::InvalidExchangeCode)?;
        self.social_login(user, device_id, device_name, client).await
    }

    /// Signs in an account whose identity a provider vouched for just now (the native flow).
    pub async fn social_login(
        &self,
        user: User,
        device_id: Option<String>,
        device_name: Option<String>,
        client: &ClientInfo,
    ) -> Result<LoginOutcome> {
        let (device_id, device_name) = device_fields(&device_id, &device_name)?;
        if let Some(mfa_token) = self.challenge_if_needed(user.id, AMR_OAUTH[0], &device_id, &device_name).await? {
            return Ok(LoginOutcome::SecondFactorRequired { mfa_token });
        }
        Ok(LoginOutcome::Signed(self.start_session(user, device_id, device_name, AMR_OAUTH, client).await?))
    }

    async fn record_identity_event(
        &self,
        user: UserId,
        kind: SecurityEventKind,
        identity: &ProviderIdentity,
        client: &ClientInfo,
    ) -> Result<()> {
        let details = EventDetails { provider: Some(identity.provider.clone()), ..EventDetails::default() };
        self.record_event(Some(user), kind, client, details).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_s256() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(pkce_challenge(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn flow_secrets_are_long_enough_for_pkce() {
        let verifier = random_token();
        assert!((43..=128).contains(&verifier.len()), "{}", verifier.len());
    }
}
