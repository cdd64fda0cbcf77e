//! The credit ledger: three buckets per user, a double-entry ledger of immutable transactions,
//! idempotent spending, and the checks of `ledger verify`.

mod amount;
mod ledger;
mod movements;
mod names;
mod receipt;
mod service;
mod verify;

pub use amount::{Credits, checked_sum};
pub use ledger::{Account, Bucket, LedgerTransaction, Posting, SystemAccount, TransactionKind};
pub use movements::{Balance, CreditPolicy, Memo, MovementError, Movements};
pub use names::{AppId, IdempotencyKey};
pub use receipt::{BalanceSummary, SpendReceipt};
pub use service::{CreditService, MAX_SPEND, SpendRequest, TransactionPage};
pub use verify::{LedgerVerdict, Verifier, Violation, verify_ledger};
