//! Where verification keys come from: `CLERK_JWT_KEY` (networkless), or Clerk's JWKS cached
//! for five minutes like `@clerk/backend` caches it.
//!
//! Unlike Clerk's SDK, a refetch is single-flight (one request in the air however many
//! requests are waiting), an unknown `kid` triggers at most one refetch per
//! [`UNKNOWN_KID_INTERVAL`] (a stream of forged `kid`s cannot make us hammer Clerk), and when
//! Clerk cannot be reached the keys we last had keep working instead of signing everyone out.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;

use super::api::{ApiError, ClerkApi, JwkSet};
use super::verify::{Reason, Rejection};

/// How long fetched keys are trusted before the next fetch (Clerk's 5 minutes).
pub const CACHE_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// At most one refetch for an unknown `kid` in this interval.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(10);
/// After a failed fetch, wait this long before trying again.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(10);

/// The verification key source chosen at start-up.
pub enum KeySource {
    /// `CLERK_JWT_KEY`: one RSA public key, used whatever the token's `kid` (as Clerk does).
    Pem(Arc<DecodingKey>),
    /// Clerk's JWKS from the Backend API.
    Remote(Box<JwksCache>),
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pem(_) => f.write_str("KeySource::Pem"),
            Self::Remote(_) => f.write_str("KeySource::Remote"),
        }
    }
}

impl KeySource {
    /// Reads a PEM public key; `\n` written as two characters (as `.env` files often have
    /// it) is accepted.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let pem = pem.replace("\\n", "\n");
        let key = DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
            anyhow::anyhow!("CLERK_JWT_KEY: is not an RSA public key in PEM form ({e})")
        })?;
        Ok(Self::Pem(Arc::new(key)))
    }

    /// The key for a token's `kid`.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, Rejection> {
        match self {
            Self::Pem(key) => Ok(key.clone()),
            Self::Remote(cache) => cache.key(kid).await,
        }
    }
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
    failed_at: Option<Instant>,
    unknown_kid_refetch_at: Option<Instant>,
}

impl State {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fetched_at
            .is_some_and(|t| now.duration_since(t) < CACHE_LIFETIME)
    }

    fn recently(at: Option<Instant>, now: Instant, window: Duration) -> bool {
        at.is_some_and(|t| now.duration_since(t) < window)
    }
}

/// Clerk's JWKS, cached.
pub struct JwksCache {
    api: ClerkApi,
    state: RwLock<State>,
    /// Held while fetching, so concurrent misses wait for one fetch instead of each making one.
    fetching: tokio::sync::Mutex<()>,
}

fn kid_mismatch(kid: &str) -> Rejection {
    Rejection::new(
        Reason::JwkKidMismatch,
        format!("Unable to find a signing key in JWKS that matches the kid='{kid}'."),
    )
}

fn failed_to_load(e: impl std::fmt::Display) -> Rejection {
    Rejection::new(
        Reason::RemoteJwkFailedToLoad,
        format!("Failed to load JWKS from Clerk: {e}"),
    )
}

/// The RSA keys of a JWKS by `kid`; other key types are skipped.
fn parse_keys(set: JwkSet) -> HashMap<String, Arc<DecodingKey>> {
    set.keys
        .into_iter()
        .filter(|k| k.kty == "RSA")
        .filter_map(|k| {
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((k.kid?, Arc::new(key)))
        })
        .collect()
}

impl JwksCache {
    pub fn new(api: ClerkApi) -> Self {
        Self {
            api,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The key for `kid`, fetching the JWKS when the cache is empty, old, or lacks the `kid`.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<DecodingKey>, Rejection> {
        let kid = kid.unwrap_or_default();
        {
            let state = self.read();
            if state.is_fresh(Instant::now())
                && let Some(key) = state.keys.get(kid)
            {
                return Ok(key.clone());
            }
        }

        let _fetching = self.fetching.lock().await;
        let now = Instant::now();
        {
            // Another request may have fetched while this one waited.
            let state = self.read();
            let fresh = state.is_fresh(now);
            if fresh && let Some(key) = state.keys.get(kid) {
                return Ok(key.clone());
            }
            if fresh {
                // Keys are current but none has this `kid`: a rotation, or a forged token.
                if kid.is_empty()
                    || State::recently(state.unknown_kid_refetch_at, now, UNKNOWN_KID_INTERVAL)
                {
                    return Err(kid_mismatch(kid));
                }
            } else if State::recently(state.failed_at, now, FAILURE_BACKOFF) {
                return state
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| failed_to_load("the last attempt failed moments ago"));
            }
        }

        let was_fresh = self.read().is_fresh(now);
        if was_fresh {
            self.write().unknown_kid_refetch_at = Some(now);
        }
        match self.fetch().await {
            Ok(keys) => {
                let mut state = self.write();
                state.keys = keys;
                state.fetched_at = Some(Instant::now());
                state.failed_at = None;
                state
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| kid_mismatch(kid))
            }
            Err(e) => {
                let mut state = self.write();
                state.failed_at = Some(Instant::now());
                match state.keys.get(kid) {
                    // Clerk unreachable: keep using the key we had rather than sign people out.
                    Some(key) => {
                        tracing::warn!(error = %e, "Clerk JWKS refresh failed; using the cached keys");
                        Ok(key.clone())
                    }
                    None => Err(failed_to_load(e)),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
        let set = self.api.jwks().await.map_err(FetchError::Api)?;
        let keys = parse_keys(set);
        if keys.is_empty() {
            return Err(FetchError::NoKeys);
        }
        tracing::info!(keys = keys.len(), "fetched Clerk JWKS");
        Ok(keys)
    }
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the JWKS endpoint did not contain any RSA signing keys")]
    NoKeys,
}
