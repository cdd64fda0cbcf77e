//! `mana-bench`: how close each hot path of mana-core-auth comes to what this machine allows.
//! Run through `scripts/bench` (quick) or `scripts/bench --full`.

mod api;
mod console;
mod limits;
mod load;
mod outbox;
mod report;
mod seed;
mod server;
mod verifier;
mod webhooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Parser;

use crate::api::Api;
use crate::load::closed_loop;
use crate::report::{Limits, Measurement, Report};
use crate::server::Server;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks mana-core-auth on SQLite and PostgreSQL against the machine's limits.")]
struct Args {
    /// Longer measurements (15 s each instead of 3 s).
    #[arg(long)]
    full: bool,
    /// sqlite, postgres or both.
    #[arg(long, default_value = "both")]
    backend: String,
    /// bcrypt cost of the server under test (the production default is 12).
    #[arg(long, default_value_t = 12)]
    bcrypt_cost: u32,
    /// PostgreSQL server to use (an admin URL); default TEST_DATABASE_URL or the local server.
    #[arg(long)]
    postgres: Option<String>,
    /// Only the measurements whose name contains this text (e.g. "validate"), for profiling.
    #[arg(long)]
    only: Option<String>,
    /// The server's DATABASE_MAX_CONNECTIONS (default: the service's own default).
    #[arg(long)]
    pool: Option<u32>,
    /// Print the server's process id, so that a profiler can attach (`perf record -p`).
    #[arg(long)]
    print_pid: bool,
    /// Instead of the hot paths: seed a large database and time the admin console's pages.
    #[arg(long)]
    console: bool,
    /// Users the console's database is seeded with.
    #[arg(long, default_value_t = 100_000)]
    seed_users: usize,
    /// Credit spends seeded (besides each user's opening and funding transactions).
    #[arg(long, default_value_t = 300_000)]
    seed_spends: usize,
    /// Keep each seeded database and print its URL, to time it again with --seeded.
    #[arg(long)]
    keep: bool,
    /// Time the console on a database seeded by an earlier `--console --keep` run (its URL).
    #[arg(long)]
    seeded: Option<String>,
    /// Instead of the hot paths: how many of this server's tokens the `mana-verify` crate
    /// checks per second on one core, its keys cached.
    #[arg(long)]
    verifier: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let seconds = if args.full { 15 } else { 3 };
    let postgres = args
        .postgres
        .clone()
        .or_else(|| std::env::var("TEST_DATABASE_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if args.console {
        return console_pages(&args, &postgres).await;
    }
    if args.verifier {
        return verifier::measure(seconds).await;
    }

    eprintln!("measuring reference limits ...");
    let hash_time = limits::password_hash_time(args.bcrypt_cost).await?;
    let (sign_rate, verify_rate) = limits::rs256_rates()?;
    let mut report = Report::new(Limits { cores, hash_time, sign_rate, verify_rate, bcrypt_cost: args.bcrypt_cost });

    if args.backend == "sqlite" || args.backend == "both" {
        eprintln!("sqlite: raw SQL limit ...");
        let distinct = limits::sqlite_spend(seconds, false).await?;
        let hot = limits::sqlite_spend(seconds, true).await?;
        report.raw_limit("sqlite", distinct.throughput(), hot.throughput());
        run_backend(&mut report, "sqlite", None, &args, seconds).await?;
    }
    if args.backend == "postgres" || args.backend == "both" {
        eprintln!("postgres: pgbench limit ...");
        let distinct = limits::pgbench_spend(&postgres, 32, seconds, false).await?;
        let hot = limits::pgbench_spend(&postgres, 32, seconds, true).await?;
        report.raw_limit("postgres", distinct.tps, hot.tps);
        report.note(format!(
            "pgbench latency average: {:.2} ms distinct, {:.2} ms hot row",
            distinct.latency_ms, hot.latency_ms
        ));
        let (url, drop_database) = limits::scratch_postgres(&postgres, "mana_bench").await?;
        let result = run_backend(&mut report, "postgres", Some(url), &args, seconds).await;
        drop_database.await;
        result?;
    }
    let on_postgres = args.backend == "postgres" || args.backend == "both";
    if on_postgres && args.only.as_deref().is_none_or(|o| "webhooks".contains(o)) {
        eprintln!("postgres: Stripe webhooks, half of them redeliveries ...");
        report.webhooks(webhooks::stripe_webhooks(&postgres, seconds).await?);
    }
    if on_postgres && args.only.as_deref().is_none_or(|o| "outbox".contains(o)) {
        let messages = if args.full { 20_000 } else { 4_000 };
        for instances in [1, 2] {
            eprintln!("postgres: outbox delivery of {messages} messages by {instances} instance(s) ...");
            report.delivery(outbox::outbox_delivery(&postgres, instances, messages).await?);
        }
    }
    println!("{}", report.render());
    Ok(())
}

/// The admin console on a seeded database of each backend: how the seeding went, and each
/// page's time. Each backend's table is printed as soon as it is measured.
async fn console_pages(args: &Args, postgres: &str) -> anyhow::Result<()> {
    if let Some(url) = &args.seeded {
        let seeded = seed::examine(url).await?;
        let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
        return console_on(
            backend,
            url,
            &seeded,
            args,
            format!("{backend}: an earlier seeding, {}", seeded.describe()),
        )
        .await;
    }
    for backend in ["sqlite", "postgres"] {
        if args.backend != backend && args.backend != "both" {
            continue;
        }
        let dir = server::TempDir::new("mana-console")?;
        let (url, drop_database) = if backend == "sqlite" {
            (format!("sqlite://{}/console.db?mode=rwc", dir.0.display()), None)
        } else {
            let (url, drop) = limits::scratch_postgres(postgres, "mana_console").await?;
            (url, Some(drop))
        };
        eprintln!("{backend}: seeding {} users and {} spends ...", args.seed_users, args.seed_spends);
        let seeded = seed::seed(&url, args.seed_users, args.seed_spends).await?;
        let note = format!("{backend}: seeded {}; {}", seeded.describe(), seeded.seeding());
        if args.keep {
            eprintln!("{backend}: kept; time it again with scripts/bench --console --seeded '{url}'");
        }
        let measured = console_on(backend, &url, &seeded, args, note).await;
        if args.keep {
            dir.keep();
        } else if let Some(drop) = drop_database {
            drop.await;
        }
        measured?;
    }
    Ok(())
}

/// Times the console's pages on one seeded database and prints the table.
async fn console_on(backend: &str, url: &str, seeded: &seed::Seeded, args: &Args, note: String) -> anyhow::Result<()> {
    let server = Server::start(Some(url.to_owned()), 4, args.pool, &[]).await?;
    let timings = console::measure(&server.base, seeded).await;
    server.stop().await;
    let mut out = String::from("| backend | page | p50 ms | p95 ms | max ms |\n|---|---|---:|---:|---:|\n");
    for timing in timings? {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        out.push_str(&format!(
            "| {backend} | `{}` | {:.1} | {:.1} | {:.1} |\n",
            timing.page,
            ms(timing.p50),
            ms(timing.p95),
            ms(timing.max)
        ));
    }
    println!("{out}\n- {note}\n");
    Ok(())
}

async fn run_backend(
    report: &mut Report,
    backend: &'static str,
    database_url: Option<String>,
    args: &Args,
    seconds: u64,
) -> anyhow::Result<()> {
    let duration = Duration::from_secs(seconds);
    eprintln!("{backend}: starting the server ...");
    // Email goes to a sink, as it goes to a relay in production.
    let sink = outbox::SmtpSink::start().await?;
    let environment = [("SMTP_URL", sink.url()), ("SMTP_TLS", "none".to_owned())];
    let server = Server::start(database_url, args.bcrypt_cost, args.pool, &environment).await?;
    report.startup(backend, server.startup);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_rss = server.rss_mib();
    let api = Api::new(&server.base);
    eprintln!("{backend}: registering bench users ...");
    let users = api.users(backend, 32).await?;
    let spent: Vec<Arc<AtomicU64>> = users.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();

    if args.print_pid {
        eprintln!("{backend}: server pid {}", server.pid().unwrap_or_default());
    }
    let wanted = |name: &str| args.only.as_deref().is_none_or(|only| name.contains(only));
    let mut measure = async |name: &str, clients: usize, calls: Vec<load::Call>| {
        if !wanted(name) {
            return None;
        }
        eprintln!("{backend}: {name} x{clients} ...");
        let stats = closed_loop(calls, duration).await;
        report.measure(Measurement { backend, name: name.to_owned(), clients, stats: stats.clone() });
        Some(stats)
    };
    measure("GET /health", 32, (0..32).map(|_| api.health_call()).collect()).await;
    measure("POST /auth/validate", 32, users.iter().map(|u| api.validate_call(&u.access)).collect()).await;
    measure("GET /credits/balance", 32, users.iter().map(|u| api.balance_call(&u.access)).collect()).await;
    measure("POST /auth/refresh", 32, users.iter().map(|u| api.refresh_call(u)).collect()).await;
    measure("POST /auth/login", 8, users.iter().take(8).map(|u| api.login_call(&u.email)).collect()).await;
    for clients in [1, 8, 32] {
        let calls = users.iter().zip(&spent).take(clients).map(|(u, s)| api.spend_call(&u.access, s.clone())).collect();
        measure("POST /credits/use (distinct users)", clients, calls).await;
    }
    let hot_calls = (0..32).map(|_| api.spend_call(&users[0].access, spent[0].clone())).collect();
    measure("POST /credits/use (one hot user)", 32, hot_calls).await;

    // No lost update: the server's count of the hot user's spending equals the successes seen.
    if wanted("credits/use") {
        let balance = api.balance(&users[0].access).await?;
        let acknowledged = spent[0].load(Ordering::Relaxed);
        report.note(format!(
            "{backend}: hot user acknowledged {acknowledged} spends, server counts totalSpent {} ({})",
            balance["totalSpent"],
            if balance["totalSpent"].as_u64() == Some(acknowledged) { "no lost update" } else { "MISMATCH" }
        ));
    }

    if wanted("forgot-password") {
        eprintln!("{backend}: validate alone, then under a forgot-password flood ...");
        let probes = || users.iter().take(4).map(|u| api.validate_call(&u.access)).collect::<Vec<_>>();
        let alone = closed_loop(probes(), duration).await;
        report.measure(Measurement {
            backend,
            name: "POST /auth/validate (probe alone)".into(),
            clients: 4,
            stats: alone,
        });
        let flood: Vec<_> = users.iter().take(8).map(|u| api.forgot_password_call(&u.email)).collect();
        let (flood_stats, probe_stats) = tokio::join!(closed_loop(flood, duration), closed_loop(probes(), duration));
        report.measure(Measurement {
            backend,
            name: "forgot-password flood (alongside)".into(),
            clients: 8,
            stats: flood_stats,
        });
        report.measure(Measurement {
            backend,
            name: "POST /auth/validate under forgot-password flood".into(),
            clients: 4,
            stats: probe_stats,
        });
    }

    if !wanted("login flood") {
        report.memory(backend, idle_rss, server.rss_mib());
        server.stop().await;
        return Ok(());
    }
    eprintln!("{backend}: validate under a login flood ...");
    let flood: Vec<_> = users.iter().skip(8).take(8).map(|u| api.login_call(&u.email)).collect();
    let probes: Vec<_> = users.iter().take(4).map(|u| api.validate_call(&u.access)).collect();
    let (flood_stats, probe_stats) = tokio::join!(closed_loop(flood, duration), closed_loop(probes, duration));
    report.measure(Measurement { backend, name: "login flood (alongside)".into(), clients: 8, stats: flood_stats });
    report.measure(Measurement {
        backend,
        name: "POST /auth/validate under login flood".into(),
        clients: 4,
        stats: probe_stats,
    });
    report.memory(backend, idle_rss, server.rss_mib());

    let database_url = server.database_url.clone();
    let _database_dir = server.stop().await;
    let verify = std::process::Command::new(server::server_binary()?)
        .args(["ledger", "verify"])
        .env_clear()
        .env("DATABASE_URL", &database_url)
        .output()?;
    report.note(format!(
        "{backend}: ledger verify after the run: {}",
        if verify.status.success() {
            "passed".to_owned()
        } else {
            format!("FAILED {}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr))
        }
    ));
    Ok(())
}
