//! The key that encrypts session cookies: `SESSION_KEY`, or one generated once and kept in the
//! data directory so a restart does not sign everyone out.

use std::io::Write;
use std::path::Path;

use actix_web::cookie::Key;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

const KEY_FILE: &str = "session.key";

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
