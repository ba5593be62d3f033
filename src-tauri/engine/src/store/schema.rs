//! The database schema, as an ordered list of migrations (`rusqlite_migration`,
//! tracked in SQLite's `user_version`). Never edit a released migration: append
//! a new one, and `tests/migrations.rs` checks the upgrade from every version.
//!
//! Tables:
//! - `jobs`: one row per generation request. `request_id` is UNIQUE (the
//!   client's idempotency key). `status` is guarded by every transition.
//!   `run` counts user retries; `attempt_count`/`max_attempts` bound automatic
//!   retries; `next_run_at` persists backoff; `lease_owner`/`lease_expires_at`
//!   say which worker owns a running job until when; `crash_count`/`held`
//!   stop a job that keeps crashing the engine; `seq` is the global change
//!   number of the job's latest change.
//! - `attempts`: one row per provider call, written before the call
//!   (UNIQUE per job and number), with the provider's handle once accepted.
//! - `timeline`: append-only log of every state change of a job, with the
//!   `seq` of the change; keyed by job and entry number (V15), so an entry
//!   writes one page.
//! - `assets`: one row per stored image, UNIQUE per job and output index.
//! - `ledger`: reserve/charge/release entries, UNIQUE per job, run and kind,
//!   and at most one charge per run (V5; V1 allowed one per job).
//! - `seq_counter`: the floor of `seq` numbers, raised when jobs are
//!   removed; a change takes one above the highest of the floor and the
//!   jobs' own `seq` (V12), so numbers are never reused.
//! - `prompts_fts`: FTS5 index over prompts. Deletes keep it in sync by a
//!   trigger; new jobs are indexed outside the click's transaction (V11,
//!   `search_index`), up to the rowid in `search_index`.

use rusqlite_migration::{Migrations, M};

const V1: &str = r#"
CREATE TABLE seq_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO seq_counter (id, value) VALUES (1, 0);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    request_id      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL CHECK (status IN
                    ('queued','submitting','processing','saving','completed','failed','canceled')),
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,
    prompt          TEXT NOT NULL,
    negative_prompt TEXT,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    count           INTEGER NOT NULL,
    seed            INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    run             INTEGER NOT NULL DEFAULT 1,
    attempt_count   INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_run_at     INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_expires_at INTEGER,
    handle          TEXT,
    progress        REAL,
    crash_count     INTEGER NOT NULL DEFAULT 0,
    held            INTEGER NOT NULL DEFAULT 0,
    error_code      TEXT,
    error_message   TEXT,
    estimated_cost_micros INTEGER NOT NULL DEFAULT 0,
    favorite        INTEGER NOT NULL DEFAULT 0,
    -- Denormalized from assets at completion, for the gallery grid.
    thumb_path      TEXT,
    asset_count     INTEGER NOT NULL DEFAULT 0,
    seq             INTEGER NOT NULL
);
-- The scheduler's claim and the recovery scan.
CREATE INDEX jobs_runnable ON jobs (status, held, next_run_at);
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
-- The gallery's keyset paging, newest first.
CREATE INDEX jobs_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_seq ON jobs (seq);
CREATE INDEX jobs_favorite ON jobs (favorite, created_at DESC) WHERE favorite = 1;

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    number      INTEGER NOT NULL,
    provider    TEXT NOT NULL,
    model       TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    outcome     TEXT,
    http_status INTEGER,
    error       TEXT,
    handle      TEXT,
    UNIQUE (job_id, number)
);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY,
    seq         INTEGER NOT NULL,
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at          INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    attempt     INTEGER,
    detail      TEXT NOT NULL
);
CREATE INDEX timeline_job ON timeline (job_id, seq);

CREATE TABLE assets (
    id           INTEGER PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    output_index INTEGER NOT NULL,
    path         TEXT NOT NULL,
    thumb_path   TEXT NOT NULL,
    width        INTEGER NOT NULL,
    height       INTEGER NOT NULL,
    bytes        INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (job_id, output_index)
);

