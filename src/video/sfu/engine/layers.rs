//! Which simulcast layer each of a subscriber's video tiles gets.
//!
//! Publishers send their camera three times: quarter (`q`, 320×180 from 720p), half (`h`,
//! 640×360) and full (`f`) resolution. A tile gets the smallest layer that still fills it, and
//! then the subscriber's bandwidth estimate has the last word: while the sum is over it, the
//! biggest layer steps down (the least important tile first), and when every tile is at its
//! lowest, the least important tiles lose video altogether.
//!
//! Changes are damped ([`plan`]): a tile starts on the smallest layer (its keyframe arrives
//! soonest), steps up only after showing a layer for [`UPGRADE_HOLD`] and with
//! [`UPGRADE_HEADROOM`] to spare, and steps down at once.

use std::time::Duration;

/// Tiles up to this many device pixels tall get the quarter layer (180 px, upscaled a little).
pub const LOW_MAX_HEIGHT: u32 = 240;
/// Tiles up to this tall get the half layer (360 px); taller ones the full layer.
pub const MID_MAX_HEIGHT: u32 = 480;
/// What each layer costs before it has been measured: the `maxBitrate` the page gives it.
pub const NOMINAL_BITRATES: [u64; 3] = [150_000, 500_000, 1_500_000];

/// A tile shows a layer this long before it may step up.
pub const UPGRADE_HOLD: Duration = Duration::from_secs(1);
/// Stepping up needs the estimate to cover the bigger layers this many times over, so an
/// estimate that wobbles around a layer's cost does not switch layers back and forth.
pub const UPGRADE_HEADROOM: f64 = 1.25;

/// A layer's rank: 0 (`q`) to 2 (`f`).
pub type Rank = usize;

/// The rank a simulcast rid stands for (no rid: a single full-resolution stream).
pub fn rank_of(rid: Option<&str>) -> Rank {
    match rid {
        Some("q") => 0,
        Some("h") => 1,
        _ => 2,
    }
}

/// The layer a tile this tall should get, before bandwidth is considered.
pub fn ideal_rank(tile_height: u32) -> Rank {
    if tile_height <= LOW_MAX_HEIGHT {
        0
    } else if tile_height <= MID_MAX_HEIGHT {
        1
    } else {
        2
    }
}

/// One tile to fill: how tall it is and what its publisher sends now (bits per second by
/// rank; `None` for a layer not arriving).
#[derive(Debug, Clone, Copy)]
pub struct Want {
    pub tile_height: u32,
    pub layers: [Option<u64>; 3],
}

/// Chooses a rank per tile (`None`: no video). `wants` are in priority order (most important
/// first); `budget` is the subscriber's estimated bandwidth for video, if known.
pub fn choose(wants: &[Want], budget: Option<u64>) -> Vec<Option<Rank>> {
    let mut chosen: Vec<Option<Rank>> = wants
        .iter()
        .map(|w| {
            let ideal = ideal_rank(w.tile_height);
            // The best layer not above the ideal, else the smallest above it.
            (0..=ideal)
                .rev()
                .find(|&r| w.layers[r].is_some())
                .or_else(|| (ideal + 1..3).find(|&r| w.layers[r].is_some()))
        })
        .collect();
    let Some(budget) = budget else {
        return chosen;
    };
    let cost = |chosen: &[Option<Rank>]| -> u64 {
        chosen
            .iter()
            .zip(wants)
            .filter_map(|(c, w)| c.and_then(|r| w.layers[r]))
            .sum()
    };
    while cost(&chosen) > budget {
        // Step down the biggest layer, the least important tile first among equals.
        let biggest = chosen
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let r = (*c)?;
                let lower = (0..r).rev().find(|&l| wants[i].layers[l].is_some())?;
                Some((r, i, lower))
            })
            .max_by_key(|&(r, i, _)| (r, i));
        match biggest {
            Some((_, i, lower)) => chosen[i] = Some(lower),
            None => {
                // Everyone is at their lowest: the least important tile goes dark.
                match chosen.iter().rposition(Option::is_some) {
                    Some(i) => chosen[i] = None,
                    None => break,
                }
            }
        }
    }
    chosen
}

/// What a tile shows now: the layer's rank, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Showing {
    pub rank: Rank,
    pub held: Duration,
}

