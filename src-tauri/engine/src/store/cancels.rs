//! Cancels owed to providers: one row per canceled job whose provider may
//! still be generating, kept until the provider acknowledges.

use super::Result;
use rusqlite::{params, Connection, Transaction};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCancel {
    pub job_id: String,
    pub provider: String,
    pub handle: String,
    pub requested_at: i64,
    pub tries: u32,
}

/// Owe a cancel for `job_id` (once; a second request keeps the first).
pub fn request(
    tx: &Transaction<'_>,
    job_id: &str,
    provider: &str,
    handle: &str,
    now: i64,
) -> Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO provider_cancels (job_id, provider, handle, requested_at, next_at) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![job_id, provider, handle, now],
    )?;
    Ok(n == 1)
}

/// Owe a cancel only if the job is canceled by now: a runner whose submit
/// was answered after the user canceled. (A runner that merely lost its
/// lease owes nothing: the job's new runner finds the handle itself.)
pub fn request_if_canceled(
    tx: &Transaction<'_>,
    job_id: &str,
    provider: &str,
    handle: &str,
    now: i64,
) -> Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO provider_cancels (job_id, provider, handle, requested_at, next_at) \
         SELECT ?1, ?2, ?3, ?4, ?4 WHERE EXISTS \
         (SELECT 1 FROM jobs WHERE id = ?1 AND status = 'canceled')",
        params![job_id, provider, handle, now],
    )?;
    Ok(n == 1)
}

pub fn due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<PendingCancel>> {
    let mut stmt = conn.prepare_cached(
        "SELECT job_id, provider, handle, requested_at, tries FROM provider_cancels \
         WHERE next_at <= ?1 ORDER BY next_at LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
        Ok(PendingCancel {
            job_id: r.get(0)?,
            provider: r.get(1)?,
            handle: r.get(2)?,
            requested_at: r.get(3)?,
            tries: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// The provider acknowledged (or can no longer be asked): owe nothing.
pub fn settled(tx: &Transaction<'_>, job_id: &str) -> Result<bool> {
    Ok(tx.execute(
        "DELETE FROM provider_cancels WHERE job_id = ?1",
        params![job_id],
    )? == 1)
}

/// The call failed in a way that may pass: ask again at `next_at`.
pub fn failed(tx: &Transaction<'_>, job_id: &str, next_at: i64, error: &str) -> Result<()> {
    tx.execute(
        "UPDATE provider_cancels SET tries = tries + 1, next_at = ?2, last_error = ?3 \
         WHERE job_id = ?1",
        params![job_id, next_at, error],
    )?;
    Ok(())
}

/// When the next owed cancel is due (the worker sleeps until then).
pub fn next_due(conn: &Connection) -> Result<Option<i64>> {
    Ok(
        conn.query_row("SELECT MIN(next_at) FROM provider_cancels", [], |r| {
            r.get(0)
        })?,
    )
}
