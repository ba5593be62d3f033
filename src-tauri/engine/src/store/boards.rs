//! Boards: named collections of images, and smart boards (a saved filter).

use super::jobs::corrupt;
use super::Result;
use crate::model::{Board, ListQuery};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

/// Every board by name, with how many visible jobs it shows.
pub fn list(conn: &Connection) -> Result<Vec<Board>> {
    let rows: Vec<(i64, String, Option<String>)> = {
        let mut stmt = conn
            .prepare_cached("SELECT id, name, filter FROM boards ORDER BY name COLLATE NOCASE")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    rows.into_iter()
        .map(|(id, name, filter)| board(conn, id, name, filter))
        .collect()
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Board>> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT name, filter FROM boards WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(name, filter)| board(conn, id, name, filter))
        .transpose()
}

fn board(conn: &Connection, id: i64, name: String, filter: Option<String>) -> Result<Board> {
    let filter: Option<ListQuery> = filter
        .map(|f| serde_json::from_str(&f))
        .transpose()
        .map_err(|e| corrupt("boards", format!("board {id}'s filter: {e}")))?;
    let count = match &filter {
        Some(q) => super::jobs::count(conn, q)?,
        None => super::jobs::count(
            conn,
            &ListQuery {
                board: Some(id),
                ..ListQuery::default()
            },
        )?,
    };
    Ok(Board {
        id,
        name,
        filter,
        count,
    })
}

/// Create a board; `None` when a board of that name (any case) exists.
pub fn create(
    tx: &Transaction<'_>,
    name: &str,
    filter: Option<&ListQuery>,
    now: i64,
) -> Result<Option<i64>> {
    let filter = filter
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| corrupt("boards", e.to_string()))?;
    let n = tx.execute(
        "INSERT INTO boards (name, filter, created_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (name) DO NOTHING",
        params![name, filter, now],
    )?;
    Ok((n == 1).then(|| tx.last_insert_rowid()))
}

/// Rename a board; false when it does not exist or the name is taken.
pub fn rename(tx: &Transaction<'_>, id: i64, name: &str) -> Result<bool> {
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM boards WHERE name = ?1 COLLATE NOCASE AND id != ?2)",
        params![name, id],
        |r| r.get(0),
    )?;
    if taken {
        return Ok(false);
    }
    Ok(tx.execute(
        "UPDATE boards SET name = ?2 WHERE id = ?1",
        params![id, name],
    )? == 1)
}

pub fn delete(tx: &Transaction<'_>, id: i64) -> Result<bool> {
    Ok(tx.execute("DELETE FROM boards WHERE id = ?1", [id])? == 1)
}

/// Put images on a plain board: one image, or (`index` None) every visible
/// image of the job. Returns how many were added (already there: 0).
pub fn add(
    tx: &Transaction<'_>,
    board: i64,
    job_id: &str,
    index: Option<u32>,
    now: i64,
) -> Result<usize> {
    Ok(tx.execute(
        "INSERT OR IGNORE INTO board_images (board_id, job_id, output_index, added_at) \
         SELECT ?1, job_id, output_index, ?4 FROM assets \
         WHERE job_id = ?2 AND deleted_at IS NULL AND (?3 IS NULL OR output_index = ?3) \
         AND EXISTS (SELECT 1 FROM boards WHERE id = ?1 AND filter IS NULL)",
        params![board, job_id, index, now],
    )?)
}

/// Take images off a board (`index` None: all of the job's).
pub fn remove(tx: &Transaction<'_>, board: i64, job_id: &str, index: Option<u32>) -> Result<usize> {
    Ok(tx.execute(
        "DELETE FROM board_images WHERE board_id = ?1 AND job_id = ?2 \
         AND (?3 IS NULL OR output_index = ?3)",
        params![board, job_id, index],
    )?)
}

/// Which images of a job are on a board (their output indexes).
pub fn images_on(conn: &Connection, board: i64, job_id: &str) -> Result<Vec<u32>> {
    let mut stmt = conn.prepare_cached(
        "SELECT output_index FROM board_images WHERE board_id = ?1 AND job_id = ?2 ORDER BY output_index",
    )?;
    let rows = stmt.query_map(params![board, job_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
