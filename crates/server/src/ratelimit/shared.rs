//! Counters in Redis, shared by every instance. Each budget check is one script call, atomic
//! in Redis, using Redis's own clock so instances with skewed clocks still agree.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{Budget, Limited, Rule};

/// GCRA over one key holding the "theoretical arrival time" (ms): the moment the budget would
/// be full again. Returns 0 when the event is allowed, else the milliseconds to wait. The key
/// expires when the budget is full again, so idle clients cost nothing.
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - interval * burst
if allowed_at > now then
  return allowed_at - now
end
redis.call('SET', KEYS[1], string.format('%d', next_tat), 'PX', next_tat - now)
return 0
";

/// Gives one event back to a GCRA budget: moves its theoretical arrival time one interval
/// earlier, forgetting the key once the budget is full.
const GCRA_REFUND: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local earlier = tat - tonumber(ARGV[1])
if earlier <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', earlier), 'PX', earlier - now)
end
return 0
";

pub(super) struct RedisCounters {
    connection: ConnectionManager,
    prefix: String,
    gcra: Script,
    gcra_refund: Script,
}

impl RedisCounters {
    /// Builds the client without connecting; the connection is made on first use and remade
    /// after failures, each attempt bounded by `timeout`.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            // A request waits for one attempt at most; the next request tries again.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| anyhow::anyhow!("cannot set up the Redis client: {}", describe(&error)))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            gcra: Script::new(GCRA),
            gcra_refund: Script::new(GCRA_REFUND),
        })
    }

    pub async fn check(&self, budget: Budget, key: &str, rule: Rule) -> redis::RedisResult<Result<(), Limited>> {
        let interval_ms = rule.emission_interval().as_millis().max(1) as u64;
        let wait_ms: u64 = self
            .gcra
            .key(self.key(budget.name(), key))
            .arg(interval_ms)
            .arg(rule.limit.max(1))
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(if wait_ms == 0 { Ok(()) } else { Err(Limited { retry_after: Duration::from_millis(wait_ms) }) })
    }

    pub async fn refund(&self, budget: Budget, key: &str, rule: Rule) -> redis::RedisResult<()> {
        let interval_ms = rule.emission_interval().as_millis().max(1) as u64;
        let _: i64 = self
            .gcra_refund
            .key(self.key(budget.name(), key))
            .arg(interval_ms)
            .invoke_async(&mut self.connection.clone())
            .await?;
        Ok(())
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }
}

/// The kind of failure, without the URL or anything else from the configuration.
pub(super) fn describe(error: &RedisError) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connection_refusal() {
        "connection refused".into()
    } else if error.is_io_error() || error.is_connection_dropped() || error.is_unrecoverable_error() {
        "connection lost".into()
    } else {
        format!("{:?}", error.kind())
    }
}
