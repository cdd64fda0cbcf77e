//! Email link tokens and the outbox: single use under concurrency, voiding, effects applied in
//! the consuming transaction, exclusive claims.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use mana_core::email::Email;
use mana_core::store::{LinkEffect, LinkMail, NewLinkToken, OutgoingEmail, StoreError, USERS_EMAIL_CONSTRAINT, User};
use mana_core::tokens::{LinkPurpose, LinkToken, TokenHash};

use crate::{SharedStore, create_user, new_session, t0};

fn message(user: &User, subject: &str) -> OutgoingEmail {
    OutgoingEmail {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        to: user.email.clone(),
        subject: subject.into(),
        text_body: format!("{subject} (text)"),
        html_body: format!("<p>{subject}</p>"),
        created_at: t0(),
    }
}

/// Issues a token of `purpose` to `user` at `t0()`, with its email.
async fn issue(store: &SharedStore, user: &User, purpose: LinkPurpose, new_email: Option<&str>) -> LinkToken {
    let token = LinkToken::generate();
    let new = NewLinkToken {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        purpose,
        hash: token.hash(),
        new_email: new_email.map(|e| Email::parse(e).unwrap()),
        created_at: t0(),
        expires_at: t0() + purpose.lifetime(),
    };
    let mail = LinkMail { token: new, email: message(user, purpose.as_str()), notice: None };
    store.issue_link_token(mail).await.unwrap();
    token
}

/// Uses the token of `hash` with no notice; whether it was consumed.
async fn use_token(
    store: &SharedStore,
    hash: TokenHash,
    purpose: LinkPurpose,
    at: DateTime<Utc>,
    effect: LinkEffect,
) -> Result<bool, StoreError> {
    store.use_link_token(&hash, purpose, at, effect, None).await
}

pub async fn a_link_token_is_used_once_for_its_purpose_before_it_expires(store: SharedStore) {
    let user = create_user(&store, "verify@example.com").await;
    let token = issue(&store, &user, LinkPurpose::EmailVerification, None).await;
    let found = store.find_link_token(&token.hash()).await.unwrap().unwrap();
    assert_eq!((found.user_id, found.purpose, found.used_at), (user.id, LinkPurpose::EmailVerification, None));
    assert_eq!(found.expires_at, t0() + Duration::hours(24));

    let at = t0() + Duration::minutes(5);
    let verify = LinkPurpose::EmailVerification;
    let wrong_purpose = use_token(&store, token.hash(), LinkPurpose::PasswordReset, at, LinkEffect::VerifyEmail);
    assert!(!wrong_purpose.await.unwrap(), "a token of another purpose is refused");
    let expired = use_token(&store, token.hash(), verify, t0() + Duration::hours(24), LinkEffect::VerifyEmail);
    assert!(!expired.await.unwrap(), "a token is refused from its expiry on");
    assert!(!store.find_user(user.id).await.unwrap().unwrap().email_verified, "refusals change nothing");

    assert!(use_token(&store, token.hash(), verify, at, LinkEffect::VerifyEmail).await.unwrap());
    assert!(store.find_user(user.id).await.unwrap().unwrap().email_verified);
    assert_eq!(store.find_link_token(&token.hash()).await.unwrap().unwrap().used_at, Some(at));
    let again = use_token(&store, token.hash(), verify, at, LinkEffect::VerifyEmail);
    assert!(!again.await.unwrap(), "a used token is refused");
    let unknown = LinkToken::generate().hash();
    assert_eq!(store.find_link_token(&unknown).await.unwrap(), None);
}

