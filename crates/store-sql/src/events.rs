//! The security event log.

use async_trait::async_trait;
use mana_core::ids::UserId;
use mana_core::store::{NewSecurityEvent, SecurityEvent, SecurityEventStore, StoreError, StoreResult};

use crate::SqlStore;
use crate::backend::Backend;
use crate::decode;
use crate::sql::Sql;
use crate::statement::Statement;

static RECORD: Sql = Sql::new(
    "INSERT INTO auth.security_events (user_id, kind, ip, user_agent, details, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)",
);
static LIST: Sql = Sql::new(
    "SELECT id, user_id, kind, ip, user_agent, details, created_at
     FROM auth.security_events WHERE user_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3",
);

#[async_trait]
impl<B: Backend> SecurityEventStore for SqlStore<B> {
    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()> {
        let statement = Statement::new(&RECORD)
            .opt_id(event.user_id.map(|id| id.0))
            .text_arg(event.kind.as_str())
            .opt_text(event.client.ip.as_deref())
            .opt_text(event.client.user_agent.as_deref())
            .json(serde_json::to_value(&event.details).map_err(|e| StoreError::Other(e.into()))?)
            .time(event.at);
        self.execute(statement).await?;
        Ok(())
    }

    async fn security_events(&self, user: UserId, limit: i64, offset: i64) -> StoreResult<Vec<SecurityEvent>> {
        let rows = self.fetch_all_as(user, Statement::new(&LIST).id(user.0).int(limit).int(offset)).await?;
        rows.iter().map(decode::security_event).collect()
    }
}
