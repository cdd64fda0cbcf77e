use chrono::Duration;
use mana_core::crypto::random_bytes;
use mana_core::store::{ClientInfo, RefreshTokenRecord, Rotation};
use mana_core::tokens::RefreshToken;

use crate::{SharedStore, create_user, new_session, t0};

fn rotation(session: mana_core::ids::SessionId, from_generation: i64, token: &RefreshToken) -> Rotation {
    let at = t0() + Duration::minutes(15);
    Rotation {
        session_id: session,
        from_generation,
        new_token_hash: token.hash(),
        nonce: random_bytes(),
        access_jti: uuid::Uuid::new_v4().to_string(),
        access_issued_at: chrono::DateTime::from_timestamp(at.timestamp(), 0).unwrap(),
        at,
        expires_at: at + Duration::days(7),
        client: ClientInfo { ip: Some("198.51.100.1".into()), user_agent: None },
    }
}

pub async fn sessions_are_found_by_their_refresh_token(store: SharedStore) {
    let user = create_user(&store, "session@example.com").await;
    let (new, token) = new_session(user.id, t0());
    store.create_session(new.clone()).await.unwrap();

    let record = store.find_refresh_token(&token.hash()).await.unwrap().expect("token is known");
    assert_eq!(record, RefreshTokenRecord { session_id: new.id, generation: 0 });
    assert!(store.find_refresh_token(&RefreshToken::generate().hash()).await.unwrap().is_none());

    let found = store.find_session(new.id).await.unwrap().expect("session is found");
    let session = found.session;
    assert_eq!(found.user, user);
    assert_eq!(session.user_id, user.id);
    assert_eq!(session.device_id, new.device_id);
    assert_eq!(session.device_name, new.device_name);
    assert_eq!(session.client, new.client);
    assert_eq!(session.created_at, t0());
    assert_eq!(session.last_used_at, t0());
    assert_eq!(session.expires_at, new.expires_at);
    assert_eq!(session.revoked_at, None);
    assert_eq!(session.generation, 0);
    assert_eq!(session.refresh_token_hash, token.hash());
    assert_eq!(session.rotated_at, None);
    assert_eq!(session.rotation_nonce, None);
    assert_eq!(session.access_jti, new.access_jti);
    assert_eq!(session.access_issued_at, new.access_issued_at);
}

pub async fn rotation_applies_only_from_the_current_generation(store: SharedStore) {
    let user = create_user(&store, "rotate@example.com").await;
    let (new, first) = new_session(user.id, t0());
    store.create_session(new.clone()).await.unwrap();

    let second = RefreshToken::generate();
    let applied = rotation(new.id, 0, &second);
    assert!(store.rotate_session(applied.clone()).await.unwrap());
    assert!(!store.rotate_session(rotation(new.id, 0, &RefreshToken::generate())).await.unwrap(), "stale generation");

    let session = store.find_session(new.id).await.unwrap().unwrap().session;
    assert_eq!(session.generation, 1);
    assert_eq!(session.refresh_token_hash, second.hash());
    assert_eq!(session.rotation_nonce, Some(applied.nonce));
    assert_eq!(session.rotated_at, Some(applied.at));
    assert_eq!(session.last_used_at, applied.at);
    assert_eq!(session.expires_at, applied.expires_at);
    assert_eq!(session.access_jti, applied.access_jti);
    assert_eq!(session.access_issued_at, applied.access_issued_at);
    assert_eq!(session.client.ip.as_deref(), Some("198.51.100.1"), "the latest address is kept");
    assert_eq!(session.client.user_agent, new.client.user_agent, "a missing user agent keeps the old one");

    // Both tokens stay known, with their generations, so a replay of the old one is recognised.
    assert_eq!(store.find_refresh_token(&first.hash()).await.unwrap().unwrap().generation, 0);
    assert_eq!(store.find_refresh_token(&second.hash()).await.unwrap().unwrap().generation, 1);
}

pub async fn rotation_of_a_revoked_session_is_refused(store: SharedStore) {
    let user = create_user(&store, "revoked@example.com").await;
    let (new, _) = new_session(user.id, t0());
    store.create_session(new.clone()).await.unwrap();
    assert!(store.revoke_session(new.id, t0()).await.unwrap());
    assert!(!store.rotate_session(rotation(new.id, 0, &RefreshToken::generate())).await.unwrap());
}

pub async fn revoking_is_idempotent(store: SharedStore) {
    let user = create_user(&store, "logout@example.com").await;
    let (new, _) = new_session(user.id, t0());
    store.create_session(new.clone()).await.unwrap();
    let at = t0() + Duration::hours(1);
    assert!(store.revoke_session(new.id, at).await.unwrap());
    assert!(!store.revoke_session(new.id, at + Duration::hours(1)).await.unwrap());
    let session = store.find_session(new.id).await.unwrap().unwrap().session;
    assert_eq!(session.revoked_at, Some(at), "the first revocation time is kept");
    assert!(!store.revoke_session(mana_core::ids::SessionId::generate(), at).await.unwrap());
}

pub async fn sessions_are_listed_newest_first(store: SharedStore) {
    let user = create_user(&store, "devices@example.com").await;
    let other = create_user(&store, "other@example.com").await;
    let mut ids = Vec::new();
    for minutes in 0..3 {
        let (new, _) = new_session(user.id, t0() + Duration::minutes(minutes));
        store.create_session(new.clone()).await.unwrap();
        ids.push(new.id);
    }
    store.create_session(new_session(other.id, t0()).0).await.unwrap();
    let listed: Vec<_> = store.list_sessions(user.id).await.unwrap().into_iter().map(|s| s.id).collect();
    ids.reverse();
    assert_eq!(listed, ids);
}

pub async fn concurrent_rotations_apply_exactly_once(store: SharedStore) {
    let user = create_user(&store, "tabs@example.com").await;
    let (new, _) = new_session(user.id, t0());
    store.create_session(new.clone()).await.unwrap();
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.rotate_session(rotation(new.id, 0, &RefreshToken::generate())).await })
        })
        .collect();
    let mut applied = 0;
    for attempt in attempts {
        if attempt.await.unwrap().unwrap() {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(store.find_session(new.id).await.unwrap().unwrap().session.generation, 1);
}

pub async fn session_access_reports_revocation_deletion_and_role(store: SharedStore) {
    use mana_core::ids::Role;
    use mana_core::store::SessionAccess;
    let user = create_user(&store, "access@example.com").await;
    let (new, _) = new_session(user.id, t0());
    store.create_session(new.clone()).await.unwrap();
    let live = SessionAccess { user_id: user.id, revoked: false, user_deleted: false, role: Role::User };
    assert_eq!(store.session_access(new.id).await.unwrap(), Some(live));
    assert_eq!(store.session_access(mana_core::ids::SessionId::generate()).await.unwrap(), None);

    store.revoke_session(new.id, t0()).await.unwrap();
    assert_eq!(store.session_access(new.id).await.unwrap(), Some(SessionAccess { revoked: true, ..live }));
    store.soft_delete_user(user.id, t0()).await.unwrap();
    let access = store.session_access(new.id).await.unwrap().unwrap();
    assert!(access.revoked && access.user_deleted);
}
