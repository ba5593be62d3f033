//! Per-provider cooldowns: after a 429 a provider is left alone, by every job
//! of this process, until the wait it asked for has passed (Stability locks
//! a key out for 60 s if it keeps being hit). Kept in memory: each process
//! learns from the answers it gets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Cooldowns {
    until_ms: Mutex<HashMap<String, i64>>,
}

impl Cooldowns {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // Entries are whole integers: a poisoned map is still consistent.
        self.until_ms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `provider` asked to be left alone for `wait` from `now_ms`. A later
    /// end never shortens an earlier, longer one.
    pub fn start(&self, provider: &str, now_ms: i64, wait: Duration) {
        let until = now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        let mut map = self.map();
        let entry = map.entry(provider.to_string()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// How long `provider` is still to be left alone, if at all.
    pub fn remaining(&self, provider: &str, now_ms: i64) -> Option<Duration> {
        let mut map = self.map();
        let until = *map.get(provider)?;
        if until <= now_ms {
            map.remove(provider);
            return None;
        }
        Some(Duration::from_millis((until - now_ms) as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cooldown_ends_and_is_never_shortened() {
        let c = Cooldowns::default();
        assert_eq!(c.remaining("p", 0), None);
        c.start("p", 1_000, Duration::from_millis(500));
        c.start("p", 1_100, Duration::from_millis(100));
        assert_eq!(c.remaining("p", 1_200), Some(Duration::from_millis(300)));
        assert_eq!(c.remaining("other", 1_200), None, "per provider");
        assert_eq!(c.remaining("p", 1_500), None);
        c.start("p", 2_000, Duration::from_millis(50));
        assert_eq!(
            c.remaining("p", 2_000),
            Some(Duration::from_millis(50)),
            "starts again"
        );
    }
}
