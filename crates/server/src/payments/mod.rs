//! Purchases through Stripe: its API client, reading its webhook events, and TLS for calls out.

pub mod stripe_client;
pub mod stripe_event;
pub mod tls;
