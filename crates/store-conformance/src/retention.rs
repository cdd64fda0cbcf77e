//! Retention: what served its purpose goes, what is still needed stays, the ledger stays whole.

use chrono::Duration;
use mana_core::credits::verify_ledger;
use mana_core::store::{
    ClientInfo, EventDetails, NewMfaChallenge, NewSecurityEvent, OAuthFlow, PruneCutoffs, PruneReport,
    SecurityEventKind,
};
use mana_core::tokens::RefreshToken;

use crate::{SharedStore, create_user, credit_fixture, new_session, spend_with_key, t0};

pub async fn pruning_removes_what_served_its_purpose_and_never_the_ledger(store: SharedStore) {
    let (credits, _clock, user) = credit_fixture(&store, Default::default()).await;
    credits.spend(user, spend_with_key(3, "old-key")).await.unwrap();
    let (live, live_token) = new_session(user, t0());
    let (revoked, revoked_token) = new_session(user, t0());
    store.create_session(live).await.unwrap();
    store.create_session(revoked.clone()).await.unwrap();
    store.revoke_session(revoked.id, t0()).await.unwrap();
    for (days, kind) in [(400, SecurityEventKind::LoginSuccess), (1, SecurityEventKind::Logout)] {
        let event = NewSecurityEvent {
            user_id: Some(user),
            kind,
            client: ClientInfo::default(),
            at: t0() - Duration::days(days),
            details: EventDetails::default(),
        };
        store.record_security_event(event).await.unwrap();
    }
    let other = create_user(&store, "keeps@example.com").await;
    let (used_challenge, live_challenge, expired_challenge) =
        (RefreshToken::generate().hash(), RefreshToken::generate().hash(), RefreshToken::generate().hash());
    for (token, expires_at) in [
        (used_challenge, t0() + Duration::minutes(5)),
        (live_challenge, t0() + Duration::minutes(5)),
        (expired_challenge, t0()),
    ] {
        let challenge = NewMfaChallenge {
            token_hash: token,
            user_id: user,
            device_id: None,
            device_name: None,
            first_factor: "pwd".into(),
            created_at: t0() - Duration::minutes(1),
            expires_at,
        };
        store.create_mfa_challenge(challenge).await.unwrap();
    }
    store.complete_mfa_challenge(&used_challenge, t0()).await.unwrap();
    let (live_flow, expired_flow) = (RefreshToken::generate().hash(), RefreshToken::generate().hash());
    for (state, expires_at) in [(live_flow, t0() + Duration::minutes(10)), (expired_flow, t0())] {
        let flow = OAuthFlow {
            state_hash: state,
            provider: "google".into(),
            code_verifier: "v".into(),
            nonce: "n".into(),
            redirect_to: "https://app.example/".into(),
            link_user: None,
            created_at: t0() - Duration::minutes(10),
            expires_at,
        };
        store.create_oauth_flow(flow).await.unwrap();
    }
    let (used_code, live_code) = (RefreshToken::generate().hash(), RefreshToken::generate().hash());
    for code in [used_code, live_code] {
        store.create_exchange_code(&code, user, "google", t0(), t0() + Duration::seconds(60)).await.unwrap();
    }
    store.redeem_exchange_code(&used_code, t0()).await.unwrap();
    let transactions_before = store.list_transactions(user, 100, 0).await.unwrap();

    let cutoffs = PruneCutoffs {
        now: t0(),
        idempotency_before: t0() + Duration::days(30),
        events_before: t0() - Duration::days(365),
    };
    let report = store.prune(cutoffs).await.unwrap().expect("no other instance is pruning");
    assert_eq!(report.refresh_tokens, 1, "the revoked session's token");
    assert_eq!(report.idempotency_keys, 1);
    assert_eq!(report.mfa_challenges, 2, "the used and the expired second-factor challenge");
    assert_eq!((report.oauth_flows, report.exchange_codes), (1, 1), "the expired flow and the used code");
    assert_eq!(store.mfa_challenge_user(&live_challenge, t0() - Duration::seconds(1)).await.unwrap(), Some(user));
    assert!(report.security_events >= 1, "the event older than a year");
    assert!(store.find_refresh_token(&revoked_token.hash()).await.unwrap().is_none());
    assert!(store.find_refresh_token(&live_token.hash()).await.unwrap().is_some(), "live sessions keep theirs");
    let kinds: Vec<_> = store.security_events(user, 100, 0).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&SecurityEventKind::Logout) && !kinds.contains(&SecurityEventKind::LoginSuccess));
    assert_eq!(store.list_transactions(user, 100, 0).await.unwrap(), transactions_before, "the ledger is kept");
    assert!(verify_ledger(store.as_ref()).await.unwrap().is_sound());
    assert!(store.find_user(other.id).await.unwrap().is_some());
    assert_eq!(store.prune(cutoffs).await.unwrap(), Some(PruneReport::default()), "nothing twice");
    assert!(store.take_oauth_flow(&live_flow, "google", t0()).await.unwrap().is_some(), "a live flow stays");
    assert!(store.redeem_exchange_code(&live_code, t0()).await.unwrap().is_some(), "a live code stays");
}
