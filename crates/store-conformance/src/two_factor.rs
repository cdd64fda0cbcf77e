//! Second factors as stored: a TOTP factor set up, enabled and disabled; each time step and
//! each backup code accepted once however requests race; login challenges that count their
//! attempts, expire and are completed once; secrets re-sealed only where nothing changed since.

use chrono::Duration;
use mana_core::ids::UserId;
use mana_core::store::{MfaChallenge, NewMfaChallenge};
use mana_core::tokens::{RefreshToken, TokenHash};

use crate::{SharedStore, concurrent_successes, create_user, t0};

fn code_hashes(count: u8) -> Vec<TokenHash> {
    (0..count).map(|n| TokenHash([n.wrapping_add(1); 32])).collect()
}

pub async fn a_totp_factor_is_set_up_confirmed_and_removed_with_its_backup_codes(store: SharedStore) {
    let user = create_user(&store, "factor@example.com").await.id;
    assert_eq!(store.totp_factor(user).await.unwrap(), None);
    assert!(!store.enable_totp(user, 7, &code_hashes(10), t0()).await.unwrap(), "nothing set up");

    assert!(store.set_up_totp(user, "sealed-first", t0()).await.unwrap());
    assert!(store.set_up_totp(user, "sealed-second", t0()).await.unwrap(), "a pending setup is replaced");
    let pending = store.totp_factor(user).await.unwrap().unwrap();
    assert_eq!((pending.sealed_secret.as_str(), pending.enabled_at, pending.last_step), ("sealed-second", None, None));

    assert!(store.enable_totp(user, 7, &code_hashes(10), t0()).await.unwrap());
    let enabled = store.totp_factor(user).await.unwrap().unwrap();
    assert_eq!((enabled.enabled_at, enabled.last_step), (Some(t0()), Some(7)), "the confirming step is spent");
    assert_eq!(store.unused_backup_codes(user).await.unwrap(), 10);
    assert!(!store.enable_totp(user, 8, &code_hashes(10), t0()).await.unwrap(), "already on");
    assert!(!store.set_up_totp(user, "sealed-third", t0()).await.unwrap(), "an enabled factor is not replaced");
    assert_eq!(store.totp_factor(user).await.unwrap().unwrap().sealed_secret, "sealed-second");

    assert!(store.disable_totp(user).await.unwrap());
    assert_eq!(store.totp_factor(user).await.unwrap(), None);
    assert_eq!(store.unused_backup_codes(user).await.unwrap(), 0, "the backup codes go with it");
    assert!(!store.disable_totp(user).await.unwrap(), "already off");
}

pub async fn a_totp_step_is_accepted_once_however_requests_race(store: SharedStore) {
    let user = create_user(&store, "steps@example.com").await.id;
    store.set_up_totp(user, "sealed", t0()).await.unwrap();
    assert!(!store.accept_totp_step(user, 9).await.unwrap(), "a factor not yet enabled accepts nothing");
    store.enable_totp(user, 10, &[], t0()).await.unwrap();

    assert!(!store.accept_totp_step(user, 10).await.unwrap(), "the confirming step");
    assert!(!store.accept_totp_step(user, 9).await.unwrap(), "an older step");
    let winners = concurrent_successes(20, || {
        let store = store.clone();
        async move { store.accept_totp_step(user, 11).await.unwrap() }
    })
    .await;
    assert_eq!(winners, 1, "twenty requests with one code: one is accepted");
    assert_eq!(store.totp_factor(user).await.unwrap().unwrap().last_step, Some(11));
    assert!(store.accept_totp_step(user, 13).await.unwrap(), "a later step");
    assert!(!store.accept_totp_step(user, 12).await.unwrap(), "a skipped step stays behind the last");
}

