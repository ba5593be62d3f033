//! Queries and guarded transitions on jobs, attempts, the timeline and assets.
//!
//! Every change to a job is an `UPDATE ... WHERE id = ? AND status IN (...)`
//! (and, for a worker, `AND lease_owner = ?`): a transition that lost a race
//! changes nothing and returns `None`.

use super::{
    raise_seq_floor, seq_before_removal, Result, StoreError, CURRENT_SEQ_SQL, NEXT_SEQ_SQL,
};
use crate::model::{
    ActiveCounts, Asset, Attempt, JobSpec, JobStatus, JobSummary, ListQuery, TimelineEntry,
};
use rusqlite::types::ToSql;
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

pub(super) const JOB_COLS: &str =
    "id, request_id, status, provider, model, prompt, negative_prompt, \
    width, height, count, seed, created_at, updated_at, attempt_count, max_attempts, run, \
    progress, next_run_at, held, crash_count, error_code, error_message, \
    estimated_cost_micros, seq, favorite, thumb_path, asset_count, reference_ids, lease_epoch, \
    params, queue_position, provider_message, priority, deleted_at IS NOT NULL, group_id, \
    preview_path, image_path";

/// The number of `JOB_COLS`: the index of a column selected after them.
const JOB_COL_COUNT: usize = 37;

fn status_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<JobStatus> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|e: crate::model::UnknownStatus| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn opt_status_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Option<JobStatus>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(_) => status_col(row, idx).map(Some),
    }
}

fn json_col<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(super) fn summary(row: &Row<'_>) -> rusqlite::Result<JobSummary> {
    Ok(JobSummary {
        id: row.get(0)?,
        request_id: row.get(1)?,
        status: status_col(row, 2)?,
        provider: row.get(3)?,
        model: row.get(4)?,
        prompt: row.get(5)?,
        negative_prompt: row.get(6)?,
        width: row.get(7)?,
        height: row.get(8)?,
        count: row.get(9)?,
        // Seeds are u64 to the user; SQLite stores them as the same 64 bits.
        seed: row.get::<_, i64>(10)? as u64,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
        attempts: row.get(13)?,
        max_attempts: row.get(14)?,
        run: row.get(15)?,
        progress: row.get(16)?,
        next_run_at: row.get(17)?,
        held: row.get(18)?,
        crash_count: row.get(19)?,
        error_code: row.get(20)?,
        error_message: row.get(21)?,
        estimated_cost_micros: row.get(22)?,
        seq: row.get(23)?,
        favorite: row.get(24)?,
        thumb_path: row.get(25)?,
        asset_count: row.get(26)?,
        reference_ids: json_col(row, 27)?,
        lease_epoch: row.get(28)?,
        params: json_col(row, 29)?,
        queue_position: row.get(30)?,
        provider_message: row.get(31)?,
        priority: row.get(32)?,
        deleted: row.get(33)?,
        group_id: row.get(34)?,
        preview_path: row.get(35)?,
        image_path: row.get(JOB_COL_COUNT - 1)?,
    })
}

pub struct NewJobRow<'a> {
    pub id: &'a str,
    pub request_id: &'a str,
    pub spec: &'a JobSpec,
    pub max_attempts: u32,
    pub estimated_cost_micros: i64,
    /// Hash of the normalized request (see `jobs::fingerprint`).
    pub fingerprint: &'a str,
    /// The comparison it belongs to (`Engine::create_group`).
    pub group_id: Option<&'a str>,
    pub now: i64,
}

/// Insert a queued job and its first timeline entry.
pub fn insert(tx: &Transaction<'_>, job: &NewJobRow<'_>) -> Result<JobSummary> {
    let sql = format!(
        "INSERT INTO jobs (id, request_id, status, provider, model, prompt, negative_prompt, \
         width, height, count, seed, created_at, updated_at, max_attempts, next_run_at, \
         estimated_cost_micros, reference_ids, request_fingerprint, params, group_id, seq) \
         VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?11, ?13, ?14, \
         ?15, ?16, ?17, {NEXT_SEQ_SQL}) \
         RETURNING {JOB_COLS}"
    );
    let s = job.spec;
    let references = serde_json::to_string(&s.reference_ids)
        .map_err(|e| corrupt("jobs", format!("reference ids: {e}")))?;
    let params_json =
        serde_json::to_string(&s.params).map_err(|e| corrupt("jobs", format!("params: {e}")))?;
    // Cached: the click path runs these statements on every job.
    let row = tx.prepare_cached(&sql)?.query_row(
        params![
            job.id,
            job.request_id,
            s.provider,
            s.model,
            s.prompt,
            s.negative_prompt,
            s.width,
            s.height,
            s.count,
            s.seed as i64,
            job.now,
            job.max_attempts,
            job.estimated_cost_micros,
            references,
            job.fingerprint,
            params_json,
            job.group_id
        ],
        summary,
    )?;
    append_timeline(tx, &row, None, None, "created")?;
    Ok(row)
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<JobSummary>> {
    let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], summary)
        .optional()?)
}

pub fn find_by_request_id(conn: &Connection, request_id: &str) -> Result<Option<JobSummary>> {
    Ok(find_request(conn, request_id)?.map(|(job, _)| job))
}

