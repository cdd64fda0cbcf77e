//! The encryption key that seals TOTP secrets: `ENCRYPTION_KEY` when set (production requires
//! it); otherwise, in development, a key kept in `ENCRYPTION_KEY_FILE` (`./data/encryption.key`),
//! made on first start like the development signing key, so that no setup is needed.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, bail};
use mana_core::mfa::{KEY_BYTES, SecretBox, generate_key, parse_keys};

use crate::config::{Config, Environment};

/// The configured keys, or development's file (made if missing).
pub fn encryption_keys(config: &Config) -> anyhow::Result<Vec<[u8; KEY_BYTES]>> {
    if !config.encryption_keys.is_empty() {
        return Ok(config.encryption_keys.clone());
    }
    if config.environment == Environment::Production {
        bail!(
            "ENCRYPTION_KEY: required in production (it seals TOTP secrets): `openssl rand -base64 32`; \
             during a rotation, the new key first, comma-separated"
        );
    }
    let path = &config.encryption_key_file;
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("ENCRYPTION_KEY_FILE: cannot create {}", dir.display()))?;
        }
        // Two instances starting in one directory: one creates the file, the other reads it.
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
            Ok(mut file) => {
                writeln!(file, "{}", generate_key())?;
                file.sync_all()?;
                tracing::warn!(path = %path.display(), "created a development encryption key (production sets ENCRYPTION_KEY)");
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => bail!("ENCRYPTION_KEY_FILE: cannot create {}: {error}", path.display()),
        }
    }
    let text =
        fs::read_to_string(path).with_context(|| format!("ENCRYPTION_KEY_FILE: cannot read {}", path.display()))?;
    parse_keys(text.trim()).map_err(|problem| anyhow::anyhow!("ENCRYPTION_KEY_FILE {}: {problem}", path.display()))
}

pub fn secret_box(config: &Config) -> anyhow::Result<SecretBox> {
    SecretBox::new(&encryption_keys(config)?)
}
