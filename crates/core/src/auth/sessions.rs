//! Sessions: creation at login, refresh-token rotation with reuse detection, logout, and the
//! check behind every Bearer token.

use mana_proto::AccessTokenClaims;
use uuid::Uuid;

use super::{AuthService, Authenticated, IssuedTokens, whole_seconds};
use crate::crypto::random_bytes;
use crate::error::{Error, Result};
use crate::ids::{SessionId, UserId};
use crate::store::{ClientInfo, EventDetails, NewSession, Rotation, SecurityEventKind, SessionWithUser, User};
use crate::tokens::{RefreshToken, TokenRejection};

impl AuthService {
    pub(super) async fn start_session(
        &self,
        user: User,
        device_id: Option<String>,
        device_name: Option<String>,
        amr: &[&str],
        client: &ClientInfo,
    ) -> Result<IssuedTokens> {
        let now = self.clock.now();
        let amr: Vec<String> = amr.iter().map(|method| (*method).to_owned()).collect();
        let refresh_token = RefreshToken::generate();
        let session_id = SessionId::generate();
        let access_jti = Uuid::new_v4().to_string();
        let access_issued_at = whole_seconds(now);
        let created = self
            .store
            .create_session(NewSession {
                id: session_id,
                user_id: user.id,
                device_id,
                device_name,
                client: client.clone(),
                created_at: now,
                expires_at: self.sessions.refresh_expiry(now, now),
                refresh_token_hash: refresh_token.hash(),
                access_jti: access_jti.clone(),
                access_issued_at,
                amr: amr.clone(),
            })
            .await?;
        if !created {
            let user = self.store.find_user(user.id).await?;
            return Err(if user.is_some_and(|u| u.deleted_at.is_none() && u.locked_at.is_some()) {
                Error::AccountLocked
            } else {
                Error::InvalidCredentials
            });
        }
        let details = EventDetails { session_id: Some(session_id), ..EventDetails::default() };
        self.record_event(Some(user.id), SecurityEventKind::LoginSuccess, client, details).await?;
        self.issue(user, session_id, access_jti, access_issued_at, refresh_token, &amr)
    }

    /// Exchanges a refresh token for a new pair.
    ///
    /// - The current token rotates (compare-and-swap on the session's generation).
    /// - Its immediate parent, within the grace window after the rotation, gets the same
    ///   current pair: two tabs refreshing at once both end up with one valid token.
    /// - Any other token of the session is a replay of a stolen or leaked token: the whole
    ///   session is revoked and a `refresh_token_reuse` event is recorded.
    pub async fn refresh(&self, presented: &str, client: &ClientInfo) -> Result<IssuedTokens> {
        let token = RefreshToken::parse(presented.trim()).ok_or(Error::InvalidRefreshToken)?;
        let record = self.store.find_refresh_token(&token.hash()).await?.ok_or(Error::InvalidRefreshToken)?;
        let mut current = self.live_session(record.session_id).await?;

        if record.generation == current.session.generation {
            if self.clock.now() >= current.session.expires_at {
                return Err(Error::InvalidRefreshToken);
            }
            if let Some(issued) = self.rotate(&token, &current, client).await? {
                return Ok(issued);
            }
            // Another request rotated this token first; answer as its concurrent twin.
            current = self.live_session(record.session_id).await?;
        }
        if record.generation + 1 == current.session.generation
            && let Some(issued) = self.replay_within_grace(&token, &current)?
        {
            return Ok(issued);
        }

        self.store.revoke_session(record.session_id, self.clock.now()).await?;
        let details = EventDetails {
            session_id: Some(record.session_id),
            presented_generation: Some(record.generation),
            current_generation: Some(current.session.generation),
            ..EventDetails::default()
        };
        self.record_event(Some(current.user.id), SecurityEventKind::RefreshTokenReuse, client, details).await?;
        crate::telemetry::refresh_token_reused();
        tracing::warn!(
            event = "refresh_token_reuse",
            session_id = %record.session_id,
            user_id = %current.user.id,
            "a rotated refresh token was replayed; the session is revoked"
        );
        Err(Error::InvalidRefreshToken)
    }

    async fn rotate(
        &self,
        token: &RefreshToken,
        current: &SessionWithUser,
        client: &ClientInfo,
    ) -> Result<Option<IssuedTokens>> {
        let now = self.clock.now();
        let nonce = random_bytes::<32>();
        let child = token.derive_child(&nonce);
        let access_jti = Uuid::new_v4().to_string();
        let access_issued_at = whole_seconds(now);
        let applied = self
            .store
            .rotate_session(Rotation {
                session_id: current.session.id,
                from_generation: current.session.generation,
                new_token_hash: child.hash(),
                nonce,
                access_jti: access_jti.clone(),
                access_issued_at,
                at: now,
                expires_at: self.sessions.refresh_expiry(current.session.created_at, now),
                client: client.clone(),
            })
            .await?;
        if !applied {
            return Ok(None);
        }
        let session = &current.session;
        self.issue(current.user.clone(), session.id, access_jti, access_issued_at, child, &session.amr).map(Some)
    }