pub async fn concurrent_uses_of_one_link_token_succeed_once(store: SharedStore) {
    let user = create_user(&store, "race@example.com").await;
    let token = issue(&store, &user, LinkPurpose::PasswordReset, None).await;
    let attempts = (0..8).map(|n| {
        let (store, hash) = (store.clone(), token.hash());
        tokio::spawn(async move {
            let effect = LinkEffect::ResetPassword { password_hash: format!("hash-{n}") };
            store.use_link_token(&hash, LinkPurpose::PasswordReset, t0(), effect, None).await.unwrap()
        })
    });
    let mut wins = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        wins += usize::from(attempt.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn a_new_reset_token_voids_the_older_ones(store: SharedStore) {
    let user = create_user(&store, "forgetful@example.com").await;
    let older = issue(&store, &user, LinkPurpose::PasswordReset, None).await;
    let verification = issue(&store, &user, LinkPurpose::EmailVerification, None).await;
    let newer = issue(&store, &user, LinkPurpose::PasswordReset, None).await;
    let reset = |hash| {
        let effect = LinkEffect::ResetPassword { password_hash: "new-hash".into() };
        use_token(&store, hash, LinkPurpose::PasswordReset, t0(), effect)
    };
    assert!(!reset(older.hash()).await.unwrap(), "the older reset link no longer works");
    assert!(
        store.find_link_token(&verification.hash()).await.unwrap().unwrap().used_at.is_none(),
        "other purposes stay"
    );
    assert!(reset(newer.hash()).await.unwrap());
}

pub async fn a_password_reset_replaces_the_hash_revokes_every_session_and_queues_the_notice(store: SharedStore) {
    let user = create_user(&store, "reset@example.com").await;
    for _ in 0..2 {
        store.create_session(new_session(user.id, t0()).0).await.unwrap();
    }
    let token = issue(&store, &user, LinkPurpose::PasswordReset, None).await;
    let before = store.claim_outbox(t0(), t0() + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(before.len(), 1, "the reset link's email");

    let effect = LinkEffect::ResetPassword { password_hash: "replaced".into() };
    let notice = message(&user, "your password was changed");
    // Within the first claim's lease: the reset link's email is not handed out again.
    let at = t0() + Duration::seconds(30);
    assert!(store.use_link_token(&token.hash(), LinkPurpose::PasswordReset, at, effect, Some(notice)).await.unwrap());
    let credentials = store.find_credentials(&user.email).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, "replaced");
    assert!(store.list_sessions(user.id).await.unwrap().iter().all(|s| s.revoked_at == Some(at)));
    let queued = store.claim_outbox(at, at + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(queued.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), ["your password was changed"]);
}

pub async fn an_email_change_applies_when_its_link_is_used_unless_the_address_was_taken(store: SharedStore) {
    let user = create_user(&store, "old@example.com").await;
    let token = issue(&store, &user, LinkPurpose::EmailChange, Some("new@example.com")).await;
    let found = store.find_link_token(&token.hash()).await.unwrap().unwrap();
    assert_eq!(found.new_email.as_ref().map(Email::as_str), Some("new@example.com"));

    // Someone registers the address first: the change is refused and the link stays usable.
    let squatter = create_user(&store, "new@example.com").await;
    let change = || {
        let effect = LinkEffect::ChangeEmail(Email::parse("new@example.com").unwrap());
        use_token(&store, token.hash(), LinkPurpose::EmailChange, t0(), effect)
    };
    match change().await {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, USERS_EMAIL_CONSTRAINT),
        other => panic!("expected a conflict on the email, got {other:?}"),
    }
    assert!(store.find_link_token(&token.hash()).await.unwrap().unwrap().used_at.is_none());

    assert!(store.soft_delete_user(squatter.id, t0()).await.unwrap());
    assert!(change().await.unwrap());
    let changed = store.find_user(user.id).await.unwrap().unwrap();
    assert_eq!((changed.email.as_str(), changed.email_verified), ("new@example.com", true));
}

pub async fn outbox_claims_are_exclusive_until_their_lease_ends(store: SharedStore) {
    let user = create_user(&store, "mailbox@example.com").await;
    for _ in 0..40 {
        issue(&store, &user, LinkPurpose::EmailVerification, None).await;
    }
    let lease = t0() + Duration::minutes(1);
    let claimers = (0..4).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_outbox(t0(), lease, 7).await.unwrap() })
    });
    let mut seen = HashSet::new();
    for claimer in claimers.collect::<Vec<_>>() {
        for message in claimer.await.unwrap() {
            assert!(seen.insert(message.id), "a message was handed to two claims");
            assert_eq!((message.attempts, message.to.as_str()), (1, "mailbox@example.com"));
        }
    }
    assert_eq!(seen.len(), 28);
    let rest = store.claim_outbox(t0(), lease, 100).await.unwrap();
    assert_eq!(rest.len(), 12, "only the unclaimed ones");
    assert!(rest.iter().all(|m| !seen.contains(&m.id)));
    assert!(store.claim_outbox(t0() + Duration::seconds(59), lease, 100).await.unwrap().is_empty());

    // A crashed sender's lease runs out: its messages are claimed again.
    let again = store.claim_outbox(lease, lease + Duration::minutes(1), 100).await.unwrap();
    assert_eq!(again.len(), 40);
    assert!(again.iter().all(|m| m.attempts == 2));
}

pub async fn delivered_and_abandoned_messages_are_not_claimed_again(store: SharedStore) {
    let user = create_user(&store, "outcomes@example.com").await;
    for _ in 0..3 {
        issue(&store, &user, LinkPurpose::EmailVerification, None).await;
    }
    let claimed = store.claim_outbox(t0(), t0() + Duration::minutes(1), 10).await.unwrap();
    let [delivered, retried, abandoned] = [&claimed[0], &claimed[1], &claimed[2]].map(|m| m.id);
    let at = t0() + Duration::seconds(1);
    store.mark_delivered(delivered, at).await.unwrap();
    store.mark_failed(retried, "451 try again later", at, Some(t0() + Duration::minutes(10))).await.unwrap();
    store.mark_failed(abandoned, "550 no such user", at, None).await.unwrap();

    // The retried one waits for its time, though its lease was released early.
    assert!(store.claim_outbox(t0() + Duration::minutes(9), t0() + Duration::hours(1), 10).await.unwrap().is_empty());
    let later = t0() + Duration::minutes(10);
    let due = store.claim_outbox(later, later + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(due.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(), [(retried, 2)]);
}
