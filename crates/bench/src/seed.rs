//! A large database for the admin console's speed figures, written through the service's own
//! store and credit service (so every row is one the service itself would write, and `ledger
//! verify` holds): users signing up over 90 days up to today, each funded with paid credits by
//! an administrator, spending on three apps every day, and sign-in events.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use chrono::{DateTime, Duration, Utc};
use mana_core::clock::ManualClock;
use mana_core::credits::{CreditPolicy, CreditService, Movements, SpendRequest};
use mana_core::email::Email;
use mana_core::ids::{Role, UserId};
use mana_core::password::{HashAlgorithm, Password, PasswordHasher};
use mana_core::store::{ClientInfo, EventDetails, NewSecurityEvent, NewUser, SecurityEventKind, Store, UserSearch};
use mana_server::storage::Backend;

/// The administrator the console is measured with, and every seeded user's password.
pub const ADMIN_EMAIL: &str = "admin@seed.example";
pub const PASSWORD: &str = "seeded passphrase for the console bench";

const DAYS: i64 = 90;
/// Writers at once: enough to keep PostgreSQL busy; SQLite takes them one at a time anyway.
const WRITERS: usize = 8;
const APPS: [&str; 3] = ["chat", "images", "voice"];

pub struct Seeded {
    pub users: usize,
    pub spends: usize,
    pub refused_spends: usize,
    pub events: usize,
    pub transactions: i64,
    pub postings: i64,
    pub seconds: f64,
    /// A user with sessions, transactions and events, for the user page.
    pub sample_user: UserId,
}

impl Seeded {
    /// What any seeded database can tell of itself.
    pub fn describe(&self) -> String {
        format!(
            "{} users; the ledger holds {} transactions and {} postings",
            self.users, self.transactions, self.postings
        )
    }

    /// What the seeding did, besides.
    pub fn seeding(&self) -> String {
        format!(
            "{} spends ({} refused for want of credits), {} sign-in events, in {:.0} s",
            self.spends, self.refused_spends, self.events, self.seconds
        )
    }
}

/// A database seeded by an earlier run that kept it: what the measurements need to know of it.
pub async fn examine(database_url: &str) -> anyhow::Result<Seeded> {
    let backend = Backend::open(database_url, 2, false).await?;
    let store = backend.store();
    let everyone = UserSearch { limit: 1, ..UserSearch::default() };
    let users = (store.search_users(&everyone).await?.total as usize).saturating_sub(1);
    let middle = Email::parse(&format!("user{}@seed.example", users / 2)).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let sample_user = store.find_user_by_email(&middle).await?.context("not a database this bench seeded")?.id;
    backend.close().await;
    let (transactions, postings) = ledger_rows(database_url).await?;
    Ok(Seeded { users, spends: 0, refused_spends: 0, events: 0, transactions, postings, seconds: 0.0, sample_user })
}

/// A small, fast, deterministic generator (xorshift64*): which user spends is not a secret.
struct Picks(u64);

impl Picks {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % below as u64) as usize
    }
}

fn new_user(email: &str, role: Role, hash: &str, at: DateTime<Utc>, policy: &CreditPolicy) -> anyhow::Result<NewUser> {
    let id = UserId::generate();
    let (opening_balance, opening_transactions) = Movements::open_account(id, policy, at)
        .map_err(|e| anyhow::anyhow!("opening the account: {e:?}"))?
        .into_parts();
    Ok(NewUser {
        id,
        email: Email::parse(email).map_err(|e| anyhow::anyhow!("{email}: {e:?}"))?,
        name: Some(format!("Seeded {}", email.split('@').next().unwrap_or_default())),
        role,
        password_hash: Some(hash.to_owned()),
        email_verified: true,
        created_at: at,
        opening_balance,
        opening_transactions,
        verification: None,
    })
}