-- No foreign key: money spent stays on the books when a job is deleted.
CREATE TABLE ledger (
    id            INTEGER PRIMARY KEY,
    job_id        TEXT NOT NULL,
    run           INTEGER NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('reserve','charge','release')),
    amount_micros INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    UNIQUE (job_id, run, kind)
);
-- Whatever happens, a job is charged at most once.
CREATE UNIQUE INDEX ledger_one_charge ON ledger (job_id) WHERE kind = 'charge';
CREATE INDEX ledger_at ON ledger (at);

CREATE VIRTUAL TABLE prompts_fts USING fts5 (
    prompt, negative_prompt, content = 'jobs', content_rowid = 'rowid'
);
CREATE TRIGGER jobs_fts_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO prompts_fts (rowid, prompt, negative_prompt)
    VALUES (new.rowid, new.prompt, new.negative_prompt);
END;
CREATE TRIGGER jobs_fts_delete AFTER DELETE ON jobs BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, prompt, negative_prompt)
    VALUES ('delete', old.rowid, old.prompt, old.negative_prompt);
END;
"#;

/// V2: reference images a job was created with (a JSON array of ids into
/// the data folder's `references/`); `[]` for every earlier job.
const V2: &str = r#"
ALTER TABLE jobs ADD COLUMN reference_ids TEXT NOT NULL DEFAULT '[]';
"#;

/// V3: fencing, request fingerprints and bounded deferred saves.
/// - `lease_epoch`: bumped by every claim and takeover; every change a
///   worker makes is guarded by it (a runner that lost its lease changes
///   nothing), and the files a runner writes carry it in their names.
/// - `request_fingerprint`: a hash of the normalized request, so a request
///   id reused for a different request is a conflict (NULL for older jobs).
/// - `save_deferrals` / `save_deferred_since`: how often and since when a
///   save has waited for the library, for a growing backoff and a hold.
const V3: &str = r#"
ALTER TABLE jobs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN request_fingerprint TEXT;
ALTER TABLE jobs ADD COLUMN save_deferrals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN save_deferred_since INTEGER;
"#;

