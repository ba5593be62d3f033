//! Ledger rows. Each entry is UNIQUE per (job, run, kind): a run has at most
//! one charge, so settling twice never charges twice.

use super::Result;
use crate::model::{JobStatus, LedgerEntry, LedgerKind};
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
/// The click's budget check runs it in its write transaction, so it reads
/// only the month's charges (`ledger_charges_at`, V13) and the open jobs
/// (`jobs_status_created`): before V13 it scanned every job (`status NOT
/// IN` uses no index) and every ledger row of the month.
pub fn committed_since(conn: &Connection, since: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(&committed_since_sql())?
        .query_row([since], |r| r.get(0))?)
}

fn committed_since_sql() -> String {
    format!(
        "SELECT (SELECT IFNULL(SUM(amount_micros), 0) FROM ledger WHERE kind = 'charge' AND at >= ?1) \
              + (SELECT IFNULL(SUM(estimated_cost_micros), 0) FROM jobs j \
                 WHERE status IN ({}) \
                 AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.job_id = j.id \
                                 AND l.run = j.run AND l.kind = 'charge'))",
        super::jobs::status_list(&JobStatus::NON_TERMINAL)
    )
}

/// `EXPLAIN QUERY PLAN` of `committed_since` (for the test that keeps it
/// off full scans).
pub fn committed_since_plan(conn: &Connection) -> Result<Vec<String>> {
    super::explain(conn, &committed_since_sql(), &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use std::time::Duration;

    /// The budget check reads indexes only: no step scans a table.
    #[test]
    fn the_budget_check_scans_no_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("plans.db"), Duration::from_secs(1)).expect("open");
        let plan = store.read(committed_since_plan).expect("plan");
        let text = plan.join("\n");
        assert!(
            plan.iter().any(|l| l.contains("ledger_charges_at"))
                && plan.iter().any(|l| l.contains("jobs_status_created")),
            "expected the charges and open-jobs indexes:\n{text}"
        );
        assert!(
            !plan
                .iter()
                .any(|l| l.starts_with("SCAN ") && !l.starts_with("SCAN CONSTANT")),
            "scans a table:\n{text}"
        );
    }

    /// The sum is the month's charges plus the estimates of jobs that can
    /// still be charged.
    #[test]
    fn committed_counts_charges_and_open_estimates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("sum.db"), Duration::from_secs(1)).expect("open");
        store
            .write(|tx| {
                for (id, status, cost) in [
                    ("a", "queued", 10),
                    ("b", "processing", 20),
                    ("c", "completed", 40),
                    ("d", "saving", 80),
                ] {
                    tx.execute(
                        "INSERT INTO jobs (id, request_id, status, provider, model, prompt, \
                         width, height, count, seed, created_at, updated_at, max_attempts, \
                         next_run_at, seq, estimated_cost_micros) VALUES (?1, ?1, ?2, 'offline', \
                         'm', 'p', 64, 64, 1, 1, 5, 5, 3, 5, 1, ?3)",
                        params![id, status, cost],
                    )?;
                }
                // c was charged this month, d was charged already (its
                // estimate no longer counts), an old charge is outside.
                record(tx, "c", 1, LedgerKind::Charge, 1000, 100)?;
                record(tx, "d", 1, LedgerKind::Charge, 2000, 100)?;
                record(tx, "z", 1, LedgerKind::Charge, 4000, 10)?;
                record(tx, "a", 1, LedgerKind::Reserve, 8000, 100)?;
                Ok(())
            })
            .expect("rows");
        let committed = store.read(|c| committed_since(c, 50)).expect("sum");
        assert_eq!(committed, 1000 + 2000 + 10 + 20);
    }
}
