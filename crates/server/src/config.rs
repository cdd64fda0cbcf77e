//! Configuration from environment variables (and `.env`), parsed and checked once at start-up.
//! Every variable is listed, with its default, in `.env.example`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::Duration;
use mana_core::credits::{CreditPolicy, Credits};
use mana_core::password::HashAlgorithm;
use mana_core::tokens::KeyAlgorithm;

use crate::http::client_ip::TrustedProxies;
use crate::http::security::CorsOrigins;
use crate::oauth::{
    APPLE_ISSUER, AppleSettings, GITHUB_API_URL, GITHUB_AUTHORIZE_URL, GITHUB_TOKEN_URL, GitHubEndpoints,
    GitHubSettings, OAuthSettings, OpenIdSettings, ProviderSettings,
};
use crate::ratelimit::{RateLimitSettings, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Config {
    pub environment: Environment,
    /// Never printed: it may contain a password.
    pub database_url: String,
    pub database_max_connections: u32,
    /// `DATABASE_URL` leads to a pooler in transaction mode (PgBouncer `pool_mode = transaction`).
    pub database_transaction_pooling: bool,
    pub run_migrations: bool,
    pub listen_addr: SocketAddr,
    /// The URL clients reach the service at, without a trailing slash.
    pub public_url: String,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_algorithm: KeyAlgorithm,
    pub jwt_leeway: Duration,
    pub keys_dir: PathBuf,
    /// `ENCRYPTION_KEY`: the keys that seal TOTP secrets, the first sealing. Empty in
    /// development until `serve` reads or makes `encryption_key_file`; never printed.
    pub encryption_keys: Vec<[u8; mana_core::mfa::KEY_BYTES]>,
    /// Where development keeps its generated encryption key (`ENCRYPTION_KEY_FILE`).
    pub encryption_key_file: PathBuf,
    /// The name authenticator apps show next to the account (`TOTP_ISSUER`).
    pub totp_issuer: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    /// How long a session may last from its login, however often it is refreshed.
    pub session_max_lifetime: Duration,
    /// How often the key directory is read again (new keys sign, retired ones stop verifying);
    /// `None`: only on SIGHUP.
    pub keys_reload_interval: Option<std::time::Duration>,
    pub password_hash: HashAlgorithm,
    pub password_hash_concurrency: usize,
    /// Signup bonus, daily allowance and its period.
    pub credit_policy: CreditPolicy,
    /// How many credits one euro buys before package bonuses (1 mana = 1 cent by default).
    pub credits_per_euro: i64,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Browser origins allowed to call the API with credentials (CORS).
    pub cors_origins: CorsOrigins,
    /// `Strict-Transport-Security` max-age; 0 leaves the header off (set it behind TLS).
    pub hsts_max_age_seconds: i64,
    /// A request still running after this long is answered 408.
    pub request_timeout: std::time::Duration,
    /// A connection that has not sent a whole request head after this long is closed.
    pub header_read_timeout: std::time::Duration,
    /// After SIGTERM/SIGINT, how long in-flight requests may take before the process exits.
    pub shutdown_timeout: std::time::Duration,
    /// Serve `/metrics` on this address instead of the API's (keeps it off the public port).
    pub metrics_listen_addr: Option<SocketAddr>,
    /// Per-IP and per-account budgets, and the Redis that shares them.
    pub rate_limits: RateLimitSettings,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// How email leaves: an SMTP relay, or files in development.
    pub email: EmailSettings,
    /// Logins of accounts whose address is not verified are refused (403).
    pub require_email_verification: bool,
    pub retention: RetentionSettings,
    /// Stripe, or `None`: this deployment takes no payments.
    pub stripe: Option<StripeSettings>,
    /// Social sign-in: providers and where sign-ins may return to.
    pub oauth: OAuthSettings,
}

/// How purchases reach Stripe. Never printed: it holds the secret key and webhook secrets.
#[derive(Clone)]
pub struct StripeSettings {
    pub secret_key: String,
    pub api_base: String,
    /// Every secret whose `v1` signature a webhook may carry (more than one while rolling).
    pub webhook_secrets: Vec<String>,
    /// Where Stripe's checkout page sends the buyer back: the app's own pages.
    pub success_url: String,
    pub cancel_url: String,
    pub timeout: std::time::Duration,
}

/// How long what is only kept for a while is kept, and how often it is pruned.
#[derive(Debug, Clone)]
pub struct RetentionSettings {
    pub idempotency_days: i64,
    pub security_event_days: i64,
    /// `None`: only `mana-core-auth prune` prunes.
    pub interval: Option<std::time::Duration>,
}

#[derive(Clone)]
pub struct EmailSettings {
    /// `None`: messages are written to `mail_dir` (development only).
    pub smtp: Option<SmtpSettings>,
    /// The `From` mailbox, as `Name <address>` or a bare address.
    pub from: String,
    pub mail_dir: PathBuf,
    /// Where email links lead (each contains `{token}`); the built-in pages by default.
    pub verify_email_url: String,
    pub reset_password_url: String,
    /// Templates that replace the built-in ones, file by file.
    pub templates_dir: Option<PathBuf>,
    /// The wait before a failed delivery is tried again; it doubles with each attempt.
    pub first_retry: Duration,
}

#[derive(Clone)]
pub struct SmtpSettings {
    /// `smtp://user:pass@host:port` or `smtps://…`; never printed (it may hold a password).
    pub url: String,
    pub tls: SmtpTls,
    /// PEM certificates trusted besides the Mozilla roots, for a relay whose certificate a
    /// private authority issued.
    pub ca_file: Option<PathBuf>,
}

/// How the connection to the SMTP relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS, required: a relay that does not offer it is an error, never plain text.
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
    /// Plain text, for a relay on the same host or in tests.
    None,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("database_url", &"<redacted>")
            .field("listen_addr", &self.listen_addr)
            .field("public_url", &self.public_url)
            .field("keys_dir", &self.keys_dir)
            .finish_non_exhaustive()
    }
}

