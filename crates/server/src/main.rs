use std::process::ExitCode;

use clap::Parser;
use mana_server::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; the environment alone is enough.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mana-core-auth: {error:#}");
            ExitCode::FAILURE
        }
    }
}
