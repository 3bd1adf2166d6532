//! Built-in accounts' identity: the sign-in limits, and sessions that live on the server.
//!
//! The session cookie is encrypted, but a cookie alone cannot be taken back. So it carries
//! only a random session ID whose (hashed) row in `auth_session` is what makes it valid:
//! signing out deletes the row, and a copied cookie stops working at once.

use std::time::Duration;

use actix_session::Session;
use sha2::{Digest, Sha256};

use super::{CurrentUser, accounts};
use crate::db::Pool;
use crate::errors::AppError;
use crate::rate_limit::Limiter;

/// Session key holding the session's random ID.
pub const SESSION_ID: &str = "sid";
/// How long a sign-in lasts (the cookie and its row alike).
pub const SESSION_TTL: Duration = Duration::from_secs(14 * 24 * 3600);
/// Sessions one account keeps at once (browsers, devices); signing in beyond this ends the
/// oldest.
pub const MAX_SESSIONS_PER_ACCOUNT: i64 = 20;

/// Sign-in attempts allowed per client address in [`SIGN_IN_WINDOW`].
pub const SIGN_IN_ATTEMPTS_PER_ADDRESS: u32 = 20;
/// Sign-in attempts allowed per username in [`SIGN_IN_WINDOW`].
pub const SIGN_IN_ATTEMPTS_PER_USERNAME: u32 = 5;
/// The window of the sign-in limits.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Accounts one client address may create per hour.
pub const SIGN_UPS_PER_ADDRESS: u32 = 20;

/// The sign-in and sign-up limits, shared by all workers (and, on PostgreSQL, by every
/// instance).
#[derive(Debug)]
pub struct AuthLimits {
    /// Sign-in attempts per client address (successful ones are given back).
    pub attempts_per_address: Limiter,
    /// Sign-in attempts per username, whatever the address (reset by a successful one).
    pub attempts_per_username: Limiter,
    /// Accounts created per client address.
    pub sign_ups_per_address: Limiter,
}

impl AuthLimits {
    /// The limits, counted where `pool` says (see [`Limiter::new`]).
    pub fn new(pool: &Pool) -> Self {
        let window = SIGN_IN_WINDOW;
        Self {
            attempts_per_address: Limiter::new(
                "sign_in_address",
                SIGN_IN_ATTEMPTS_PER_ADDRESS,
                window,
                pool,
            ),
            attempts_per_username: Limiter::new(
                "sign_in_username",
                SIGN_IN_ATTEMPTS_PER_USERNAME,
                window,
                pool,
            ),
            sign_ups_per_address: Limiter::new(
                "sign_up_address",
                SIGN_UPS_PER_ADDRESS,
                Duration::from_secs(60 * 60),
                pool,
            ),
        }
    }
}

fn session_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Signs a person in on this browser: a new session row, and a fresh cookie pointing at it
/// (renewed, so a cookie planted before sign-in is worthless).
pub async fn start_session(
    session: &Session,
    pool: &Pool,
    user: &CurrentUser,
) -> Result<(), AppError> {
    let id = hex::encode(rand::random::<[u8; 32]>());
    let now = crate::time::now();
    accounts::insert_session(
        pool,
        &session_hash(&id),
        &user.id,
        now,
        now + SESSION_TTL.as_secs() as i64,
        MAX_SESSIONS_PER_ACCOUNT,
    )
    .await?;
    session.renew();
    session
        .insert(SESSION_ID, &id)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("Failed to store the session: {e}")))
}

/// The person this browser's session belongs to, if it is still valid.
pub async fn session_user(
    session: &Session,
    pool: &Pool,
) -> Result<Option<CurrentUser>, sqlx::Error> {
    let Ok(Some(id)) = session.get::<String>(SESSION_ID) else {
        return Ok(None);
    };
    let user = accounts::find_by_session(pool, &session_hash(&id), crate::time::now()).await?;
    if user.is_none() {
        // Signed out elsewhere, expired, or the account is gone: forget the cookie too.
        session.purge();
    }
    Ok(user)
}

/// Signs this browser out: the session row goes, then the cookie.
pub async fn end_session(session: &Session, pool: &Pool) -> Result<(), sqlx::Error> {
    if let Ok(Some(id)) = session.get::<String>(SESSION_ID) {
        accounts::delete_session(pool, &session_hash(&id)).await?;
    }
    session.purge();
    Ok(())
}
