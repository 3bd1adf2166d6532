//! Who is speaking loudest, from the audio level browsers write into every audio packet
//! (RFC 6464: 0 is loudest, -127 silence). Only the loudest few are forwarded to each
//! subscriber, so a 50-person meeting does not send 49 audio streams to everyone.
//!
//! Levels are smoothed over a few hundred milliseconds, and someone already chosen keeps
//! their place until a challenger is clearly louder, so a cough does not steal it and two
//! equally loud voices do not swap back and forth.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Weight of each new packet's level (packets come every 20 ms: about 200 ms to follow).
const SMOOTHING: f32 = 0.1;
/// A challenger must be this much louder (in dB) than the quietest chosen speaker.
pub const MARGIN_DB: f32 = 6.0;
/// No audio packet for this long counts as silence (a muted microphone sends nothing).
pub const STALE_AFTER: Duration = Duration::from_millis(600);

#[derive(Debug, Clone, Copy)]
struct Level {
    /// Smoothed loudness, 0 (silence) to 127.
    loudness: f32,
    heard: Instant,
}

/// The room's audio levels and its current loudest speakers.
#[derive(Debug)]
pub struct Speakers<K> {
    levels: HashMap<K, Level>,
    chosen: Vec<K>,
}

impl<K: Copy + Eq + Hash + Ord> Default for Speakers<K> {
    fn default() -> Self {
        Self {
            levels: HashMap::new(),
            chosen: Vec::new(),
        }
    }
}

impl<K: Copy + Eq + Hash + Ord> Speakers<K> {
    /// One audio packet's level from `who` (`None` when the packet had no level).
    pub fn observe(&mut self, who: K, audio_level: Option<i8>, now: Instant) {
        let x = audio_level.map_or(0.0, |l| f32::from(127 - l.clamp(-127, 0).unsigned_abs()));
        let level = self.levels.entry(who).or_insert(Level {
            loudness: 0.0,
            heard: now,
        });
        level.loudness += (x - level.loudness) * SMOOTHING;
        level.heard = now;
    }

    /// Forgets someone who left.
    pub fn remove(&mut self, who: K) {
        self.levels.remove(&who);
        self.chosen.retain(|k| *k != who);
    }

    fn loudness(&self, who: K, now: Instant) -> f32 {
        match self.levels.get(&who) {
            Some(l) if now.saturating_duration_since(l.heard) < STALE_AFTER => l.loudness,
            _ => 0.0,
        }
    }

    /// The `n` loudest, loudest first, among those who ever sent audio. Call it every few
    /// hundred milliseconds; the order is stable between calls unless someone clearly overtook.
    pub fn loudest(&mut self, n: usize, now: Instant) -> Vec<K> {
        self.chosen.retain(|k| self.levels.contains_key(k));
        self.chosen.truncate(n);
        let mut others: Vec<K> = self
            .levels
            .keys()
            .copied()
            .filter(|k| !self.chosen.contains(k))
            .collect();
        // Loudest first; ties by key so the result does not depend on hash order.
        others.sort_by(|a, b| {
            self.loudness(*b, now)
                .total_cmp(&self.loudness(*a, now))
                .then(a.cmp(b))
        });
        let mut others = others.into_iter().peekable();
        while self.chosen.len() < n {
            match others.next() {
                Some(k) => self.chosen.push(k),
                None => break,
            }
        }
        // Clearly louder challengers replace the quietest chosen, one at a time.
        while let Some(&challenger) = others.peek() {
            let Some((weakest, weakest_loudness)) = self
                .chosen
                .iter()
                .enumerate()
                .map(|(i, k)| (i, self.loudness(*k, now)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
            else {
                break;
            };
            if self.loudness(challenger, now) < weakest_loudness + MARGIN_DB {
                break;
            }
            self.chosen[weakest] = challenger;
            others.next();
        }
        let mut ranked = self.chosen.clone();
        ranked.sort_by(|a, b| {
            self.loudness(*b, now)
                .total_cmp(&self.loudness(*a, now))
                .then(a.cmp(b))
        });
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds one second of 20 ms packets at the given levels.
    fn talk(s: &mut Speakers<u32>, levels: &[(u32, i8)], start: Instant) -> Instant {
        let mut now = start;
        for _ in 0..50 {
            now += Duration::from_millis(20);
            for &(who, level) in levels {
                s.observe(who, Some(level), now);
            }
        }
        now
    }

    #[test]
    fn the_loudest_are_chosen_loudest_first() {
        let mut s = Speakers::default();
        let now = talk(
            &mut s,
            &[(1, -60), (2, -20), (3, -90), (4, -40)],
            Instant::now(),
        );
        assert_eq!(s.loudest(3, now), vec![2, 4, 1]);
    }

    #[test]
    fn a_slightly_louder_voice_does_not_take_a_place_but_a_clearly_louder_one_does() {
        let mut s = Speakers::default();
        let now = talk(&mut s, &[(1, -30), (2, -40)], Instant::now());
        assert_eq!(s.loudest(1, now), vec![1]);
        let now = talk(&mut s, &[(1, -30), (2, -27)], now);
        assert_eq!(s.loudest(1, now), vec![1], "3 dB is not enough");
        let now = talk(&mut s, &[(1, -30), (2, -10)], now);
        assert_eq!(s.loudest(1, now), vec![2]);
    }

    #[test]
    fn someone_who_stopped_sending_counts_as_silent_and_leavers_are_forgotten() {
        let mut s = Speakers::default();
        let now = talk(&mut s, &[(1, -10), (2, -50), (3, -50)], Instant::now());
        assert_eq!(s.loudest(2, now), vec![1, 2]);
        // 1 mutes (sends nothing); 3 speaks up.
        let now = talk(&mut s, &[(2, -50), (3, -30)], now);
        assert_eq!(s.loudest(2, now), vec![3, 2]);
        s.remove(2);
        assert_eq!(s.loudest(2, now), vec![3, 1]);
    }
}