/// The jobs of one comparison group, oldest first (deleted ones left out).
pub fn in_group(conn: &Connection, group_id: &str) -> Result<Vec<JobSummary>> {
    let sql = format!(
        "SELECT {JOB_COLS} FROM jobs WHERE group_id = ?1 AND deleted_at IS NULL \
         ORDER BY created_at, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([group_id], summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The job created under `request_id`, with the fingerprint of the request
/// that created it (None for jobs from before fingerprints were stored).
pub fn find_request(
    conn: &Connection,
    request_id: &str,
) -> Result<Option<(JobSummary, Option<String>)>> {
    let sql = format!("SELECT {JOB_COLS}, request_fingerprint FROM jobs WHERE request_id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([request_id], |r| Ok((summary(r)?, r.get(JOB_COL_COUNT)?)))
        .optional()?)
}

/// A search with at most this many matches reads them by rowid and sorts
/// them (a bounded sort); one with more walks the grid's index newest
/// first and keeps the matches, stopping at the page's end. Either way a
/// page reads at most a few thousand rows, whatever the library's size.
pub const FEW_MATCHES: u32 = 2000;

/// How a prompt search meets the rest of the query.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SearchPlan {
    /// Look the matches up by rowid (few matches, or a count).
    ByRowid,
    /// Walk an ordered index and test each row against the matches.
    InOrder,
}

/// The WHERE clause of a gallery filter (paging aside) and its arguments:
/// visible jobs only.
fn filter_sql(q: &ListQuery, plan: SearchPlan) -> (String, Vec<Box<dyn ToSql>>) {
    let mut sql = String::from(" WHERE deleted_at IS NULL");
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(status) = q.status {
        args.push(Box::new(status.as_str()));
        sql.push_str(&format!(" AND status = ?{}", args.len()));
    }
    if let Some(provider) = &q.provider {
        args.push(Box::new(provider.clone()));
        sql.push_str(&format!(" AND provider = ?{}", args.len()));
    }
    if let Some(model) = &q.model {
        args.push(Box::new(model.clone()));
        sql.push_str(&format!(" AND model = ?{}", args.len()));
    }
    // A period is resolved now, in the user's time zone ("today" starts
    // at local midnight); with a fixed time too, the later one holds.
    let period_start = q.period.map(|p| p.start_ms(&chrono::Local::now()));
    if let Some(since) = q.created_since.max(period_start) {
        args.push(Box::new(since));
        sql.push_str(&format!(" AND created_at >= ?{}", args.len()));
    }
    // Flags as literals, not parameters: only then can SQLite prove that a
    // partial index (`WHERE favorite = 1`) covers the query.
    if let Some(favorite) = q.favorite {
        sql.push_str(if favorite {
            " AND favorite = 1"
        } else {
            " AND favorite = 0"
        });
    }
    if let Some(board) = q.board {
        args.push(Box::new(board));
        sql.push_str(&format!(
            " AND id IN (SELECT job_id FROM board_images WHERE board_id = ?{})",
            args.len()
        ));
    }
    if let Some(held) = q.held {
        sql.push_str(if held {
            " AND held = 1"
        } else {
            " AND held = 0"
        });
    }
    if let Some(search) = q.search.as_deref().map(fts_query).filter(|s| !s.is_empty()) {
        args.push(Box::new(search));
        // `+rowid` keeps SQLite from looking the matches up by rowid, so
        // it walks the ordered index instead.
        let rowid = match plan {
            SearchPlan::ByRowid => "rowid",
            SearchPlan::InOrder => "+rowid",
        };
        sql.push_str(&format!(
            " AND {rowid} IN (SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ?{})",
            args.len()
        ));
    }
    (sql, args)
}

/// How many visible jobs match a filter (a smart board's count).
pub fn count(conn: &Connection, q: &ListQuery) -> Result<u32> {
    let (filter, args) = filter_sql(q, SearchPlan::ByRowid);
    let sql = format!("SELECT COUNT(*) FROM jobs{filter}");
    Ok(conn.query_row(&sql, rusqlite::params_from_iter(args.iter()), |r| r.get(0))?)
}

/// Newest first, keyset-paged, optionally filtered and searched (FTS5).
pub fn list(conn: &Connection, q: &ListQuery) -> Result<Vec<JobSummary>> {
    let (sql, args) = list_sql(q, search_plan(conn, q)?);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// SQLite's plan for [`list`] with this query, one line per step (`SCAN`,
/// `SEARCH … USING INDEX`, `USE TEMP B-TREE`…): for the test that keeps
/// every gallery filter on an index at any size.
pub fn list_plan(conn: &Connection, q: &ListQuery) -> Result<Vec<String>> {
    let (sql, args) = list_sql(q, search_plan(conn, q)?);
    let args: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref()).collect();
    super::explain(conn, &sql, &args)
}

/// Few matches (at most [`FEW_MATCHES`], counted by reading no further)
/// or many: see [`SearchPlan`].
fn search_plan(conn: &Connection, q: &ListQuery) -> Result<SearchPlan> {
    let Some(search) = q.search.as_deref().map(fts_query).filter(|s| !s.is_empty()) else {
        return Ok(SearchPlan::ByRowid);
    };
    let matches: u32 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM (SELECT rowid FROM prompts_fts \
             WHERE prompts_fts MATCH ?1 LIMIT ?2)",
        )?
        .query_row(params![search, FEW_MATCHES + 1], |r| r.get(0))?;
    Ok(if matches > FEW_MATCHES {
        SearchPlan::InOrder
    } else {
        SearchPlan::ByRowid
    })
}

fn list_sql(q: &ListQuery, plan: SearchPlan) -> (String, Vec<Box<dyn ToSql>>) {
    let (filter, mut args) = filter_sql(q, plan);
    let mut sql = format!("SELECT {JOB_COLS} FROM jobs{filter}");
    if let Some((created_at, id)) = &q.before {
        args.push(Box::new(*created_at));
        let a = args.len();
        args.push(Box::new(id.clone()));
        let b = args.len();
        // A row value, so the page deep in the list starts with a seek on
        // the index instead of a scan from the newest job.
        sql.push_str(&format!(" AND (created_at, id) < (?{a}, ?{b})"));
    }
    args.push(Box::new(q.limit.unwrap_or(100).min(1000)));
    sql.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ?{}",
        args.len()
    ));
    (sql, args)
}

/// Turn what a person types into an FTS5 query: every word must appear (as a
/// prefix), words in double quotes as that exact phrase, and FTS5 syntax
/// characters in the input cannot cause an error (empty when nothing is
/// left to search for).
pub(super) fn fts_query(input: &str) -> String {
    let mut terms = Vec::new();
    // Odd parts sit between quotes; an unclosed quote runs to the end.
    for (i, part) in input.split('"').enumerate() {
        if i % 2 == 1 {
            let words: Vec<&str> = part.split_whitespace().collect();
            if !words.is_empty() {
                terms.push(format!("\"{}\"", words.join(" ")));
            }
        } else {
            terms.extend(part.split_whitespace().map(|w| format!("\"{w}\"*")));
        }
    }
    terms.join(" ")
}

/// Jobs changed after `seq`, in change order (for watchers in other processes
/// and for a UI that noticed a gap).
pub fn changed_since(conn: &Connection, seq: i64, limit: u32) -> Result<Vec<JobSummary>> {
    let sql = format!("SELECT {JOB_COLS} FROM jobs WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![seq, limit], summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn current_seq(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached(CURRENT_SEQ_SQL)?
        .query_row([], |r| r.get(0))?)
}

/// The lease a worker holds on a running job: its owner id and the fencing
/// token (epoch) of the claim or takeover that gave it the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub epoch: i64,
}

/// A typed state change (as River's `JobSetState...`): what the engine wants
/// to happen to a job. The store turns it into one guarded `UPDATE`, numbers
/// its placeholders itself, and checks the allowed-transition table.
#[derive(Debug, Clone)]
pub enum SetState<'a> {
    /// A queued job is claimed: a new attempt under a new lease and epoch.
    Claim {
        owner: &'a str,
        until: i64,
    },
    /// The provider accepted the submission and gave this handle.
    Accepted {
        handle: &'a str,
    },
    /// What the provider says while processing: progress (None:
    /// unchanged), its queue position and message.
    Waiting {
        progress: Option<f64>,
        queue_position: Option<u32>,
        message: Option<&'a str>,
    },
    /// A new progress preview file: the status stays.
    Preview {
        path: &'a str,
    },
    /// The provider finished; the result is to be stored.
    ProviderDone,
    /// A retryable failure before anything was stored: queue again at `at`.
    Requeue {
        at: i64,
        code: &'a str,
        message: &'a str,
    },
    /// Saving must wait (library unavailable): let the lease lapse at
    /// `retry_at` with no owner, so recovery redoes the save (no crash).
    DeferSave {
        retry_at: i64,
        code: &'a str,
        reason: &'a str,
    },
    /// Saving waited too long: hold the job for the user, with the reason.
    HoldSave {
        code: &'a str,
        reason: &'a str,
    },
    /// Stored: `assets` outputs, the first one's thumbnail for the grid
    /// and its file (what a card drags out).
    Completed {
        thumb: Option<&'a str>,
        image: Option<&'a str>,
        assets: u32,
    },
    Failed {
        code: &'a str,
        message: &'a str,
    },
    Canceled,
    /// Recovery takes over a running job whose lease expired: new owner,
    /// new epoch, same phase.
    TakeOver {
        owner: &'a str,
        until: i64,
        crashes: u32,
    },
    /// In flight during too many consecutive crashes: held for the user.
    HoldCrashed {
        crashes: u32,
        reason: &'a str,
    },
    /// The user resumes a held job: recovery picks it up at once.
    Resume,
    /// The user retries a failed or canceled job as a new run.
    Retry {
        extra_attempts: u32,
    },
    /// The user moves a queued job to the front of the queue.
    MoveToFront,
}

