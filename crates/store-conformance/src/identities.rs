//! Social sign-in as stored: identities linked once, a takeover that leaves the squatter
//! nothing, the last way in kept, and web flows and exchange codes used once however raced.

use chrono::Duration;
use mana_core::email::Email;
use mana_core::store::{
    IDENTITY_CONSTRAINT, OAuthFlow, ProviderIdentity, StoreError, USERS_EMAIL_CONSTRAINT, UnlinkOutcome,
};
use mana_core::tokens::{RefreshToken, TokenHash};

use crate::{SharedStore, concurrent_successes, create_user, new_session, new_user, t0};

fn identity(provider: &str, subject: &str, email: &str) -> ProviderIdentity {
    ProviderIdentity {
        provider: provider.into(),
        subject: subject.into(),
        email: Some(Email::parse(email).unwrap()),
        email_verified: true,
        name: Some("Social User".into()),
    }
}

pub async fn an_identity_is_linked_to_one_account_and_one_per_provider(store: SharedStore) {
    let user = create_user(&store, "linked@example.com").await;
    let other = create_user(&store, "other-linked@example.com").await;
    let google = identity("google", "g-1", "linked@example.com");
    assert!(store.link_identity(user.id, &google, t0()).await.unwrap());
    let owner = store.identity_owner("google", "g-1").await.unwrap().unwrap();
    assert_eq!((owner.user_id, owner.user_deleted), (user.id, false));
    assert_eq!(store.identity_owner("google", "g-2").await.unwrap(), None);
    assert_eq!(store.identity_owner("github", "g-1").await.unwrap(), None, "subjects are per provider");

    match store.link_identity(other.id, &google, t0()).await {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, IDENTITY_CONSTRAINT),
        other => panic!("a provider account links once: {other:?}"),
    }
    let second_google = identity("google", "g-2", "linked@example.com");
    assert!(
        matches!(store.link_identity(user.id, &second_google, t0()).await, Err(StoreError::Conflict { .. })),
        "one identity per provider and account"
    );
    let links = store.account_links(user.id).await.unwrap();
    assert_eq!(links.identities.len(), 1);
    assert_eq!(links.identities[0].email.as_deref(), Some("linked@example.com"));

    assert!(store.soft_delete_user(other.id, t0()).await.unwrap());
    assert!(!store.link_identity(other.id, &identity("github", "h-1", "x@example.com"), t0()).await.unwrap());
}

pub async fn a_user_is_created_with_an_identity_and_without_a_password(store: SharedStore) {
    let mut new = new_user("social@example.com");
    new.password_hash = None;
    new.email_verified = true;
    let created = store.create_user_with_identity(new, &identity("google", "s-1", "social@example.com")).await.unwrap();
    assert!(created.email_verified);
    let email = Email::parse("social@example.com").unwrap();
    assert_eq!(store.find_user_by_email(&email).await.unwrap().unwrap().id, created.id);
    assert!(store.find_credentials(&email).await.unwrap().is_none(), "no password to check");
    assert_eq!(store.identity_owner("google", "s-1").await.unwrap().unwrap().user_id, created.id);

    // The same email or identity again: nothing half-made stays behind.
    let second = identity("google", "s-2", "social@example.com");
    match store.create_user_with_identity(new_user("social@example.com"), &second).await {
        Err(StoreError::Conflict { constraint }) => assert_eq!(constraint, USERS_EMAIL_CONSTRAINT),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.identity_owner("google", "s-2").await.unwrap(), None);
    let same_subject = identity("google", "s-1", "else@example.com");
    let same_identity = store.create_user_with_identity(new_user("else@example.com"), &same_subject).await;
    assert!(matches!(same_identity, Err(StoreError::Conflict { .. })));
    assert!(store.find_user_by_email(&Email::parse("else@example.com").unwrap()).await.unwrap().is_none());
}

pub async fn a_takeover_leaves_whoever_pre_registered_nothing(store: SharedStore) {
    let squatted = create_user(&store, "squatted@example.com").await;
    let (session, _) = new_session(squatted.id, t0());
    let session_id = session.id;
    store.create_session(session).await.unwrap();
    store.link_identity(squatted.id, &identity("github", "squatter", "squatter@example.com"), t0()).await.unwrap();
    store.set_up_totp(squatted.id, "sealed", t0()).await.unwrap();
    store.enable_totp(squatted.id, 1, &[TokenHash([9; 32])], t0()).await.unwrap();

    let owner = identity("google", "rightful", "squatted@example.com");
    assert!(store.take_over_account(squatted.id, &owner, t0()).await.unwrap());
    let user = store.find_user(squatted.id).await.unwrap().unwrap();
    assert!(user.email_verified);
    assert!(store.find_credentials(&user.email).await.unwrap().is_none(), "the password is gone");
    assert!(store.session_access(session_id).await.unwrap().unwrap().revoked, "its sessions end");
    assert_eq!(store.identity_owner("github", "squatter").await.unwrap(), None, "the squatter's identity is gone");
    assert_eq!(store.identity_owner("google", "rightful").await.unwrap().unwrap().user_id, squatted.id);
    assert_eq!(store.totp_factor(squatted.id).await.unwrap(), None, "a second factor would lock the owner out");
    assert_eq!(store.unused_backup_codes(squatted.id).await.unwrap(), 0);

    // Only an unverified account is taken over.
    assert!(
        !store.take_over_account(squatted.id, &identity("apple", "late", "squatted@example.com"), t0()).await.unwrap()
    );
    assert_eq!(store.identity_owner("apple", "late").await.unwrap(), None);
}

