//! Administration as stored: search by prefix with paging and order, roles, a lock that ends
//! sessions and refuses new ones, restoring a deleted account, usage, sign-ups and sign-ins by
//! day.

use chrono::Duration;
use mana_core::email::Email;
use mana_core::ids::Role;
use mana_core::store::{
    ClientInfo, EventDetails, NewSecurityEvent, RestoreOutcome, SecurityEventKind, UserOrder, UserSearch,
};

use crate::{SharedStore, create_user, credit_fixture, new_session, new_user, spend_with_key, t0};

fn search(prefix: Option<&str>, order: UserOrder) -> UserSearch {
    UserSearch { prefix: prefix.map(str::to_owned), order, include_deleted: false, limit: 10, offset: 0 }
}

pub async fn users_are_searched_by_prefix_paged_and_ordered(store: SharedStore) {
    for (n, email) in ["bea@example.com", "ben@example.com", "cy@example.com", "b_x@example.com"].iter().enumerate() {
        let mut user = new_user(email);
        user.created_at = t0() + Duration::seconds(n as i64);
        store.create_user(user).await.unwrap();
    }
    let emails =
        |page: &mana_core::store::UserPage| page.users.iter().map(|u| u.email.as_str().to_owned()).collect::<Vec<_>>();
    let b = store.search_users(&search(Some("B"), UserOrder::Email)).await.unwrap();
    assert_eq!(emails(&b), ["b_x@example.com", "bea@example.com", "ben@example.com"]);
    assert_eq!(b.total, 3);
    let literal = store.search_users(&search(Some("b_"), UserOrder::Email)).await.unwrap();
    assert_eq!(emails(&literal), ["b_x@example.com"], "_ matches itself");
    let by_name = store.search_users(&search(Some("test us"), UserOrder::NewestFirst)).await.unwrap();
    assert_eq!(by_name.total, 4, "every user here is named Test User");
    let newest = store.search_users(&UserSearch { limit: 2, ..search(None, UserOrder::NewestFirst) }).await.unwrap();
    assert_eq!((emails(&newest), newest.total), (vec!["b_x@example.com".to_owned(), "cy@example.com".to_owned()], 4));
    let oldest =
        store.search_users(&UserSearch { limit: 2, offset: 1, ..search(None, UserOrder::OldestFirst) }).await.unwrap();
    assert_eq!(emails(&oldest), ["ben@example.com", "cy@example.com"]);

    let gone = store.find_credentials(&Email::parse("cy@example.com").unwrap()).await.unwrap().unwrap().user;
    store.soft_delete_user(gone.id, t0()).await.unwrap();
    assert_eq!(store.search_users(&search(Some("cy"), UserOrder::Email)).await.unwrap().total, 0);
    let with_deleted = UserSearch { include_deleted: true, ..search(Some("cy"), UserOrder::Email) };
    assert_eq!(store.search_users(&with_deleted).await.unwrap().users[0].deleted_at, Some(t0()));
}

pub async fn a_role_is_set_by_email_on_the_live_account(store: SharedStore) {
    let user = create_user(&store, "role@example.com").await;
    let email = Email::parse("role@example.com").unwrap();
    assert_eq!(store.set_role(&email, Role::Admin, t0()).await.unwrap(), Some(user.id));
    assert_eq!(store.find_user(user.id).await.unwrap().unwrap().role, Role::Admin);
    let (session, _) = new_session(user.id, t0());
    store.create_session(session.clone()).await.unwrap();
    assert_eq!(store.session_access(session.id).await.unwrap().unwrap().role, Role::Admin);
    assert_eq!(store.set_role(&Email::parse("nobody@example.com").unwrap(), Role::Admin, t0()).await.unwrap(), None);
}