/// One SET assignment: a bound value, an SQL expression over the row, or
/// an expression plus a bound value.
enum Val {
    Arg(Box<dyn ToSql>),
    Expr(&'static str),
    Add(&'static str, Box<dyn ToSql>),
}

impl SetState<'_> {
    /// The states the change may start from (a job elsewhere lost the race).
    fn from(&self) -> &'static [JobStatus] {
        use JobStatus::*;
        match self {
            SetState::Claim { .. } => &[Queued],
            SetState::Accepted { .. } => &[Submitting],
            SetState::Waiting { .. } | SetState::ProviderDone => &[Processing],
            SetState::Preview { .. } => &[Submitting, Processing],
            SetState::Requeue { .. } => &[Submitting, Processing],
            SetState::DeferSave { .. } | SetState::HoldSave { .. } => &[Saving],
            SetState::Completed { .. } => &[Saving],
            SetState::Failed { .. } | SetState::Canceled => &JobStatus::NON_TERMINAL,
            SetState::TakeOver { .. } | SetState::HoldCrashed { .. } | SetState::Resume => {
                &JobStatus::RUNNING
            }
            SetState::Retry { .. } => &[Failed, Canceled],
            SetState::MoveToFront => &[Queued],
        }
    }

    /// Where the change leads from `current`.
    fn to(&self, current: JobStatus) -> JobStatus {
        use JobStatus::*;
        match self {
            SetState::Claim { .. } => Submitting,
            SetState::Accepted { .. } | SetState::Waiting { .. } => Processing,
            SetState::ProviderDone => Saving,
            SetState::Requeue { .. } | SetState::Retry { .. } | SetState::MoveToFront => Queued,
            SetState::Completed { .. } => Completed,
            SetState::Failed { .. } => Failed,
            SetState::Canceled => Canceled,
            SetState::DeferSave { .. }
            | SetState::Preview { .. }
            | SetState::HoldSave { .. }
            | SetState::TakeOver { .. }
            | SetState::HoldCrashed { .. }
            | SetState::Resume => current,
        }
    }

    /// Extra guard beyond status and lease (`?2` is now).
    fn condition(&self) -> &'static str {
        match self {
            SetState::Claim { .. } => " AND held = 0",
            SetState::TakeOver { .. } | SetState::HoldCrashed { .. } => {
                " AND held = 0 AND (lease_expires_at IS NULL OR lease_expires_at <= ?2)"
            }
            SetState::Resume => " AND held = 1",
            _ => "",
        }
    }

    fn assignments(&self) -> Vec<(&'static str, Val)> {
        use Val::{Add, Arg, Expr};
        fn arg<T: ToSql + 'static>(v: T) -> Val {
            Arg(Box::new(v))
        }
        let text = |s: &str| arg(s.to_string());
        let release = [
            ("lease_owner", Expr("NULL")),
            ("lease_expires_at", Expr("NULL")),
            // What the provider said no longer holds once it let go.
            ("queue_position", Expr("NULL")),
            ("provider_message", Expr("NULL")),
            ("preview_path", Expr("NULL")),
        ];
        // Previews end with the provider's work too.
        let quiet = [
            ("queue_position", Expr("NULL")),
            ("provider_message", Expr("NULL")),
            ("preview_path", Expr("NULL")),
        ];
        match self {
            SetState::Claim { owner, until } => vec![
                ("attempt_count", Expr("attempt_count + 1")),
                ("lease_owner", text(owner)),
                ("lease_expires_at", arg(*until)),
                ("lease_epoch", Expr("lease_epoch + 1")),
                ("handle", Expr("NULL")),
                ("progress", Expr("NULL")),
                ("error_code", Expr("NULL")),
                ("error_message", Expr("NULL")),
                ("queue_position", Expr("NULL")),
                ("provider_message", Expr("NULL")),
                ("preview_path", Expr("NULL")),
            ],
            SetState::Accepted { handle } => {
                vec![("handle", text(handle)), ("progress", Expr("0.0"))]
            }
            SetState::Waiting {
                progress,
                queue_position,
                message,
            } => {
                let mut v = vec![
                    ("queue_position", arg(*queue_position)),
                    ("provider_message", arg(message.map(str::to_string))),
                ];
                if let Some(p) = progress {
                    v.push(("progress", arg(p.clamp(0.0, 1.0))));
                }
                v
            }
            SetState::Preview { path } => vec![("preview_path", text(path))],
            SetState::ProviderDone => {
                let mut v = vec![("progress", Expr("1.0"))];
                v.extend(quiet);
                v
            }
            SetState::Requeue { at, code, message } => {
                let mut v = vec![
                    ("next_run_at", arg(*at)),
                    ("handle", Expr("NULL")),
                    ("progress", Expr("NULL")),
                    ("error_code", text(code)),
                    ("error_message", text(message)),
                ];
                v.extend(release);
                v
            }
            SetState::DeferSave {
                retry_at,
                code,
                reason,
            } => vec![
                ("lease_owner", Expr("NULL")),
                ("lease_expires_at", arg(*retry_at)),
                ("error_code", text(code)),
                ("error_message", text(reason)),
                ("save_deferrals", Expr("save_deferrals + 1")),
                (
                    "save_deferred_since",
                    Expr("COALESCE(save_deferred_since, ?2)"),
                ),
            ],
            SetState::HoldSave { code, reason } => {
                let mut v = vec![
                    ("held", Expr("1")),
                    ("error_code", text(code)),
                    ("error_message", text(reason)),
                ];
                v.extend(release);
                v
            }
            SetState::Completed {
                thumb,
                image,
                assets,
            } => {
                let mut v = vec![
                    ("progress", Expr("1.0")),
                    ("crash_count", Expr("0")),
                    ("error_code", Expr("NULL")),
                    ("error_message", Expr("NULL")),
                    ("thumb_path", arg(thumb.map(str::to_string))),
                    ("image_path", arg(image.map(str::to_string))),
                    ("asset_count", arg(*assets)),
                    ("save_deferrals", Expr("0")),
                    ("save_deferred_since", Expr("NULL")),
                ];
                v.extend(release);
                v
            }
            SetState::Failed { code, message } => {
                let mut v = vec![
                    ("error_code", text(code)),
                    ("error_message", text(message)),
                    ("held", Expr("0")),
                ];
                v.extend(release);
                v
            }
            SetState::Canceled => {
                let mut v = vec![("held", Expr("0"))];
                v.extend(release);
                v
            }
            SetState::TakeOver {
                owner,
                until,
                crashes,
            } => vec![
                ("lease_owner", text(owner)),
                ("lease_expires_at", arg(*until)),
                ("lease_epoch", Expr("lease_epoch + 1")),
                ("crash_count", arg(*crashes)),
            ],
            SetState::HoldCrashed { crashes, reason } => {
                let mut v = vec![
                    ("held", Expr("1")),
                    ("crash_count", arg(*crashes)),
                    ("error_code", text("crashed")),
                    ("error_message", text(reason)),
                ];
                v.extend(release);
                v
            }
            SetState::Resume => {
                let mut v = vec![
                    ("held", Expr("0")),
                    ("crash_count", Expr("0")),
                    ("error_code", Expr("NULL")),
                    ("error_message", Expr("NULL")),
                    ("save_deferrals", Expr("0")),
                    ("save_deferred_since", Expr("NULL")),
                ];
                v.extend(release);
                v
            }
            SetState::Retry { extra_attempts } => vec![
                ("run", Expr("run + 1")),
                (
                    "max_attempts",
                    Add("attempt_count", Box::new(*extra_attempts)),
                ),
                ("next_run_at", Expr("?2")),
                ("held", Expr("0")),
                ("crash_count", Expr("0")),
                ("handle", Expr("NULL")),
                ("progress", Expr("NULL")),
                ("error_code", Expr("NULL")),
                ("error_message", Expr("NULL")),
                ("save_deferrals", Expr("0")),
                ("save_deferred_since", Expr("NULL")),
            ],
            // Ahead of every queued job (itself included). A job waiting
            // out a retry delay keeps it: the front is where the next claim
            // looks first once it is due.
            SetState::MoveToFront => vec![(
                "priority",
                Expr("(SELECT MAX(priority) FROM jobs WHERE status = 'queued') + 1"),
            )],
        }
    }
}

