//! The signing-key directory: one PKCS#8 PEM file per key, named `<kid>.pem`, where the kid
//! begins with the key's creation time in Unix seconds. The newest key signs; all are published.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::{Context, bail};
use mana_core::tokens::{AccessTokens, KeyAlgorithm, KeyRing, SigningKey, new_key_id};

/// Loads every key in `dir`. Errors name the variable and the file, never key material.
pub fn load_key_ring(dir: &Path) -> anyhow::Result<KeyRing> {
    let keys = read_keys(dir)?;
    if keys.is_empty() {
        bail!("KEYS_DIR: {} contains no signing key; create one with `mana-core-auth keys generate`", dir.display());
    }
    KeyRing::new(keys).with_context(|| format!("KEYS_DIR: {}", dir.display()))
}

pub fn read_keys(dir: &Path) -> anyhow::Result<Vec<SigningKey>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => bail!("KEYS_DIR: cannot read {}: {error}", dir.display()),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("KEYS_DIR: cannot list {}", dir.display()))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("pem") {
            continue;
        }
        keys.push(read_key(&path)?);
    }
    Ok(keys)
}

fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let kid = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
    let pem = fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("KEYS_DIR: cannot read key file {}: {e}", path.display()))?;
    let created_at = match kid.split('-').next().and_then(|t| t.parse::<i64>().ok()) {
        Some(seconds) => seconds,
        None => fs::metadata(path)?.modified()?.duration_since(std::time::UNIX_EPOCH)?.as_secs() as i64,
    };
    SigningKey::from_pkcs8_pem(kid, created_at, &pem)
        .map_err(|e| anyhow::anyhow!("KEYS_DIR: key file {} is not usable: {e}", path.display()))
}

