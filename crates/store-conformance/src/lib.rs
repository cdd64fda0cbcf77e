//! The storage conformance suite: every behaviour the domain relies on, written once and run
//! against each backend by [`conformance_suite!`].

// This crate is test code that other crates' tests call: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod account;
mod admin;
mod credits;
mod events;
mod identities;
mod ledger_model;
mod lifecycle;
mod payments;
mod retention;
mod sessions;
mod tampering;
mod two_factor;
mod users;

pub use account::*;
pub use admin::*;
pub use credits::*;
pub use events::*;
pub use identities::*;
pub use ledger_model::*;
pub use lifecycle::*;
pub use payments::*;
pub use retention::*;
pub use sessions::*;
pub use tampering::*;
pub use two_factor::*;
pub use users::*;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mana_core::credits::{CreditPolicy, Movements};
use mana_core::email::Email;
use mana_core::ids::{Role, SessionId, UserId};
use mana_core::store::{ClientInfo, NewSession, NewUser, Store, User};
use mana_core::tokens::RefreshToken;

/// Expands to one `#[tokio::test]` per behaviour, each calling `$factory().await` for a fresh,
/// migrated, empty store.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::conformance_suite!(@each $factory;
            creates_and_finds_a_user,
            a_live_email_can_only_be_registered_once,
            email_of_a_deleted_user_can_be_registered_again,
            soft_delete_hides_credentials_and_revokes_sessions,
            password_hash_can_be_replaced,
            concurrent_registrations_of_one_email_create_one_user,
            sessions_are_found_by_their_refresh_token,
            rotation_applies_only_from_the_current_generation,
            rotation_of_a_revoked_session_is_refused,
            revoking_is_idempotent,
            sessions_are_listed_newest_first,
            concurrent_rotations_apply_exactly_once,
            session_access_reports_revocation_deletion_and_role,
            security_events_round_trip_newest_first,
            ping_answers,
            registration_opens_the_credit_account,
            spending_takes_daily_then_free_then_paid,
            an_overdraw_moves_nothing,
            the_daily_allowance_resets_lazily_once_per_period,
            a_repeated_idempotency_key_replays_the_first_answer,
            idempotency_keys_are_scoped_to_their_user,
            two_hundred_concurrent_spends_never_overdraw,
            concurrent_requests_with_one_key_move_credits_once,
            concurrent_first_requests_after_the_period_reset_once,
            transactions_are_listed_newest_first_with_paging,
            packages_are_seeded_and_purchases_start_empty,
            credits_taken_back_after_they_were_spent_are_owed_until_a_purchase_repays_them,
            a_link_token_is_used_once_for_its_purpose_before_it_expires,
            concurrent_uses_of_one_link_token_succeed_once,
            a_new_reset_token_voids_the_older_ones,
            a_password_reset_replaces_the_hash_revokes_every_session_and_queues_the_notice,
            an_email_change_applies_when_its_link_is_used_unless_the_address_was_taken,
            outbox_claims_are_exclusive_until_their_lease_ends,
            delivered_and_abandoned_messages_are_not_claimed_again,
            revoking_other_sessions_keeps_the_current_one,
            changing_the_password_revokes_the_other_sessions_in_one_step,
            the_display_name_can_be_set_and_cleared_while_the_user_lives,
            a_new_account_has_no_second_factor_and_no_linked_identities,
            security_events_page_with_an_offset,
            pruning_removes_what_served_its_purpose_and_never_the_ledger,
            packages_can_be_added_changed_and_withdrawn,
            a_purchase_is_created_once_per_idempotency_key_and_user,
            a_payment_described_by_several_events_each_delivered_twice_credits_once,
            twenty_concurrent_deliveries_of_one_event_apply_it_once,
            an_event_for_an_unknown_payment_is_not_recorded_so_a_later_delivery_applies,
            refunding_spent_credits_leaves_a_debt_that_the_next_purchase_repays,
            a_dispute_takes_what_is_left_and_a_won_dispute_gives_it_back,
            random_payment_event_sequences_settle_as_the_model_says,
            a_totp_factor_is_set_up_confirmed_and_removed_with_its_backup_codes,
            a_totp_step_is_accepted_once_however_requests_race,
            a_backup_code_is_used_once_by_its_owner_and_a_new_set_voids_the_old,
            an_mfa_challenge_counts_attempts_expires_and_completes_once,
            resealing_replaces_a_secret_only_if_it_is_unchanged,
            an_identity_is_linked_to_one_account_and_one_per_provider,
            a_user_is_created_with_an_identity_and_without_a_password,
            a_takeover_leaves_whoever_pre_registered_nothing,
            the_last_way_to_sign_in_cannot_be_unlinked,
            a_web_flow_is_taken_once_by_its_provider_before_it_expires,
            an_exchange_code_is_redeemed_once_before_it_expires,
            users_are_searched_by_prefix_paged_and_ordered,
            a_role_is_set_by_email_on_the_live_account,
            a_lock_ends_sessions_and_refuses_new_ones_until_unlocked,
            a_deleted_account_is_restored_unless_its_email_was_taken,
            usage_is_summed_per_app_and_day_across_users,
            signups_are_counted_per_utc_day_and_events_per_kind,
        );
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn random_operation_sequences_match_the_model() {
            $crate::random_operation_sequences_match_the_model(|| Box::pin($factory())).await;
        }
    };
    (@each $factory:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $crate::$name($factory().await).await;
            }
        )*
    };
}

