//! SQLite storage: one writer connection (behind a mutex, with `BEGIN
//! IMMEDIATE` so writers in other processes queue behind SQLite's lock) and a
//! few reader connections alongside it (WAL lets them read while it writes).

pub mod boards;
pub mod cancels;
pub mod deletions;
pub mod jobs;
pub mod ledger;
pub mod prompts;
pub mod schema;
pub mod search_index;
pub mod webhooks;

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database {path} is locked by another program (is another Easel writing to it?); try again")]
    Locked { path: PathBuf },
    #[error("the database {path} has schema version {found}, newer than this Easel understands ({supported}); update Easel to open it (the file was not changed)")]
    NewerSchema {
        path: PathBuf,
        found: usize,
        supported: usize,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the database {path} cannot use write-ahead logging (it stays in {mode} mode); keep Easel's data folder on a local disk")]
    NoWal { path: PathBuf, mode: String },
    #[error("cannot lock {path} to open the database: {source}")]
    OpenLock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("job {id}: the transition {from} -> {to} is not allowed (a bug in Easel)")]
    Transition {
        id: String,
        from: crate::model::JobStatus,
        to: crate::model::JobStatus,
    },
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

impl StoreError {
    /// Errors a person can act on (as opposed to bugs).
    pub fn is_user_facing(&self) -> bool {
        matches!(
            self,
            StoreError::Locked { .. }
                | StoreError::NewerSchema { .. }
                | StoreError::Open { .. }
                | StoreError::NoWal { .. }
                | StoreError::OpenLock { .. }
        )
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

const READERS: usize = 4;

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    busy_timeout: Duration,
    commits: AtomicU64,
    reads: AtomicU64,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Open (creating if needed) and migrate the database at `path`.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Store> {
        // Several processes may open a fresh (or old) database at once: the
        // app and a CLI, or three `easel-cli list`. The migration library
        // reads the schema version outside its own transaction, so opening
        // is serialized across processes by a lock file held while the
        // version is read, WAL is switched on and migrations run.
        let _open_lock = OpenLock::take(path)?;
        // The version check comes before any pragma that writes (WAL), so a
        // database from a newer Easel is left exactly as it was.
        let mut writer = open_connection(path, busy_timeout, false)?;
        // Migrations take the write lock themselves; map a busy database to
        // the same clear error as any other write.
        schema::migrations()
            .to_latest(&mut writer)
            .map_err(|e| match e {
                rusqlite_migration::Error::RusqliteError { err, .. } => map_err(err, path),
                other => StoreError::Migration(other),
            })?;
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
                busy_timeout,
                commits: AtomicU64::new(0),
                reads: AtomicU64::new(0),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Run `f` in one write transaction (`BEGIN IMMEDIATE`), committed
    /// durably (`synchronous=FULL`) before this returns. An error from `f`
    /// rolls everything back.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.inner.writer);
        let before = conn.total_changes();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| map_err(e, &self.inner.path))?;
        let value = f(&tx).map_err(|e| self.remap(e))?;
        tx.commit().map_err(|e| map_err(e, &self.inner.path))?;
        // A transaction that changed no row (a claim that found nothing, a
        // janitor with nothing to purge) writes no WAL frame and syncs
        // nothing: it is not a commit in the fsync sense, so not counted.
        if conn.total_changes() != before {
            self.inner.commits.fetch_add(1, Ordering::Relaxed);
        }
        Ok(value)
    }

    /// Write transactions that changed rows, committed through this store
    /// (each one WAL append and fsync): for benchmarks and tests.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Read calls made through this store: for tests (a scheduler that
    /// spins shows here) and benchmarks.
    pub fn reads(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    /// Run `f` on a reader connection (a consistent snapshot per statement).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
        let conn = match lock(&self.inner.readers).pop() {
            Some(c) => c,
            None => open_connection(&self.inner.path, self.inner.busy_timeout, true)?,
        };
        let out = f(&conn).map_err(|e| self.remap(e));
        let mut pool = lock(&self.inner.readers);
        if pool.len() < READERS {
            pool.push(conn);
        }
        out
    }

    fn remap(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Sqlite(err) => map_err(err, &self.inner.path),
            other => other,
        }
    }
}

/// An exclusive lock on `<database>.open-lock` (an OS file lock: released
/// when the file is closed, also when the process dies).
struct OpenLock {
    _file: std::fs::File,
}

