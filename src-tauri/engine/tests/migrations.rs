//! Upgrades from every earlier schema version keep the data and leave a
//! usable database; a database from a newer Easel is refused untouched.

mod common;

use easel_engine::store::schema::{latest_version, migrations};
use easel_engine::store::{Store, StoreError};
use easel_engine::{Config, Engine, JobStatus, ListQuery};
use rusqlite::Connection;
use std::time::Duration;

/// Data a user of version `v` could have: two jobs and their history.
fn seed(conn: &Connection, v: usize) {
    if v >= 1 {
        conn.execute(
            "INSERT INTO jobs (id, request_id, status, provider, model, prompt, width, height, \
             count, seed, created_at, updated_at, max_attempts, next_run_at, seq) \
             VALUES ('old-job', 'old-req', 'completed', 'offline', 'easel-landscape-1', \
             'an old prompt', 64, 64, 1, 3, 1000, 1000, 3, 1000, 1), \
             ('other-job', 'other-req', 'canceled', 'offline', 'easel-landscape-1', \
             'a second one', 64, 64, 1, 3, 900, 900, 3, 900, 2)",
            [],
        )
        .expect("seed jobs");
        conn.execute("UPDATE seq_counter SET value = 4", [])
            .expect("seq");
        // Its history, in the order it happened; a second job's entry in
        // between, as any busy library has (V15 renumbers each job's own).
        for (seq, job, detail) in [
            (1, "old-job", "created"),
            (2, "other-job", "created"),
            (3, "old-job", "claimed"),
            (4, "old-job", "completed"),
        ] {
            // From V15 entries are numbered per job (`n`).
            let sql = if v >= 15 {
                "INSERT INTO timeline (seq, job_id, at, to_status, detail, n) \
                 VALUES (?1, ?2, 1000, 'queued', ?3, \
                 (SELECT COUNT(*) + 1 FROM timeline WHERE job_id = ?2))"
            } else {
                "INSERT INTO timeline (seq, job_id, at, to_status, detail) \
                 VALUES (?1, ?2, 1000, 'queued', ?3)"
            };
            conn.execute(sql, rusqlite::params![seq, job, detail])
                .expect("seed timeline");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_from_every_earlier_version() {
    for from in 0..=latest_version() {
        let data = tempfile::tempdir().expect("tmp");
        let lib = tempfile::tempdir().expect("tmp");
        let config = Config::new(data.path().to_path_buf(), Some(lib.path().to_path_buf()));
        {
            let mut conn = Connection::open(config.db_path()).expect("open");
            migrations()
                .to_version(&mut conn, from)
                .expect("migrate to old version");
            seed(&conn, from);
        }
        let engine = Engine::open(config).expect("upgrade");
        let jobs = engine.list(ListQuery::default()).await.expect("list");
        if from >= 1 {
            assert_eq!(jobs.len(), 2, "from v{from}");
            assert_eq!(jobs[0].status, JobStatus::Completed);
            assert_eq!(jobs[1].status, JobStatus::Canceled);
            // The history is kept, in its order.
            let detail = engine.detail("old-job").await.expect("detail");
            let lines: Vec<&str> = detail.timeline.iter().map(|e| e.detail.as_str()).collect();
            assert_eq!(lines, ["created", "claimed", "completed"], "from v{from}");
            // The FTS index covers rows that existed before the upgrade.
            let hits = engine.search("old prompt", 10).await.expect("search");
            assert_eq!(hits.len(), 1, "from v{from}");
        }
        // New work still goes through: the new seq is above the old one.
        let job = engine
            .create_job(common::new_job("after-upgrade", "new"))
            .await
            .expect("create after upgrade");
        assert!(job.seq > i64::from(from >= 1));
        let conn = Connection::open(engine.store_path()).expect("reopen");
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .expect("version") as usize;
        assert_eq!(version, latest_version());
        // The search index matches the jobs after the upgrade and a search
        // that caught up (nothing indexed twice, nothing missed).
        engine.search("new", 10).await.expect("search");
        conn.execute(
            "INSERT INTO prompts_fts (prompts_fts) VALUES ('integrity-check')",
            [],
        )
        .unwrap_or_else(|e| panic!("search index after upgrade from v{from}: {e}"));
        if from >= 1 {
            conn.execute_batch(
                "CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, prompts_fts, row)",
            )
            .expect("vocab");
            let docs: i64 = conn
                .query_row("SELECT doc FROM temp.vocab WHERE term = 'old'", [], |r| {
                    r.get(0)
                })
                .expect("term");
            assert_eq!(docs, 1, "the old job is indexed once, from v{from}");
        }
    }
}

#[test]
fn a_database_from_a_newer_easel_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("easel.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 999;")
            .expect("future schema");
    }
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path, Duration::from_secs(1))
        .err()
        .expect("must refuse");
    assert!(
        matches!(err, StoreError::NewerSchema { found: 999, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    let after = std::fs::read(&path).expect("read");
    assert!(after == before, "the newer database was modified");
}

/// Open `path` from `n` threads at once (each its own connections, as
/// separate processes would have); every open must succeed.
fn open_concurrently(path: &std::path::Path, n: usize) -> Vec<String> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (path, barrier) = (path.to_path_buf(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                Store::open(&path, Duration::from_secs(5)).map(|_| ())
            })
        })
        .collect();
    handles
        .into_iter()
        .filter_map(|h| match h.join() {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("panicked".into()),
        })
        .collect()
}

#[test]
fn concurrent_first_opens_and_upgrades_all_succeed() {
    for round in 0..15 {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("easel.db");
        let failures = open_concurrently(&path, 3);
        assert!(failures.is_empty(), "fresh, round {round}: {failures:?}");

        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("easel.db");
        {
            let mut conn = Connection::open(&path).expect("open");
            migrations().to_version(&mut conn, 1).expect("v1");
            seed(&conn, 1);
        }
        let failures = open_concurrently(&path, 3);
        assert!(failures.is_empty(), "upgrade, round {round}: {failures:?}");
        let conn = Connection::open(&path).expect("reopen");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version as usize, latest_version());
    }
}
