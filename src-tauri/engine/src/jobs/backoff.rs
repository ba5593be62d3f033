//! Retry delays. The delay is persisted as the job's `next_run_at`, so it
//! survives restarts; that is why this is a formula and not an in-process
//! retry loop from a crate.

use rand::RngExt;
use std::time::Duration;

/// Exponential backoff with "equal jitter" (half fixed, half random), never
/// sooner than the provider's Retry-After.
pub fn delay(attempt: u32, base_ms: u64, max_ms: u64, retry_after: Option<Duration>) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30));
    let capped = exp.min(max_ms).max(1);
    let half = capped / 2;
    let jittered = half + rand::rng().random_range(0..=capped - half);
    let floor = retry_after.map_or(0, |d| d.as_millis().min(u128::from(u64::MAX)) as u64);
    Duration::from_millis(jittered.max(floor))
}

/// A duration as people say it: "90 ms", "45 s", "12 min", "2 h".
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{} s", ms / 1_000),
        120_000..7_200_000 => format!("{} min", ms / 60_000),
        _ => format!("{} h", ms / 3_600_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_millis(90)), "90 ms");
        assert_eq!(human(Duration::from_secs(45)), "45 s");
        assert_eq!(human(Duration::from_secs(12 * 60)), "12 min");
        assert_eq!(human(Duration::from_secs(2 * 3_600)), "2 h");
    }

    #[test]
    fn grows_and_caps() {
        for _ in 0..100 {
            let d1 = delay(1, 1000, 60_000, None).as_millis();
            assert!((500..=1000).contains(&d1), "{d1}");
            let d3 = delay(3, 1000, 60_000, None).as_millis();
            assert!((2000..=4000).contains(&d3), "{d3}");
            let d20 = delay(20, 1000, 60_000, None).as_millis();
            assert!((30_000..=60_000).contains(&d20), "{d20}");
        }
    }

    #[test]
    fn honours_retry_after() {
        let d = delay(1, 1000, 60_000, Some(Duration::from_secs(30)));
        assert_eq!(d, Duration::from_secs(30));
    }
}