pub async fn the_last_way_to_sign_in_cannot_be_unlinked(store: SharedStore) {
    let with_password = create_user(&store, "pw@example.com").await;
    store.link_identity(with_password.id, &identity("google", "pw-g", "pw@example.com"), t0()).await.unwrap();
    assert_eq!(store.unlink_identity(with_password.id, "github").await.unwrap(), UnlinkOutcome::NotLinked);
    assert_eq!(store.unlink_identity(with_password.id, "google").await.unwrap(), UnlinkOutcome::Unlinked);

    let mut new = new_user("nopw@example.com");
    new.password_hash = None;
    let social = store.create_user_with_identity(new, &identity("google", "np-g", "nopw@example.com")).await.unwrap();
    store.link_identity(social.id, &identity("github", "np-h", "nopw@example.com"), t0()).await.unwrap();
    // Two methods, two concurrent unlinks: one goes, the other is the last.
    let (a, b) = tokio::join!(store.unlink_identity(social.id, "google"), store.unlink_identity(social.id, "github"));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [UnlinkOutcome::LastSignInMethod, UnlinkOutcome::Unlinked]);
    assert_eq!(store.account_links(social.id).await.unwrap().identities.len(), 1);
}

fn flow(state: &TokenHash, provider: &str) -> OAuthFlow {
    OAuthFlow {
        state_hash: *state,
        provider: provider.into(),
        code_verifier: "verifier".into(),
        nonce: "nonce".into(),
        redirect_to: "https://app.example/done".into(),
        link_user: None,
        created_at: t0(),
        expires_at: t0() + Duration::minutes(10),
    }
}

pub async fn a_web_flow_is_taken_once_by_its_provider_before_it_expires(store: SharedStore) {
    let state = RefreshToken::generate().hash();
    store.create_oauth_flow(flow(&state, "google")).await.unwrap();
    assert_eq!(store.take_oauth_flow(&state, "apple", t0()).await.unwrap(), None, "another provider's callback");
    let winners = concurrent_successes(10, || {
        let store = store.clone();
        async move { store.take_oauth_flow(&state, "google", t0()).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(winners, 1, "ten callbacks with one state: one finishes the flow");

    let user = create_user(&store, "flow@example.com").await;
    let late = RefreshToken::generate().hash();
    store.create_oauth_flow(OAuthFlow { link_user: Some(user.id), ..flow(&late, "google") }).await.unwrap();
    assert_eq!(store.take_oauth_flow(&late, "google", t0() + Duration::minutes(10)).await.unwrap(), None, "expired");
    let kept = RefreshToken::generate().hash();
    store.create_oauth_flow(OAuthFlow { link_user: Some(user.id), ..flow(&kept, "github") }).await.unwrap();
    let taken = store.take_oauth_flow(&kept, "github", t0()).await.unwrap().unwrap();
    assert_eq!(taken, OAuthFlow { link_user: Some(user.id), ..flow(&kept, "github") });
}

pub async fn an_exchange_code_is_redeemed_once_before_it_expires(store: SharedStore) {
    let user = create_user(&store, "exchange@example.com").await;
    let code = RefreshToken::generate().hash();
    store.create_exchange_code(&code, user.id, "google", t0(), t0() + Duration::seconds(60)).await.unwrap();
    let winners = concurrent_successes(10, || {
        let store = store.clone();
        async move { store.redeem_exchange_code(&code, t0()).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(winners, 1);
    let late = RefreshToken::generate().hash();
    store.create_exchange_code(&late, user.id, "google", t0(), t0() + Duration::seconds(60)).await.unwrap();
    assert_eq!(store.redeem_exchange_code(&late, t0() + Duration::seconds(60)).await.unwrap(), None);
    let good = RefreshToken::generate().hash();
    store.create_exchange_code(&good, user.id, "apple", t0(), t0() + Duration::seconds(60)).await.unwrap();
    assert_eq!(store.redeem_exchange_code(&good, t0()).await.unwrap(), Some((user.id, "apple".into())));

    // A link code is redeemed only by its user, and never as a sign-in code.
    let other = create_user(&store, "other-exchange@example.com").await;
    let link = RefreshToken::generate().hash();
    let google = identity("google", "to-link", "exchange@example.com");
    store.create_link_code(&link, user.id, &google, t0(), t0() + Duration::seconds(60)).await.unwrap();
    assert_eq!(store.redeem_exchange_code(&link, t0()).await.unwrap(), None, "not a sign-in code");
    assert_eq!(store.redeem_link_code(&link, other.id, t0()).await.unwrap(), None, "another user's");
    assert_eq!(store.redeem_link_code(&link, user.id, t0()).await.unwrap(), Some(google));
    assert_eq!(store.redeem_link_code(&link, user.id, t0()).await.unwrap(), None, "once");
}
