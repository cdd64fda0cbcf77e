use mana_core::email::Email;
use mana_core::store::{StoreError, USERS_EMAIL_CONSTRAINT};

use crate::{SharedStore, create_user, new_session, new_user, t0};

pub async fn creates_and_finds_a_user(store: SharedStore) {
    let created = create_user(&store, "ada@example.com").await;
    assert_eq!(created.email.as_str(), "ada@example.com");
    assert!(!created.email_verified);
    assert_eq!(created.deleted_at, None);

    let found = store.find_user(created.id).await.unwrap().expect("user is found by id");
    assert_eq!(found, created);

    let credentials = store.find_credentials(&created.email).await.unwrap().expect("credentials found by email");
    assert_eq!(credentials.user, created);
    assert_eq!(Some(credentials.password_hash), new_user("x@example.com").password_hash);

    assert!(store.find_credentials(&Email::parse("nobody@example.com").unwrap()).await.unwrap().is_none());
    assert!(store.find_user(mana_core::ids::UserId::generate()).await.unwrap().is_none());
}

pub async fn a_live_email_can_only_be_registered_once(store: SharedStore) {
    create_user(&store, "twice@example.com").await;
    let error = store.create_user(new_user("twice@example.com")).await.unwrap_err();
    match error {
        StoreError::Conflict { constraint } => assert_eq!(constraint, USERS_EMAIL_CONSTRAINT),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

pub async fn email_of_a_deleted_user_can_be_registered_again(store: SharedStore) {
    let first = create_user(&store, "again@example.com").await;
    assert!(store.soft_delete_user(first.id, t0()).await.unwrap());
    let second = create_user(&store, "again@example.com").await;
    assert_ne!(first.id, second.id);
    let credentials = store.find_credentials(&second.email).await.unwrap().unwrap();
    assert_eq!(credentials.user.id, second.id);
}

pub async fn soft_delete_hides_credentials_and_revokes_sessions(store: SharedStore) {
    let user = create_user(&store, "gone@example.com").await;
    let (session, _) = new_session(user.id, t0());
    store.create_session(session.clone()).await.unwrap();

    let deleted_at = t0() + chrono::Duration::minutes(5);
    assert!(store.soft_delete_user(user.id, deleted_at).await.unwrap());
    assert!(!store.soft_delete_user(user.id, deleted_at).await.unwrap(), "deleting twice reports no change");

    assert!(store.find_credentials(&user.email).await.unwrap().is_none());
    let kept = store.find_user(user.id).await.unwrap().expect("a deleted user's data stays");
    assert_eq!(kept.deleted_at, Some(deleted_at));
    let found = store.find_session(session.id).await.unwrap().unwrap();
    assert_eq!(found.session.revoked_at, Some(deleted_at));
    assert_eq!(found.user.deleted_at, Some(deleted_at));
}

pub async fn password_hash_can_be_replaced(store: SharedStore) {
    let user = create_user(&store, "rehash@example.com").await;
    store.set_password_hash(user.id, "$argon2id$new", t0()).await.unwrap();
    let credentials = store.find_credentials(&user.email).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, "$argon2id$new");

    let missing = store.set_password_hash(mana_core::ids::UserId::generate(), "x", t0()).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

pub async fn concurrent_registrations_of_one_email_create_one_user(store: SharedStore) {
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.create_user(new_user("race@example.com")).await })
        })
        .collect();
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::Conflict { constraint }) => {
                assert_eq!(constraint, USERS_EMAIL_CONSTRAINT)
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(created, 1);
}
