//! What the shell knows about running work: the latest job counts, for the
//! tray and the close-to-tray decision.

use easel_engine::ActiveCounts;
use std::sync::Mutex;

#[derive(Default)]
pub struct Activity {
    counts: Mutex<ActiveCounts>,
}

impl Activity {
    pub fn set(&self, counts: ActiveCounts) -> bool {
        let mut current = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let changed = *current != counts;
        *current = counts;
        changed
    }

    pub fn counts(&self) -> ActiveCounts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Jobs are waiting or running: closing the window must not stop them.
    pub fn busy(&self) -> bool {
        let c = self.counts();
        c.queued + c.running > 0
    }
}

/// The tray's status line.
pub fn summary(c: ActiveCounts) -> String {
    match (c.running, c.queued) {
        (0, 0) => "Easel: idle".to_string(),
        (r, 0) => format!("Easel: {r} running"),
        (0, q) => format!("Easel: {q} queued"),
        (r, q) => format!("Easel: {r} running, {q} queued"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(queued: u32, running: u32) -> ActiveCounts {
        ActiveCounts { queued, running }
    }

    #[test]
    fn summary_names_what_runs_and_waits() {
        assert_eq!(summary(counts(0, 0)), "Easel: idle");
        assert_eq!(summary(counts(0, 2)), "Easel: 2 running");
        assert_eq!(summary(counts(3, 0)), "Easel: 3 queued");
        assert_eq!(summary(counts(3, 1)), "Easel: 1 running, 3 queued");
    }

    #[test]
    fn busy_while_anything_waits_or_runs() {
        let a = Activity::default();
        assert!(!a.busy());
        assert!(a.set(counts(1, 0)));
        assert!(a.busy());
        assert!(!a.set(counts(1, 0)), "same counts are not a change");
        a.set(counts(0, 1));
        assert!(a.busy());
        a.set(counts(0, 0));
        assert!(!a.busy());
    }
}