pub async fn a_backup_code_is_used_once_by_its_owner_and_a_new_set_voids_the_old(store: SharedStore) {
    let owner = create_user(&store, "codes@example.com").await.id;
    let stranger = create_user(&store, "stranger-codes@example.com").await.id;
    store.replace_backup_codes(owner, &code_hashes(10), t0()).await.unwrap();
    let code = code_hashes(10)[3];

    assert!(!store.use_backup_code(stranger, &code, t0()).await.unwrap(), "another user's code");
    let winners = concurrent_successes(20, || {
        let store = store.clone();
        async move { store.use_backup_code(owner, &code, t0()).await.unwrap() }
    })
    .await;
    assert_eq!(winners, 1, "twenty uses of one code at once: one succeeds");
    assert_eq!(store.unused_backup_codes(owner).await.unwrap(), 9);
    assert!(!store.use_backup_code(owner, &code, t0()).await.unwrap(), "used");

    let fresh = vec![TokenHash([200; 32]), TokenHash([201; 32])];
    store.replace_backup_codes(owner, &fresh, t0()).await.unwrap();
    assert_eq!(store.unused_backup_codes(owner).await.unwrap(), 2);
    assert!(!store.use_backup_code(owner, &code_hashes(10)[0], t0()).await.unwrap(), "the old set is void");
    assert!(store.use_backup_code(owner, &fresh[1], t0()).await.unwrap());
}

fn challenge(user: UserId) -> (NewMfaChallenge, TokenHash) {
    let token = RefreshToken::generate().hash();
    let challenge = NewMfaChallenge {
        token_hash: token,
        user_id: user,
        device_id: Some("phone".into()),
        device_name: Some("Phone".into()),
        first_factor: "pwd".into(),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(5),
    };
    (challenge, token)
}

pub async fn an_mfa_challenge_counts_attempts_expires_and_completes_once(store: SharedStore) {
    let user = create_user(&store, "challenge@example.com").await.id;
    let (new, token) = challenge(user);
    store.create_mfa_challenge(new).await.unwrap();
    let expected = MfaChallenge {
        user_id: user,
        device_id: Some("phone".into()),
        device_name: Some("Phone".into()),
        first_factor: "pwd".into(),
    };

    assert_eq!(store.mfa_challenge_user(&token, t0()).await.unwrap(), Some(user));
    assert_eq!(store.mfa_challenge_user(&RefreshToken::generate().hash(), t0()).await.unwrap(), None);
    assert_eq!(store.attempt_mfa_challenge(&token, t0(), 5).await.unwrap(), Some(expected.clone()));
    let expired_at = t0() + Duration::minutes(5);
    assert_eq!(store.mfa_challenge_user(&token, expired_at).await.unwrap(), None, "expired");
    assert_eq!(store.attempt_mfa_challenge(&token, expired_at, 5).await.unwrap(), None, "expired");

    // Four attempts are left of five; twenty at once get exactly those four.
    let admitted = concurrent_successes(20, || {
        let store = store.clone();
        async move { store.attempt_mfa_challenge(&token, t0(), 5).await.unwrap().is_some() }
    })
    .await;
    assert_eq!(admitted, 4, "attempts are counted before the code is checked");

    let (second, second_token) = challenge(user);
    store.create_mfa_challenge(second).await.unwrap();
    assert!(store.complete_mfa_challenge(&second_token, t0()).await.unwrap());
    assert!(!store.complete_mfa_challenge(&second_token, t0()).await.unwrap(), "used once");
    assert_eq!(store.attempt_mfa_challenge(&second_token, t0(), 5).await.unwrap(), None, "a used challenge");
    assert_eq!(store.mfa_challenge_user(&second_token, t0()).await.unwrap(), None);
}

pub async fn resealing_replaces_a_secret_only_if_it_is_unchanged(store: SharedStore) {
    let first = create_user(&store, "reseal-a@example.com").await.id;
    let second = create_user(&store, "reseal-b@example.com").await.id;
    store.set_up_totp(first, "v1.old.a", t0()).await.unwrap();
    store.set_up_totp(second, "v1.old.b", t0()).await.unwrap();
    store.enable_totp(second, 1, &[], t0()).await.unwrap();
    let mut sealed = store.sealed_totp_secrets().await.unwrap();
    sealed.sort();
    let mut expected = vec![(first, "v1.old.a".to_string()), (second, "v1.old.b".to_string())];
    expected.sort();
    assert_eq!(sealed, expected, "pending and enabled factors alike");

    assert!(store.reseal_totp_secret(second, "v1.old.b", "v1.new.b").await.unwrap());
    assert!(!store.reseal_totp_secret(second, "v1.old.b", "v1.newer.b").await.unwrap(), "changed since it was read");
    assert_eq!(store.totp_factor(second).await.unwrap().unwrap().sealed_secret, "v1.new.b");
    let enabled = store.totp_factor(second).await.unwrap().unwrap();
    assert_eq!(enabled.last_step, Some(1), "re-sealing leaves the factor's state");
}