/// What a change adds to the job's timeline.
#[derive(Debug, Clone, Copy)]
pub enum Note<'a> {
    /// Nothing: not worth a line (progress).
    None,
    /// A new line.
    Line(&'a str),
    /// Replace the job's latest line when it starts with `prefix` (a
    /// repeated event, such as another deferred save, counted in one line
    /// instead of a flood), else add one.
    Repeat { prefix: &'a str, line: &'a str },
}

/// A guarded change of a job.
pub struct Change<'a> {
    pub id: &'a str,
    /// When set, only the worker holding this lease (owner and epoch) may
    /// make the change.
    pub lease: Option<&'a Lease>,
    pub set: SetState<'a>,
    pub note: Note<'a>,
    pub attempt: Option<u32>,
    pub now: i64,
}

/// Apply `c` as one guarded statement. Returns the job as changed, or None
/// when the guard did not hold (another change won the race, the lease was
/// lost). A change the transition table forbids is a bug and an error.
pub fn change(tx: &Transaction<'_>, c: &Change<'_>) -> Result<Option<JobSummary>> {
    let before: Option<JobStatus> = tx
        .prepare_cached("SELECT status FROM jobs WHERE id = ?1")?
        .query_row([c.id], |r| status_col(r, 0))
        .optional()?;
    let Some(before) = before else {
        return Ok(None);
    };
    let from = c.set.from();
    if !from.contains(&before) {
        return Ok(None);
    }
    let to = c.set.to(before);
    if !before.may_become(to) {
        return Err(StoreError::Transition {
            id: c.id.to_string(),
            from: before,
            to,
        });
    }
    let mut sets = String::new();
    let mut args: Vec<Box<dyn ToSql>> = Vec::new();
    // ?1..?5 are the fixed parameters below; assignments number on from ?6.
    for (col, val) in c.set.assignments() {
        match val {
            Val::Arg(v) => {
                args.push(v);
                sets.push_str(&format!(", {col} = ?{}", args.len() + 5));
            }
            Val::Add(base, v) => {
                args.push(v);
                sets.push_str(&format!(", {col} = {base} + ?{}", args.len() + 5));
            }
            Val::Expr(e) => sets.push_str(&format!(", {col} = {e}")),
        }
    }
    let from_list = status_list(from);
    let sql = format!(
        "UPDATE jobs SET status = ?1, updated_at = ?2, seq = {NEXT_SEQ_SQL}{sets} \
         WHERE id = ?3 AND status IN ({from_list}) \
         AND (?4 IS NULL OR (lease_owner = ?4 AND lease_epoch = ?5)){cond} \
         RETURNING {JOB_COLS}",
        cond = c.set.condition()
    );
    let status_text = to.as_str();
    let owner = c.lease.map(|l| l.owner.as_str());
    let epoch = c.lease.map(|l| l.epoch);
    let mut all: Vec<&dyn ToSql> = vec![&status_text, &c.now, &c.id, &owner, &epoch];
    all.extend(args.iter().map(|a| &**a as &dyn ToSql));
    let row = tx
        .prepare_cached(&sql)?
        .query_row(all.as_slice(), summary)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    match c.note {
        Note::None => {}
        Note::Line(line) => append_timeline(tx, &row, Some(before), c.attempt, line)?,
        Note::Repeat { prefix, line } => {
            if !replace_last_timeline(tx, &row, prefix, line)? {
                append_timeline(tx, &row, Some(before), c.attempt, line)?;
            }
        }
    }
    Ok(Some(row))
}

/// `'a','b'` for an `IN (...)` list of statuses (constants, not input).
pub(super) fn status_list(statuses: &[JobStatus]) -> String {
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The running statuses as an SQL list, derived from `JobStatus::RUNNING`.
fn running_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| status_list(&JobStatus::RUNNING))
}

fn replace_last_timeline(
    tx: &Transaction<'_>,
    job: &JobSummary,
    prefix: &str,
    line: &str,
) -> Result<bool> {
    let n = tx
        .prepare_cached(
            "UPDATE timeline SET detail = ?3, at = ?4, seq = ?5 WHERE job_id = ?1 \
             AND n = (SELECT MAX(n) FROM timeline WHERE job_id = ?1) \
             AND substr(detail, 1, length(?2)) = ?2",
        )?
        .execute(params![job.id, prefix, line, job.updated_at, job.seq])?;
    Ok(n == 1)
}

fn append_timeline(
    tx: &Transaction<'_>,
    job: &JobSummary,
    from: Option<JobStatus>,
    attempt: Option<u32>,
    detail: &str,
) -> Result<()> {
    insert_timeline(tx, &job.id, job.updated_at, from, attempt, detail)
}

/// A line in the job's history that changes nothing else (no status, no
/// seq, no event): shown at its current status, with no transition.
pub fn note_in_timeline(
    tx: &Transaction<'_>,
    job_id: &str,
    attempt: u32,
    detail: &str,
    now: i64,
) -> Result<()> {
    insert_timeline(tx, job_id, now, None, Some(attempt), detail)
}

/// The one statement that adds to a job's history: its next entry number,
/// at the status and seq the job's row holds now (a transition updated the
/// row first, in the same transaction).
fn insert_timeline(
    tx: &Transaction<'_>,
    job_id: &str,
    at: i64,
    from: Option<JobStatus>,
    attempt: Option<u32>,
    detail: &str,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO timeline (job_id, n, seq, at, from_status, to_status, attempt, detail) \
         SELECT id, (SELECT IFNULL(MAX(n), 0) + 1 FROM timeline WHERE job_id = ?1), \
         seq, ?2, ?3, status, ?4, ?5 FROM jobs WHERE id = ?1",
    )?
    .execute(params![
        job_id,
        at,
        from.map(JobStatus::as_str),
        attempt,
        detail
    ])?;
    Ok(())
}

/// How many jobs of `provider` are running (all processes), including
/// those whose worker died and that recovery has not taken over yet: a
/// takeover keeps the count, so claims never push it past the limit.
pub fn running_count(tx: &Transaction<'_>, provider: &str) -> Result<u32> {
    Ok(tx
        .prepare_cached(&running_count_sql())?
        .query_row([provider], |r| r.get(0))?)
}

