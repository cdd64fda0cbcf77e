//! The rules of the package catalogue, shared by `mana-core-auth packages` and the admin API.

use crate::credits::Credits;
use crate::error::{Error, Result};
use crate::store::CreditPackage;

/// The most a package may cost (one million euros): a typo, not a price.
pub const MAX_PRICE_CENTS: i64 = 100_000_000;
/// The most credits a package may grant.
pub const MAX_PACKAGE_CREDITS: i64 = 1_000_000_000;

/// A package as an operator describes it, checked field by field.
#[derive(Debug, Clone, Default)]
pub struct PackageInput {
    pub id: String,
    pub name: String,
    pub credits: i64,
    pub price_cents: i64,
    pub currency: String,
    pub stripe_price_id: Option<String>,
    pub active: bool,
    pub sort_order: i32,
}

impl PackageInput {
    /// The package, or every field that is wrong.
    pub fn into_package(self) -> Result<CreditPackage> {
        let mut errors = Vec::new();
        let mut problem = |field: &str, message: &str| errors.push((field.to_owned(), message.to_owned()));
        let id = self.id.trim().to_owned();
        if id.is_empty()
            || id.len() > 64
            || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            problem("id", "must be 1 to 64 characters of a-z, 0-9, - and _");
        }
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            problem("name", "is required (at most 100 characters, no control characters)");
        }
        if !(1..=MAX_PACKAGE_CREDITS).contains(&self.credits) {
            problem("credits", &format!("must be a whole number from 1 to {MAX_PACKAGE_CREDITS}"));
        }
        if !(1..=MAX_PRICE_CENTS).contains(&self.price_cents) {
            problem("priceCents", &format!("must be a whole number of cents from 1 to {MAX_PRICE_CENTS}"));
        }
        let currency = self.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            problem("currency", "must be a three-letter ISO 4217 code such as EUR");
        }
        let stripe_price_id = self.stripe_price_id.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        if stripe_price_id.as_deref().is_some_and(|p| !p.starts_with("price_") || p.len() > 255) {
            problem("stripePriceId", "must be a Stripe price id (price_…)");
        }
        if !errors.is_empty() {
            return Err(Error::Validation(
                errors.into_iter().map(|(field, message)| mana_proto::FieldError::new(field, message)).collect(),
            ));
        }
        Ok(CreditPackage {
            id,
            name,
            credits: Credits(self.credits),
            price_cents: self.price_cents,
            currency,
            stripe_price_id,
            active: self.active,
            sort_order: self.sort_order,
        })
    }
}

/// The credits a package grants beyond its price at `credits_per_euro` (shown, never stored).
pub fn bonus_credits(package: &CreditPackage, credits_per_euro: i64) -> Credits {
    let at_list_price = i128::from(package.price_cents) * i128::from(credits_per_euro) / 100;
    Credits(i64::try_from(i128::from(package.credits.0) - at_list_price).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> PackageInput {
        PackageInput {
            id: "mega".into(),
            name: "Mega".into(),
            credits: 15_000,
            price_cents: 10_000,
            currency: "eur".into(),
            active: true,
            ..PackageInput::default()
        }
    }

    #[test]
    fn a_good_package_is_normalised() {
        let package = input().into_package().unwrap();
        assert_eq!((package.currency.as_str(), package.credits), ("EUR", Credits(15_000)));
        assert_eq!(bonus_credits(&package, 100), Credits(5_000));
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = PackageInput {
            id: "Mega Pack".into(),
            name: " ".into(),
            credits: 0,
            price_cents: -5,
            currency: "euro".into(),
            stripe_price_id: Some("prod_1".into()),
            ..input()
        };
        let Err(Error::Validation(errors)) = bad.into_package() else { panic!("refused") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "name", "credits", "priceCents", "currency", "stripePriceId"]);
    }
}
