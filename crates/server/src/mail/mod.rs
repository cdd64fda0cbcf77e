//! Email delivery: messages queued in the outbox (in the transaction of the change that causes
//! them) are handed to an SMTP relay by the outbox worker, or, in development without a relay,
//! written to files.

mod outbox;
mod transport;

pub use outbox::{DeliveryRound, OutboxWorker, retry_delay};
pub use transport::{Mailer, SendError};
