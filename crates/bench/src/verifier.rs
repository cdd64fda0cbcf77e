//! The `mana-verify` crate on one core: tokens of a real server (SQLite, release build) checked
//! with the server's keys cached, as another service checks every request it gets.

use std::time::{Duration, Instant};

use mana_verify::{Config, Verifier};

use crate::api::Api;
use crate::server::Server;

/// Distinct tokens verified round-robin, so no answer comes from a cache of one token.
const TOKENS: usize = 64;

pub async fn measure(seconds: u64) -> anyhow::Result<()> {
    let server = Server::start(None, 4, None, &[]).await?;
    let tokens: Vec<String> =
        Api::new(&server.base).users("verifier", TOKENS).await?.into_iter().map(|user| user.access).collect();
    let verifier = Verifier::new(Config::new(&server.base));
    verifier.verify(&tokens[0]).await?;
    let duration = Duration::from_secs(seconds);
    // One thread with its own single-threaded runtime: one core's worth.
    let (verified, elapsed) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(async {
                    let started = Instant::now();
                    let mut verified = 0u64;
                    while started.elapsed() < duration {
                        for token in &tokens {
                            verifier.verify(token).await?;
                        }
                        verified += tokens.len() as u64;
                    }
                    anyhow::Ok((verified, started.elapsed()))
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the measuring thread panicked"))?
    })?;
    server.stop().await;
    let rate = verified as f64 / elapsed.as_secs_f64();
    println!("| mana-verify: RS256 access tokens verified, keys cached, one core | {rate:.0}/s |");
    println!("- {verified} verifications of {TOKENS} distinct tokens in {:.1} s", elapsed.as_secs_f64());
    Ok(())
}
