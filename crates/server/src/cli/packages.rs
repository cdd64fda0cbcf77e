//! `mana-core-auth packages list|upsert|deactivate`: the catalogue of credit packages.

use anyhow::Context;
use clap::{Args, Subcommand};
use mana_core::payments::{PackageInput, bonus_credits};

use super::admin::{open_migrated, validation_message};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum PackagesCommand {
    /// Every package, withdrawn ones too, in display order.
    List,
    /// Add a package, or change the one with this id (its past purchases keep what they cost).
    Upsert(UpsertPackage),
    /// Withdraw a package from sale; purchases already made keep it.
    Deactivate {
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct UpsertPackage {
    /// a-z, 0-9, - and _ (at most 64).
    #[arg(long)]
    id: String,
    #[arg(long)]
    name: String,
    /// Credits a purchase grants, bonus included.
    #[arg(long, allow_negative_numbers = true)]
    credits: i64,
    /// The price in cents.
    #[arg(long, allow_negative_numbers = true)]
    price_cents: i64,
    #[arg(long, default_value = "EUR")]
    currency: String,
    /// A Stripe price (price_…) to sell it with; without one the price is sent inline.
    #[arg(long)]
    stripe_price_id: Option<String>,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    sort_order: i32,
    /// Add it withdrawn from sale.
    #[arg(long)]
    inactive: bool,
}

pub async fn run(config: &Config, command: PackagesCommand) -> anyhow::Result<()> {
    let backend = open_migrated(config).await?;
    let store = backend.store();
    match command {
        PackagesCommand::List => {
            let packages = store.all_packages().await.context("reading the packages")?;
            println!(
                "{:<16} {:<20} {:>10} {:>10} {:<8} {:>8} {:<9} stripe price",
                "id", "name", "credits", "price", "currency", "bonus", "on sale"
            );
            for p in &packages {
                println!(
                    "{:<16} {:<20} {:>10} {:>10.2} {:<8} {:>8} {:<9} {}",
                    p.id,
                    p.name,
                    p.credits.0,
                    p.price_cents as f64 / 100.0,
                    p.currency,
                    bonus_credits(p, config.credits_per_euro).0,
                    if p.active { "yes" } else { "no" },
                    p.stripe_price_id.as_deref().unwrap_or("-")
                );
            }
        }
        PackagesCommand::Upsert(upsert) => {
            let input = PackageInput {
                id: upsert.id,
                name: upsert.name,
                credits: upsert.credits,
                price_cents: upsert.price_cents,
                currency: upsert.currency,
                stripe_price_id: upsert.stripe_price_id,
                active: !upsert.inactive,
                sort_order: upsert.sort_order,
            };
            let package = input.into_package().map_err(validation_message)?;
            store.upsert_package(&package).await.context("writing the package")?;
            println!(
                "package {} saved: {} credits for {:.2} {} ({})",
                package.id,
                package.credits.0,
                package.price_cents as f64 / 100.0,
                package.currency,
                if package.active { "on sale" } else { "withdrawn" }
            );
        }
        PackagesCommand::Deactivate { id } => {
            if !store.deactivate_package(&id).await.context("withdrawing the package")? {
                anyhow::bail!("no package has the id {id:?}");
            }
            println!("package {id} withdrawn from sale; purchases already made keep it");
        }
    }
    Ok(())
}
