//! Limits on what one person (or one address) may do in a while, beyond sign-in (see
//! `auth::local::AuthLimits`): looking for meetings, creating them, and asking the hosted
//! provider for recordings. Each protects something: room IDs from being guessed, the
//! provider's quota from being spent by a few accounts.

use std::time::Duration;

use actix_web::HttpRequest;

use crate::rate_limit::{ClientAddress, RateLimiter};

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

/// The limiters, shared by all workers.
#[derive(Debug)]
pub struct Limits {
    /// How a request's address is taken for the per-address limits.
    pub address: ClientAddress,
    join_per_account: RateLimiter,
    join_per_address: RateLimiter,
    pub meetings_created: RateLimiter,
    pub recording_listings: RateLimiter,
}

impl Limits {
    /// `meetings_per_hour`: `MEETING_CREATE_RATE_LIMIT`.
    pub fn new(meetings_per_hour: u32, address: ClientAddress) -> Self {
        Self {
            address,
            join_per_account: RateLimiter::new(JOIN_TRIES_PER_ACCOUNT, JOIN_WINDOW),
            join_per_address: RateLimiter::new(JOIN_TRIES_PER_ADDRESS, JOIN_WINDOW),
            meetings_created: RateLimiter::new(meetings_per_hour, MEETING_CREATE_WINDOW),
            recording_listings: RateLimiter::new(
                RECORDING_LISTINGS_PER_ACCOUNT,
                RECORDING_LISTING_WINDOW,
            ),
        }
    }

    /// Counts a try to find a meeting, before looking (so tries in parallel cannot all pass
    /// the check first). `Err(wait)` when this account or address has used up its tries;
    /// otherwise the try, to give back with [`JoinTry::found`] if it finds one.
    pub fn join_try(&self, account: &str, req: &HttpRequest) -> Result<JoinTry<'_>, Duration> {
        let address = self.address.of(req);
        self.join_per_account.try_hit(account)?;
        self.join_per_address
            .try_hit(&address)
            .inspect_err(|_| self.join_per_account.undo(account))?;
        Ok(JoinTry {
            limits: self,
            account: account.to_owned(),
            address,
        })
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
    pub fn found(self) {
        self.limits.join_per_account.undo(&self.account);
        self.limits.join_per_address.undo(&self.address);
    }
}