    /// The current pair again, re-derived from its parent: the refresh token from the stored
    /// nonce, the access token by re-signing its stored `jti` and `iat`.
    fn replay_within_grace(&self, parent: &RefreshToken, current: &SessionWithUser) -> Result<Option<IssuedTokens>> {
        let session = &current.session;
        let (Some(rotated_at), Some(nonce)) = (session.rotated_at, session.rotation_nonce) else {
            return Ok(None);
        };
        if self.clock.now() > rotated_at + self.sessions.reuse_grace {
            return Ok(None);
        }
        let child = parent.derive_child(&nonce);
        if !child.hash().matches(&session.refresh_token_hash) {
            return Ok(None);
        }
        let (jti, issued_at) = (session.access_jti.clone(), session.access_issued_at);
        let issued = self.issue(current.user.clone(), session.id, jti, issued_at, child, &session.amr)?;
        Ok(Some(issued))
    }

    fn issue(
        &self,
        user: User,
        session: SessionId,
        access_jti: String,
        issued_at: chrono::DateTime<chrono::Utc>,
        refresh_token: RefreshToken,
        amr: &[String],
    ) -> Result<IssuedTokens> {
        let claims = self.tokens.claims(&user, session, access_jti, issued_at, amr);
        let access_token = self.tokens.sign(&claims)?;
        Ok(IssuedTokens { user, access_token, refresh_token, expires_in: self.tokens.settings().ttl.num_seconds() })
    }

    /// The session, if it exists, is not revoked and belongs to a user who is not deleted.
    pub(super) async fn live_session(&self, id: SessionId) -> Result<SessionWithUser> {
        match self.store.find_session(id).await? {
            Some(found) if found.session.revoked_at.is_none() && found.user.deleted_at.is_none() => Ok(found),
            _ => Err(Error::InvalidRefreshToken),
        }
    }

    /// Revokes the session of an authenticated caller.
    pub async fn logout(&self, caller: &Authenticated, client: &ClientInfo) -> Result<()> {
        self.end_session(caller.session_id, caller.user_id, client).await
    }

    /// Revokes the session that a refresh token (current or older) belongs to. Logging out an
    /// already revoked session succeeds: the outcome the caller wants holds.
    pub async fn logout_with_refresh_token(&self, presented: &str, client: &ClientInfo) -> Result<()> {
        let token = RefreshToken::parse(presented.trim()).ok_or(Error::InvalidRefreshToken)?;
        let record = self.store.find_refresh_token(&token.hash()).await?.ok_or(Error::InvalidRefreshToken)?;
        let found = self.store.find_session(record.session_id).await?.ok_or(Error::InvalidRefreshToken)?;
        self.end_session(record.session_id, found.user.id, client).await
    }

    async fn end_session(&self, session: SessionId, user: UserId, client: &ClientInfo) -> Result<()> {
        if self.store.revoke_session(session, self.clock.now()).await? {
            let details = EventDetails { session_id: Some(session), ..EventDetails::default() };
            self.record_event(Some(user), SecurityEventKind::Logout, client, details).await?;
        }
        Ok(())
    }

    /// Verifies an access token and that its session is live: signature (with the algorithm
    /// pinned to the key), type, issuer, audience, lifetime, then session and user state.
    pub async fn authenticate(&self, access_token: &str) -> Result<Authenticated> {
        let claims = self.tokens.verify(access_token, self.clock.now()).map_err(Error::InvalidAccessToken)?;
        self.authenticate_verified(claims).await
    }

    /// The second half of [`Self::authenticate`], for claims whose token was verified already:
    /// the session must exist, be live, belong to the token's user, whose account stands.
    pub async fn authenticate_verified(&self, claims: AccessTokenClaims) -> Result<Authenticated> {
        let rejected = |reason| Error::InvalidAccessToken(reason);
        let session_id: SessionId = claims.sid.parse().map_err(|_| rejected(TokenRejection::Malformed))?;
        let user_id: UserId = claims.sub.parse().map_err(|_| rejected(TokenRejection::Malformed))?;
        let access = self.store.session_access(session_id).await?.ok_or(rejected(TokenRejection::SessionRevoked))?;
        if access.user_id != user_id {
            return Err(rejected(TokenRejection::Malformed));
        }
        if access.user_deleted {
            return Err(rejected(TokenRejection::UserDeleted));
        }
        if access.revoked {
            return Err(rejected(TokenRejection::SessionRevoked));
        }
        Ok(Authenticated { user_id, role: access.role, session_id, claims })
    }
}
