//! One backoff for every retry in hoist (registry requests, forge
//! requests, compare-and-swap pushes) and one source of jitter for it and
//! for the bot's schedules: exponential from a base, capped, half of each
//! wait fixed and half random ("equal jitter"), so that racing writers and
//! replicas spread out instead of retrying in lockstep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exponential backoff with equal jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the first retry (before jitter).
    pub base: Duration,
    /// No wait is longer than this.
    pub max: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff { base, max }
    }

    /// The wait before retry `attempt` (1-based): `base · 2^(attempt-1)`,
    /// capped at `max`, of which a random half is waited.
    pub fn wait(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max);
        exp / 2 + jitter(exp / 2)
    }

    /// Sleep [`Backoff::wait`] on this thread.
    pub fn sleep(&self, attempt: u32) {
        std::thread::sleep(self.wait(attempt));
    }
}

/// A random duration between zero and `max`.
pub fn jitter(max: Duration) -> Duration {
    max.mul_f64(unit())
}

/// `base`, moved by up to `fraction` of itself either way (a schedule's
/// interval: ±10 % is `spread(base, 0.1)`).
pub fn spread(base: Duration, fraction: f64) -> Duration {
    let f = fraction.clamp(0.0, 1.0);
    base.mul_f64(1.0 + f * (2.0 * unit() - 1.0))
}

/// A uniform number in [0, 1): a SplitMix64 stream shared by the whole
/// process, seeded once from the standard library's per-process random
/// keys. Not for secrets; for spreading waits.
fn unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    if STATE.load(Ordering::Relaxed) == 0 {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one(std::process::id()) | 1;
        let _ = STATE.compare_exchange(0, seed, Ordering::Relaxed, Ordering::Relaxed);
    }
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stay_within_bounds() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..=12 {
            let full = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1))
                .min(Duration::from_secs(2));
            for _ in 0..50 {
                let w = b.wait(attempt);
                assert!(
                    w >= full / 2 && w <= full,
                    "attempt {attempt}: {w:?} not in [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn jitter_varies_and_spread_stays_within_its_fraction() {
        let max = Duration::from_secs(1);
        let draws: std::collections::BTreeSet<Duration> = (0..100).map(|_| jitter(max)).collect();
        assert!(
            draws.len() > 90,
            "jitter should vary: {} distinct of 100",
            draws.len()
        );
        assert!(draws.iter().all(|d| *d <= max));
        let base = Duration::from_secs(60);
        for _ in 0..200 {
            let s = spread(base, 0.1);
            assert!(
                s >= Duration::from_secs(54) && s <= Duration::from_secs(66),
                "{s:?}"
            );
        }
    }
}
