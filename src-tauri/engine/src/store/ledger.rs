//! Ledger rows. Each entry is UNIQUE per (job, run, kind): a run has at most
//! one charge, so settling twice never charges twice.

use super::Result;
use crate::model::{LedgerEntry, LedgerKind};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Insert an entry once; returns false when it already existed.
pub fn record(
    tx: &Transaction<'_>,
    job_id: &str,
    run: u32,
    kind: LedgerKind,
    amount_micros: i64,
    now: i64,
) -> Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO ledger (job_id, run, kind, amount_micros, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![job_id, run, kind.as_str(), amount_micros, now],
    )?;
    Ok(n == 1)
}

/// The reserved amount of a run that is neither charged nor released yet.
pub fn open_reservation(tx: &Transaction<'_>, job_id: &str, run: u32) -> Result<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT amount_micros FROM ledger r WHERE job_id = ?1 AND run = ?2 AND kind = 'reserve' \
             AND NOT EXISTS (SELECT 1 FROM ledger s WHERE s.job_id = r.job_id AND s.run = r.run \
                             AND s.kind IN ('charge','release'))",
            params![job_id, run],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn entries(conn: &Connection, job_id: &str) -> Result<Vec<LedgerEntry>> {
    let mut stmt = conn
        .prepare("SELECT run, kind, amount_micros, at FROM ledger WHERE job_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([job_id], |r| {
        let kind: String = r.get(1)?;
        let kind = match kind.as_str() {
            "reserve" => LedgerKind::Reserve,
            "charge" => LedgerKind::Charge,
            _ => LedgerKind::Release,
        };
        Ok(LedgerEntry {
            run: r.get(0)?,
            kind,
            amount_micros: r.get(2)?,
            at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Money committed since `since` (ms): what was charged, plus the estimate
/// of every job that can still be charged (not yet charged for its run).
pub fn committed_since(conn: &Connection, since: i64) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT (SELECT IFNULL(SUM(amount_micros), 0) FROM ledger WHERE kind = 'charge' AND at >= ?1) \
              + (SELECT IFNULL(SUM(estimated_cost_micros), 0) FROM jobs j \
                 WHERE status NOT IN ('completed','failed','canceled') \
                 AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.job_id = j.id \
                                 AND l.run = j.run AND l.kind = 'charge'))",
        [since],
        |r| r.get(0),
    )?)
}