/// Every problem found in the configuration, each naming its variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        write!(f, "(see .env.example for every variable and its default)")
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads one variable at a time; collects problems instead of stopping at the first.
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, name: &str) -> Option<String> {
        (self.get)(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or_else(|| default.to_owned())
    }

    fn parsed<T>(&mut self, name: &str, default: T, parse: impl Fn(&str) -> Result<T, String>) -> T {
        match self.raw(name) {
            None => default,
            Some(value) => parse(&value).unwrap_or_else(|problem| {
                self.problems.push(format!("{name}: {problem}"));
                default
            }),
        }
    }

    fn integer(&mut self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        self.parsed(name, default, |value| match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(format!("must be a whole number from {min} to {max} (got {value:?})")),
        })
    }

    fn boolean(&mut self, name: &str, default: bool) -> bool {
        self.parsed(name, default, |value| match value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(format!("must be true or false (got {value:?})")),
        })
    }

    /// A per-minute budget; 0 switches it off.
    fn per_minute(&mut self, name: &str, default: i64) -> Option<Rule> {
        let limit = self.integer(name, default, 0, 1_000_000) as u32;
        (limit > 0).then(|| Rule::per_minute(limit))
    }

    fn seconds(&mut self, name: &str, default: i64, min: i64, max: i64) -> Duration {
        Duration::seconds(self.integer(name, default, min, max))
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/mana.db";

impl Config {
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_source(&|name| std::env::var(name).ok())
    }

    pub fn from_source(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut r = Reader { get, problems: Vec::new() };
        let environment = r.parsed("ENVIRONMENT", Environment::Development, |v| match v {
            "development" => Ok(Environment::Development),
            "production" => Ok(Environment::Production),
            _ => Err(format!("must be development or production (got {v:?})")),
        });
        let database_url = r.string("DATABASE_URL", DEFAULT_DATABASE_URL);
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            // The value itself is not echoed: it may contain a password.
            r.problems.push("DATABASE_URL: must start with sqlite:, postgres:// or postgresql://".into());
        }
        let listen_addr = r.parsed("LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 3001)), |v| {
            v.parse().map_err(|_| format!("must be an address and port such as 127.0.0.1:3001 (got {v:?})"))
        });
        let default_public_url = format!("http://{listen_addr}");
        let public_url = r.parsed("PUBLIC_URL", default_public_url.clone(), |v| {
            if v.starts_with("http://") || v.starts_with("https://") {
                Ok(v.trim_end_matches('/').to_owned())
            } else {
                Err(format!("must be an http:// or https:// URL (got {v:?})"))
            }
        });
        let jwt_issuer = r.string("JWT_ISSUER", &public_url);
        let jwt_audience = r.string("JWT_AUDIENCE", "mana");
        let jwt_algorithm = r.parsed("JWT_ALGORITHM", KeyAlgorithm::Rs256, |v| {
            KeyAlgorithm::parse(v).ok_or_else(|| format!("must be RS256, ES256 or EdDSA (got {v:?})"))
        });
        let password_algorithm = r.string("PASSWORD_HASH_ALGORITHM", "bcrypt");
        let bcrypt_cost = r.integer("BCRYPT_COST", 12, 4, 31) as u32;
        let password_hash = match password_algorithm.as_str() {
            "bcrypt" => HashAlgorithm::Bcrypt { cost: bcrypt_cost },
            "argon2id" => HashAlgorithm::Argon2id,
            other => {
                r.problems.push(format!("PASSWORD_HASH_ALGORITHM: must be bcrypt or argon2id (got {other:?})"));
                HashAlgorithm::Bcrypt { cost: bcrypt_cost }
            }
        };
        let cores = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(2);
        let default_log_format = match environment {
            Environment::Development => LogFormat::Text,
            Environment::Production => LogFormat::Json,
        };
        let default_cors = match environment {
            Environment::Development => CorsOrigins::Localhost,
            Environment::Production => CorsOrigins::None,
        };
        let account_failures = r.integer("LOGIN_FAILURES_PER_ACCOUNT", 10, 0, 1_000_000) as u32;
        let device_failures = r.integer("LOGIN_FAILURES_PER_DEVICE", 5, 0, 1_000_000) as u32;
        let failure_window =
            std::time::Duration::from_secs(r.integer("LOGIN_FAILURE_WINDOW_SECONDS", 900, 1, 86_400) as u64);
        // The value is never echoed: it is a secret. `serve` requires it in production
        // (`encryption::encryption_keys`); `migrate` and `keys` do not need it.
        let encryption_keys = r.parsed("ENCRYPTION_KEY", Vec::new(), mana_core::mfa::parse_keys);
        let config = Config {
            environment,
            // Twice the cores: on a 2-core machine 4 connections beat 10 for both token checks and
            // hot-row spends (docs/BENCHMARKS.md); more only adds context switches and lock queues.
            database_max_connections: r.integer("DATABASE_MAX_CONNECTIONS", (2 * cores).max(4), 1, 1000) as u32,
            database_transaction_pooling: r.boolean("DATABASE_TRANSACTION_POOLING", false),
            run_migrations: r.boolean("RUN_MIGRATIONS", true),
            listen_addr,
            jwt_issuer,
            jwt_audience,
            jwt_algorithm,
            jwt_leeway: r.seconds("JWT_LEEWAY_SECONDS", 30, 0, 300),
            keys_dir: PathBuf::from(r.string("KEYS_DIR", "./data/keys")),
            encryption_keys,
            encryption_key_file: PathBuf::from(r.string("ENCRYPTION_KEY_FILE", "./data/encryption.key")),
            totp_issuer: r.parsed("TOTP_ISSUER", "Mana".to_owned(), |v| {
                let v = v.trim();
                // A colon would split the account label authenticator apps show.
                if v.is_empty() || v.len() > 64 || v.contains(':') {
                    Err("must be 1 to 64 characters without a colon".into())
                } else {
                    Ok(v.to_owned())
                }
            }),
            access_token_ttl: r.seconds("ACCESS_TOKEN_TTL_SECONDS", 900, 60, 86_400),
            refresh_token_ttl: r.seconds("REFRESH_TOKEN_TTL_SECONDS", 604_800, 3_600, 31_536_000),
            refresh_reuse_grace: r.seconds("REFRESH_REUSE_GRACE_SECONDS", 10, 0, 300),
            session_max_lifetime: r.seconds("SESSION_MAX_LIFETIME_SECONDS", 7_776_000, 3_600, 315_360_000),
            keys_reload_interval: {
                let seconds = r.integer("KEYS_RELOAD_INTERVAL_SECONDS", 60, 0, 86_400) as u64;
                (seconds > 0).then(|| std::time::Duration::from_secs(seconds))
            },
            password_hash,
            password_hash_concurrency: r.integer("PASSWORD_HASH_CONCURRENCY", cores, 1, 1024) as usize,
            credit_policy: CreditPolicy {
                signup_bonus: Credits(r.integer("SIGNUP_BONUS_CREDITS", 150, 0, 1_000_000_000)),
                daily_allowance: Credits(r.integer("DAILY_FREE_CREDITS", 5, 0, 1_000_000_000)),
                daily_period: r.seconds("DAILY_RESET_PERIOD_SECONDS", 86_400, 60, 31_536_000),
            },
            credits_per_euro: r.integer("CREDITS_PER_EURO", 100, 1, 1_000_000),
            log_format: r.parsed("LOG_FORMAT", default_log_format, |v| match v {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("must be text or json (got {v:?})")),
            }),
            log_level: r.parsed("LOG_LEVEL", "info".to_owned(), parse_log_level),
            cors_origins: r.parsed("CORS_ALLOWED_ORIGINS", default_cors, |v| parse_origins(v).map(CorsOrigins::Listed)),
            hsts_max_age_seconds: r.integer("HSTS_MAX_AGE_SECONDS", 0, 0, 63_072_000),
            request_timeout: std::time::Duration::from_secs(r.integer("REQUEST_TIMEOUT_SECONDS", 30, 1, 600) as u64),
            header_read_timeout: std::time::Duration::from_secs(
                r.integer("HEADER_READ_TIMEOUT_SECONDS", 5, 1, 300) as u64
            ),
            shutdown_timeout: std::time::Duration::from_secs(r.integer("SHUTDOWN_TIMEOUT_SECONDS", 30, 0, 600) as u64),
            metrics_listen_addr: r.parsed("METRICS_LISTEN_ADDR", None, |v| {
                v.parse().map(Some).map_err(|_| format!("must be an address and port such as 0.0.0.0:9100 (got {v:?})"))
            }),
            rate_limits: RateLimitSettings {
                requests_per_caller: r.per_minute("RATE_LIMIT_REQUESTS_PER_MINUTE", 100),
                validate_per_ip: r.per_minute("RATE_LIMIT_VALIDATE_PER_MINUTE", 6000),
                webhooks_per_ip: r.per_minute("RATE_LIMIT_WEBHOOKS_PER_MINUTE", 6000),
                login_per_ip: r.per_minute("RATE_LIMIT_LOGIN_PER_MINUTE", 10),
                register_per_ip: r.per_minute("RATE_LIMIT_REGISTER_PER_MINUTE", 5),
                failed_logins_per_account: failure_rule(account_failures, failure_window),
                failed_logins_per_device: failure_rule(device_failures, failure_window),
                email_links_per_ip: r.per_minute("RATE_LIMIT_EMAIL_LINKS_PER_MINUTE", 5),
                email_links_per_account: {
                    let limit = r.integer("EMAIL_LINKS_PER_ACCOUNT_PER_HOUR", 5, 0, 1_000) as u32;
                    (limit > 0).then(|| Rule { limit, period: std::time::Duration::from_secs(3600) })
                },
                redis_url: r.parsed("REDIS_URL", None, |v| {
                    // The value is not echoed: it may contain a password.
                    if v.starts_with("redis://") || v.starts_with("rediss://") || v.starts_with("redis+unix://") {
                        Ok(Some(v.to_owned()))
                    } else {
                        Err("must start with redis://, rediss:// or redis+unix://".into())
                    }
                }),
                redis_key_prefix: r.string("REDIS_KEY_PREFIX", "mana:ratelimit:"),
                redis_timeout: std::time::Duration::from_millis(r.integer("REDIS_TIMEOUT_MS", 200, 1, 10_000) as u64),
            },
            trusted_proxies: r.parsed("TRUSTED_PROXIES", TrustedProxies::default(), TrustedProxies::parse),
            email: email_settings(&mut r, &public_url),
            require_email_verification: r.boolean("REQUIRE_EMAIL_VERIFICATION", false),
            stripe: stripe_settings(&mut r),
            oauth: oauth_settings(&mut r, environment == Environment::Production),
            retention: RetentionSettings {
                idempotency_days: r.integer("IDEMPOTENCY_RETENTION_DAYS", 7, 1, 3650),
                security_event_days: r.integer("SECURITY_EVENT_RETENTION_DAYS", 365, 1, 36500),
                interval: {
                    let seconds = r.integer("PRUNE_INTERVAL_SECONDS", 3600, 0, 604_800) as u64;
                    (seconds > 0).then(|| std::time::Duration::from_secs(seconds))
                },
            },
            public_url,
            database_url,
        };
        if r.problems.is_empty() { Ok(config) } else { Err(ConfigErrors(r.problems)) }
    }
}

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// `OAUTH_*` (SPEC §6). Client secrets are never echoed.
fn oauth_settings(r: &mut Reader<'_>, require_https: bool) -> OAuthSettings {
    let mut openid = Vec::new();
    if r.raw("OAUTH_GOOGLE_CLIENT_ID").is_some() {
        openid.push(openid_settings(r, "google", "GOOGLE", Some(GOOGLE_ISSUER), require_https));
    }
    let names = r.parsed("OAUTH_PROVIDERS", Vec::new(), |v| {
        let names: Vec<String> =
            v.split(',').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()).collect();
        for name in &names {
            if name.len() > 32 || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
                return Err(format!("{name:?} must be up to 32 letters, digits or dashes"));
            }
            if ["google", "apple", "github"].contains(&name.as_str()) {
                return Err(format!("{name} is configured with OAUTH_{}_*", name.to_ascii_uppercase()));
            }
        }
        Ok(names)
    });
    for name in names {
        let prefix = name.to_ascii_uppercase().replace('-', "_");
        openid.push(openid_settings(r, &name, &prefix, None, require_https));
    }
    let github = r.raw("OAUTH_GITHUB_CLIENT_ID").is_some().then(|| github_settings(r, require_https));
    let apple = r.raw("OAUTH_APPLE_CLIENT_ID").is_some().then(|| apple_settings(r, require_https));
    let redirect_allowlist = r.parsed("OAUTH_REDIRECT_ALLOWLIST", Vec::new(), |v| {
        let entries: Vec<String> = v.split(',').map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()).collect();
        match entries.iter().find(|entry| reqwest::Url::parse(entry.trim_end_matches('*')).is_err()) {
            Some(bad) => Err(format!("{bad:?} is not a URL (or a URL prefix ending in *)")),
            None => Ok(entries),
        }
    });
    if (!openid.is_empty() || github.is_some() || apple.is_some()) && redirect_allowlist.is_empty() {
        r.problems.push(
            "OAUTH_REDIRECT_ALLOWLIST: is required with a social-login provider (where sign-ins may return to)".into(),
        );
    }
    let timeout = std::time::Duration::from_secs(r.integer("OAUTH_TIMEOUT_SECONDS", 10, 1, 60) as u64);
    OAuthSettings { openid, github, apple, redirect_allowlist, timeout }
}

