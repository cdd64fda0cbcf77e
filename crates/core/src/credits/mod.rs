//! The credit ledger: three buckets per user, a double-entry ledger of immutable transactions,
//! idempotent spending, and the checks of `ledger verify`.

mod amount;
mod ledger;
mod movements;
mod service;
mod verify;
mod view;

pub use amount::{Credits, checked_sum};
pub use ledger::{Account, Bucket, LedgerTransaction, Posting, SystemAccount, TransactionKind};
pub use movements::{Balance, CreditPolicy, Memo, MovementError, Movements};
pub use service::{CreditService, MAX_SPEND, SpendRequest, TransactionPage};
pub use verify::verify_ledger;
pub use view::{balance_view, package_view, purchase_view, transaction_view};
