//! Limits on what one person (or one address) may do in a while, beyond sign-in (see
//! `auth::local::AuthLimits`): looking for meetings, creating them, and asking the hosted
//! provider for recordings. Each protects something: room IDs from being guessed, the
//! provider's quota from being spent by a few accounts.

use std::time::Duration;

use actix_web::HttpRequest;

use crate::db::Pool;
use crate::rate_limit::{ClientAddress, Limiter};

/// Tries to find a meeting (join form, meeting links) one account may make in [`JOIN_WINDOW`];
/// tries that found one are given back.
pub const JOIN_TRIES_PER_ACCOUNT: u32 = 10;
/// The same per client address, across accounts.
pub const JOIN_TRIES_PER_ADDRESS: u32 = 30;
pub const JOIN_WINDOW: Duration = Duration::from_secs(10 * 60);
/// The window of `MEETING_CREATE_RATE_LIMIT` (meetings per account per hour).
pub const MEETING_CREATE_WINDOW: Duration = Duration::from_secs(3600);
/// Times one account's Recordings page may ask the hosted provider for fresh listings in
/// [`RECORDING_LISTING_WINDOW`]; beyond that it shows what is stored.
pub const RECORDING_LISTINGS_PER_ACCOUNT: u32 = 10;
pub const RECORDING_LISTING_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The limiters, shared by all workers (and, on PostgreSQL, by every instance).
#[derive(Debug)]
pub struct Limits {
    /// How a request's address is taken for the per-address limits.
    pub address: ClientAddress,
    join_per_account: Limiter,
    join_per_address: Limiter,
    pub meetings_created: Limiter,
    pub recording_listings: Limiter,
}

impl Limits {
    /// `meetings_per_hour`: `MEETING_CREATE_RATE_LIMIT`; counted where `pool` says (see
    /// [`Limiter::new`]).
    pub fn new(meetings_per_hour: u32, address: ClientAddress, pool: &Pool) -> Self {
        Self {
            address,
            join_per_account: Limiter::new(
                "join_account",
                JOIN_TRIES_PER_ACCOUNT,
                JOIN_WINDOW,
                pool,
            ),
            join_per_address: Limiter::new(
                "join_address",
                JOIN_TRIES_PER_ADDRESS,
                JOIN_WINDOW,
                pool,
            ),
            meetings_created: Limiter::new(
                "meeting_create",
                meetings_per_hour,
                MEETING_CREATE_WINDOW,
                pool,
            ),
            recording_listings: Limiter::new(
                "recording_listing",
                RECORDING_LISTINGS_PER_ACCOUNT,
                RECORDING_LISTING_WINDOW,
                pool,
            ),
        }
    }

    /// Counts a try to find a meeting, before looking (so tries in parallel cannot all pass
    /// the check first). `Ok(Err(wait))` when this account or address has used up its tries;
    /// otherwise the try, to give back with [`JoinTry::found`] if it finds one.
    pub async fn join_try(
        &self,
        account: &str,
        req: &HttpRequest,
    ) -> Result<Result<JoinTry<'_>, Duration>, sqlx::Error> {
        let address = self.address.of(req);
        if let Err(wait) = self.join_per_account.try_hit(account).await? {
            return Ok(Err(wait));
        }
        if let Err(wait) = self.join_per_address.try_hit(&address).await? {
            self.join_per_account.undo(account).await;
            return Ok(Err(wait));
        }
        Ok(Ok(JoinTry {
            limits: self,
            account: account.to_owned(),
            address,
        }))
    }
}

/// One counted try to find a meeting.
pub struct JoinTry<'a> {
    limits: &'a Limits,
    account: String,
    address: String,
}

impl JoinTry<'_> {
    /// The try found a meeting: it does not count.
    pub async fn found(self) {
        self.limits.join_per_account.undo(&self.account).await;
        self.limits.join_per_address.undo(&self.address).await;
    }
}