/// A provider URL: https, or http where https is not required.
fn provider_url(v: &str, require_https: bool) -> Result<String, String> {
    match reqwest::Url::parse(v) {
        Ok(url) if url.scheme() == "https" || (url.scheme() == "http" && !require_https) => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        Ok(_) if require_https => Err(format!("must be an https URL in production (got {v:?})")),
        _ => Err(format!("must be an http(s) URL (got {v:?})")),
    }
}

/// The value of a variable a provider cannot do without, or a problem naming it.
fn required_for(r: &mut Reader<'_>, variable: &str, provider: &str, what: &str) -> String {
    let value = r.raw(variable);
    if value.is_none() {
        r.problems.push(format!("{variable}: is required for the {provider} provider ({what})"));
    }
    value.unwrap_or_default()
}

fn native_client_ids(r: &Reader<'_>, variable: &str) -> Vec<String> {
    r.raw(variable)
        .map(|v| v.split(',').map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()).collect())
        .unwrap_or_default()
}

/// `OAUTH_GITHUB_*`.
fn github_settings(r: &mut Reader<'_>, require_https: bool) -> GitHubSettings {
    let mut url = |name: &str, default: &str| r.parsed(name, default.to_owned(), |v| provider_url(v, require_https));
    let endpoints = GitHubEndpoints {
        authorize_url: url("OAUTH_GITHUB_AUTHORIZE_URL", GITHUB_AUTHORIZE_URL),
        token_url: url("OAUTH_GITHUB_TOKEN_URL", GITHUB_TOKEN_URL),
        api_url: url("OAUTH_GITHUB_API_URL", GITHUB_API_URL),
    };
    let client_id = required_for(r, "OAUTH_GITHUB_CLIENT_ID", "github", "its client id");
    let client_secret = required_for(r, "OAUTH_GITHUB_CLIENT_SECRET", "github", "its client secret");
    let provider = ProviderSettings {
        name: "github".into(),
        client_id,
        client_secret,
        native_client_ids: Vec::new(),
        require_https,
    };
    GitHubSettings { provider, endpoints }
}

