use chrono::Duration;
use mana_core::store::{ClientInfo, EventDetails, NewSecurityEvent, SecurityEventKind};

use crate::{SharedStore, create_user, t0};

pub async fn security_events_round_trip_newest_first(store: SharedStore) {
    let user = create_user(&store, "audit@example.com").await;
    let client = ClientInfo { ip: Some("203.0.113.9".into()), user_agent: Some("curl/8".into()) };
    for (minutes, kind) in SecurityEventKind::ALL.into_iter().enumerate() {
        let event = NewSecurityEvent {
            user_id: Some(user.id),
            kind,
            client: client.clone(),
            at: t0() + Duration::minutes(minutes as i64),
            details: EventDetails { presented_generation: Some(minutes as i64), ..EventDetails::default() },
        };
        store.record_security_event(event).await.unwrap();
    }
    // An event about no known user (a login attempt for an unknown email).
    let anonymous = NewSecurityEvent {
        user_id: None,
        kind: SecurityEventKind::LoginFailure,
        client: ClientInfo::default(),
        at: t0(),
        details: EventDetails::default(),
    };
    store.record_security_event(anonymous).await.unwrap();

    let events = store.security_events(user.id, 100, 0).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    let mut expected = SecurityEventKind::ALL.to_vec();
    expected.reverse();
    assert_eq!(kinds, expected);
    let newest = &events[0];
    assert_eq!(newest.user_id, Some(user.id));
    assert_eq!(newest.client, client);
    let last = SecurityEventKind::ALL.len() as i64 - 1;
    assert_eq!(newest.details, EventDetails { presented_generation: Some(last), ..EventDetails::default() });
    assert_eq!(newest.at, t0() + Duration::minutes(SecurityEventKind::ALL.len() as i64 - 1));
    assert_eq!(store.security_events(user.id, 2, 0).await.unwrap().len(), 2);
}

pub async fn ping_answers(store: SharedStore) {
    store.ping().await.unwrap();
    assert!(["sqlite", "postgres"].contains(&store.backend_name()));
}
