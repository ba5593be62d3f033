//! Keeping the prompt search index (`prompts_fts`) up to date outside the
//! click's transaction (V11): jobs up to `search_index.indexed_through`
//! (by rowid) are indexed, newer ones are not yet. The scheduler's claim
//! catches up in its own transaction, and a search catches up before it
//! reads, so a search finds every job created before it.

use super::{Result, Store};
use rusqlite::{params, Connection};

/// The highest rowid indexed and the highest rowid in `jobs`.
fn marks(conn: &Connection) -> Result<(i64, i64)> {
    let indexed: i64 = conn
        .prepare_cached("SELECT indexed_through FROM search_index WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let newest: i64 = conn
        .prepare_cached("SELECT IFNULL(MAX(rowid), 0) FROM jobs")?
        .query_row([], |r| r.get(0))?;
    Ok((indexed, newest))
}

/// Whether some job is not indexed yet.
pub fn behind(conn: &Connection) -> Result<bool> {
    let (indexed, newest) = marks(conn)?;
    Ok(newest > indexed)
}

/// Before a read that matches prompts (a search, a smart board's count):
/// index what the scheduler has not yet, so the read finds every job
/// created before it. A commit only when something is behind.
pub fn up_to_date(store: &Store) -> Result<()> {
    if store.read(behind)? {
        store.write(|tx| catch_up(tx).map(drop))?;
    }
    Ok(())
}

/// Index every job not indexed yet; how many. Writes nothing when none is
/// (an idle claim stays a transaction that changes no row).
pub fn catch_up(tx: &Connection) -> Result<usize> {
    let (indexed, newest) = marks(tx)?;
    if newest <= indexed {
        return Ok(0);
    }
    let added = tx
        .prepare_cached(
            "INSERT INTO prompts_fts (rowid, prompt, negative_prompt) \
             SELECT rowid, prompt, negative_prompt FROM jobs WHERE rowid > ?1 AND rowid <= ?2",
        )?
        .execute(params![indexed, newest])?;
    tx.prepare_cached("UPDATE search_index SET indexed_through = ?1 WHERE id = 1")?
        .execute(params![newest])?;
    Ok(added)
}
