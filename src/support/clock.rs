//! The wall clock, and the time an invocation has left.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 on a clock set before it).
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Time left before the invocation's deadline, less `margin`.
///
/// Lambda gives the deadline as epoch milliseconds. The local emulator (`cargo lambda
/// watch`) gives the timeout itself instead; a value before 2001 cannot be an epoch
/// deadline, so it is read as that duration.
pub fn remaining(deadline_ms: u64, margin: Duration) -> Duration {
    const EARLIEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;
    let left = if deadline_ms < EARLIEST_EPOCH_DEADLINE_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_millis())
    };
    Duration::from_millis(left).saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_deadline_counts_down_and_a_small_one_is_a_duration() {
        let in_a_minute = now_millis() + 60_000;
        let left = remaining(in_a_minute, Duration::from_secs(10));
        assert!(
            left <= Duration::from_secs(50) && left > Duration::from_secs(45),
            "{left:?}"
        );
        assert_eq!(remaining(0, Duration::ZERO), Duration::ZERO);
        assert_eq!(
            remaining(3_000, Duration::from_millis(500)),
            Duration::from_millis(2_500)
        );
        assert_eq!(remaining(now_millis() - 1, Duration::ZERO), Duration::ZERO);
        assert_eq!(remaining(1_000, Duration::from_secs(5)), Duration::ZERO);
    }
}
