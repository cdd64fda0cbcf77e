//! One page of a newest-first listing, as a client asks for it.

use mana_proto::FieldError;
use mana_proto::limits::{PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, PAGE_OFFSET_MAX};

use crate::error::{Error, Result};

/// `limit` and `offset` as the client sent them (absent: the defaults).
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Page {
    /// `(limit, offset)` within the documented bounds, or which of them is not.
    pub fn bounds(self) -> Result<(i64, i64)> {
        let mut errors = Vec::new();
        let limit = self.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
        if !(1..=PAGE_LIMIT_MAX).contains(&limit) {
            errors.push(FieldError::new("limit", format!("must be a whole number from 1 to {PAGE_LIMIT_MAX}")));
        }
        let offset = self.offset.unwrap_or(0);
        if !(0..=PAGE_OFFSET_MAX).contains(&offset) {
            errors.push(FieldError::new("offset", "must be a whole number of at least 0"));
        }
        if errors.is_empty() { Ok((limit, offset)) } else { Err(Error::Validation(errors)) }
    }
}
