//! The results table: each figure beside its limit, as a ratio, with the targets marked.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::load::Stats;
use crate::outbox::Delivery;
use crate::webhooks::WebhookRun;

pub struct Limits {
    pub cores: usize,
    pub hash_time: Duration,
    pub sign_rate: f64,
    pub verify_rate: f64,
    pub bcrypt_cost: u32,
}

pub struct Measurement {
    pub backend: &'static str,
    pub name: String,
    pub clients: usize,
    pub stats: Stats,
}

pub struct Report {
    limits: Limits,
    rows: Vec<Measurement>,
    raw: BTreeMap<&'static str, (f64, f64)>,
    startup: BTreeMap<&'static str, Duration>,
    memory: BTreeMap<&'static str, (Option<f64>, Option<f64>)>,
    notes: Vec<String>,
    deliveries: Vec<Delivery>,
    webhooks: Option<WebhookRun>,
}

impl Report {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            rows: Vec::new(),
            raw: BTreeMap::new(),
            startup: BTreeMap::new(),
            memory: BTreeMap::new(),
            notes: Vec::new(),
            deliveries: Vec::new(),
            webhooks: None,
        }
    }

    pub fn measure(&mut self, measurement: Measurement) {
        self.rows.push(measurement);
    }

    pub fn raw_limit(&mut self, backend: &'static str, distinct: f64, hot: f64) {
        self.raw.insert(backend, (distinct, hot));
    }

    pub fn startup(&mut self, backend: &'static str, time: Duration) {
        self.startup.insert(backend, time);
    }

    pub fn memory(&mut self, backend: &'static str, idle: Option<f64>, loaded: Option<f64>) {
        self.memory.insert(backend, (idle, loaded));
    }

    pub fn webhooks(&mut self, run: WebhookRun) {
        self.webhooks = Some(run);
    }

    pub fn delivery(&mut self, delivery: Delivery) {
        self.deliveries.push(delivery);
    }

    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn find(&self, backend: &str, name: &str, clients: usize) -> Option<&Stats> {
        self.rows.iter().find(|r| r.backend == backend && r.name == name && r.clients == clients).map(|r| &r.stats)
    }

    /// The limit a row is compared with, and what it is.
    fn limit_of(&self, row: &Measurement) -> Option<(f64, String)> {
        let login_limit = self.limits.cores as f64 / self.limits.hash_time.as_secs_f64();
        let (distinct, hot) = self.raw.get(row.backend).copied().unwrap_or((f64::NAN, f64::NAN));
        let raw_name = if row.backend == "postgres" { "pgbench" } else { "raw sqlx" };
        let health = self.find(row.backend, "GET /health", 32).map(Stats::throughput);
        match row.name.as_str() {
            "POST /auth/login" => {
                Some((login_limit, format!("{} cores / bcrypt({}) time", self.limits.cores, self.limits.bcrypt_cost)))
            }
            "POST /auth/validate" => health.map(|h| (h, "GET /health".into())),
            "POST /credits/use (distinct users)" => Some((distinct, format!("{raw_name}, same SQL, distinct rows"))),
            "POST /credits/use (one hot user)" => Some((hot, format!("{raw_name}, same SQL, one hot row"))),
            _ => None,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let l = &self.limits;
        let _ = writeln!(out, "## Reference limits (measured in this run)\n");
        let _ = writeln!(out, "| limit | value |\n|---|---|");
        let _ = writeln!(out, "| cores | {} |", l.cores);
        let _ = writeln!(
            out,
            "| bcrypt cost {} verify | {:.1} ms → {:.1} logins/s on {} cores |",
            l.bcrypt_cost,
            l.hash_time.as_secs_f64() * 1e3,
            l.cores as f64 / l.hash_time.as_secs_f64(),
            l.cores
        );
        let _ = writeln!(out, "| RS256 sign (key parsed once), one core | {:.0}/s |", l.sign_rate);
        let _ = writeln!(out, "| RS256 verify, one core | {:.0}/s |", l.verify_rate);
        for (backend, (distinct, hot)) in &self.raw {
            let tool = if *backend == "postgres" { "pgbench, 32 clients" } else { "sqlx, one writer" };
            let _ = writeln!(
                out,
                "| {backend} spend SQL ({tool}) | {distinct:.0} tx/s distinct rows, {hot:.0} tx/s one hot row |"
            );
        }
        let _ = writeln!(out, "\n## Measurements\n");
        let _ = writeln!(
            out,
            "| backend | request | clients | req/s | p50 ms | p95 ms | p99 ms | errors | limit | ratio |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
        for row in &self.rows {
            let s = &row.stats;
            let (limit, ratio) = match self.limit_of(row) {
                Some((value, what)) => {
                    (format!("{value:.0}/s ({what})"), format!("{:.0}%", 100.0 * s.throughput() / value))
                }
                None => ("".into(), "".into()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
                row.backend,
                row.name,
                row.clients,
                s.throughput(),
                s.percentile_ms(0.5),
                s.percentile_ms(0.95),
                s.percentile_ms(0.99),
                s.errors,
                limit,
                ratio
            );
        }
        if !self.deliveries.is_empty() {
            let _ = writeln!(out, "\n## Email delivery (PostgreSQL outbox → smtp-sink)\n");
            let _ = writeln!(
                out,
                "| instances | messages | commit → last sent | msg/s | first → last sent | msg/s | sink accepted |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|");
            for d in &self.deliveries {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} s | {:.0} | {:.2} s | {:.0} | {} |",
                    d.instances,
                    d.messages,
                    d.end_to_end.as_secs_f64(),
                    d.rate(),
                    d.steady.as_secs_f64(),
                    d.steady_rate(),
                    d.accepted_by_sink
                );
            }
        }
        if let Some(w) = &self.webhooks {
            let _ = writeln!(out, "\n## Stripe webhooks (PostgreSQL, 32 clients, every event delivered twice)\n");
            let _ = writeln!(
                out,
                "| deliveries/s | p50 ms | p99 ms | errors | events applied | pgbench, same SQL | ratio |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|");
            let _ = writeln!(
                out,
                "| {:.0} | {:.2} | {:.2} | {} | {} | {:.0} tx/s | {:.0}% |",
                w.stats.throughput(),
                w.stats.percentile_ms(0.5),
                w.stats.percentile_ms(0.99),
                w.stats.errors,
                w.applied,
                w.pgbench.tps,
                100.0 * w.stats.throughput() / w.pgbench.tps
            );
        }
        let _ = writeln!(out, "\n## Targets\n");
        let _ = writeln!(out, "| target | measured | met |\n|---|---|---|");
        for (target, measured, met) in self.targets() {
            let _ = writeln!(out, "| {target} | {measured} | {} |", if met { "yes" } else { "**no**" });
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\n## Checks\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out
    }

    fn targets(&self) -> Vec<(String, String, bool)> {
        let mut targets = Vec::new();
        let ratio = |backend: &str, name: &str, clients: usize| {
            let row = self.rows.iter().find(|r| r.backend == backend && r.name == name && r.clients == clients)?;
            let (limit, _) = self.limit_of(row)?;
            Some(row.stats.throughput() / limit)
        };
        if let Some(r) = ratio("postgres", "POST /credits/use (distinct users)", 32) {
            targets.push((
                "credits/use on PostgreSQL, distinct users ≥ 50% of pgbench".into(),
                format!("{:.0}%", r * 100.0),
                r >= 0.5,
            ));
        }
        if let Some(r) = ratio("postgres", "POST /credits/use (one hot user)", 32) {
            targets.push((
                "credits/use on PostgreSQL, hot user ≥ 60% of pgbench hot row".into(),
                format!("{:.0}%", r * 100.0),
                r >= 0.6,
            ));
        }
        for backend in ["sqlite", "postgres"] {
            if let Some(r) = ratio(backend, "POST /auth/login", 8) {
                targets.push((
                    format!("login on {backend} ≥ 90% of the hash limit"),
                    format!("{:.0}%", r * 100.0),
                    r >= 0.9,
                ));
            }
            if let Some(s) = self.find(backend, "POST /auth/validate under login flood", 4) {
                let p99 = s.percentile_ms(0.99);
                targets.push((
                    format!("validate p99 under a login flood on {backend} ≤ 5 ms"),
                    format!("{p99:.2} ms"),
                    p99 <= 5.0,
                ));
            }
            if let (Some(alone), Some(flooded)) = (
                self.find(backend, "POST /auth/validate (probe alone)", 4),
                self.find(backend, "POST /auth/validate under forgot-password flood", 4),
            ) {
                let (alone, flooded) = (alone.percentile_ms(0.99), flooded.percentile_ms(0.99));
                targets.push((
                    format!("validate p99 under a forgot-password flood on {backend} ≤ 5 ms (alone: {alone:.2} ms)"),
                    format!("{flooded:.2} ms"),
                    flooded <= 5.0,
                ));
            }
            if let Some(r) = ratio(backend, "POST /auth/validate", 32) {
                targets.push((
                    format!("validate on {backend} ≥ 40% of /health"),
                    format!("{:.0}%", r * 100.0),
                    r >= 0.4,
                ));
            }
            if let Some((idle, loaded)) = self.memory.get(backend) {
                if let Some(idle) = idle {
                    targets.push((format!("RSS idle on {backend} < 50 MB"), format!("{idle:.1} MiB"), *idle < 50.0));
                }
                if let Some(loaded) = loaded {
                    targets.push((
                        format!("RSS under load on {backend} < 150 MB"),
                        format!("{loaded:.1} MiB"),
                        *loaded < 150.0,
                    ));
                }
            }
        }
        if let Some(s) = self.find("postgres", "POST /auth/refresh", 32) {
            targets.push((
                "refresh on PostgreSQL ≥ 2,000/s".into(),
                format!("{:.0}/s", s.throughput()),
                s.throughput() >= 2000.0,
            ));
        }
        if let Some(w) = &self.webhooks {
            targets.push((
                "Stripe webhook deliveries on PostgreSQL ≥ 1,000/s (half redeliveries)".into(),
                format!("{:.0}/s", w.stats.throughput()),
                w.stats.throughput() >= 1000.0,
            ));
            targets.push((
                "each applied event credited its purchase once".into(),
                format!("{} events", w.applied),
                w.credited_once,
            ));
        }
        if let Some(d) = self.deliveries.iter().find(|d| d.instances == 2) {
            targets.push((
                "outbox delivery on PostgreSQL, two instances ≥ 500 messages/s (commit → last sent)".into(),
                format!("{:.0}/s", d.rate()),
                d.rate() >= 500.0,
            ));
        }
        for d in &self.deliveries {
            targets.push((
                format!("every queued message reached the sink once ({} instance(s))", d.instances),
                format!("{} of {}", d.accepted_by_sink, d.messages),
                d.accepted_by_sink == d.messages,
            ));
        }
        if let Some(t) = self.startup.get("sqlite") {
            targets.push((
                "start to /ready on SQLite < 1 s".into(),
                format!("{:.0} ms", t.as_secs_f64() * 1e3),
                t.as_secs_f64() < 1.0,
            ));
        }
        if let Some(t) = self.startup.get("postgres") {
            targets.push((
                "start to /ready on PostgreSQL (no target)".into(),
                format!("{:.0} ms", t.as_secs_f64() * 1e3),
                true,
            ));
        }
        targets
    }
}