pub async fn a_lock_ends_sessions_and_refuses_new_ones_until_unlocked(store: SharedStore) {
    let user = create_user(&store, "lockme@example.com").await;
    let (before, _) = new_session(user.id, t0());
    assert!(store.create_session(before.clone()).await.unwrap());
    assert!(store.lock_user(user.id, t0()).await.unwrap());
    assert!(!store.lock_user(user.id, t0()).await.unwrap(), "locked already");
    assert!(store.session_access(before.id).await.unwrap().unwrap().revoked);
    assert_eq!(store.find_user(user.id).await.unwrap().unwrap().locked_at, Some(t0()));
    let (refused, _) = new_session(user.id, t0());
    assert!(!store.create_session(refused.clone()).await.unwrap(), "no session for a locked account");
    assert!(store.session_access(refused.id).await.unwrap().is_none(), "nothing was written");

    assert!(store.unlock_user(user.id, t0()).await.unwrap());
    assert!(!store.unlock_user(user.id, t0()).await.unwrap());
    let (after, _) = new_session(user.id, t0());
    assert!(store.create_session(after).await.unwrap());
    store.soft_delete_user(user.id, t0()).await.unwrap();
    let (deleted, _) = new_session(user.id, t0());
    assert!(!store.create_session(deleted).await.unwrap(), "no session for a deleted account");
    assert!(!store.lock_user(user.id, t0()).await.unwrap(), "a deleted account is not locked");
}

pub async fn a_deleted_account_is_restored_unless_its_email_was_taken(store: SharedStore) {
    let user = create_user(&store, "restore@example.com").await;
    assert_eq!(store.restore_user(user.id, t0()).await.unwrap(), RestoreOutcome::NotDeleted);
    store.soft_delete_user(user.id, t0()).await.unwrap();
    assert_eq!(store.restore_user(user.id, t0()).await.unwrap(), RestoreOutcome::Restored);
    assert_eq!(store.find_user(user.id).await.unwrap().unwrap().deleted_at, None);
    store.soft_delete_user(user.id, t0()).await.unwrap();
    create_user(&store, "restore@example.com").await;
    assert_eq!(store.restore_user(user.id, t0()).await.unwrap(), RestoreOutcome::EmailTaken);
    assert!(store.find_user(user.id).await.unwrap().unwrap().deleted_at.is_some());
}

pub async fn usage_is_summed_per_app_and_day_across_users(store: SharedStore) {
    let (credits, _clock, first) = credit_fixture(&store, Default::default()).await;
    credits.spend(first, spend_with_key(3, "a")).await.unwrap();
    credits.spend(first, spend_with_key(4, "b")).await.unwrap();
    let day = t0().date_naive();
    let usage = store.daily_usage(day - Duration::days(1), day + Duration::days(1)).await.unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!((usage[0].day, usage[0].credits_used.0, usage[0].uses), (day, 7, 2));
    assert!(store.daily_usage(day + Duration::days(1), day + Duration::days(2)).await.unwrap().is_empty());
}

pub async fn signups_are_counted_per_utc_day_and_events_per_kind(store: SharedStore) {
    let day = t0().date_naive();
    for (email, at) in [
        ("d1a@example.com", t0()),
        ("d1b@example.com", t0() + Duration::hours(3)),
        ("d2@example.com", t0() + Duration::days(1)),
        ("later@example.com", t0() + Duration::days(5)),
    ] {
        let mut user = new_user(email);
        user.created_at = at;
        store.create_user(user).await.unwrap();
    }
    let counts = store.daily_signups(t0() - Duration::days(1), t0() + Duration::days(2)).await.unwrap();
    let counts: Vec<_> = counts.iter().map(|c| (c.day, c.count)).collect();
    assert_eq!(counts, [(day, 2), (day + Duration::days(1), 1)], "the sixth day is outside; empty days are left out");

    let event = |kind, at| NewSecurityEvent {
        user_id: None,
        kind,
        client: ClientInfo::default(),
        at,
        details: EventDetails::default(),
    };
    for (kind, at) in [
        (SecurityEventKind::LoginSuccess, t0()),
        (SecurityEventKind::LoginSuccess, t0() + Duration::hours(1)),
        (SecurityEventKind::LoginFailure, t0()),
        (SecurityEventKind::LoginFailure, t0() + Duration::days(3)),
        (SecurityEventKind::Logout, t0()),
    ] {
        store.record_security_event(event(kind, at)).await.unwrap();
    }
    let kinds = [SecurityEventKind::LoginSuccess, SecurityEventKind::LoginFailure, SecurityEventKind::TwoFactorFailed];
    let counted = store.count_events(&kinds, t0(), t0() + Duration::days(1)).await.unwrap();
    let counted: Vec<_> = counted.iter().map(|c| (c.kind, c.count)).collect();
    assert_eq!(counted, [(SecurityEventKind::LoginSuccess, 2), (SecurityEventKind::LoginFailure, 1)]);
}