/// [`choose`], damped: `showing[i]` is what tile `i` shows now, if anything.
pub fn plan(wants: &[Want], showing: &[Option<Showing>], budget: Option<u64>) -> Vec<Option<Rank>> {
    let down = choose(wants, budget);
    let up = choose(wants, budget.map(|b| (b as f64 / UPGRADE_HEADROOM) as u64));
    wants
        .iter()
        .enumerate()
        .map(|(i, want)| {
            let Some(now) = showing.get(i).copied().flatten() else {
                // Nothing yet: the smallest layer first, if the tile gets video at all.
                return down[i].and_then(|_| (0..3).find(|&r| want.layers[r].is_some()));
            };
            if want.layers[now.rank].is_none() || down[i] < Some(now.rank) {
                down[i]
            } else if up[i] > Some(now.rank) && now.held >= UPGRADE_HOLD {
                up[i]
            } else {
                Some(now.rank)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Option<u64>; 3] = [Some(150_000), Some(500_000), Some(1_500_000)];

    fn want(h: u32) -> Want {
        Want {
            tile_height: h,
            layers: ALL,
        }
    }

    #[test]
    fn tiles_get_the_smallest_layer_that_fills_them() {
        assert_eq!(
            choose(&[want(720), want(400), want(120)], None),
            vec![Some(2), Some(1), Some(0)]
        );
        assert_eq!(rank_of(Some("q")), 0);
        assert_eq!(rank_of(Some("h")), 1);
        assert_eq!(rank_of(Some("f")), 2);
        assert_eq!(rank_of(None), 2);
    }

    #[test]
    fn a_missing_layer_falls_back_to_the_next_one_down_then_up() {
        let no_full = Want {
            tile_height: 900,
            layers: [Some(150_000), Some(500_000), None],
        };
        let only_full = Want {
            tile_height: 100,
            layers: [None, None, Some(1_000_000)],
        };
        let nothing = Want {
            tile_height: 100,
            layers: [None; 3],
        };
        assert_eq!(
            choose(&[no_full, only_full, nothing], None),
            vec![Some(1), Some(2), None]
        );
    }

    #[test]
    fn a_new_tile_starts_small_and_steps_up_after_a_while_with_room_to_spare() {
        let big = [want(720)];
        let showing = |rank, ms| {
            [Some(Showing {
                rank,
                held: Duration::from_millis(ms),
            })]
        };
        assert_eq!(plan(&big, &[None], None), vec![Some(0)]);
        assert_eq!(plan(&big, &showing(0, 300), None), vec![Some(0)], "not yet");
        assert_eq!(plan(&big, &showing(0, 1200), None), vec![Some(2)]);
        // 1.6 Mbit/s covers the full layer, but not with 25 % to spare: half it is.
        assert_eq!(
            plan(&big, &showing(0, 1200), Some(1_600_000)),
            vec![Some(1)]
        );
        assert_eq!(
            plan(&big, &showing(1, 5000), Some(1_600_000)),
            vec![Some(1)]
        );
        assert_eq!(
            plan(&big, &showing(2, 100), Some(1_600_000)),
            vec![Some(2)],
            "no need to step down"
        );
        // Down at once when the estimate falls, or the layer stops.
        assert_eq!(plan(&big, &showing(2, 100), Some(600_000)), vec![Some(1)]);
        let gone = [Want {
            tile_height: 720,
            layers: [Some(150_000), None, None],
        }];
        assert_eq!(plan(&gone, &showing(1, 9000), None), vec![Some(0)]);
        // A tile the budget leaves dark starts nothing.
        assert_eq!(plan(&big, &[None], Some(0)), vec![None]);
    }

    #[test]
    fn a_tight_budget_steps_the_least_important_big_layer_down_first() {
        // Two spotlight-sized tiles: 3 Mbit/s wanted.
        let wants = [want(720), want(720)];
        assert_eq!(choose(&wants, Some(2_100_000)), vec![Some(2), Some(1)]);
        assert_eq!(choose(&wants, Some(1_100_000)), vec![Some(1), Some(1)]);
        assert_eq!(choose(&wants, Some(700_000)), vec![Some(1), Some(0)]);
        assert_eq!(choose(&wants, Some(300_000)), vec![Some(0), Some(0)]);
        // Not even two quarter layers: the second tile goes dark.
        assert_eq!(choose(&wants, Some(200_000)), vec![Some(0), None]);
        assert_eq!(choose(&wants, Some(0)), vec![None, None]);
    }
}
