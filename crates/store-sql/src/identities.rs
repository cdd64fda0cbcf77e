//! Social sign-in: identities linked to accounts, web flows in progress, exchange codes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mana_core::email::Email;
use mana_core::ids::UserId;
use mana_core::store::{
    IdentityOwner, IdentityStore, NewUser, OAuthFlow, ProviderIdentity, StoreResult, UnlinkOutcome, User,
};
use mana_core::tokens::TokenHash;

use crate::SqlStore;
use crate::backend::{Backend, SqlRow};
use crate::decode::{self, user_columns};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::users::insert_user;

static IDENTITY_OWNER: Sql = Sql::new(
    "SELECT a.user_id, u.deleted_at IS NOT NULL AS deleted
     FROM auth.accounts a JOIN auth.users u ON u.id = a.user_id
     WHERE a.provider = $1 AND a.provider_account_id = $2",
);
static USER_BY_EMAIL: Sql =
    Sql::new(concat!("SELECT ", user_columns!(), " FROM auth.users WHERE email = $1 AND deleted_at IS NULL"));
static LIVE_USER: Sql = Sql::new("SELECT id FROM auth.users WHERE id = $1 AND deleted_at IS NULL");
static INSERT_IDENTITY: Sql = Sql::new(
    "INSERT INTO auth.accounts (id, user_id, provider, provider_account_id, provider_email, email_verified,
         created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
);
/// The takeover's condition and first step at once: only a live, unverified account changes.
static VERIFY_UNVERIFIED: Sql = Sql::new(
    "UPDATE auth.users SET email_verified = true, updated_at = $2
     WHERE id = $1 AND deleted_at IS NULL AND email_verified = false",
);
/// What whoever pre-registered the address could still use after a takeover: the password,
/// sessions, email links (an address change among them), other identities and a second factor
/// (which would lock the owner out).
static TAKEOVER_DELETES: [Sql; 4] = [
    Sql::new("DELETE FROM auth.passwords WHERE user_id = $1"),
    Sql::new("DELETE FROM auth.accounts WHERE user_id = $1"),
    Sql::new("DELETE FROM auth.totp_factors WHERE user_id = $1"),
    Sql::new("DELETE FROM auth.backup_codes WHERE user_id = $1"),
];
static TAKEOVER_VOIDS: [Sql; 4] = [
    Sql::new("UPDATE auth.sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL"),
    Sql::new("UPDATE auth.verification_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"),
    Sql::new("UPDATE auth.mfa_challenges SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"),
    Sql::new("UPDATE auth.oauth_exchange_codes SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL"),
];
/// Taken first by an unlink (PostgreSQL; a SQLite write transaction is exclusive anyway), so
/// that two unlinks of an account's last two methods cannot both see the other remaining.
static LOCK_USER: Sql = Sql::new("SELECT id FROM auth.users WHERE id = $1 FOR UPDATE");
static SIGN_IN_METHODS: Sql = Sql::new(
    "SELECT (SELECT count(*) FROM auth.passwords WHERE user_id = $1)
          + (SELECT count(*) FROM auth.accounts WHERE user_id = $1 AND provider <> $2) AS others,
            (SELECT count(*) FROM auth.accounts WHERE user_id = $1 AND provider = $2) AS linked",
);
static DELETE_IDENTITY: Sql = Sql::new("DELETE FROM auth.accounts WHERE user_id = $1 AND provider = $2");
static INSERT_FLOW: Sql = Sql::new(
    "INSERT INTO auth.oauth_flows (state_hash, provider, code_verifier, nonce, redirect_to, link_user_id, created_at,
         expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
);
/// Single use: of concurrent callbacks with one state, only the first gets the flow back.
static TAKE_FLOW: Sql = Sql::new(
    "UPDATE auth.oauth_flows SET used_at = $3
     WHERE state_hash = $1 AND provider = $2 AND used_at IS NULL AND expires_at > $3
     RETURNING provider, code_verifier, nonce, redirect_to, link_user_id, created_at, expires_at",
);
static INSERT_CODE: Sql = Sql::new(
    "INSERT INTO auth.oauth_exchange_codes (code_hash, user_id, provider, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5)",
);
static REDEEM_CODE: Sql = Sql::new(
    "UPDATE auth.oauth_exchange_codes SET used_at = $2
     WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 AND link_identity IS NULL
     RETURNING user_id, provider",
);
static INSERT_LINK_CODE: Sql = Sql::new(
    "INSERT INTO auth.oauth_exchange_codes (code_hash, user_id, provider, created_at, expires_at, link_identity)
     VALUES ($1, $2, $3, $4, $5, $6)",
);
static REDEEM_LINK_CODE: Sql = Sql::new(
    "UPDATE auth.oauth_exchange_codes SET used_at = $3
     WHERE code_hash = $1 AND user_id = $2 AND used_at IS NULL AND expires_at > $3 AND link_identity IS NOT NULL
     RETURNING link_identity",
);

