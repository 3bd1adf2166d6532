//! How long forwarding takes: from a packet's arrival on the media socket to each forwarded
//! copy's hand-over to the kernel. Kept per room as a fixed histogram (no allocation per
//! packet), read by logs and the load benchmark.

use std::time::Duration;

/// Width of one bucket.
pub const BUCKET: Duration = Duration::from_micros(10);
/// Buckets up to 50 ms; slower copies share the last one.
const BUCKETS: usize = 5_000;

#[derive(Debug, Clone)]
pub struct Delays {
    counts: Vec<u64>,
}

impl Default for Delays {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS + 1],
        }
    }
}

impl Delays {
    pub fn record(&mut self, delay: Duration) {
        let bucket = (delay.as_micros() / BUCKET.as_micros()) as usize;
        self.counts[bucket.min(BUCKETS)] += 1;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The delay under which a share `q` (0–1) of the copies left (the bucket's upper end);
    /// `None` before any.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let wanted = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= wanted {
                return Some(BUCKET * (i as u32 + 1));
            }
        }
        None
    }

    pub fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets_and_slow_copies_land_in_the_last() {
        let mut d = Delays::default();
        assert_eq!(d.quantile(0.5), None);
        for us in [5, 15, 25, 35, 45, 55, 65, 75, 85, 95] {
            d.record(Duration::from_micros(us));
        }
        assert_eq!(d.quantile(0.5), Some(Duration::from_micros(50)));
        assert_eq!(d.quantile(0.99), Some(Duration::from_micros(100)));
        d.record(Duration::from_secs(3));
        assert_eq!(d.quantile(1.0), Some(BUCKET * (BUCKETS as u32 + 1)));
        d.reset();
        assert_eq!(d.count(), 0);
    }
}
