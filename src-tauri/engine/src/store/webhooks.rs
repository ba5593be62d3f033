//! Webhook deliveries: each recorded once, so a provider's retry of the same
//! delivery is acknowledged and ignored.

use super::Result;
use rusqlite::{params, Transaction};

/// Record a delivery; false when this (provider, delivery id) was seen.
pub fn record_delivery(
    tx: &Transaction<'_>,
    provider: &str,
    delivery_id: &str,
    job_id: &str,
    now: i64,
) -> Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO webhook_deliveries (provider, delivery_id, job_id, received_at) \
         VALUES (?1, ?2, ?3, ?4)",
        params![provider, delivery_id, job_id, now],
    )?;
    Ok(n == 1)
}

/// Forget deliveries older than `before` (providers stop retrying after
/// hours; the janitor keeps a few days).
pub fn prune_deliveries(tx: &Transaction<'_>, before: i64) -> Result<usize> {
    Ok(tx.execute(
        "DELETE FROM webhook_deliveries WHERE received_at < ?1",
        params![before],
    )?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::store::Store;
    use std::time::Duration;

    #[test]
    fn a_delivery_is_recorded_once_and_old_ones_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("easel.db"), Duration::from_secs(5)).unwrap();
        let first = store
            .write(|tx| record_delivery(tx, "replicate", "msg_1", "j1", 1_000))
            .unwrap();
        let again = store
            .write(|tx| record_delivery(tx, "replicate", "msg_1", "j1", 2_000))
            .unwrap();
        assert!(first && !again);
        store
            .write(|tx| record_delivery(tx, "replicate", "msg_2", "j2", 5_000))
            .unwrap();
        assert_eq!(store.write(|tx| prune_deliveries(tx, 3_000)).unwrap(), 1);
        // The pruned id could be recorded again; the kept one could not.
        assert!(store
            .write(|tx| record_delivery(tx, "replicate", "msg_1", "j1", 6_000))
            .unwrap());
        assert!(!store
            .write(|tx| record_delivery(tx, "replicate", "msg_2", "j2", 6_000))
            .unwrap());
    }
}
