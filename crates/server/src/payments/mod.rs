//! Purchases through Stripe: reading its webhook events.

pub mod stripe_event;
