use async_trait::async_trait;
use mana_core::ids::UserId;
use mana_core::store::{
    NewSecurityEvent, SecurityEvent, SecurityEventKind, SecurityEventStore, StoreError, StoreResult,
};
use sqlx::Row;

use crate::SqliteStore;
use crate::convert::{self, db, micros, time};

#[async_trait]
impl SecurityEventStore for SqliteStore {
    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()> {
        db(sqlx::query(
            "INSERT INTO security_events (user_id, kind, ip, user_agent, details, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(event.user_id.map(|id| id.to_string()))
        .bind(event.kind.as_str())
        .bind(&event.client.ip)
        .bind(&event.client.user_agent)
        .bind(event.details.to_string())
        .bind(micros(event.at))
        .execute(&self.pool)
        .await)?;
        Ok(())
    }

    async fn security_events(&self, user: UserId, limit: i64) -> StoreResult<Vec<SecurityEvent>> {
        let rows = db(sqlx::query(
            "SELECT id, user_id, kind, ip, user_agent, details, created_at
             FROM security_events WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(user.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await)?;
        rows.iter()
            .map(|row| {
                let kind: String = db(row.try_get("kind"))?;
                let details: String = db(row.try_get("details"))?;
                let user_id: Option<String> = db(row.try_get("user_id"))?;
                Ok(SecurityEvent {
                    id: db(row.try_get("id"))?,
                    user_id: user_id.as_deref().map(convert::user_id).transpose()?,
                    kind: SecurityEventKind::parse(&kind)
                        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event kind {kind:?}")))?,
                    client: convert::client(row)?,
                    at: time(db(row.try_get("created_at"))?)?,
                    details: serde_json::from_str(&details).map_err(|e| StoreError::Other(e.into()))?,
                })
            })
            .collect()
    }
}
