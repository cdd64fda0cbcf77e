//! Self-service on one's own account: other sessions revoked, a password changed with them,
//! the display name, linked sign-in methods, paging through security events.

use chrono::Duration;
use mana_core::store::{AccountLinks, ClientInfo, EventDetails, NewSecurityEvent, OutgoingEmail, SecurityEventKind};

use crate::{SharedStore, create_user, new_session, t0};

pub async fn revoking_other_sessions_keeps_the_current_one(store: SharedStore) {
    let user = create_user(&store, "others@example.com").await;
    let stranger = create_user(&store, "stranger@example.com").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (session, _) = new_session(user.id, t0() + Duration::seconds(n));
        ids.push(session.id);
        store.create_session(session).await.unwrap();
    }
    let (theirs, _) = new_session(stranger.id, t0());
    store.create_session(theirs.clone()).await.unwrap();
    let at = t0() + Duration::minutes(1);
    assert_eq!(store.revoke_other_sessions(user.id, ids[1], at).await.unwrap(), 2);
    let sessions = store.list_sessions(user.id).await.unwrap();
    let live: Vec<_> = sessions.iter().filter(|s| s.revoked_at.is_none()).map(|s| s.id).collect();
    assert_eq!(live, [ids[1]]);
    assert_eq!(store.revoke_other_sessions(user.id, ids[1], at).await.unwrap(), 0, "already revoked");
    let access = store.session_access(theirs.id).await.unwrap().unwrap();
    assert!(!access.revoked, "another user's sessions are untouched");
}

pub async fn changing_the_password_revokes_the_other_sessions_in_one_step(store: SharedStore) {
    let user = create_user(&store, "change@example.com").await;
    let (current, _) = new_session(user.id, t0());
    let (other, _) = new_session(user.id, t0());
    store.create_session(current.clone()).await.unwrap();
    store.create_session(other.clone()).await.unwrap();
    let notice = OutgoingEmail {
        id: uuid::Uuid::now_v7(),
        user_id: user.id,
        to: user.email.clone(),
        subject: "changed".into(),
        text_body: "t".into(),
        html_body: "h".into(),
        created_at: t0(),
    };
    let revoked = store.change_password(user.id, "new-hash", current.id, t0(), Some(notice)).await.unwrap();
    assert_eq!(revoked, 1);
    assert_eq!(store.find_credentials(&user.email).await.unwrap().unwrap().password_hash, "new-hash");
    assert!(!store.session_access(current.id).await.unwrap().unwrap().revoked);
    assert!(store.session_access(other.id).await.unwrap().unwrap().revoked);
    let queued = store.claim_outbox(t0(), t0() + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(queued.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), ["changed"]);
}

pub async fn the_display_name_can_be_set_and_cleared_while_the_user_lives(store: SharedStore) {
    let user = create_user(&store, "named@example.com").await;
    assert!(store.set_display_name(user.id, Some("Ada"), t0()).await.unwrap());
    assert_eq!(store.find_user(user.id).await.unwrap().unwrap().name.as_deref(), Some("Ada"));
    assert!(store.set_display_name(user.id, None, t0()).await.unwrap());
    assert_eq!(store.find_user(user.id).await.unwrap().unwrap().name, None);
    assert!(store.soft_delete_user(user.id, t0()).await.unwrap());
    assert!(!store.set_display_name(user.id, Some("Ghost"), t0()).await.unwrap());
}

pub async fn a_new_account_has_no_second_factor_and_no_linked_identities(store: SharedStore) {
    let user = create_user(&store, "plain@example.com").await;
    assert_eq!(store.account_links(user.id).await.unwrap(), AccountLinks::default());
}

pub async fn security_events_page_with_an_offset(store: SharedStore) {
    let user = create_user(&store, "pages@example.com").await;
    for minutes in 0..5 {
        let event = NewSecurityEvent {
            user_id: Some(user.id),
            kind: SecurityEventKind::LoginSuccess,
            client: ClientInfo::default(),
            at: t0() + Duration::minutes(minutes),
            details: EventDetails::default(),
        };
        store.record_security_event(event).await.unwrap();
    }
    let page = |limit, offset| store.security_events(user.id, limit, offset);
    let all = page(10, 0).await.unwrap();
    let second = page(2, 2).await.unwrap();
    assert_eq!(second, all[2..4]);
    assert!(page(10, 5).await.unwrap().is_empty());
}
