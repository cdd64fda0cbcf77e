//! Races that real clients produce.

use mana_proto::TokenResponse;
use reqwest::StatusCode;

use crate::common::{PASSWORD, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_registrations_of_one_email_create_one_account() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.register("race@example.com", PASSWORD).await.status() })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 19, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_tabs_refreshing_at_once_get_the_same_pair() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    for round in 0..5 {
        let tokens = app.signed_in(&format!("tabs{round}@example.com")).await;
        let (a, b) = tokio::join!(app.refresh(&tokens.refresh_token), app.refresh(&tokens.refresh_token));
        assert_eq!(a.status(), StatusCode::OK);
        assert_eq!(b.status(), StatusCode::OK);
        let (a, b): (TokenResponse, TokenResponse) = (a.json().await.unwrap(), b.json().await.unwrap());
        assert_eq!(a, b);
        assert_eq!(app.refresh(&a.refresh_token).await.status(), StatusCode::OK, "the shared token still rotates");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_replays_of_one_token_all_get_the_same_pair() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let tokens = app.signed_in("burst@example.com").await;
    let replays: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), tokens.refresh_token.clone());
            tokio::spawn(async move { app.refresh(&token).await.json::<TokenResponse>().await.unwrap() })
        })
        .collect();
    let mut pairs = Vec::new();
    for replay in replays {
        pairs.push(replay.await.unwrap());
    }
    assert!(pairs.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_simultaneous_spends_over_http_never_overdraw() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let token = app.signed_in("stampede@example.com").await.access_token;
    let spends: Vec<_> = (0..200)
        .map(|i| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let body = serde_json::json!({"amount": 1, "appId": "chat", "description": format!("call {i}")});
                app.use_credits(&token, body).await.status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for spend in spends {
        statuses.push(spend.await.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::PAYMENT_REQUIRED).count();
    assert_eq!((ok, refused), (155, 45), "{statuses:?}");
    let balance = app.balance(&token).await;
    assert_eq!((balance["dailyFreeCredits"].as_i64(), balance["freeCreditsRemaining"].as_i64()), (Some(0), Some(0)));
    assert_eq!(balance["totalSpent"], 155);
    assert!(mana_core::credits::verify_ledger(app.state.auth().store().as_ref()).await.unwrap().is_sound());
}