/// Seeds `database_url` (migrated first) with `users` users and about `spends` spends.
pub async fn seed(database_url: &str, users: usize, spends: usize) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let backend = Backend::open(database_url, WRITERS as u32 + 2, false).await?;
    backend.migrate().await?;
    let store: Arc<dyn Store> = backend.store();
    let clock = Arc::new(ManualClock::starting_now());
    let policy = CreditPolicy::default();
    let credits = Arc::new(CreditService::new(store.clone(), clock.clone(), policy.clone()));
    let hasher = PasswordHasher::new(HashAlgorithm::Bcrypt { cost: 4 }, 1);
    let hash = hasher.hash(&Password::parse(PASSWORD).map_err(|e| anyhow::anyhow!("{e:?}"))?).await?;

    let first_day = Utc::now() - Duration::days(DAYS - 1);
    let admin = store.create_user(new_user(ADMIN_EMAIL, Role::Admin, &hash, first_day, &policy)?).await?.id;
    let mut created: Vec<UserId> = Vec::with_capacity(users);
    let (mut picks, mut refused, mut events) = (Picks(0x9E37_79B9_7F4A_7C15), 0, 0);
    for day in 0..DAYS {
        let at = first_day + Duration::days(day);
        clock.set(at);
        // Sign-ups, each funded by the administrator.
        let (from, to) = (users * day as usize / DAYS as usize, users * (day as usize + 1) / DAYS as usize);
        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..WRITERS {
            let (store, credits, hash, policy) = (store.clone(), credits.clone(), hash.clone(), policy.clone());
            writers.spawn(async move {
                let mut ids = Vec::new();
                for n in (from + writer..to).step_by(WRITERS) {
                    let at = at + Duration::seconds((n % 80_000) as i64);
                    let user =
                        store.create_user(new_user(&format!("user{n}@seed.example"), Role::User, &hash, at, &policy)?);
                    let id = user.await?.id;
                    credits.adjust(id, admin, 100 + (n % 400) as i64, "Seeded starting credits", None).await?;
                    ids.push(id);
                }
                anyhow::Ok(ids)
            });
        }
        while let Some(ids) = writers.join_next().await {
            created.extend(ids??);
        }
        // The day's spending, by users who signed up so far.
        let today = spends / DAYS as usize;
        let chosen: Vec<UserId> = (0..today).map(|_| created[picks.next(created.len())]).collect();
        let mut writers = tokio::task::JoinSet::new();
        for writer in 0..WRITERS {
            let credits = credits.clone();
            let mine: Vec<UserId> = chosen.iter().skip(writer).step_by(WRITERS).copied().collect();
            writers.spawn(async move {
                let mut refused = 0;
                for (n, user) in mine.into_iter().enumerate() {
                    let request = SpendRequest {
                        amount: Some(1 + (n % 5) as i64),
                        app_id: APPS[n % APPS.len()].to_owned(),
                        description: "Seeded use".into(),
                        idempotency_key: None,
                        metadata: None,
                    };
                    match credits.spend(user, request).await {
                        Ok(_) => {}
                        Err(mana_core::Error::InsufficientCredits) => refused += 1,
                        Err(other) => return Err(anyhow::anyhow!("seeding a spend: {other}")),
                    }
                }
                anyhow::Ok(refused)
            });
        }
        while let Some(count) = writers.join_next().await {
            refused += count??;
        }
        // Sign-ins: most succeed, some do not.
        for n in 0..(created.len() / 60).max(1) {
            let kind = if n % 8 == 7 { SecurityEventKind::LoginFailure } else { SecurityEventKind::LoginSuccess };
            let user = created[picks.next(created.len())];
            let event = NewSecurityEvent {
                user_id: Some(user),
                kind,
                client: ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("seed".into()) },
                at: at + Duration::seconds(n as i64 % 80_000),
                details: EventDetails::default(),
            };
            store.record_security_event(event).await?;
            events += 1;
        }
        eprintln!("seed: day {}/{DAYS}: {} users, {:.0} s", day + 1, created.len(), started.elapsed().as_secs_f64());
    }
    backend.close().await;
    let (transactions, postings) = ledger_rows(database_url).await?;
    Ok(Seeded {
        users: created.len(),
        spends: spends / DAYS as usize * DAYS as usize - refused,
        refused_spends: refused,
        events,
        transactions,
        postings,
        seconds: started.elapsed().as_secs_f64(),
        sample_user: created[created.len() / 2],
    })
}

/// How many ledger transactions and postings the database holds.
async fn ledger_rows(database_url: &str) -> anyhow::Result<(i64, i64)> {
    use sqlx::Connection;
    let count = |table: &str| format!("SELECT count(*) FROM {table}");
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await?;
        let transactions = sqlx::query_scalar(&count("credit_transactions")).fetch_one(&mut conn).await?;
        let postings = sqlx::query_scalar(&count("credit_postings")).fetch_one(&mut conn).await?;
        Ok((transactions, postings))
    } else {
        let mut conn = sqlx::PgConnection::connect(database_url).await?;
        let transactions = sqlx::query_scalar(&count("credits.transactions")).fetch_one(&mut conn).await?;
        let postings = sqlx::query_scalar(&count("credits.postings")).fetch_one(&mut conn).await?;
        Ok((transactions, postings))
    }
}
