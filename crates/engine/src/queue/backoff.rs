//! Delays between attempts: exponential backoff with jitter.

use std::time::Duration;

/// Exponential backoff: the delay before attempt `n + 1` (after `n` failed attempts) is
/// `base * 2^(n-1)`, capped at `max`, then reduced by a random fraction of up to `jitter`.
///
/// Jitter spreads the retries of many jobs that failed together (an outage) so they do not
/// return in one burst. It only ever shortens the delay, by less than a half, so consecutive
/// delays still grow: `[(1-j)·d, d]` and `[(1-j)·2d, 2d]` do not overlap for `j < 0.5`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay after the first failed attempt (before jitter).
    pub base: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
    /// Fraction in `[0, 0.5)` by which a delay may be shortened at random.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(5),
            max: Duration::from_secs(3600),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt, after `failed_attempts` (≥ 1) attempts failed, without
    /// jitter.
    pub fn nominal_delay(&self, failed_attempts: i32) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).clamp(0, 30) as u32;
        self.base
            .checked_mul(1u32 << exponent)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// The delay before the next attempt, with jitter.
    pub fn delay(&self, failed_attempts: i32) -> Duration {
        let nominal = self.nominal_delay(failed_attempts);
        let jitter = self.jitter.clamp(0.0, 0.49);
        let cut = if jitter > 0.0 {
            rand::Rng::gen_range(&mut rand::thread_rng(), 0.0..jitter)
        } else {
            0.0
        };
        nominal.mul_f64(1.0 - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_jitter_only_shortens() {
        let policy = RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(20),
            jitter: 0.25,
        };
        assert_eq!(policy.nominal_delay(1), Duration::from_secs(2));
        assert_eq!(policy.nominal_delay(2), Duration::from_secs(4));
        assert_eq!(policy.nominal_delay(4), Duration::from_secs(16));
        assert_eq!(policy.nominal_delay(5), Duration::from_secs(20));
        assert_eq!(policy.nominal_delay(1000), Duration::from_secs(20));
        for attempt in 1..6 {
            for _ in 0..100 {
                let d = policy.delay(attempt);
                let n = policy.nominal_delay(attempt);
                assert!(d <= n && d >= n.mul_f64(0.75), "{d:?} vs {n:?}");
            }
        }
    }
}