/// `OAUTH_APPLE_*`.
fn apple_settings(r: &mut Reader<'_>, require_https: bool) -> AppleSettings {
    let issuer = r.parsed("OAUTH_APPLE_ISSUER", APPLE_ISSUER.to_owned(), |v| provider_url(v, require_https));
    let client_id = required_for(r, "OAUTH_APPLE_CLIENT_ID", "apple", "the Services ID");
    let team_id = required_for(r, "OAUTH_APPLE_TEAM_ID", "apple", "the developer team's id");
    let key_id = required_for(r, "OAUTH_APPLE_KEY_ID", "apple", "the id of the Sign in with Apple key");
    let private_key_file = required_for(r, "OAUTH_APPLE_PRIVATE_KEY_FILE", "apple", "the key's .p8 file");
    let provider = ProviderSettings {
        name: "apple".into(),
        client_id,
        client_secret: String::new(),
        native_client_ids: native_client_ids(r, "OAUTH_APPLE_NATIVE_CLIENT_IDS"),
        require_https,
    };
    AppleSettings { provider, issuer, team_id, key_id, private_key_file: PathBuf::from(private_key_file) }
}

/// `OAUTH_{prefix}_ISSUER`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_NATIVE_CLIENT_IDS`.
fn openid_settings(
    r: &mut Reader<'_>,
    name: &str,
    prefix: &str,
    default_issuer: Option<&str>,
    require_https: bool,
) -> OpenIdSettings {
    let var = |suffix: &str| format!("OAUTH_{prefix}_{suffix}");
    let issuer =
        r.parsed(&var("ISSUER"), default_issuer.map(str::to_owned), |v| provider_url(v, require_https).map(Some));
    let client_id = required_for(r, &var("CLIENT_ID"), name, "its client id");
    let client_secret = required_for(r, &var("CLIENT_SECRET"), name, "its client secret");
    if issuer.is_none() {
        r.problems.push(format!("{}: is required for the {name} provider (its issuer URL)", var("ISSUER")));
    }
    let native_client_ids = native_client_ids(r, &var("NATIVE_CLIENT_IDS"));
    OpenIdSettings {
        provider: ProviderSettings {
            name: name.to_owned(),
            client_id,
            client_secret,
            native_client_ids,
            require_https,
        },
        issuer: issuer.unwrap_or_default(),
    }
}

