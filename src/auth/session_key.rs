//! The key that encrypts session cookies (and signs recording share links): `SESSION_KEY`, or
//! one generated once and kept so a restart does not sign everyone out: in the data directory
//! on SQLite, in the database on PostgreSQL, where every instance must use the same key (a
//! cookie one instance set is read by the others).

use std::io::Write;
use std::path::Path;

use actix_web::cookie::Key;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::db::Pool;

const KEY_FILE: &str = "session.key";
/// The key's name in the `app_secret` table.
const KEY_SECRET: &str = "session_key";

/// Loads the session key from configuration or the database, creating it there if needed.
/// Instances starting together agree on one: the first insert wins, the others read it.
pub async fn load_shared(configured: Option<&SecretString>, pool: &Pool) -> anyhow::Result<Key> {
    if let Some(secret) = configured {
        return Ok(Key::derive_from(secret.expose_secret().as_bytes()));
    }
    let fresh = hex::encode(Key::generate().master());
    let created = sqlx::query(
        "insert into app_secret (name, value, created_at) values ($1, $2, $3) \
         on conflict (name) do nothing",
    )
    .bind(KEY_SECRET)
    .bind(&fresh)
    .bind(crate::time::now())
    .execute(pool)
    .await
    .context("Failed to store a new session key")?
    .rows_affected()
        == 1;
    if created {
        tracing::info!("generated a new session key, kept in the database");
    }
    let stored: String = sqlx::query_scalar("select value from app_secret where name = $1")
        .bind(KEY_SECRET)
        .fetch_one(pool)
        .await
        .context("Failed to read the session key")?;
    let bytes = hex::decode(stored.trim()).context("the stored session key is not hex")?;
    Key::try_from(bytes.as_slice()).context("the stored session key is too short")
}

/// Loads the session key from configuration or the data directory, creating it if needed.
pub fn load(configured: Option<&SecretString>, data_dir: &Path) -> anyhow::Result<Key> {
    if let Some(secret) = configured {
        // Config validation guarantees at least 64 bytes; derive to spread short alphabets.
        return Ok(Key::derive_from(secret.expose_secret().as_bytes()));
    }
    let path = data_dir.join(KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(hex_key) => {
            let bytes = hex::decode(hex_key.trim())
                .with_context(|| format!("{} is not a hex-encoded key", path.display()))?;
            Key::try_from(bytes.as_slice())
                .with_context(|| format!("{} holds a key that is too short", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = Key::generate();
            write_private(&path, hex::encode(key.master()).as_bytes())
                .with_context(|| format!("Failed to save the session key to {}", path.display()))?;
            tracing::info!(path = %path.display(), "generated a new session key");
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("Failed to read {}", path.display())),
    }
}

fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = load(None, dir.path()).unwrap();
        let second = load(None, dir.path()).unwrap();
        assert_eq!(first.master(), second.master());
    }

    #[test]
    fn a_configured_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let secret = SecretString::from("k".repeat(64));
        let a = load(Some(&secret), dir.path()).unwrap();
        let b = load(Some(&secret), dir.path()).unwrap();
        assert_eq!(a.master(), b.master());
        assert!(!dir.path().join(KEY_FILE).exists());
    }
}