pub type SharedStore = Arc<dyn Store>;

/// How many of `attempts` concurrent calls of `call` answered `true`.
pub async fn concurrent_successes<F, Fut>(attempts: usize, call: F) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..attempts).map(|_| tokio::spawn(call())).collect();
    let mut successes = 0;
    for task in tasks {
        successes += usize::from(task.await.unwrap());
    }
    successes
}

/// A fixed, microsecond-precise instant, so that values read back compare equal.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap() + Duration::microseconds(123_456)
}

pub fn new_user(email: &str) -> NewUser {
    new_user_with(email, &CreditPolicy::default(), t0())
}

/// A user whose credit account opens under `policy` at `now`.
pub fn new_user_with(email: &str, policy: &CreditPolicy, now: DateTime<Utc>) -> NewUser {
    let id = UserId::generate();
    let (opening_balance, opening_transactions) = Movements::open_account(id, policy, now).unwrap().into_parts();
    NewUser {
        id,
        email: Email::parse(email).unwrap(),
        name: Some("Test User".into()),
        role: Role::User,
        password_hash: Some("$2b$04$abcdefghijklmnopqrstuuJd0Pyq1TKyA2cFDS2uXbJq6QmTs0P2C".into()),
        email_verified: false,
        created_at: now,
        opening_balance,
        opening_transactions,
        verification: None,
    }
}

pub async fn create_user(store: &SharedStore, email: &str) -> User {
    store.create_user(new_user(email)).await.unwrap()
}

pub fn new_session(user: UserId, created_at: DateTime<Utc>) -> (NewSession, RefreshToken) {
    let token = RefreshToken::generate();
    let session = NewSession {
        id: SessionId::generate(),
        user_id: user,
        device_id: Some("device-1".into()),
        device_name: Some("Laptop".into()),
        client: ClientInfo { ip: Some("192.0.2.7".into()), user_agent: Some("conformance/1.0".into()) },
        created_at,
        expires_at: created_at + Duration::days(7),
        refresh_token_hash: token.hash(),
        access_jti: uuid::Uuid::new_v4().to_string(),
        access_issued_at: DateTime::from_timestamp(created_at.timestamp(), 0).unwrap(),
        amr: vec!["pwd".into(), "otp".into()],
    };
    (session, token)
}
