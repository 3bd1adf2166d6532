//! Fixed-window rate limits (sign-in, sign-up, joins, meeting creation, tokens) and the client
//! address their per-address limits are keyed by.
//!
//! A [`Limiter`] counts in this process ([`RateLimiter`]: one instance on SQLite, no I/O) or in
//! the database ([`SharedLimiter`]: on PostgreSQL, where several instances must share one count,
//! or N instances would allow N times the attempts).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;

use crate::db::{Backend, Pool};

/// A rate limit as endpoints use it, wherever it counts.
#[derive(Debug)]
pub enum Limiter {
    /// Counted in this process.
    Local(RateLimiter),
    /// Counted in the database, for every instance at once.
    Shared(SharedLimiter),
}

impl Limiter {
    /// `max` events per `window` for each key: in the database when `pool` is one several
    /// instances share, in memory otherwise. `bucket` names the limit in the database.
    pub fn new(bucket: &'static str, max: u32, window: Duration, pool: &Pool) -> Self {
        if Backend::of(pool).is_shared() {
            Self::Shared(SharedLimiter {
                pool: pool.clone(),
                bucket,
                max,
                window,
            })
        } else {
            Self::Local(RateLimiter::new(max, window))
        }
    }

    /// Checks and counts one event: `Ok(Err(wait))` when the key has used up its window (the
    /// refused event is not counted).
    pub async fn try_hit(&self, key: &str) -> Result<Result<(), Duration>, sqlx::Error> {
        match self {
            Self::Local(limiter) => Ok(limiter.try_hit(key)),
            Self::Shared(limiter) => limiter.try_hit(key).await,
        }
    }

    /// Takes back one event counted for the key (an attempt that turned out to be fine). A
    /// failure to do so is logged: the key keeps the event, which errs on the safe side.
    pub async fn undo(&self, key: &str) {
        match self {
            Self::Local(limiter) => limiter.undo(key),
            Self::Shared(limiter) => {
                if let Err(e) = limiter.undo(key).await {
                    tracing::error!(error = %e, bucket = limiter.bucket, "could not give back a counted event");
                }
            }
        }
    }

    /// Forgets a key (after a successful sign-in, for instance); a failure is logged.
    pub async fn reset(&self, key: &str) {
        match self {
            Self::Local(limiter) => limiter.reset(key),
            Self::Shared(limiter) => {
                if let Err(e) = limiter.reset(key).await {
                    tracing::error!(error = %e, bucket = limiter.bucket, "could not reset a rate limit");
                }
            }
        }
    }
}

