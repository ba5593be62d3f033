//! Undoable deletion: a deleted job or image is marked (hidden from the
//! gallery, its files in the system trash) until the janitor purges the
//! mark; Undo clears it. Only ended jobs are marked: deleting one that waits
//! cancels it first, so nothing deleted is ever scheduled.

use super::jobs::{summary, JOB_COLS};
use super::{raise_seq_floor, seq_before_removal, Result, NEXT_SEQ_SQL};
use crate::model::JobSummary;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

const ENDED: &str = "('completed','failed','canceled')";

/// Mark an ended job deleted; `None` when it is not ended or already marked.
pub fn mark_job(tx: &Transaction<'_>, id: &str, now: i64) -> Result<Option<JobSummary>> {
    let sql = format!(
        "UPDATE jobs SET deleted_at = ?2, updated_at = ?2, seq = {NEXT_SEQ_SQL} \
         WHERE id = ?1 AND deleted_at IS NULL AND status IN {ENDED} RETURNING {JOB_COLS}"
    );
    returning(tx, &sql, params![id, now])
}

/// Bring a deleted job back; `None` when it is not deleted (or purged).
pub fn unmark_job(tx: &Transaction<'_>, id: &str, now: i64) -> Result<Option<JobSummary>> {
    let sql = format!(
        "UPDATE jobs SET deleted_at = NULL, updated_at = ?2, seq = {NEXT_SEQ_SQL} \
         WHERE id = ?1 AND deleted_at IS NOT NULL RETURNING {JOB_COLS}"
    );
    returning(tx, &sql, params![id, now])
}

/// Mark one image of a visible job deleted and update the job's count,
/// cover and favorite; `None` when there is no such visible image.
pub fn mark_image(
    tx: &Transaction<'_>,
    job_id: &str,
    index: u32,
    now: i64,
) -> Result<Option<JobSummary>> {
    let n = tx
        .prepare_cached(
            "UPDATE assets SET deleted_at = ?3 WHERE job_id = ?1 AND output_index = ?2 \
             AND deleted_at IS NULL \
             AND job_id IN (SELECT id FROM jobs WHERE deleted_at IS NULL)",
        )?
        .execute(params![job_id, index, now])?;
    if n == 0 {
        return Ok(None);
    }
    refresh_job(tx, job_id, now)
}

/// Bring one deleted image back; `None` when it is not deleted.
pub fn unmark_image(
    tx: &Transaction<'_>,
    job_id: &str,
    index: u32,
    now: i64,
) -> Result<Option<JobSummary>> {
    let n = tx
        .prepare_cached(
            "UPDATE assets SET deleted_at = NULL WHERE job_id = ?1 AND output_index = ?2 \
             AND deleted_at IS NOT NULL",
        )?
        .execute(params![job_id, index])?;
    if n == 0 {
        return Ok(None);
    }
    refresh_job(tx, job_id, now)
}

/// Mark or unmark one image as a favorite; the job is a favorite while any
/// of its images is. `None` when there is no such visible image or nothing
/// changed.
pub fn set_image_favorite(
    tx: &Transaction<'_>,
    job_id: &str,
    index: u32,
    favorite: bool,
    now: i64,
) -> Result<Option<JobSummary>> {
    let n = tx
        .prepare_cached(
            "UPDATE assets SET favorite = ?3 WHERE job_id = ?1 AND output_index = ?2 \
             AND deleted_at IS NULL AND favorite != ?3",
        )?
        .execute(params![job_id, index, favorite])?;
    if n == 0 {
        return Ok(None);
    }
    refresh_job(tx, job_id, now)
}

