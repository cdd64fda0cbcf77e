//! Where the session is kept: a [`TokenStore`], in memory or in a file, or any store of your
//! own (a keychain, a database row).

use std::path::PathBuf;

use async_trait::async_trait;
use mana_proto::{TokenResponse, TokenUser};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::error::{ClientError, ClientResult};

/// A signed-in session as the client keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires, in seconds since the epoch.
    pub expires_at: i64,
    pub user: TokenUser,
    /// The signed device token of the login, presented at the next one.
    #[serde(default)]
    pub device_token: Option<String>,
}

impl Session {
    pub(crate) fn from_tokens(tokens: TokenResponse, now: i64) -> Self {
        Self {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: now + tokens.expires_in,
            user: tokens.user,
            device_token: tokens.device_token,
        }
    }
}

/// Keeps one session. The client stores a rotated session before it answers anyone waiting
/// for it, so a store that is written is a store that is current.
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn load(&self) -> ClientResult<Option<Session>>;
    async fn save(&self, session: &Session) -> ClientResult<()>;
    async fn clear(&self) -> ClientResult<()>;
}

/// In memory: gone when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    session: Mutex<Option<Session>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> ClientResult<Option<Session>> {
        Ok(self.session.lock().await.clone())
    }

    async fn save(&self, session: &Session) -> ClientResult<()> {
        *self.session.lock().await = Some(session.clone());
        Ok(())
    }

    async fn clear(&self) -> ClientResult<()> {
        *self.session.lock().await = None;
        Ok(())
    }
}

/// A JSON file readable by its owner only, replaced whole on every write (a crash leaves the
/// old session or the new one, never half of either).
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

fn store_error(error: impl std::fmt::Display) -> ClientError {
    ClientError::Store(error.to_string())
}

#[async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> ClientResult<Option<Session>> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(store_error),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(store_error(error)),
        }
    }

    async fn save(&self, session: &Session) -> ClientResult<()> {
        let json = serde_json::to_vec(session).map_err(store_error)?;
        let temporary = self.path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&temporary).await.map_err(store_error)?;
        tokio::io::AsyncWriteExt::write_all(&mut file, &json).await.map_err(store_error)?;
        file.sync_all().await.map_err(store_error)?;
        tokio::fs::rename(&temporary, &self.path).await.map_err(store_error)
    }

    async fn clear(&self) -> ClientResult<()> {
        match tokio::fs::remove_file(&self.path).await {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(store_error(error)),
            _ => Ok(()),
        }
    }
}
