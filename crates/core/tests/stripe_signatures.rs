//! Webhook signatures made by Stripe's own library (the `stripe` package on PyPI, whose
//! `WebhookSignature.generate_signature_header` signs exactly as Stripe does) are accepted, and
//! every way of spoiling one is refused. `scripts/test` installs the library into
//! `target/stripe-python`; `STRIPE_PYTHON` may name another interpreter that has it.

// Test helpers outside #[test] functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mana_core::payments::{SignatureError, signature_header, verify_signature};

const SIGN: &str = r#"
import json, sys
from stripe import WebhookSignature
for case in json.load(sys.stdin):
    print(WebhookSignature.generate_signature_header(case["payload"], case["secret"], case["timestamp"]))
"#;

fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("STRIPE_PYTHON") {
        return path.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/stripe-python/bin/python");
    assert!(
        venv.exists(),
        "Stripe's Python library is needed: run scripts/test, or `python3 -m venv target/stripe-python && \
         target/stripe-python/bin/pip install stripe==16.1.0`"
    );
    venv
}

/// Headers Stripe's library makes for (payload, secret, timestamp).
fn stripe_headers(cases: &[(&str, &str, i64)]) -> Vec<String> {
    let input: Vec<_> = cases
        .iter()
        .map(|(payload, secret, timestamp)| {
            serde_json::json!({"payload": payload, "secret": secret, "timestamp": timestamp})
        })
        .collect();
    let mut child =
        Command::new(python()).args(["-c", SIGN]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(serde_json::to_string(&input).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the stripe library failed");
    String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect()
}

const NOW: i64 = 1_764_633_600;
const EVENT: &str = r#"{"id":"evt_1QbX","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_test_a1","payment_status":"paid","metadata":{"purchase_id":"0193a5f0-7c1e-7d2a-9b1e-3c4d5e6f7a8b"}}}}"#;

fn secrets(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn events_signed_by_stripes_library_are_accepted() {
    let unicode = r#"{"id":"evt_2","data":{"object":{"description":"Paket für 10 € — ✓"}}}"#;
    let headers = stripe_headers(&[(EVENT, "whsec_alpha", NOW), (unicode, "whsec_alpha", NOW - 299)]);
    assert_eq!(verify_signature(&headers[0], EVENT.as_bytes(), &secrets(&["whsec_alpha"]), NOW), Ok(()));
    assert_eq!(verify_signature(&headers[1], unicode.as_bytes(), &secrets(&["whsec_alpha"]), NOW), Ok(()));
}

#[test]
fn tampered_bodies_wrong_secrets_stale_or_future_times_and_missing_v1_are_refused() {
    let headers = stripe_headers(&[
        (EVENT, "whsec_alpha", NOW),
        (EVENT, "whsec_alpha", NOW - 301),
        (EVENT, "whsec_alpha", NOW + 301),
    ]);
    let alpha = secrets(&["whsec_alpha"]);
    let tampered = EVENT.replace("\"paid\"", "\"unpaid\"");
    assert_eq!(verify_signature(&headers[0], tampered.as_bytes(), &alpha, NOW), Err(SignatureError::NoMatch));
    assert_eq!(
        verify_signature(&headers[0], EVENT.as_bytes(), &secrets(&["whsec_beta"]), NOW),
        Err(SignatureError::NoMatch)
    );
    assert_eq!(verify_signature(&headers[1], EVENT.as_bytes(), &alpha, NOW), Err(SignatureError::OutsideTolerance));
    assert_eq!(verify_signature(&headers[2], EVENT.as_bytes(), &alpha, NOW), Err(SignatureError::OutsideTolerance));
    let time_only = headers[0].split(',').next().unwrap();
    assert_eq!(verify_signature(time_only, EVENT.as_bytes(), &alpha, NOW), Err(SignatureError::NoV1));
    let as_v0 = headers[0].replace("v1=", "v0=");
    assert_eq!(verify_signature(&as_v0, EVENT.as_bytes(), &alpha, NOW), Err(SignatureError::NoV1));
}

#[test]
fn while_a_secret_rolls_signatures_of_both_are_accepted() {
    let headers = stripe_headers(&[(EVENT, "whsec_old", NOW), (EVENT, "whsec_new", NOW)]);
    let both = secrets(&["whsec_new", "whsec_old"]);
    for header in &headers {
        assert_eq!(verify_signature(header, EVENT.as_bytes(), &both, NOW), Ok(()), "{header}");
    }
    // While the old secret lives on, Stripe sends one v1 per secret in one header.
    let new_v1 = headers[1].split_once(",v1=").unwrap().1;
    let combined = format!("{},v1={new_v1}", headers[0]);
    assert_eq!(verify_signature(&combined, EVENT.as_bytes(), &secrets(&["whsec_new"]), NOW), Ok(()));
    assert_eq!(verify_signature(&combined, EVENT.as_bytes(), &secrets(&["whsec_old"]), NOW), Ok(()));
}

#[test]
fn the_header_the_simulated_checkout_makes_is_the_one_stripes_library_makes() {
    let headers = stripe_headers(&[(EVENT, "whsec_alpha", NOW)]);
    assert_eq!(signature_header(EVENT.as_bytes(), "whsec_alpha", NOW), headers[0]);
}