impl OpenLock {
    fn take(db: &Path) -> Result<OpenLock> {
        let mut name = db.as_os_str().to_owned();
        name.push(".open-lock");
        let path = PathBuf::from(name);
        let err = |source| StoreError::OpenLock {
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(err)?;
        file.lock().map_err(err)?;
        Ok(OpenLock { _file: file })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave SQLite half-written (the
    // transaction rolls back on drop), so the connection is still usable.
    m.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn map_err(e: rusqlite::Error, path: &Path) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => StoreError::Locked {
            path: path.to_path_buf(),
        },
        _ => StoreError::Sqlite(e),
    }
}

/// WAL: readers never block the writer. (With `synchronous = FULL` a commit
/// survives power loss, which is what "durable before the provider is
/// called" means.) SQLite answers with the mode it is in: a file system or
/// VFS that cannot do WAL (some network shares) keeps the old mode silently,
/// so the answer is checked.
fn enable_wal(conn: &Connection, path: &Path) -> Result<()> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| map_err(e, path))?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        })
    }
}

fn open_connection(path: &Path, busy_timeout: Duration, read_only: bool) -> Result<Connection> {
    let open_err = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(busy_timeout).map_err(open_err)?;
    // Room for every hot statement (transitions, the click path, queries).
    conn.set_prepared_statement_cache_capacity(64);
    if !read_only {
        check_version(&conn, path)?;
        enable_wal(&conn, path)?;
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(open_err)?;
    Ok(conn)
}

fn check_version(conn: &Connection, path: &Path) -> Result<()> {
    let found: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(|e| map_err(e, path))?
        .try_into()
        .unwrap_or(usize::MAX);
    let supported = schema::latest_version();
    if found > supported {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            supported,
        });
    }
    Ok(())
}

/// SQL for the next global change number, to use inside the statement that
/// changes a job: one above the highest `seq` a job holds (read from the
/// `jobs_seq` index) or, if higher, the floor in `seq_counter`, which only
/// removals write. So a change writes no counter page (one WAL page less
/// per commit, V12) and a number is never handed out twice: removing the
/// job that holds the highest number first raises the floor to it.
pub const NEXT_SEQ_SQL: &str = "(SELECT MAX(value, IFNULL((SELECT MAX(seq) FROM jobs), 0)) + 1 \
     FROM seq_counter WHERE id = 1)";

/// The last change number handed out (0 for a new database).
pub const CURRENT_SEQ_SQL: &str =
    "SELECT MAX(value, IFNULL((SELECT MAX(seq) FROM jobs), 0)) FROM seq_counter WHERE id = 1";

/// The last change number handed out, inside a transaction that is about
/// to remove rows (see `raise_seq_floor`).
pub fn seq_before_removal(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx
        .prepare_cached(CURRENT_SEQ_SQL)?
        .query_row([], |r| r.get(0))?)
}

/// After rows were removed: the floor moves past every number handed out
/// before (`current`, read first with `seq_before_removal`), so watchers
/// see the change number move and no later change reuses the number of a
/// removed job.
pub fn raise_seq_floor(tx: &Transaction<'_>, current: i64) -> Result<()> {
    tx.prepare_cached("UPDATE seq_counter SET value = ?1 + 1 WHERE id = 1")?
        .execute([current])?;
    Ok(())
}

/// SQLite's plan for `sql`, one line per step (`SCAN`, `SEARCH … USING
/// INDEX`, `USE TEMP B-TREE`…), for the tests that keep statements on
/// indexes. `args` bind the first parameters; the rest stay NULL, which
/// does not change the plan of a statement with no literal to match.
pub fn explain(conn: &Connection, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    for (i, arg) in args.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, arg)?;
    }
    let mut rows = stmt.raw_query();
    let mut plan = Vec::new();
    while let Some(row) = rows.next()? {
        plan.push(row.get::<_, String>(3)?);
    }
    Ok(plan)
}

/// The engine's clock (ms since the epoch). `EASEL_TEST_CLOCK_SKEW_MS`
/// shifts it for one process, test-only: the kill harness runs workers
/// whose clocks disagree, as a suspended laptop or a wall-clock jump would.
pub fn now_ms() -> i64 {
    static SKEW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let skew = *SKEW.get_or_init(|| {
        std::env::var("EASEL_TEST_CLOCK_SKEW_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    });
    chrono::Utc::now().timestamp_millis() + skew
}

#[cfg(test)]
mod wal_tests {
    use super::*;

    #[test]
    fn a_database_that_cannot_use_wal_is_refused_with_the_mode_it_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("no-shm.db");
        // The "unix-none" VFS has no shared memory, as some network file
        // systems: SQLite keeps the rollback journal and says so.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags_and_vfs(&path, flags, "unix-none").expect("open");
        match enable_wal(&conn, &path) {
            Err(StoreError::NoWal { mode, path: p }) => {
                assert_eq!(mode.to_ascii_lowercase(), "delete");
                assert_eq!(p, path);
            }
            other => panic!("expected NoWal, got {other:?}"),
        }
        let ok = Connection::open(dir.path().join("plain.db")).expect("open");
        enable_wal(&ok, &dir.path().join("plain.db")).expect("WAL on a local file");
    }
}
