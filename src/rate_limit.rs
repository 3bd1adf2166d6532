//! A small fixed-window rate limiter for sign-in, sign-up and token endpoints.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

    /// Forgets a key (after a successful sign-in, for instance).
    pub fn reset(&self, key: &str) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
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
    fn waits_are_described_in_whole_units() {
        assert_eq!(describe_wait(Duration::from_secs(1)), "1 second");
        assert_eq!(describe_wait(Duration::from_secs(59)), "59 seconds");
        assert_eq!(describe_wait(Duration::from_secs(61)), "2 minutes");
        assert_eq!(describe_wait(Duration::from_secs(60)), "1 minute");
    }
}
