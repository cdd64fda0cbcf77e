use async_trait::async_trait;
use mana_core::ids::UserId;
use mana_core::store::{
    NewSecurityEvent, SecurityEvent, SecurityEventKind, SecurityEventStore, StoreError, StoreResult,
};
use sqlx::Row;
use uuid::Uuid;

use crate::PostgresStore;
use crate::convert::{self, db};
use crate::scope::fetch_all_for_user;

#[async_trait]
impl SecurityEventStore for PostgresStore {
    async fn record_security_event(&self, event: NewSecurityEvent) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        db(sqlx::query(
            "INSERT INTO auth.security_events (user_id, kind, ip, user_agent, details, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.user_id.map(|id| id.0))
        .bind(event.kind.as_str())
        .bind(&event.client.ip)
        .bind(&event.client.user_agent)
        .bind(&event.details)
        .bind(event.at)
        .execute(&mut *conn)
        .await)?;
        conn.finish().await?;
        Ok(())
    }

    async fn security_events(&self, user: UserId, limit: i64) -> StoreResult<Vec<SecurityEvent>> {
        let rows = fetch_all_for_user(
            self,
            user,
            sqlx::query(
                "SELECT id, user_id, kind, ip, user_agent, details, created_at
             FROM auth.security_events WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(user.0)
            .bind(limit),
        )
        .await?;
        rows.iter()
            .map(|row| {
                let kind: String = db(row.try_get("kind"))?;
                Ok(SecurityEvent {
                    id: db(row.try_get("id"))?,
                    user_id: db(row.try_get::<Option<Uuid>, _>("user_id"))?.map(UserId),
                    kind: SecurityEventKind::parse(&kind)
                        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unknown event kind {kind:?}")))?,
                    client: convert::client(row)?,
                    at: db(row.try_get("created_at"))?,
                    details: db(row.try_get("details"))?,
                })
            })
            .collect()
    }
}