fn identity_json(identity: &ProviderIdentity) -> serde_json::Value {
    serde_json::json!({
        "provider": identity.provider,
        "subject": identity.subject,
        "email": identity.email.as_ref().map(Email::as_str),
        "emailVerified": identity.email_verified,
        "name": identity.name,
    })
}

fn identity_from_json(value: &serde_json::Value) -> StoreResult<ProviderIdentity> {
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    let bad = || decode::corrupt(format!("a stored link identity: {value}"));
    Ok(ProviderIdentity {
        provider: text("provider").ok_or_else(bad)?,
        subject: text("subject").ok_or_else(bad)?,
        email: text("email").map(|e| Email::parse(&e)).transpose().map_err(|_| bad())?,
        email_verified: value.get("emailVerified").and_then(serde_json::Value::as_bool).ok_or_else(bad)?,
        name: text("name"),
    })
}

fn insert_identity(user: UserId, identity: &ProviderIdentity, at: DateTime<Utc>) -> Statement {
    Statement::new(&INSERT_IDENTITY)
        .id(uuid::Uuid::now_v7())
        .id(user.0)
        .text_arg(identity.provider.as_str())
        .text_arg(identity.subject.as_str())
        .opt_text(identity.email.as_ref().map(Email::as_str))
        .flag(identity.email_verified)
        .time(at)
}

#[async_trait]
impl<B: Backend> IdentityStore for SqlStore<B> {
    async fn identity_owner(&self, provider: &str, subject: &str) -> StoreResult<Option<IdentityOwner>> {
        let statement = Statement::new(&IDENTITY_OWNER).text_arg(provider).text_arg(subject);
        let row = self.fetch_optional(statement).await?;
        row.map(|row| {
            Ok(IdentityOwner { user_id: decode::user_id(&row, "user_id")?, user_deleted: row.flag("deleted")? })
        })
        .transpose()
    }