/// Recompute what a job shows of its images: how many, the first one's
/// image and thumbnail as its cover, and whether any is a favorite.
fn refresh_job(tx: &Transaction<'_>, job_id: &str, now: i64) -> Result<Option<JobSummary>> {
    let sql = format!(
        "UPDATE jobs SET \
           asset_count = (SELECT COUNT(*) FROM assets a WHERE a.job_id = jobs.id AND a.deleted_at IS NULL), \
           thumb_path = (SELECT a.thumb_path FROM assets a WHERE a.job_id = jobs.id \
                         AND a.deleted_at IS NULL ORDER BY a.output_index LIMIT 1), \
           image_path = (SELECT a.path FROM assets a WHERE a.job_id = jobs.id \
                         AND a.deleted_at IS NULL ORDER BY a.output_index LIMIT 1), \
           favorite = EXISTS (SELECT 1 FROM assets a WHERE a.job_id = jobs.id \
                              AND a.deleted_at IS NULL AND a.favorite = 1), \
           updated_at = ?2, seq = {NEXT_SEQ_SQL} \
         WHERE id = ?1 RETURNING {JOB_COLS}"
    );
    returning(tx, &sql, params![job_id, now])
}

/// What a purge removed: the thumbnails to delete (a cache; the images are
/// in the trash already).
pub struct Purged {
    pub jobs: usize,
    pub images: usize,
    pub thumbnails: Vec<String>,
}

/// Forget jobs and images deleted before `before`: Undo is no longer
/// offered for them.
pub fn purge(tx: &Transaction<'_>, before: i64) -> Result<Purged> {
    let thumbnails = {
        let mut stmt = tx.prepare_cached(PURGED_THUMBNAILS_SQL)?;
        let rows = stmt.query_map([before], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let current = seq_before_removal(tx)?;
    let images = tx.prepare_cached(PURGE_IMAGES_SQL)?.execute([before])?;
    let jobs = tx.prepare_cached(PURGE_JOBS_SQL)?.execute([before])?;
    if jobs + images > 0 {
        raise_seq_floor(tx, current)?;
    }
    Ok(Purged {
        jobs,
        images,
        thumbnails,
    })
}

// The purge runs in a write transaction when the worker starts: each
// statement searches the indexes of deleted rows (`jobs_deleted`, and
// `assets_deleted` from V14), never every image of the library.
const PURGED_THUMBNAILS_SQL: &str = "SELECT thumb_path FROM assets WHERE deleted_at < ?1 \
     OR job_id IN (SELECT id FROM jobs WHERE deleted_at < ?1)";
const PURGE_IMAGES_SQL: &str = "DELETE FROM assets WHERE deleted_at < ?1";
const PURGE_JOBS_SQL: &str = "DELETE FROM jobs WHERE deleted_at < ?1";

/// `EXPLAIN QUERY PLAN` of the purge's statements (for the test that keeps
/// them off full scans).
pub fn purge_plans(conn: &Connection) -> Result<Vec<String>> {
    let mut plan = Vec::new();
    for sql in [PURGED_THUMBNAILS_SQL, PURGE_IMAGES_SQL, PURGE_JOBS_SQL] {
        plan.extend(super::explain(conn, sql, &[])?);
    }
    Ok(plan)
}

fn returning(
    tx: &Transaction<'_>,
    sql: &str,
    args: impl rusqlite::Params,
) -> Result<Option<JobSummary>> {
    // The statement took its `seq` from NEXT_SEQ_SQL: nothing else to bump.
    Ok(tx.query_row(sql, args, summary).optional()?)
}

/// One image's file and whether it is deleted; `None` when the job has no
/// such image (or was purged).
pub fn image(
    conn: &rusqlite::Connection,
    job_id: &str,
    index: u32,
) -> Result<Option<(String, bool)>> {
    Ok(conn
        .prepare_cached(
            "SELECT path, deleted_at IS NOT NULL FROM assets WHERE job_id = ?1 AND output_index = ?2",
        )?
        .query_row(params![job_id, index], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use std::time::Duration;

    /// The purge searches deleted rows only. Before V14 it scanned every
    /// image row twice (no index on `assets.deleted_at`), holding the
    /// write lock as the worker started.
    #[test]
    fn the_purge_reads_only_deleted_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("plans.db"), Duration::from_secs(1)).expect("open");
        let plan = store.read(purge_plans).expect("plan");
        let text = plan.join("\n");
        assert!(
            plan.iter().any(|l| l.contains("assets_deleted")),
            "expected the deleted images' index:\n{text}"
        );
        assert!(
            !plan.iter().any(|l| l.starts_with("SCAN ")),
            "scans a table:\n{text}"
        );
    }
}
