//! The lockout rule for local login: after `threshold` consecutive failures the account locks
//! for `base` seconds, doubling with every further failure, at most one day. A successful login
//! resets the count.

use std::time::Duration;

/// Longest lock.
pub const MAX_LOCK: Duration = Duration::from_secs(24 * 3600);

/// How long to lock after the `failures`-th consecutive failure; `None` below the threshold
/// (or when lockout is disabled with a threshold of 0).
pub fn lock_duration(failures: u32, threshold: u32, base_secs: u64) -> Option<Duration> {
    if threshold == 0 || failures < threshold {
        return None;
    }
    let doublings = failures - threshold;
    let secs = if doublings >= 63 {
        u64::MAX
    } else {
        base_secs.saturating_mul(1u64 << doublings)
    };
    Some(Duration::from_secs(secs).min(MAX_LOCK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_lock_below_threshold() {
        assert_eq!(lock_duration(0, 5, 30), None);
        assert_eq!(lock_duration(4, 5, 30), None);
    }

    #[test]
    fn doubles_from_the_threshold() {
        assert_eq!(lock_duration(5, 5, 30), Some(Duration::from_secs(30)));
        assert_eq!(lock_duration(6, 5, 30), Some(Duration::from_secs(60)));
        assert_eq!(lock_duration(7, 5, 30), Some(Duration::from_secs(120)));
        assert_eq!(lock_duration(3, 3, 1), Some(Duration::from_secs(1)));
    }

    #[test]
    fn capped_at_one_day_without_overflow() {
        assert_eq!(lock_duration(20, 5, 30), Some(MAX_LOCK));
        assert_eq!(lock_duration(200, 5, 30), Some(MAX_LOCK));
        assert_eq!(lock_duration(u32::MAX, 1, u64::MAX), Some(MAX_LOCK));
    }

    #[test]
    fn threshold_zero_disables() {
        assert_eq!(lock_duration(100, 0, 30), None);
    }
}