fn stripe_settings(r: &mut Reader<'_>) -> Option<StripeSettings> {
    // Values are never echoed: they are secrets.
    let secret_key = r.parsed("STRIPE_SECRET_KEY", None, |v| {
        if v.starts_with("sk_") || v.starts_with("rk_") {
            Ok(Some(v.to_owned()))
        } else {
            Err("must be a Stripe secret or restricted key (sk_… or rk_…)".into())
        }
    });
    let webhook_secrets = r.parsed("STRIPE_WEBHOOK_SECRETS", Vec::new(), |v| {
        let secrets: Vec<String> = v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        if secrets.iter().all(|s| s.starts_with("whsec_") && s.len() > 6) {
            Ok(secrets)
        } else {
            Err("must be webhook signing secrets (whsec_…), separated by commas".into())
        }
    });
    let api_base = r.parsed("STRIPE_API_BASE", crate::payments::stripe_client::STRIPE_API_BASE.to_owned(), |v| {
        if v.starts_with("https://") || v.starts_with("http://") {
            Ok(v.trim_end_matches('/').to_owned())
        } else {
            Err(format!("must be an http(s) URL (got {v:?})"))
        }
    });
    let page = |value: &str| {
        if value.starts_with("https://") || value.starts_with("http://") {
            Ok(Some(value.to_owned()))
        } else {
            Err(format!("must be an http(s) URL (got {value:?})"))
        }
    };
    let success_url = r.parsed("CHECKOUT_SUCCESS_URL", None, page);
    let cancel_url = r.parsed("CHECKOUT_CANCEL_URL", None, page);
    let timeout = std::time::Duration::from_secs(r.integer("STRIPE_TIMEOUT_SECONDS", 20, 1, 120) as u64);
    let secret_key = secret_key?;
    let mut missing =
        |name: &str, what: &str| r.problems.push(format!("{name}: is required with STRIPE_SECRET_KEY ({what})"));
    if webhook_secrets.is_empty() {
        missing("STRIPE_WEBHOOK_SECRETS", "the endpoint's signing secret, whsec_…");
    }
    if success_url.is_none() {
        missing("CHECKOUT_SUCCESS_URL", "where the buyer returns after paying");
    }
    if cancel_url.is_none() {
        missing("CHECKOUT_CANCEL_URL", "where the buyer returns without paying");
    }
    Some(StripeSettings {
        secret_key,
        api_base,
        webhook_secrets,
        success_url: success_url.unwrap_or_default(),
        cancel_url: cancel_url.unwrap_or_default(),
        timeout,
    })
}

fn email_settings(r: &mut Reader<'_>, public_url: &str) -> EmailSettings {
    let smtp_url = r.parsed("SMTP_URL", None, |v| {
        // The value is not echoed: it may contain a password.
        if v.starts_with("smtp://") || v.starts_with("smtps://") {
            Ok(Some(v.to_owned()))
        } else {
            Err("must start with smtp:// or smtps://".into())
        }
    });
    let implicit = smtp_url.as_deref().is_some_and(|url| url.starts_with("smtps://"));
    let tls = r.parsed("SMTP_TLS", if implicit { SmtpTls::Implicit } else { SmtpTls::StartTls }, |v| match v {
        "starttls" if !implicit => Ok(SmtpTls::StartTls),
        "none" if !implicit => Ok(SmtpTls::None),
        "tls" | "implicit" => Ok(SmtpTls::Implicit),
        "starttls" | "none" => Err("an smtps:// URL always uses implicit TLS".into()),
        _ => Err(format!("must be starttls, tls or none (got {v:?})")),
    });
    let ca_file = r.raw("SMTP_CA_FILE").map(PathBuf::from);
    if ca_file.is_some() && tls == SmtpTls::None {
        r.problems.push("SMTP_CA_FILE: has no use with SMTP_TLS=none".into());
    }
    let from = r.parsed("EMAIL_FROM", "mana-core-auth <no-reply@localhost>".to_owned(), |v| {
        v.parse::<lettre::message::Mailbox>()
            .map(|_| v.to_owned())
            .map_err(|_| format!("must be an address or Name <address> (got {v:?})"))
    });
    let link = |value: &str| {
        if !(value.starts_with("http://") || value.starts_with("https://")) || !value.contains("{token}") {
            return Err(format!("must be an http(s) URL containing {{token}} (got {value:?})"));
        }
        Ok(value.to_owned())
    };
    EmailSettings {
        smtp: smtp_url.map(|url| SmtpSettings { url, tls, ca_file }),
        from,
        mail_dir: PathBuf::from(r.string("MAIL_DIR", "./data/mail")),
        verify_email_url: r.parsed("EMAIL_VERIFY_URL", format!("{public_url}/auth/verify-email?token={{token}}"), link),
        reset_password_url: r.parsed(
            "PASSWORD_RESET_URL",
            format!("{public_url}/auth/reset-password?token={{token}}"),
            link,
        ),
        templates_dir: r.raw("EMAIL_TEMPLATES_DIR").map(PathBuf::from),
        first_retry: r.seconds("EMAIL_RETRY_SECONDS", 30, 1, 3600),
    }
}