/// A fixed-window limit counted in the `rate_limit` table. One statement per event: an upsert
/// that starts a new window, counts within the window, or (refused) changes nothing.
#[derive(Debug)]
pub struct SharedLimiter {
    pool: Pool,
    bucket: &'static str,
    max: u32,
    window: Duration,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl SharedLimiter {
    async fn try_hit(&self, key: &str) -> Result<Result<(), Duration>, sqlx::Error> {
        let now = now_ms();
        let window = self.window.as_millis() as i64;
        let counted: Option<i64> = sqlx::query_scalar(
            "insert into rate_limit (bucket, key, hits, window_ends_at) values ($1, $2, 1, $3 + $4) \
             on conflict (bucket, key) do update set \
               hits = case when rate_limit.window_ends_at <= $3 then 1 else rate_limit.hits + 1 end, \
               window_ends_at = case when rate_limit.window_ends_at <= $3 then $3 + $4 \
                 else rate_limit.window_ends_at end \
             where rate_limit.window_ends_at <= $3 or rate_limit.hits < $5 \
             returning window_ends_at",
        )
        .bind(self.bucket)
        .bind(key)
        .bind(now)
        .bind(window)
        .bind(i64::from(self.max))
        .fetch_optional(&self.pool)
        .await?;
        if counted.is_some() {
            return Ok(Ok(()));
        }
        let ends: Option<i64> = sqlx::query_scalar(
            "select window_ends_at from rate_limit where bucket = $1 and key = $2",
        )
        .bind(self.bucket)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let wait = ends.map_or(0, |end| (end - now).max(0));
        Ok(Err(Duration::from_millis(wait as u64)))
    }

    async fn undo(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "update rate_limit set hits = hits - 1 where bucket = $1 and key = $2 and hits > 0",
        )
        .bind(self.bucket)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("delete from rate_limit where bucket = $1 and key = $2")
            .bind(self.bucket)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Removes the counts whose window ended (at most `limit` of them); returns how many. Only the
/// database's counts need this: the in-memory ones sweep themselves.
pub async fn sweep_shared(pool: &Pool, limit: i64) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "delete from rate_limit where (bucket, key) in (select bucket, key from rate_limit \
         where window_ends_at <= $1 limit $2)",
    )
    .bind(now_ms())
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Counts events per key in fixed windows; a key over `max` is refused until its window ends.
#[derive(Debug)]
pub struct RateLimiter {
    max: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Entries kept before expired ones are swept, bounding memory under a flood of keys.
const SWEEP_THRESHOLD: usize = 10_000;

impl RateLimiter {
    /// Allows `max` events per `window` for each key.
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(wait)` if the key has used up its window, without counting this call.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.get(key) {
            Some((start, n)) if now.duration_since(*start) < self.window && *n >= self.max => {
                Err(self.window - now.duration_since(*start))
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for the key.
    pub fn hit(&self, key: &str) {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= SWEEP_THRESHOLD {
            let window = self.window;
            counts.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = counts.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Checks and counts in one step: the usual use for endpoints limited per call. One lock,
    /// and no allocation for a key already counted (it runs on every token request).
    pub fn try_hit(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((start, n)) = counts.get_mut(key) {
                let elapsed = now.duration_since(*start);
                if elapsed >= self.window {
                    *start = now;
                    *n = 1;
                } else if *n >= self.max {
                    return Err(self.window - elapsed);
                } else {
                    *n += 1;
                }
                return Ok(());
            }
        }
        self.hit(key);
        Ok(())
    }

    /// Takes back one event counted for the key (an attempt that turned out to be fine).
    pub fn undo(&self, key: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, n)) = counts.get_mut(key) {
            *n = n.saturating_sub(1);
        }
    }

    /// Forgets a key (after a successful sign-in, for instance).
    pub fn reset(&self, key: &str) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// How the client address is taken for per-address limits.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress {
    /// Behind a reverse proxy: the address it appended to `X-Forwarded-For` is the client's.
    pub trust_proxy: bool,
}

impl ClientAddress {
    /// The rate-limit key of the request's client: an IPv4 address, or the /64 network of an
    /// IPv6 one (one household or server gets a whole /64, and can pick any address in it).
    pub fn of(self, req: &HttpRequest) -> String {
        let peer = req.peer_addr().map(|a| a.ip());
        let ip = if self.trust_proxy {
            // A proxy that sent no usable header leaves its own address: one shared key,
            // which fails closed rather than trusting what the client wrote.
            forwarded_for(req.headers()).or(peer)
        } else {
            peer
        };
        ip.map_or_else(|| "unknown".to_owned(), limit_key)
    }
}

/// The right-most address in `X-Forwarded-For`: the one our proxy appended. Everything to its
/// left was written by the client (or proxies we know nothing of) and can be anything.
fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|s| !s.is_empty())?;
    parse_ip(last)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_ip(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    s.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

/// IPv4 as is (IPv4-mapped IPv6 too); IPv6 cut to its /64.
pub fn limit_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

/// "N minutes" / "N seconds" for a wait, rounded up, for messages.
pub fn describe_wait(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs >= 60 {
        let mins = secs.div_ceil(60);
        format!("{mins} minute{}", if mins == 1 { "" } else { "s" })
    } else {
        format!("{secs} second{}", if secs == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_after_max_hits_and_others_are_not() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.try_hit("a").is_ok());
        assert!(limiter.try_hit("a").is_ok());
        assert!(limiter.try_hit("a").is_err());
        assert!(limiter.try_hit("b").is_ok());
        limiter.reset("a");
        assert!(limiter.try_hit("a").is_ok());
    }

    #[test]
    fn the_window_expires() {
        let limiter = RateLimiter::new(1, Duration::from_millis(20));
        limiter.hit("a");
        assert!(limiter.check("a").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(limiter.check("a").is_ok());
    }

    #[test]
    fn an_undone_hit_gives_its_place_back() {
        let limiter = RateLimiter::new(1, Duration::from_secs(60));
        assert!(limiter.try_hit("a").is_ok());
        limiter.undo("a");
        assert!(limiter.try_hit("a").is_ok());
        assert!(limiter.try_hit("a").is_err());
    }

    #[test]
    fn ipv6_addresses_share_a_key_per_64_and_ipv4_stays_whole() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limit_key(a), "2001:db8:1:2::/64");
        assert_eq!(limit_key(a), limit_key(b));
        assert_ne!(limit_key(a), limit_key(c));
        assert_eq!(limit_key("203.0.113.9".parse().unwrap()), "203.0.113.9");
        assert_eq!(
            limit_key("::ffff:203.0.113.9".parse().unwrap()),
            "203.0.113.9"
        );
    }

    #[test]
    fn the_proxy_appended_address_is_the_right_most_one() {
        let mut headers = HeaderMap::new();
        let name = actix_web::http::header::HeaderName::from_static("x-forwarded-for");
        let value = |s: &'static str| actix_web::http::header::HeaderValue::from_static(s);
        headers.append(name.clone(), value("6.6.6.6, 10.0.0.1"));
        headers.append(name.clone(), value(" 198.51.100.7 "));
        assert_eq!(
            forwarded_for(&headers),
            Some("198.51.100.7".parse().unwrap())
        );
        let mut headers = HeaderMap::new();
        headers.append(name.clone(), value("1.1.1.1, [2001:db8::5]:443"));
        assert_eq!(
            forwarded_for(&headers),
            Some("2001:db8::5".parse().unwrap())
        );
        let mut headers = HeaderMap::new();
        headers.append(name, value("1.1.1.1, garbage"));
        assert_eq!(forwarded_for(&headers), None);
    }

    #[test]
    fn waits_are_described_in_whole_units() {
        assert_eq!(describe_wait(Duration::from_secs(1)), "1 second");
        assert_eq!(describe_wait(Duration::from_secs(59)), "59 seconds");
        assert_eq!(describe_wait(Duration::from_secs(61)), "2 minutes");
        assert_eq!(describe_wait(Duration::from_secs(60)), "1 minute");
    }
}
