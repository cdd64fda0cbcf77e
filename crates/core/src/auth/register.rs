use mana_proto::FieldError;
use mana_proto::limits::NAME_MAX_CHARS;

use super::AuthService;
use crate::credits::Movements;
use crate::email::Email;
use crate::error::{Error, Result};
use crate::ids::{Role, UserId};
use crate::password::Password;
use crate::store::{ClientInfo, EventDetails, NewUser, SecurityEventKind, StoreError, USERS_EMAIL_CONSTRAINT, User};
use crate::tokens::LinkPurpose;

/// What a client sends to register.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
}

impl AuthService {
    pub async fn register(&self, input: Registration, client: &ClientInfo) -> Result<User> {
        let mut errors = Vec::new();
        let email = Email::parse(&input.email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
        let password = Password::parse(&input.password).map_err(|e| errors.push(FieldError::new("password", e))).ok();
        let name = parse_display_name(input.name.as_deref()).map_err(|e| errors.push(FieldError::new("name", e))).ok();
        let (Some(email), Some(password), Some(name)) = (email, password, name) else {
            return Err(Error::Validation(errors));
        };

        let password_hash = self.passwords.hash(&password).await?;
        let (id, now) = (UserId::generate(), self.clock.now());
        let (opening_balance, opening_transactions) = Movements::open_account(id, &self.credit_policy, now)
            .map_err(|_| Error::Internal(anyhow::anyhow!("the opening credit balance overflows")))?
            .into_parts();
        let user = User {
            id,
            email,
            name,
            role: Role::User,
            email_verified: false,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            locked_at: None,
        };
        // The verification link is queued in the transaction that creates the account.
        let verification = Some(self.link_mail(&user, LinkPurpose::EmailVerification));
        let new_user = NewUser {
            id,
            email: user.email,
            name: user.name,
            role: user.role,
            password_hash: Some(password_hash),
            email_verified: false,
            created_at: now,
            opening_balance,
            opening_transactions,
            verification,
        };
        let user = match self.store.create_user(new_user).await {
            Err(StoreError::Conflict { constraint }) if constraint == USERS_EMAIL_CONSTRAINT => {
                return Err(Error::EmailTaken);
            }
            other => other?,
        };
        self.record_event(Some(user.id), SecurityEventKind::Register, client, EventDetails::default()).await?;
        Ok(user)
    }
}

/// Trimmed; blank means no name; at most 100 characters and no control characters.
pub(super) fn parse_display_name(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(name) = raw.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(format!("must be at most {NAME_MAX_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(Some(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(parse_display_name(None), Ok(None));
        assert_eq!(parse_display_name(Some("   ")), Ok(None));
        assert_eq!(parse_display_name(Some("  Ada ")), Ok(Some("Ada".into())));
        assert!(parse_display_name(Some(&"n".repeat(101))).is_err());
        assert!(parse_display_name(Some("bad\u{0}name")).is_err());
    }
}
