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