/// Writes a new key pair's private key to `dir/<kid>.pem` with mode 0600 (the directory is
/// created with mode 0700 if missing) and returns the key and the file's path.
///
/// The kid starts with the creation second, and the newest key signs; so that "newest" is
/// never a tie, a key made in the same second as (or, with a clock set back, before) an
/// existing one is dated one second after the newest.
pub fn generate_key(dir: &Path, algorithm: KeyAlgorithm, now: i64) -> anyhow::Result<(SigningKey, PathBuf)> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("KEYS_DIR: cannot create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    let newest = read_keys(dir)?.iter().map(SigningKey::created_at).max();
    let created_at = newest.map_or(now, |newest| now.max(newest + 1));
    let (key, pem) = SigningKey::generate(algorithm, new_key_id(created_at), created_at)?;
    let path = dir.join(format!("{}.pem", key.kid()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("KEYS_DIR: cannot create {}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok((key, path))
}

/// Re-reads `dir` on SIGHUP and, if `interval` is set, on that timer, and swaps the new ring
/// in when its keys differ: a key added by `keys rotate` starts signing, and retired keys stop
/// verifying, without a restart. A directory that cannot be read or has no usable key leaves
/// the current ring in place (and says so in the log).
pub fn spawn_reloader(tokens: AccessTokens, dir: PathBuf, interval: Option<Duration>) {
    tokio::spawn(async move {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut timer = interval.map(tokio::time::interval);
        loop {
            let hangup_seen = async {
                match hangup.as_mut() {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let tick = async {
                match timer.as_mut() {
                    Some(timer) => {
                        timer.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = hangup_seen => tracing::info!("SIGHUP: reading the key directory again"),
                () = tick => {}
            }
            reload_keys(&tokens, &dir);
        }
    });
}

/// One reload; `true` when the ring changed.
pub fn reload_keys(tokens: &AccessTokens, dir: &Path) -> bool {
    match load_key_ring(dir) {
        Ok(ring) if ring.kids() != tokens.keys().kids() => {
            tracing::info!(
                signing_kid = ring.signing_key().kid(),
                published = ring.kids().len(),
                "signing keys reloaded"
            );
            tokens.replace_keys(ring);
            true
        }
        Ok(_) => false,
        Err(error) => {
            tracing::warn!(error = format!("{error:#}"), "could not reload the signing keys; keeping the current ones");
            false
        }
    }
}

/// Keys moved out of the published set live here; nothing loads them.
pub const RETIRED_DIR: &str = "retired";

/// Moves to `dir/retired/` every key whose successor has been signing for longer than
/// `retire_after` (counted from the successor's creation), so every token it signed has
/// expired. The newest key is never retired. Returns the retired kids, oldest first.
pub fn retire_superseded_keys(dir: &Path, now: i64, retire_after: i64) -> anyhow::Result<Vec<String>> {
    let mut keys = read_keys(dir)?;
    // The same order as the ring's: by creation second, ties broken by kid.
    keys.sort_by(|a, b| a.created_at().cmp(&b.created_at()).then_with(|| a.kid().cmp(b.kid())));
    let mut retired = Vec::new();
    for pair in keys.windows(2) {
        let (old, successor) = (&pair[0], &pair[1]);
        if successor.created_at() <= now - retire_after {
            let target = dir.join(RETIRED_DIR);
            fs::create_dir_all(&target).with_context(|| format!("KEYS_DIR: cannot create {}", target.display()))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o700))?;
            let file = format!("{}.pem", old.kid());
            fs::rename(dir.join(&file), target.join(&file))
                .with_context(|| format!("KEYS_DIR: cannot move {file} to {}", target.display()))?;
            retired.push(old.kid().to_owned());
        }
    }
    Ok(retired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mana-keys-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn generated_keys_are_private_and_load_back_newest_first() {
        let dir = temp_dir();
        let (old, old_path) = generate_key(&dir, KeyAlgorithm::EdDsa, 1_000).unwrap();
        let (new, _) = generate_key(&dir, KeyAlgorithm::Rs256, 2_000).unwrap();
        assert_eq!(fs::metadata(&old_path).unwrap().permissions().mode() & 0o777, 0o600);

        let ring = load_key_ring(&dir).unwrap();
        assert_eq!(ring.signing_key().kid(), new.kid());
        assert!(ring.get(old.kid()).is_some());
    }

    #[test]
    fn keys_made_in_the_same_second_are_still_ordered() {
        let dir = temp_dir();
        let (first, _) = generate_key(&dir, KeyAlgorithm::EdDsa, 5_000).unwrap();
        let (second, _) = generate_key(&dir, KeyAlgorithm::EdDsa, 5_000).unwrap();
        let (third, _) = generate_key(&dir, KeyAlgorithm::EdDsa, 4_000).unwrap();
        assert!(first.created_at() < second.created_at() && second.created_at() < third.created_at());
        assert_eq!(load_key_ring(&dir).unwrap().signing_key().kid(), third.kid(), "the last one made signs");
    }

    #[test]
    fn a_reload_picks_up_new_keys_and_drops_retired_ones() {
        use mana_core::tokens::AccessTokenSettings;
        let dir = temp_dir();
        let (old, _) = generate_key(&dir, KeyAlgorithm::EdDsa, 1_000).unwrap();
        let settings = AccessTokenSettings {
            issuer: "i".into(),
            audience: "a".into(),
            ttl: chrono::Duration::minutes(15),
            leeway: chrono::Duration::seconds(30),
        };
        let tokens = AccessTokens::new(load_key_ring(&dir).unwrap(), settings);
        assert!(!reload_keys(&tokens, &dir), "nothing changed");
        let (new, _) = generate_key(&dir, KeyAlgorithm::EdDsa, 2_000).unwrap();
        assert!(reload_keys(&tokens, &dir));
        assert_eq!(tokens.keys().signing_key().kid(), new.kid());
        retire_superseded_keys(&dir, 10_000, 0).unwrap();
        assert!(reload_keys(&tokens, &dir));
        assert!(tokens.keys().get(old.kid()).is_none());
        fs::remove_file(dir.join(format!("{}.pem", new.kid()))).unwrap();
        assert!(!reload_keys(&tokens, &dir), "an empty directory keeps the current ring");
        assert_eq!(tokens.keys().signing_key().kid(), new.kid());
    }

    #[test]
    fn an_empty_or_missing_directory_is_a_clear_error() {
        let error = load_key_ring(&temp_dir().join("missing")).unwrap_err().to_string();
        assert!(error.starts_with("KEYS_DIR:"), "{error}");
        assert!(error.contains("keys generate"), "{error}");
    }

    #[test]
    fn a_broken_key_file_is_named() {
        let dir = temp_dir();
        fs::write(dir.join("123-abc.pem"), "not a key").unwrap();
        let error = load_key_ring(&dir).unwrap_err().to_string();
        assert!(error.contains("123-abc.pem"), "{error}");
        assert!(error.starts_with("KEYS_DIR:"), "{error}");
    }
}