/// The attempt number the next claim of `id` will use.
pub fn next_attempt(tx: &Transaction<'_>, id: &str) -> Result<u32> {
    Ok(tx
        .prepare_cached("SELECT attempt_count + 1 FROM jobs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// The order queued jobs run in: moved to the front first, then by when
/// they are due, oldest first.
const QUEUE_ORDER: &str = "priority DESC, next_run_at, created_at, id";

/// A queued job that may run now (`?1` is now).
const DUE: &str = "status = 'queued' AND held = 0 AND next_run_at <= ?1";

/// The next queued job of `provider` that is due, in queue order.
pub fn next_due(tx: &Transaction<'_>, provider: &str, now: i64) -> Result<Option<String>> {
    Ok(tx
        .prepare_cached(&next_due_sql())?
        .query_row(params![now, provider], |r| r.get(0))
        .optional()?)
}

/// Whether `provider` has a queued job that is due (a read, so the
/// scheduler asks before taking the write lock for another claim).
pub fn has_due(conn: &Connection, provider: &str, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(&has_due_sql())?
        .query_row(params![now, provider], |r| r.get(0))?)
}

/// Providers that have due work, so the scheduler asks only about those.
pub fn providers_with_due_work(conn: &Connection, now: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&due_providers_sql())?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next queued job that is not due yet becomes due (for the
/// scheduler's sleep). Jobs due already are not counted: the scheduler
/// claimed what it could, and those left wait for a slot (a runner ending,
/// a wake-up), not for a time that has passed.
pub fn next_wakeup(conn: &Connection, now: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(NEXT_WAKEUP_SQL)?
        .query_row([now], |r| r.get(0))?)
}

/// What the scheduler needs to decide its next step, read at once (each
/// store call hands the worker's other tasks to another thread, which
/// costs more than these queries): whether the queue is paused, which
/// providers have due work, which have running jobs whose lease lapsed
/// (when `with_expired`), and when the next queued job becomes due.
#[derive(Debug, Clone, Default)]
pub struct SchedulerView {
    pub paused: bool,
    pub due: Vec<String>,
    pub expired: Vec<String>,
    pub next_wakeup: Option<i64>,
}

pub fn scheduler_view(conn: &Connection, now: i64, with_expired: bool) -> Result<SchedulerView> {
    Ok(SchedulerView {
        paused: queue_paused(conn)?,
        due: providers_with_due_work(conn, now)?,
        expired: if with_expired {
            providers_with_expired_leases(conn, now)?
        } else {
            Vec::new()
        },
        next_wakeup: next_wakeup(conn, now)?,
    })
}

/// The condition of a running job whose worker stopped renewing its lease.
fn expired_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "status IN ({}) AND held = 0 AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)",
            running_sql()
        )
    })
}

/// Providers with running jobs whose worker stopped renewing the lease.
pub fn providers_with_expired_leases(conn: &Connection, now: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&expired_providers_sql())?;
    let rows = stmt.query_map([now], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A provider's running jobs whose lease lapsed, oldest first.
pub fn expired_lease_ids(conn: &Connection, provider: &str, now: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&expired_ids_sql())?;
    let rows = stmt.query_map(params![now, provider], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A provider's running jobs that some worker holds a live lease on.
pub fn live_running_count(conn: &Connection, provider: &str, now: i64) -> Result<u32> {
    Ok(conn
        .prepare_cached(&live_running_sql())?
        .query_row(params![provider, now], |r| r.get(0))?)
}

// The scheduler's and recovery's statements, apart so `scheduler_plans`
// explains the very text they run. Each searches only open jobs, never the
// whole library: `jobs_queued` or `jobs_running` (V12), partial indexes of
// queued or running jobs, or, for the statements that name no provider,
// `jobs_status_created` by status.
fn running_count_sql() -> String {
    format!(
        "SELECT COUNT(*) FROM jobs WHERE provider = ?1 AND held = 0 AND status IN ({})",
        running_sql()
    )
}

fn next_due_sql() -> String {
    format!("SELECT id FROM jobs WHERE {DUE} AND provider = ?2 ORDER BY {QUEUE_ORDER} LIMIT 1")
}

fn has_due_sql() -> String {
    format!("SELECT EXISTS (SELECT 1 FROM jobs WHERE {DUE} AND provider = ?2)")
}

fn due_providers_sql() -> String {
    format!("SELECT DISTINCT provider FROM jobs WHERE {DUE}")
}

const NEXT_WAKEUP_SQL: &str =
    "SELECT MIN(next_run_at) FROM jobs WHERE status = 'queued' AND held = 0 AND next_run_at > ?1";

fn expired_providers_sql() -> String {
    format!("SELECT DISTINCT provider FROM jobs WHERE {}", expired_sql())
}

fn expired_ids_sql() -> String {
    format!(
        "SELECT id FROM jobs WHERE {} AND provider = ?2 ORDER BY created_at, id",
        expired_sql()
    )
}

fn live_running_sql() -> String {
    format!(
        "SELECT COUNT(*) FROM jobs WHERE provider = ?1 AND held = 0 AND status IN ({}) \
         AND lease_expires_at > ?2",
        running_sql()
    )
}

fn active_counts_sql() -> String {
    format!(
        "SELECT (SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND held = 0), \
         (SELECT COUNT(*) FROM jobs WHERE status IN ({}) AND held = 0)",
        running_sql(),
    )
}

/// `EXPLAIN QUERY PLAN` of each scheduler and recovery statement, by name
/// (for the tests that keep them off full scans).
pub fn scheduler_plans(conn: &Connection) -> Result<Vec<(&'static str, Vec<String>)>> {
    let statements = [
        ("running_count", running_count_sql()),
        ("next_due", next_due_sql()),
        ("has_due", has_due_sql()),
        ("due_providers", due_providers_sql()),
        ("next_wakeup", NEXT_WAKEUP_SQL.to_string()),
        ("expired_providers", expired_providers_sql()),
        ("expired_ids", expired_ids_sql()),
        ("live_running", live_running_sql()),
        ("active_counts", active_counts_sql()),
    ];
    statements
        .into_iter()
        .map(|(name, sql)| Ok((name, super::explain(conn, &sql, &[])?)))
        .collect()
}

/// What recovery needs to decide about a job whose lease expired.
#[derive(Debug, Clone)]
pub struct Recoverable {
    /// The last owner: None after a clean release or a deferred save.
    pub owner: Option<String>,
    pub crashes: u32,
    pub status: JobStatus,
    /// Deferred saves so far (a lapsed deferral is a planned retry).
    pub save_deferrals: u32,
}

/// A job whose lease expired, as recovery sees it; None when it is not (or
/// no longer) recoverable.
pub fn recoverable(tx: &Transaction<'_>, id: &str, now: i64) -> Result<Option<Recoverable>> {
    let sql = format!(
        "SELECT lease_owner, crash_count, status, save_deferrals FROM jobs WHERE id = ?1 AND held = 0 \
         AND status IN ({}) AND (lease_expires_at IS NULL OR lease_expires_at <= ?2)",
        running_sql()
    );
    Ok(tx
        .prepare_cached(&sql)?
        .query_row(params![id, now], |r| {
            Ok(Recoverable {
                owner: r.get(0)?,
                crashes: r.get(1)?,
                status: status_col(r, 2)?,
                save_deferrals: r.get(3)?,
            })
        })
        .optional()?)
}

/// Extend a lease; false when the worker lost the job (canceled, taken
/// over: the epoch moved on).
pub fn heartbeat(tx: &Transaction<'_>, id: &str, lease: &Lease, until: i64) -> Result<bool> {
    let sql = format!(
        "UPDATE jobs SET lease_expires_at = ?4 WHERE id = ?1 AND lease_owner = ?2 \
         AND lease_epoch = ?3 AND held = 0 AND status IN ({})",
        running_sql()
    );
    let n = tx
        .prepare_cached(&sql)?
        .execute(params![id, lease.owner, lease.epoch, until])?;
    Ok(n == 1)
}

/// How long a save of `id` has been waiting for the library: the number of
/// deferrals so far and when the first one happened.
pub fn save_deferral(tx: &Transaction<'_>, id: &str) -> Result<Option<(u32, Option<i64>)>> {
    Ok(tx
        .prepare_cached("SELECT save_deferrals, save_deferred_since FROM jobs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Mark or unmark favorites; returns the changed jobs.
pub fn set_favorite(
    tx: &Transaction<'_>,
    id: &str,
    favorite: bool,
    now: i64,
) -> Result<Option<JobSummary>> {
    let sql = format!(
        "UPDATE jobs SET favorite = ?2, updated_at = ?3, seq = {NEXT_SEQ_SQL} \
         WHERE id = ?1 AND favorite != ?2 RETURNING {JOB_COLS}"
    );
    let row = tx
        .query_row(&sql, params![id, favorite, now], summary)
        .optional()?;
    if row.is_some() {
        tx.prepare_cached("UPDATE assets SET favorite = ?2 WHERE job_id = ?1")?
            .execute(params![id, favorite])?;
    }
    Ok(row)
}

/// Remove a job that no worker holds (and its attempts, timeline and
/// assets; ledger rows stay). Returns false when it is running or gone.
pub fn delete(tx: &Transaction<'_>, id: &str) -> Result<bool> {
    let current = seq_before_removal(tx)?;
    let n = tx.execute(
        &format!(
            "DELETE FROM jobs WHERE id = ?1 AND (held = 1 OR status NOT IN ({}))",
            running_sql()
        ),
        [id],
    )?;
    if n == 1 {
        raise_seq_floor(tx, current)?;
    }
    Ok(n == 1)
}

/// A running job's id, lease owner and lease expiry.
pub type InFlight = (String, Option<String>, Option<i64>);

/// Running jobs that are not held, with their lease owner and expiry: the
/// candidates for "interrupted" when an engine opens.
pub fn in_flight(conn: &Connection) -> Result<Vec<InFlight>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, lease_owner, lease_expires_at FROM jobs WHERE held = 0 AND status IN ({}) \
         ORDER BY created_at",
        running_sql()
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A clean exit hands `owner`'s running jobs back: no owner, no lease. The
/// next worker takes them over at once and, finding no owner, does not count
/// a crash. Nothing else about the job changes.
pub fn release_leases(tx: &Transaction<'_>, owner: &str) -> Result<usize> {
    let sql = format!(
        "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL \
         WHERE lease_owner = ?1 AND status IN ({})",
        running_sql()
    );
    Ok(tx.prepare_cached(&sql)?.execute([owner])?)
}

/// Hand one job back (a runner stopping on an error it cannot get past):
/// only while this lease still holds it.
pub fn release_lease(tx: &Transaction<'_>, id: &str, lease: &Lease) -> Result<bool> {
    let sql = format!(
        "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL \
         WHERE id = ?1 AND lease_owner = ?2 AND lease_epoch = ?3 AND status IN ({})",
        running_sql()
    );
    Ok(tx
        .prepare_cached(&sql)?
        .execute(params![id, lease.owner, lease.epoch])?
        == 1)
}

/// Jobs not settled (counted by the `work --until-idle` worker).
pub fn open_count(conn: &Connection) -> Result<i64> {
    let c = active_counts(conn)?;
    Ok(i64::from(c.queued) + i64::from(c.running))
}

/// How many jobs wait to run and how many run now (held jobs are neither).
/// Two counts: the queued one reads only the partial index `jobs_queued`
/// (its entries hold `held`); the running one searches
/// `jobs_status_created` by status and reads each running row for `held`.
/// Both touch only open jobs, never the whole library.
pub fn active_counts(conn: &Connection) -> Result<ActiveCounts> {
    let (queued, running) = conn
        .prepare_cached(&active_counts_sql())?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(ActiveCounts { queued, running })
}

/// What the provider said the current run cost (see `provider_done`).
pub fn set_provider_cost(tx: &Transaction<'_>, id: &str, cost_micros: Option<i64>) -> Result<()> {
    tx.execute(
        "UPDATE jobs SET provider_cost_micros = ?2 WHERE id = ?1",
        params![id, cost_micros],
    )?;
    Ok(())
}

pub fn provider_cost(conn: &Connection, id: &str) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT provider_cost_micros FROM jobs WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// A running job's provider handle and when its attempt `number` started
/// (None when the attempt row is missing), in one read.
pub fn handle_and_start(
    conn: &Connection,
    id: &str,
    number: u32,
) -> Result<(Option<String>, Option<i64>)> {
    Ok(conn
        .prepare_cached(
            "SELECT j.handle, a.started_at FROM jobs j \
             LEFT JOIN attempts a ON a.job_id = j.id AND a.number = ?2 WHERE j.id = ?1",
        )?
        .query_row(params![id, number], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, None)))
}

pub fn handle(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT handle FROM jobs WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .flatten())
}

pub fn insert_attempt(
    tx: &Transaction<'_>,
    job_id: &str,
    number: u32,
    provider: &str,
    model: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO attempts (job_id, number, provider, model, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![job_id, number, provider, model, now],
    )?;
    Ok(())
}

pub fn set_attempt_handle(
    tx: &Transaction<'_>,
    job_id: &str,
    number: u32,
    handle: &str,
) -> Result<()> {
    tx.execute(
        "UPDATE attempts SET handle = ?3 WHERE job_id = ?1 AND number = ?2",
        params![job_id, number, handle],
    )?;
    Ok(())
}

/// Record that attempt `number`'s submit is about to go out (kept if set).
pub fn mark_attempt_sent(tx: &Transaction<'_>, job_id: &str, number: u32, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE attempts SET sent_at = COALESCE(sent_at, ?3) WHERE job_id = ?1 AND number = ?2",
        params![job_id, number, now],
    )?;
    Ok(())
}

/// Whether attempt `number`'s submit may have gone out (see above).
pub fn attempt_sent(conn: &Connection, job_id: &str, number: u32) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT sent_at IS NOT NULL FROM attempts WHERE job_id = ?1 AND number = ?2",
            params![job_id, number],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(true))
}