    async fn find_user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let row = self.fetch_optional(Statement::new(&USER_BY_EMAIL).text_arg(email.as_str())).await?;
        row.map(|row| decode::user(&row, "")).transpose()
    }

    async fn link_identity(&self, user: UserId, identity: &ProviderIdentity, at: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.backend.write_as(user).await?;
        if B::fetch_optional(&mut tx, Statement::new(&LIVE_USER).id(user.0)).await?.is_none() {
            B::finish(tx).await?;
            return Ok(false);
        }
        B::execute(&mut tx, insert_identity(user, identity, at)).await?;
        B::finish(tx).await?;
        Ok(true)
    }

    async fn take_over_account(
        &self,
        user: UserId,
        identity: &ProviderIdentity,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut tx = self.backend.write_as(user).await?;
        if B::execute(&mut tx, Statement::new(&VERIFY_UNVERIFIED).id(user.0).time(at)).await? != 1 {
            B::finish(tx).await?;
            return Ok(false);
        }
        for delete in &TAKEOVER_DELETES {
            B::execute(&mut tx, Statement::new(delete).id(user.0)).await?;
        }
        for void in &TAKEOVER_VOIDS {
            B::execute(&mut tx, Statement::new(void).id(user.0).time(at)).await?;
        }
        B::execute(&mut tx, insert_identity(user, identity, at)).await?;
        B::finish(tx).await?;
        Ok(true)
    }

    async fn create_user_with_identity(&self, new_user: NewUser, identity: &ProviderIdentity) -> StoreResult<User> {
        let mut tx = self.backend.write().await?;
        let (id, at) = (new_user.id, new_user.created_at);
        let user = insert_user::<B>(&mut tx, new_user).await?;
        B::execute(&mut tx, insert_identity(id, identity, at)).await?;
        B::finish(tx).await?;
        Ok(user)
    }

    async fn unlink_identity(&self, user: UserId, provider: &str) -> StoreResult<UnlinkOutcome> {
        let mut tx = self.backend.write_as(user).await?;
        B::fetch_optional(&mut tx, Statement::new(&LOCK_USER).id(user.0)).await?;
        let counts = B::fetch_optional(&mut tx, Statement::new(&SIGN_IN_METHODS).id(user.0).text_arg(provider)).await?;
        let (others, linked) = match counts {
            Some(row) => (row.int("others")?, row.int("linked")?),
            None => (0, 0),
        };
        let outcome = if linked == 0 {
            UnlinkOutcome::NotLinked
        } else if others == 0 {
            UnlinkOutcome::LastSignInMethod
        } else {
            B::execute(&mut tx, Statement::new(&DELETE_IDENTITY).id(user.0).text_arg(provider)).await?;
            UnlinkOutcome::Unlinked
        };
        B::finish(tx).await?;
        Ok(outcome)
    }

    async fn create_oauth_flow(&self, flow: OAuthFlow) -> StoreResult<()> {
        let statement = Statement::new(&INSERT_FLOW)
            .bytes(flow.state_hash.as_bytes())
            .text_arg(flow.provider)
            .text_arg(flow.code_verifier)
            .text_arg(flow.nonce)
            .text_arg(flow.redirect_to)
            .opt_id(flow.link_user.map(|user| user.0))
            .time(flow.created_at)
            .time(flow.expires_at);
        self.execute(statement).await?;
        Ok(())
    }

    async fn take_oauth_flow(
        &self,
        state_hash: &TokenHash,
        provider: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OAuthFlow>> {
        let statement = Statement::new(&TAKE_FLOW).bytes(state_hash.as_bytes()).text_arg(provider).time(now);
        let mut tx = self.backend.write().await?;
        let row = B::fetch_optional(&mut tx, statement).await?;
        B::finish(tx).await?;
        row.map(|row| {
            Ok(OAuthFlow {
                state_hash: *state_hash,
                provider: row.text("provider")?,
                code_verifier: row.text("code_verifier")?,
                nonce: row.text("nonce")?,
                redirect_to: row.text("redirect_to")?,
                link_user: row.opt_id("link_user_id")?.map(UserId),
                created_at: row.time("created_at")?,
                expires_at: row.time("expires_at")?,
            })
        })
        .transpose()
    }

    async fn create_exchange_code(
        &self,
        code_hash: &TokenHash,
        user: UserId,
        provider: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let statement = Statement::new(&INSERT_CODE)
            .bytes(code_hash.as_bytes())
            .id(user.0)
            .text_arg(provider)
            .time(at)
            .time(expires_at);
        self.execute(statement).await?;
        Ok(())
    }

    async fn create_link_code(
        &self,
        code_hash: &TokenHash,
        user: UserId,
        identity: &ProviderIdentity,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let statement = Statement::new(&INSERT_LINK_CODE)
            .bytes(code_hash.as_bytes())
            .id(user.0)
            .text_arg(identity.provider.as_str())
            .time(at)
            .time(expires_at)
            .json(identity_json(identity));
        self.execute(statement).await?;
        Ok(())
    }

    async fn redeem_link_code(
        &self,
        code_hash: &TokenHash,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ProviderIdentity>> {
        let mut tx = self.backend.write().await?;
        let statement = Statement::new(&REDEEM_LINK_CODE).bytes(code_hash.as_bytes()).id(user.0).time(now);
        let row = B::fetch_optional(&mut tx, statement).await?;
        B::finish(tx).await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let value =
                    row.opt_json("link_identity")?.ok_or_else(|| decode::corrupt("an empty link code".into()))?;
                identity_from_json(&value).map(Some)
            }
        }
    }

    async fn redeem_exchange_code(
        &self,
        code_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(UserId, String)>> {
        let mut tx = self.backend.write().await?;
        let row =
            B::fetch_optional(&mut tx, Statement::new(&REDEEM_CODE).bytes(code_hash.as_bytes()).time(now)).await?;
        B::finish(tx).await?;
        row.map(|row| Ok((decode::user_id(&row, "user_id")?, row.text("provider")?))).transpose()
    }
}