/// `limit` failures per `window`; 0 switches the budget off.
fn failure_rule(limit: u32, window: std::time::Duration) -> Option<Rule> {
    (limit > 0).then_some(Rule { limit, period: window })
}

/// A level (`trace`, `debug`, `info`, `warn`, `error`, `off`), or a list of `target=level`
/// directives with an optional default level, as `RUST_LOG` takes them. Anything else would
/// be read as a target name and silently log nothing.
fn parse_log_level(value: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let valid = value.split(',').map(str::trim).all(|directive| {
        let level =
            directive.rsplit_once('=').map_or(directive, |(target, level)| if target.is_empty() { "" } else { level });
        LEVELS.contains(&level.to_ascii_lowercase().as_str())
    });
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "must be trace, debug, info, warn, error or off, or directives like info,mana_server=debug (got {value:?})"
        ))
    }
}

/// A comma-separated list of origins such as `https://app.example.com`. A wildcard is refused:
/// credentials may only be shared with origins named one by one.
fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains(['/', '*', ' ']) => Ok(origin.to_owned()),
                _ => Err(format!("{origin:?} is not an origin like https://app.example.com (no path, no wildcard)")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Loads `pairs`, with an encryption key unless they name one (production needs it).
    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let mut vars: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        vars.entry("ENCRYPTION_KEY".into()).or_insert_with(|| TEST_ENCRYPTION_KEY.into());
        load_exactly(vars)
    }

    fn load_exactly(vars: HashMap<String, String>) -> Result<Config, ConfigErrors> {
        Config::from_source(&move |name| vars.get(name).cloned())
    }

    const TEST_ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=";

    #[test]
    fn production_needs_an_encryption_key_and_a_bad_one_is_not_echoed() {
        let production = HashMap::from([("ENVIRONMENT".to_owned(), "production".to_owned())]);
        let error = crate::encryption::encryption_keys(&load_exactly(production).unwrap()).unwrap_err().to_string();
        assert!(error.contains("ENCRYPTION_KEY: required in production"), "{error}");
        assert!(load_exactly(HashMap::new()).unwrap().encryption_keys.is_empty(), "development makes its own");
        let short = "c2hvcnQ=";
        let error = load(&[("ENCRYPTION_KEY", short)]).unwrap_err().to_string();
        assert!(error.contains("ENCRYPTION_KEY: key 1 must be 32 bytes") && !error.contains(short), "{error}");
        let rotating =
            load(&[("ENCRYPTION_KEY", &format!("{},{TEST_ENCRYPTION_KEY}", mana_core::mfa::generate_key()))]);
        assert_eq!(rotating.unwrap().encryption_keys.len(), 2);
    }

    #[test]
    fn no_configuration_gives_the_embedded_development_setup() {
        let config = load(&[]).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen_addr.to_string(), "127.0.0.1:3001");
        assert_eq!(config.public_url, "http://127.0.0.1:3001");
        assert_eq!(config.jwt_issuer, "http://127.0.0.1:3001");
        assert_eq!(config.access_token_ttl, Duration::minutes(15));
        assert_eq!(config.refresh_token_ttl, Duration::days(7));
        assert_eq!(config.refresh_reuse_grace, Duration::seconds(10));
        assert_eq!(config.password_hash, HashAlgorithm::Bcrypt { cost: 12 });
        assert_eq!(config.jwt_algorithm, KeyAlgorithm::Rs256);
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.credit_policy.signup_bonus, Credits(150));
        assert_eq!(config.credit_policy.daily_allowance, Credits(5));
        assert_eq!(config.credit_policy.daily_period, Duration::hours(24));
        assert_eq!(config.credits_per_euro, 100);
    }

    #[test]
    fn every_problem_is_reported_with_its_variable() {
        let errors = load(&[
            ("DATABASE_URL", "mysql://root:hunter2@db/mana"),
            ("BCRYPT_COST", "99"),
            ("LISTEN_ADDR", "everywhere"),
            ("JWT_ALGORITHM", "HS256"),
        ])
        .unwrap_err();
        let text = errors.to_string();
        for variable in ["DATABASE_URL", "BCRYPT_COST", "LISTEN_ADDR", "JWT_ALGORITHM"] {
            assert!(text.contains(variable), "{variable} missing from {text}");
        }
        assert!(!text.contains("hunter2"), "a database password must never be echoed");
    }

    #[test]
    fn cors_origins_are_listed_one_by_one() {
        let config = load(&[("CORS_ALLOWED_ORIGINS", "https://a.example, http://localhost:5173")]).unwrap();
        let listed = vec!["https://a.example".to_owned(), "http://localhost:5173".to_owned()];
        assert_eq!(config.cors_origins, CorsOrigins::Listed(listed));
        assert_eq!(load(&[]).unwrap().cors_origins, CorsOrigins::Localhost, "development: local dev servers");
        assert_eq!(load(&[("ENVIRONMENT", "production")]).unwrap().cors_origins, CorsOrigins::None);
        for bad in ["*", "https://*.example.com", "https://a.example/path", "a.example"] {
            let error = load(&[("CORS_ALLOWED_ORIGINS", bad)]).unwrap_err().to_string();
            assert!(error.contains("CORS_ALLOWED_ORIGINS"), "{bad}: {error}");
        }
    }

    #[test]
    fn rate_limits_default_to_the_spec_and_can_be_switched_off() {
        let config = load(&[]).unwrap();
        assert_eq!(config.rate_limits.requests_per_caller, Some(Rule::per_minute(100)));
        assert_eq!(config.rate_limits.validate_per_ip, Some(Rule::per_minute(6000)));
        assert_eq!(
            config.rate_limits.failed_logins_per_device,
            Some(Rule { limit: 5, period: std::time::Duration::from_secs(900) })
        );
        assert_eq!(config.rate_limits.login_per_ip, Some(Rule::per_minute(10)));
        assert_eq!(config.rate_limits.register_per_ip, Some(Rule::per_minute(5)));
        assert_eq!(
            config.rate_limits.failed_logins_per_account,
            Some(Rule { limit: 10, period: std::time::Duration::from_secs(900) })
        );
        assert_eq!(config.rate_limits.redis_url, None);
        let off = load(&[("RATE_LIMIT_REQUESTS_PER_MINUTE", "0"), ("LOGIN_FAILURES_PER_ACCOUNT", "0")]).unwrap();
        assert_eq!(off.rate_limits.requests_per_caller, None);
        assert_eq!(off.rate_limits.failed_logins_per_account, None);
    }

    #[test]
    fn a_bad_redis_url_or_proxy_list_is_reported_without_echoing_the_url() {
        let problems = load(&[("REDIS_URL", "http://:hunter2@cache:6379"), ("TRUSTED_PROXIES", "10.0.0.0/8, edge")])
            .unwrap_err()
            .to_string();
        assert!(problems.contains("REDIS_URL: must start with redis://"), "{problems}");
        assert!(!problems.contains("hunter2"), "{problems}");
        assert!(problems.contains("TRUSTED_PROXIES") && problems.contains("\"edge\""), "{problems}");
    }

    #[test]
    fn a_log_level_that_would_silence_everything_is_refused() {
        for good in ["info", "DEBUG", "warn,mana_server=debug", "mana_server=trace", "off"] {
            assert_eq!(load(&[("LOG_LEVEL", good)]).unwrap().log_level, good);
        }
        for bad in ["verbose", "loud", "info,=debug", "mana_server=chatty"] {
            let problem = load(&[("LOG_LEVEL", bad)]).unwrap_err().to_string();
            assert!(problem.contains("LOG_LEVEL"), "{bad}: {problem}");
        }
    }

    #[test]
    fn sessions_last_90_days_at_most_by_default() {
        assert_eq!(load(&[]).unwrap().session_max_lifetime, Duration::days(90));
        assert!(load(&[("SESSION_MAX_LIFETIME_SECONDS", "60")]).is_err());
    }

    #[test]
    fn the_example_file_loads_and_its_urls_follow_a_new_listen_addr() {
        // What a newcomer does: copy .env.example to .env and change the port.
        let example = include_str!("../../../.env.example");
        let mut vars: HashMap<String, String> = example
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        vars.insert("LISTEN_ADDR".into(), "127.0.0.1:4000".into());
        let config = Config::from_source(&move |name| vars.get(name).cloned()).unwrap();
        assert_eq!(config.public_url, "http://127.0.0.1:4000");
        assert_eq!(config.jwt_issuer, "http://127.0.0.1:4000");
    }

    #[test]
    fn argon2id_can_be_selected() {
        let config = load(&[("PASSWORD_HASH_ALGORITHM", "argon2id")]).unwrap();
        assert_eq!(config.password_hash, HashAlgorithm::Argon2id);
    }

    #[test]
    fn debug_output_hides_the_database_url() {
        let config = load(&[("DATABASE_URL", "postgres://u:secret@h/db")]).unwrap();
        assert!(!format!("{config:?}").contains("secret"));
    }

    #[test]
    fn email_goes_to_files_by_default_and_to_a_relay_with_required_starttls() {
        let config = load(&[]).unwrap();
        assert!(config.email.smtp.is_none());
        assert_eq!(config.email.mail_dir, PathBuf::from("./data/mail"));
        let relay = load(&[("SMTP_URL", "smtp://user:secret@relay.example.com:587")]).unwrap();
        assert_eq!(relay.email.smtp.unwrap().tls, SmtpTls::StartTls);
        let implicit = load(&[("SMTP_URL", "smtps://relay.example.com")]).unwrap();
        assert_eq!(implicit.email.smtp.unwrap().tls, SmtpTls::Implicit);
    }

    #[test]
    fn bad_email_settings_are_named_without_echoing_the_url() {
        let errors = load(&[
            ("SMTP_URL", "http://user:secret@relay.example.com"),
            ("SMTP_TLS", "sometimes"),
            ("EMAIL_FROM", "not an address"),
        ])
        .unwrap_err()
        .to_string();
        for variable in ["SMTP_URL", "SMTP_TLS", "EMAIL_FROM"] {
            assert!(errors.contains(variable), "{errors}");
        }
        assert!(!errors.contains("secret"), "{errors}");
        let plain_smtps = load(&[("SMTP_URL", "smtps://relay.example.com"), ("SMTP_TLS", "none")]).unwrap_err();
        assert!(plain_smtps.to_string().contains("implicit TLS"), "{plain_smtps}");
        let stripe = load(&[("STRIPE_SECRET_KEY", "sk_live_topsecret"), ("STRIPE_WEBHOOK_SECRETS", "not-a-secret")])
            .unwrap_err()
            .to_string();
        for variable in ["STRIPE_WEBHOOK_SECRETS", "CHECKOUT_SUCCESS_URL", "CHECKOUT_CANCEL_URL"] {
            assert!(stripe.contains(variable), "{stripe}");
        }
        assert!(!stripe.contains("topsecret") && !stripe.contains("not-a-secret"), "{stripe}");
        let not_a_key = load(&[("STRIPE_SECRET_KEY", "pk_test_publishable")]).unwrap_err().to_string();
        assert!(not_a_key.contains("STRIPE_SECRET_KEY") && !not_a_key.contains("pk_test"), "{not_a_key}");
        let pointless_ca =
            load(&[("SMTP_URL", "smtp://localhost:25"), ("SMTP_TLS", "none"), ("SMTP_CA_FILE", "ca.pem")]).unwrap_err();
        assert!(pointless_ca.to_string().contains("SMTP_CA_FILE"), "{pointless_ca}");
    }

    #[test]
    fn social_login_providers_need_their_secrets_an_allow_list_and_https_in_production() {
        let none = load(&[]).unwrap();
        assert!(none.oauth.openid.is_empty());
        let google = load(&[
            ("OAUTH_GOOGLE_CLIENT_ID", "web-id"),
            ("OAUTH_GOOGLE_CLIENT_SECRET", "g-topsecret"),
            ("OAUTH_GOOGLE_NATIVE_CLIENT_IDS", "ios-id, android-id"),
            ("OAUTH_REDIRECT_ALLOWLIST", "https://app.example/done, myapp://auth/*"),
            ("OAUTH_PROVIDERS", "Corp"),
            ("OAUTH_CORP_ISSUER", "https://login.corp.example/"),
            ("OAUTH_CORP_CLIENT_ID", "corp-id"),
            ("OAUTH_CORP_CLIENT_SECRET", "c-topsecret"),
        ])
        .unwrap();
        let names: Vec<_> = google.oauth.openid.iter().map(|p| (p.provider.name.as_str(), p.issuer.as_str())).collect();
        assert_eq!(names, [("google", GOOGLE_ISSUER), ("corp", "https://login.corp.example")]);
        assert_eq!(google.oauth.openid[0].provider.native_audiences(), ["web-id", "ios-id", "android-id"]);
        assert_eq!(google.oauth.redirect_allowlist, ["https://app.example/done", "myapp://auth/*"]);
        assert!(!format!("{:?}", google.oauth).contains("topsecret"));

        let errors = load(&[("OAUTH_GOOGLE_CLIENT_ID", "web-id"), ("OAUTH_PROVIDERS", "github,bad name")])
            .unwrap_err()
            .to_string();
        for variable in ["OAUTH_GOOGLE_CLIENT_SECRET", "OAUTH_REDIRECT_ALLOWLIST", "OAUTH_PROVIDERS"] {
            assert!(errors.contains(variable), "{errors}");
        }
        let missing = load(&[("OAUTH_PROVIDERS", "corp"), ("OAUTH_REDIRECT_ALLOWLIST", "https://a.example/")])
            .unwrap_err()
            .to_string();
        for variable in ["OAUTH_CORP_ISSUER", "OAUTH_CORP_CLIENT_ID", "OAUTH_CORP_CLIENT_SECRET"] {
            assert!(missing.contains(variable), "{missing}");
        }
        let plain = [
            ("ENVIRONMENT", "production"),
            ("OAUTH_GOOGLE_CLIENT_ID", "web-id"),
            ("OAUTH_GOOGLE_CLIENT_SECRET", "s"),
            ("OAUTH_GOOGLE_ISSUER", "http://accounts.example"),
            ("OAUTH_REDIRECT_ALLOWLIST", "https://app.example/"),
        ];
        let production = load(&plain).unwrap_err().to_string();
        assert!(production.contains("OAUTH_GOOGLE_ISSUER") && production.contains("https"), "{production}");
        let partial = load(&[
            ("OAUTH_GITHUB_CLIENT_ID", "gh"),
            ("OAUTH_APPLE_CLIENT_ID", "com.example.web"),
            ("OAUTH_REDIRECT_ALLOWLIST", "https://app.example/"),
        ])
        .unwrap_err()
        .to_string();
        for variable in
            ["OAUTH_GITHUB_CLIENT_SECRET", "OAUTH_APPLE_TEAM_ID", "OAUTH_APPLE_KEY_ID", "OAUTH_APPLE_PRIVATE_KEY_FILE"]
        {
            assert!(partial.contains(variable), "{partial}");
        }
        let both = load(&[
            ("OAUTH_GITHUB_CLIENT_ID", "gh"),
            ("OAUTH_GITHUB_CLIENT_SECRET", "gh-topsecret"),
            ("OAUTH_APPLE_CLIENT_ID", "com.example.web"),
            ("OAUTH_APPLE_TEAM_ID", "TEAM"),
            ("OAUTH_APPLE_KEY_ID", "KEY"),
            ("OAUTH_APPLE_PRIVATE_KEY_FILE", "/secrets/apple.p8"),
            ("OAUTH_REDIRECT_ALLOWLIST", "https://app.example/"),
        ])
        .unwrap();
        let github = both.oauth.github.as_ref().unwrap();
        assert_eq!(github.endpoints.api_url, "https://api.github.com");
        assert_eq!(both.oauth.apple.as_ref().unwrap().issuer, "https://appleid.apple.com");
        assert!(!format!("{:?}", both.oauth).contains("gh-topsecret"));
        let bad_list = load(&[("OAUTH_REDIRECT_ALLOWLIST", "not a url")]).unwrap_err().to_string();
        assert!(bad_list.contains("OAUTH_REDIRECT_ALLOWLIST"), "{bad_list}");
    }
}