/// Close an attempt once; a second close (duplicate settlement) is ignored.
pub fn finish_attempt(
    tx: &Transaction<'_>,
    job_id: &str,
    number: u32,
    outcome: &str,
    http_status: Option<u16>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    tx.execute(
        "UPDATE attempts SET ended_at = ?3, outcome = ?4, http_status = ?5, error = ?6 \
         WHERE job_id = ?1 AND number = ?2 AND ended_at IS NULL",
        params![job_id, number, now, outcome, http_status, error],
    )?;
    Ok(())
}

pub fn attempts(conn: &Connection, job_id: &str) -> Result<Vec<Attempt>> {
    let mut stmt = conn.prepare(
        "SELECT number, provider, model, started_at, ended_at, outcome, http_status, error, handle \
         FROM attempts WHERE job_id = ?1 ORDER BY number",
    )?;
    let rows = stmt.query_map([job_id], |r| {
        Ok(Attempt {
            number: r.get(0)?,
            provider: r.get(1)?,
            model: r.get(2)?,
            started_at: r.get(3)?,
            ended_at: r.get(4)?,
            outcome: r.get(5)?,
            http_status: r.get(6)?,
            error: r.get(7)?,
            handle: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn timeline(conn: &Connection, job_id: &str) -> Result<Vec<TimelineEntry>> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, from_status, to_status, attempt, detail FROM timeline \
         WHERE job_id = ?1 ORDER BY n",
    )?;
    let rows = stmt.query_map([job_id], |r| {
        Ok(TimelineEntry {
            seq: r.get(0)?,
            at: r.get(1)?,
            from_status: opt_status_col(r, 2)?,
            to_status: status_col(r, 3)?,
            attempt: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Record a stored image; a second insert for the same output is a no-op.
/// A job starred while it ran has its images starred.
pub fn insert_asset(tx: &Transaction<'_>, job_id: &str, a: &Asset) -> Result<bool> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO assets (job_id, output_index, path, thumb_path, width, height, \
         bytes, sha256, created_at, favorite) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
         (SELECT favorite FROM jobs WHERE id = ?1))",
        params![
            job_id,
            a.output_index,
            a.path,
            a.thumb_path,
            a.width,
            a.height,
            a.bytes as i64,
            a.sha256,
            a.created_at
        ],
    )?;
    Ok(n == 1)
}

/// Is `path` a file of an image the user sees (deleted ones are in the
/// trash)?
pub fn is_asset_path(conn: &Connection, path: &str) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM assets a JOIN jobs j ON j.id = a.job_id \
         WHERE (a.path = ?1 OR a.thumb_path = ?1) \
         AND a.deleted_at IS NULL AND j.deleted_at IS NULL)",
        [path],
        |r| r.get(0),
    )?)
}

/// A job's images the user sees (not deleted), in output order.
pub fn assets(conn: &Connection, job_id: &str) -> Result<Vec<Asset>> {
    assets_where(conn, job_id, "AND deleted_at IS NULL")
}

/// Every image row of a job, deleted ones too: what the file sweeps keep
/// (a deleted image's file is in the trash until Undo brings it back).
pub fn all_assets(conn: &Connection, job_id: &str) -> Result<Vec<Asset>> {
    assets_where(conn, job_id, "")
}

fn assets_where(conn: &Connection, job_id: &str, filter: &str) -> Result<Vec<Asset>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT output_index, path, thumb_path, width, height, bytes, sha256, created_at, favorite \
         FROM assets WHERE job_id = ?1 {filter} ORDER BY output_index"
    ))?;
    let rows = stmt.query_map([job_id], |r| {
        Ok(Asset {
            output_index: r.get(0)?,
            path: r.get(1)?,
            thumb_path: r.get(2)?,
            width: r.get(3)?,
            height: r.get(4)?,
            bytes: r.get::<_, i64>(5)? as u64,
            sha256: r.get(6)?,
            created_at: r.get(7)?,
            favorite: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Guard for rows that cannot be trusted to be what the code expects.
pub fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.into(),
    }
}

/// Jobs that ended (completed, failed or canceled) since `since`, newest
/// first, at most `limit`: the files of their runners that were killed
/// mid-save are swept at the next worker start.
pub fn recently_settled(conn: &Connection, since: i64, limit: u32) -> Result<Vec<JobSummary>> {
    let sql = format!(
        "SELECT {JOB_COLS} FROM jobs WHERE status IN ('completed','failed','canceled') \
         AND updated_at >= ?1 ORDER BY updated_at DESC LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![since, limit], summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Running jobs held after repeated crashes (no runner runs them until
/// the user retries them).
pub fn held_running(conn: &Connection, limit: u32) -> Result<Vec<JobSummary>> {
    let sql = format!(
        "SELECT {JOB_COLS} FROM jobs WHERE status IN ({}) AND held = 1 LIMIT ?1",
        running_sql()
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit], summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether the user paused the queue (no new job starts; running ones
/// finish).
pub fn queue_paused(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT value FROM engine_flags WHERE name = 'queue_paused'")?
        .query_row([], |r| r.get::<_, i64>(0))
        .optional()?
        .is_some_and(|v| v != 0))
}

pub fn set_queue_paused(tx: &Transaction<'_>, paused: bool) -> Result<()> {
    tx.execute(
        "INSERT INTO engine_flags (name, value) VALUES ('queue_paused', ?1) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        [i64::from(paused)],
    )?;
    Ok(())
}

/// Every job waiting or running, in the order it will run: running ones
/// first (oldest claim first), then the queue in its order.
pub fn queue(conn: &Connection) -> Result<Vec<JobSummary>> {
    let sql = format!(
        "SELECT {JOB_COLS} FROM jobs WHERE status IN ({open}) \
         ORDER BY status = 'queued', held, {QUEUE_ORDER}",
        open = status_list(&JobStatus::NON_TERMINAL)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], summary)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Period;
    use crate::store::Store;
    use std::time::Duration;

    #[test]
    fn job_col_count_counts_job_cols() {
        assert_eq!(JOB_COLS.split(',').count(), JOB_COL_COUNT);
    }

    #[test]
    fn typed_search_becomes_prefixes_and_phrases() {
        assert_eq!(fts_query("red fox"), r#""red"* "fox"*"#);
        assert_eq!(fts_query(r#"a "red fox" b"#), r#""a"* "red fox" "b"*"#);
        // An unclosed quote runs to the end; FTS5 syntax stays text.
        assert_eq!(fts_query(r#"x "NEAR(a b"#), r#""x"* "NEAR(a b""#);
        assert_eq!(fts_query(r#"  ""  "#), "");
        assert_eq!(fts_query("a* OR -b"), r#""a*"* "OR"* "-b"*"#);
    }

    /// The scheduler's and recovery's statements search the indexes of
    /// queued or running jobs only. Before V12 the running count each claim
    /// makes searched every job of the provider (`jobs_provider_created`),
    /// a scan of the whole library at a million jobs.
    #[test]
    fn scheduler_statements_search_only_queued_or_running_jobs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("plans.db"), Duration::from_secs(1)).expect("open");
        let plans = store.read(scheduler_plans).expect("plans");
        assert_eq!(plans.len(), 9);
        for (name, plan) in plans {
            let text = plan.join("\n");
            let on_jobs: Vec<&String> = plan.iter().filter(|l| l.contains(" jobs ")).collect();
            assert!(!on_jobs.is_empty(), "{name}: no step on jobs:\n{text}");
            for step in on_jobs {
                assert!(
                    step.starts_with("SEARCH jobs USING")
                        && [
                            "jobs_queued",
                            "jobs_running",
                            "jobs_status_created (status=?)"
                        ]
                        .iter()
                        .any(|i| step.contains(i)),
                    "{name}: reads more than the queued or running jobs:\n{text}"
                );
            }
        }
    }

    /// The runner's and the scheduler's combined reads answer as their
    /// single-purpose statements do (each store call has a cost of its
    /// own, so they are asked at once).
    #[test]
    fn combined_reads_answer_like_their_parts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("view.db"), Duration::from_secs(1)).expect("open");
        store
            .write(|tx| {
                for (id, status, due) in [("run-1", "processing", 5), ("wait-1", "queued", 40)] {
                    tx.execute(
                        &format!(
                            "INSERT INTO jobs (id, request_id, status, provider, model, prompt, \
                             width, height, count, seed, created_at, updated_at, max_attempts, \
                             next_run_at, seq) VALUES (?1, ?1, ?2, 'offline', 'm', 'p', \
                             64, 64, 1, 1, 1, 1, 3, ?3, {NEXT_SEQ_SQL})"
                        ),
                        params![id, status, due],
                    )?;
                }
                tx.execute("UPDATE jobs SET handle = 'h-1' WHERE id = 'run-1'", [])?;
                insert_attempt(tx, "run-1", 1, "offline", "m", 7)
            })
            .expect("jobs");
        let read = |id: &'static str, n: u32| {
            store
                .read(|c| handle_and_start(c, id, n))
                .expect("handle and start")
        };
        assert_eq!(read("run-1", 1), (Some("h-1".into()), Some(7)));
        assert_eq!(read("run-1", 2), (Some("h-1".into()), None));
        assert_eq!(read("wait-1", 1), (None, None));
        assert_eq!(read("no-such-job", 1), (None, None));

        // Not due yet: nothing to claim; it wakes the scheduler at 40. The
        // running job has no lease, so recovery would take it.
        let view = store.read(|c| scheduler_view(c, 20, true)).expect("view");
        assert!(!view.paused && view.due.is_empty(), "{view:?}");
        assert_eq!(view.next_wakeup, Some(40));
        assert_eq!(view.expired, vec!["offline".to_string()]);
        let view = store.read(|c| scheduler_view(c, 50, false)).expect("view");
        assert_eq!(view.due, vec!["offline".to_string()]);
        assert!(view.expired.is_empty(), "not asked: {view:?}");
        store.write(|tx| set_queue_paused(tx, true)).expect("pause");
        assert!(
            store
                .read(|c| scheduler_view(c, 50, false))
                .expect("view")
                .paused
        );
    }

    /// A change number is never handed out twice: a change takes one above
    /// the highest a job holds, and removing the job that holds it raises
    /// the floor first.
    #[test]
    fn change_numbers_stay_monotonic_across_removals() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("seq.db"), Duration::from_secs(1)).expect("open");
        let add = |n: u32| {
            store
                .write(|tx| {
                    tx.execute(
                        &format!(
                            "INSERT INTO jobs (id, request_id, status, provider, model, prompt, \
                             width, height, count, seed, created_at, updated_at, max_attempts, \
                             next_run_at, seq) VALUES (?1, ?1, 'completed', 'offline', 'm', 'p', \
                             64, 64, 1, 1, ?2, ?2, 3, ?2, {NEXT_SEQ_SQL})"
                        ),
                        params![format!("job-{n}"), i64::from(n)],
                    )?;
                    Ok(())
                })
                .expect("insert")
        };
        let seq_of = |id: &str| -> i64 {
            store
                .read(
                    |c| Ok(c.query_row("SELECT seq FROM jobs WHERE id = ?1", [id], |r| r.get(0))?),
                )
                .expect("seq")
        };
        let current = || store.read(current_seq).expect("current");
        assert_eq!(current(), 0);
        add(1);
        add(2);
        assert_eq!((seq_of("job-1"), seq_of("job-2"), current()), (1, 2, 2));
        // A change moves the job to the next number.
        let fav = store
            .write(|tx| set_favorite(tx, "job-1", true, 5))
            .expect("favorite")
            .expect("changed");
        assert_eq!((fav.seq, current()), (3, 3));
        // Removing the job with the highest number: the number moves on
        // (watchers see a change) and is not handed out again.
        assert!(store.write(|tx| delete(tx, "job-1")).expect("delete"));
        assert_eq!(current(), 4);
        add(3);
        assert_eq!(seq_of("job-3"), 5);
        // A removal that finds nothing writes nothing.
        assert!(!store.write(|tx| delete(tx, "job-1")).expect("delete again"));
        assert_eq!(current(), 5);
    }

    /// Every gallery filter reads one index in the grid's order: no scan of
    /// the table, no sort. No statistics are kept (no ANALYZE), so SQLite
    /// plans the same at ten jobs as at a million (the bench times those).
    #[test]
    fn every_gallery_filter_reads_an_index_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            Store::open(&dir.path().join("plans.db"), Duration::from_secs(1)).expect("open");
        let page = |q: ListQuery| ListQuery {
            limit: Some(200),
            ..q
        };
        let deep = Some((1_700_000_000_000, "job-x".to_string()));
        let cases: Vec<(&str, ListQuery, &str)> = vec![
            ("first page", page(ListQuery::default()), "jobs_created"),
            (
                "deep page",
                page(ListQuery {
                    before: deep.clone(),
                    ..Default::default()
                }),
                "jobs_created",
            ),
            (
                "status",
                page(ListQuery {
                    status: Some(JobStatus::Failed),
                    ..Default::default()
                }),
                "jobs_status_created",
            ),
            (
                "status, deep page",
                page(ListQuery {
                    status: Some(JobStatus::Completed),
                    before: deep.clone(),
                    ..Default::default()
                }),
                "jobs_status_created",
            ),
            (
                "provider",
                page(ListQuery {
                    provider: Some("openai".into()),
                    ..Default::default()
                }),
                "jobs_provider_created",
            ),
            (
                "model",
                page(ListQuery {
                    model: Some("gpt-image-1".into()),
                    ..Default::default()
                }),
                "jobs_model_created",
            ),
            (
                "provider and model",
                page(ListQuery {
                    provider: Some("openai".into()),
                    model: Some("gpt-image-1".into()),
                    ..Default::default()
                }),
                "jobs_model_created",
            ),
            (
                "since a date",
                page(ListQuery {
                    created_since: Some(1_700_000_000_000),
                    ..Default::default()
                }),
                "jobs_created",
            ),
            (
                "this week",
                page(ListQuery {
                    period: Some(Period::Week),
                    ..Default::default()
                }),
                "jobs_created",
            ),
            (
                "favorites",
                page(ListQuery {
                    favorite: Some(true),
                    ..Default::default()
                }),
                "jobs_favorite_created",
            ),
            (
                "favorites, deep page",
                page(ListQuery {
                    favorite: Some(true),
                    before: deep.clone(),
                    ..Default::default()
                }),
                "jobs_favorite_created",
            ),
            (
                "favorites of a provider",
                page(ListQuery {
                    favorite: Some(true),
                    provider: Some("openai".into()),
                    ..Default::default()
                }),
                "jobs_favorite_provider_created",
            ),
            (
                "favorites of a model, deep page",
                page(ListQuery {
                    favorite: Some(true),
                    model: Some("gpt-image-1".into()),
                    before: deep.clone(),
                    ..Default::default()
                }),
                "jobs_favorite_model_created",
            ),
        ];
        for (name, q, index) in cases {
            assert_plan(&store, name, &q, &format!("INDEX {index}"), false);
        }

        // A search with few matches looks them up and sorts those few.
        let search = |text: &str| {
            page(ListQuery {
                search: Some(text.into()),
                ..Default::default()
            })
        };
        assert_plan(
            &store,
            "rare word",
            &search("lightho"),
            "INTEGER PRIMARY KEY",
            true,
        );
        assert_plan(
            &store,
            "rare phrase",
            &search(r#""red fox""#),
            "INTEGER PRIMARY KEY",
            true,
        );
        // With many, it walks the ordered index and stops at the page's end.
        store
            .write(|tx| {
                let mut insert = tx.prepare(
                    "INSERT INTO jobs (id, request_id, status, provider, model, prompt, width, \
                     height, count, seed, created_at, updated_at, max_attempts, next_run_at, seq) \
                     VALUES (?1, ?1, 'completed', 'offline', 'm', 'a red fox at the lighthouse', \
                     64, 64, 1, 1, ?2, ?2, 3, ?2, ?2)",
                )?;
                for i in 0..=FEW_MATCHES {
                    insert.execute(params![format!("job-{i:05}"), i64::from(i)])?;
                }
                crate::store::search_index::catch_up(tx)?;
                Ok(())
            })
            .expect("fill");
        assert_plan(
            &store,
            "common word",
            &search("lightho"),
            "INDEX jobs_created",
            false,
        );
        assert_plan(
            &store,
            "common phrase",
            &search(r#""red fox""#),
            "INDEX jobs_created",
            false,
        );
        let failed_fox = page(ListQuery {
            search: Some("fox".into()),
            status: Some(JobStatus::Failed),
            ..Default::default()
        });
        assert_plan(
            &store,
            "common word, status",
            &failed_fox,
            "INDEX jobs_status_created",
            false,
        );
        let count = store.read(|c| count(c, &search("lightho"))).expect("count");
        assert_eq!(count, FEW_MATCHES + 1);
    }

    fn assert_plan(store: &Store, name: &str, q: &ListQuery, uses: &str, may_sort: bool) {
        let plan = store.read(|c| list_plan(c, q)).expect("plan");
        let text = plan.join("\n");
        assert!(
            may_sort || !text.contains("TEMP B-TREE"),
            "{name}: sorts:\n{text}"
        );
        assert!(
            plan.iter()
                .all(|l| !l.starts_with("SCAN jobs") || l.contains("USING")),
            "{name}: scans the table:\n{text}"
        );
        let jobs_step = plan
            .iter()
            .find(|l| l.contains(" jobs "))
            .expect("a step on jobs");
        assert!(jobs_step.contains(uses), "{name}: expected {uses}:\n{text}");
    }
}