/// V4:
/// - webhook deliveries, recorded once per (provider, delivery id): a
///   provider retries a delivery with the same id, and a duplicate is
///   acknowledged without acting on it again;
/// - cancels owed to a provider: written with the cancel itself, retried
///   until the provider acknowledges, so a crash or a failed call never
///   leaves a canceled job generating (and billing) there;
/// - what the provider said a run cost, charged at completion instead of
///   the estimate (NULL: not said);
/// - when an attempt's submit was about to be sent: recovery of an attempt
///   never sent resubmits without calling it a possible duplicate.
const V4: &str = r#"
ALTER TABLE jobs ADD COLUMN provider_cost_micros INTEGER;
ALTER TABLE attempts ADD COLUMN sent_at INTEGER;
-- Attempts from before this column may have been sent.
UPDATE attempts SET sent_at = started_at;
CREATE TABLE provider_cancels (
    job_id       TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    provider     TEXT NOT NULL,
    handle       TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    tries        INTEGER NOT NULL DEFAULT 0,
    next_at      INTEGER NOT NULL,
    last_error   TEXT
);
CREATE TABLE webhook_deliveries (
    provider    TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    job_id      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, delivery_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (received_at);
"#;

/// V5:
/// - a job's model parameters (quality, output format, steps…) as JSON;
/// - what the provider says while a job waits there: its queue position
///   and a message;
/// - a charge per run, not per job: a run is charged when the provider
///   finishes it (the provider billed then), even if it then fails or is
///   canceled while saving, and a retried job is a new, paid run.
///   `UNIQUE (job_id, run, kind)` still allows one charge per run;
/// - the queue's order (`priority`) and engine-wide flags (a paused queue).
const V5: &str = r#"
ALTER TABLE jobs ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE jobs ADD COLUMN queue_position INTEGER;
ALTER TABLE jobs ADD COLUMN provider_message TEXT;
DROP INDEX ledger_one_charge;
-- The user's order of the queue: a higher priority runs first ("move to
-- front"), then the oldest.
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
-- Engine-wide switches every process reads (the queue paused by the user).
CREATE TABLE engine_flags (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// V6: deleting is undoable. A deleted job or image is hidden (its files
/// in the system trash) until the janitor purges it a day later; Undo
/// brings the files back and clears the mark. Favorites are per image
/// (a job's `favorite` says whether any of its images is one). A job
/// names its first image's file, as it names its thumbnail.
const V6: &str = r#"
ALTER TABLE jobs ADD COLUMN deleted_at INTEGER;
ALTER TABLE assets ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN deleted_at INTEGER;
UPDATE assets SET favorite = 1 WHERE job_id IN (SELECT id FROM jobs WHERE favorite = 1);
ALTER TABLE jobs ADD COLUMN image_path TEXT;
UPDATE jobs SET image_path = (SELECT a.path FROM assets a WHERE a.job_id = jobs.id
                              ORDER BY a.output_index LIMIT 1)
 WHERE status = 'completed';
CREATE INDEX jobs_deleted ON jobs (deleted_at) WHERE deleted_at IS NOT NULL;
"#;

/// V7: prompts the user starred in the prompt history (recent prompts
/// come from the jobs themselves).
const V7: &str = r#"
CREATE TABLE prompt_favorites (
    prompt          TEXT PRIMARY KEY,
    negative_prompt TEXT,
    created_at      INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// V8: boards. A board holds images (any image in any number of boards);
/// a smart board holds a saved filter instead and shows what matches it.
const V8: &str = r#"
CREATE TABLE boards (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
    filter     TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE board_images (
    board_id     INTEGER NOT NULL REFERENCES boards (id) ON DELETE CASCADE,
    job_id       TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    output_index INTEGER NOT NULL,
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (board_id, job_id, output_index)
) WITHOUT ROWID;
CREATE INDEX board_images_job ON board_images (job_id);
"#;

/// V9: comparison groups (one prompt sent to several models) and the
/// latest progress preview of a running job.
const V9: &str = r#"
ALTER TABLE jobs ADD COLUMN group_id TEXT;
ALTER TABLE jobs ADD COLUMN preview_path TEXT;
CREATE INDEX jobs_group ON jobs (group_id, created_at) WHERE group_id IS NOT NULL;
"#;

/// V10: the gallery's filters each read one index in the grid's order
/// (newest first, then id), so a filter at a million jobs reads its page
/// and stops instead of scanning or sorting: by status, provider, model,
/// and favorites (now ordered by id too), also of one provider or model:
/// partial indexes hold only favorites, so a new job never writes them.
/// Ascending, read backwards for the grid: a new job then lands at the end
/// of its range instead of the front, which splits fewer pages (23.1 to
/// 20.5 pages written per create, measured on a copy of the schema).
/// `store::jobs::tests` checks
/// every filter's plan with `EXPLAIN QUERY PLAN`.
const V10: &str = r#"
CREATE INDEX jobs_status_created ON jobs (status, created_at, id);
CREATE INDEX jobs_provider_created ON jobs (provider, created_at, id);
CREATE INDEX jobs_model_created ON jobs (model, created_at, id);
DROP INDEX jobs_created;
CREATE INDEX jobs_created ON jobs (created_at, id);
DROP INDEX jobs_favorite;
CREATE INDEX jobs_favorite_created ON jobs (created_at, id) WHERE favorite = 1;
CREATE INDEX jobs_favorite_provider_created ON jobs (provider, created_at, id) WHERE favorite = 1;
CREATE INDEX jobs_favorite_model_created ON jobs (model, created_at, id) WHERE favorite = 1;
"#;

/// V11: a new job's prompt is indexed outside the click's transaction (the
/// FTS5 insert was about a quarter of the pages a click wrote): by the
/// scheduler's next claim, or by a search, which catches up first (see
/// `store::search_index`). Every job with a rowid up to `indexed_through`
/// is indexed, no job above it. A delete removes the row from the index
/// only if it was indexed (a 'delete' of a row never inserted corrupts an
/// external-content index), and then lowers the mark to the highest rowid
/// left, so a rowid SQLite hands out again is never taken for indexed.
const V11: &str = r#"
CREATE TABLE search_index (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_through INTEGER NOT NULL
);
INSERT INTO search_index (id, indexed_through) SELECT 1, IFNULL(MAX(rowid), 0) FROM jobs;
DROP TRIGGER jobs_fts_insert;
DROP TRIGGER jobs_fts_delete;
CREATE TRIGGER jobs_fts_delete AFTER DELETE ON jobs BEGIN
    INSERT INTO prompts_fts (prompts_fts, rowid, prompt, negative_prompt)
    SELECT 'delete', old.rowid, old.prompt, old.negative_prompt
    WHERE old.rowid <= (SELECT indexed_through FROM search_index WHERE id = 1);
    UPDATE search_index
    SET indexed_through = IFNULL((SELECT MAX(rowid) FROM jobs), 0)
    WHERE id = 1 AND indexed_through > IFNULL((SELECT MAX(rowid) FROM jobs), 0);
END;
"#;

/// V12: the scheduler's indexes hold only the jobs the scheduler asks
/// about, so a job's later changes stop rewriting them: `jobs_queued` the
/// queued jobs (the claim, the next wake-up), `jobs_running` the running
/// ones by provider (the per-provider limit, recovery's scans). Before,
/// `jobs_runnable` held every job and each state change moved its entry,
/// and the running count a claim makes searched all jobs of the provider
/// (`jobs_provider_created`): a scan of the library at every claim. The
/// `WHERE` of `jobs_running` is the statement's own list
/// (`JobStatus::RUNNING`, in that order), which is how SQLite matches a
/// partial index; `store::jobs::tests` checks the plans. Also from V12 a
/// change takes its `seq` from the `jobs_seq` index and `seq_counter` is a
/// floor written only when jobs are removed (`store::NEXT_SEQ_SQL`); the
/// counter's value is already at or above every job's `seq`, so nothing
/// moves, but an older build must not write this database, hence the
/// version. `status` closes `jobs_queued` so counting the queue reads no
/// row; `created_at, id` close `jobs_running` for recovery's oldest-first
/// order.
const V12: &str = r#"
DROP INDEX jobs_runnable;
CREATE INDEX jobs_queued ON jobs (held, next_run_at, status) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (provider, held, created_at, id)
    WHERE status IN ('submitting','processing','saving');
"#;

/// V13: the click's budget check sums the month's charges: an index of
/// charges only, by time, with the amount (no row read; reserve and
/// release rows stay out of it). `ledger_at` served that query alone.
const V13: &str = r#"
DROP INDEX ledger_at;
CREATE INDEX ledger_charges_at ON ledger (at, amount_micros) WHERE kind = 'charge';
"#;

/// V14: the worker's purge at start found deleted images by scanning every
/// image row (twice, in a write transaction); this index holds only the
/// deleted ones, so a new image never writes it.
const V14: &str = r#"
CREATE INDEX assets_deleted ON assets (deleted_at) WHERE deleted_at IS NOT NULL;
"#;

/// V15: a job's timeline is one B-tree keyed by (job, entry number), so an
/// entry costs one page in the commit that writes it instead of two (the
/// table's page and `timeline_job`'s): one page less in every state change.
/// Entries keep their order (`n` numbers them as their old ids did, per
/// job); nothing else referred to the old ids.
const V15: &str = r#"
CREATE TABLE timeline_v15 (
    job_id      TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    attempt     INTEGER,
    detail      TEXT NOT NULL,
    PRIMARY KEY (job_id, n)
) WITHOUT ROWID;
INSERT INTO timeline_v15 (job_id, n, seq, at, from_status, to_status, attempt, detail)
    SELECT job_id, row_number() OVER (PARTITION BY job_id ORDER BY id),
           seq, at, from_status, to_status, attempt, detail
    FROM timeline;
DROP TABLE timeline;
ALTER TABLE timeline_v15 RENAME TO timeline;
"#;

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(V1),
        M::up(V2),
        M::up(V3),
        M::up(V4),
        M::up(V5),
        M::up(V6),
        M::up(V7),
        M::up(V8),
        M::up(V9),
        M::up(V10),
        M::up(V11),
        M::up(V12),
        M::up(V13),
        M::up(V14),
        M::up(V15),
    ])
}

/// The schema version this build writes.
pub fn latest_version() -> usize {
    MIGRATION_COUNT
}

const MIGRATION_COUNT: usize = 15;
