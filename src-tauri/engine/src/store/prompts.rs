//! The prompt history: recent prompts read from the jobs (newest first,
//! each once) and the prompts the user starred.

use super::{Result, StoreError};
use crate::model::PromptEntry;
use rusqlite::{params, Connection, Transaction};
use std::collections::HashSet;

/// How many of the newest jobs recent prompts are read from: the history
/// stays cheap however large the library grows.
const RECENT_WINDOW: u32 = 2000;

/// Up to `limit` distinct recent prompts of visible jobs, newest first;
/// with `search`, only prompts matching it (every word, as a prefix).
pub fn recent(conn: &Connection, search: Option<&str>, limit: u32) -> Result<Vec<PromptEntry>> {
    let favorites = favorite_set(conn)?;
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |prompt: String, negative: Option<String>, at: i64| {
        if out.len() < limit as usize && seen.insert(prompt.clone()) {
            out.push(PromptEntry {
                favorite: favorites.contains(&prompt),
                prompt,
                negative_prompt: negative,
                last_used: at,
            });
        }
    };
    let rows: Vec<PromptRow> = match search.map(super::jobs::fts_query).filter(|s| !s.is_empty()) {
        Some(text) => conn
            .prepare_cached(
                "SELECT prompt, negative_prompt, created_at FROM jobs \
                 WHERE deleted_at IS NULL AND rowid IN \
                   (SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?1) \
                 ORDER BY created_at DESC LIMIT ?2",
            )?
            .query_map(params![text, RECENT_WINDOW], row)?
            .collect::<rusqlite::Result<_>>()?,
        None => conn
            .prepare_cached(
                "SELECT prompt, negative_prompt, created_at FROM jobs \
                 WHERE deleted_at IS NULL ORDER BY created_at DESC LIMIT ?1",
            )?
            .query_map([RECENT_WINDOW], row)?
            .collect::<rusqlite::Result<_>>()?,
    };
    for (prompt, negative, at) in rows {
        push(prompt, negative, at);
    }
    Ok(out)
}

type PromptRow = (String, Option<String>, i64);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PromptRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

/// The starred prompts, newest star first; with `search`, those containing
/// every word of it (case-insensitive).
pub fn favorites(conn: &Connection, search: Option<&str>) -> Result<Vec<PromptEntry>> {
    let words: Vec<String> = search
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_lowercase)
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT f.prompt, f.negative_prompt, \
           COALESCE((SELECT MAX(created_at) FROM jobs j WHERE j.prompt = f.prompt), f.created_at) \
         FROM prompt_favorites f ORDER BY f.created_at DESC",
    )?;
    let rows = stmt.query_map([], row)?;
    let mut out = Vec::new();
    for r in rows {
        let (prompt, negative_prompt, last_used) = r?;
        let lower = prompt.to_lowercase();
        if words.iter().all(|w| lower.contains(w.as_str())) {
            out.push(PromptEntry {
                prompt,
                negative_prompt,
                last_used,
                favorite: true,
            });
        }
    }
    Ok(out)
}

/// Star or unstar a prompt; returns whether anything changed.
pub fn set_favorite(
    tx: &Transaction<'_>,
    prompt: &str,
    negative_prompt: Option<&str>,
    favorite: bool,
    now: i64,
) -> Result<bool> {
    let n = if favorite {
        tx.execute(
            "INSERT INTO prompt_favorites (prompt, negative_prompt, created_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (prompt) DO NOTHING",
            params![prompt, negative_prompt, now],
        )?
    } else {
        tx.execute("DELETE FROM prompt_favorites WHERE prompt = ?1", [prompt])?
    };
    Ok(n == 1)
}

fn favorite_set(conn: &Connection) -> Result<HashSet<String>> {
    let mut stmt = conn.prepare_cached("SELECT prompt FROM prompt_favorites")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(StoreError::from)
}
