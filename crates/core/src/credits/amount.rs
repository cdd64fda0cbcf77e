//! Credit amounts: whole mana, never floats, never silently overflowing.

use std::fmt;
use std::ops::Neg;

use serde::{Deserialize, Serialize};

/// A signed number of credits (1 mana = 1 euro cent by default). Arithmetic is checked: an
/// overflow is a bug to report, never a wrapped balance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credits(pub i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Credits)
    }

    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Credits)
    }

    pub fn checked_neg(self) -> Option<Credits> {
        self.0.checked_neg().map(Credits)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl Neg for Credits {
    type Output = Credits;
    fn neg(self) -> Credits {
        Credits(-self.0)
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Sums credits, or `None` on overflow.
pub fn checked_sum(amounts: impl IntoIterator<Item = Credits>) -> Option<Credits> {
    amounts.into_iter().try_fold(Credits::ZERO, Credits::checked_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn overflow_is_detected_not_wrapped() {
        assert_eq!(Credits(i64::MAX).checked_add(Credits(1)), None);
        assert_eq!(Credits(i64::MIN).checked_sub(Credits(1)), None);
        assert_eq!(checked_sum([Credits(i64::MAX), Credits(1)]), None);
    }

    proptest! {
        #[test]
        fn addition_and_subtraction_are_inverse(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let sum = Credits(a).checked_add(Credits(b)).unwrap();
            prop_assert_eq!(sum.checked_sub(Credits(b)), Some(Credits(a)));
        }
    }
}
