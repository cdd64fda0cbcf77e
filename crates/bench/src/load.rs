//! A closed-loop load generator: each worker sends its next request as soon as the previous one
//! is answered, for a fixed time. Latencies go into an HDR histogram.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// One worker's next request; resolves to whether it succeeded.
pub type Call = Box<dyn FnMut() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send>;

#[derive(Debug, Clone)]
pub struct Stats {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
}

impl Stats {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s with 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub async fn closed_loop(workers: Vec<Call>, duration: Duration) -> Stats {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut call| {
            tokio::spawn(async move {
                let (mut latency, mut ok, mut errors) = (histogram(), 0u64, 0u64);
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    let succeeded = call().await;
                    let micros = sent.elapsed().as_micros().clamp(1, 60_000_000) as u64;
                    latency.saturating_record(micros);
                    if succeeded { ok += 1 } else { errors += 1 }
                }
                (latency, ok, errors)
            })
        })
        .collect();
    let mut stats = Stats { ok: 0, errors: 0, elapsed: Duration::ZERO, latency: histogram() };
    for task in tasks {
        if let Ok((latency, ok, errors)) = task.await {
            stats.latency.add(&latency).expect("histograms share bounds");
            stats.ok += ok;
            stats.errors += errors;
        }
    }
    stats.elapsed = start.elapsed();
    stats
}
