//! `cargo bench -p easel-engine --bench engine`
//!
//! 1. `create_job` (durable commit plus its event) against a bare rusqlite
//!    single-row insert transaction with the same pragmas, same file system.
//! 2. A job's full lifecycle on the offline provider at zero latency, its
//!    image files on tmpfs (fsync free), against the same number of bare
//!    commits as it made writing commits; the image work left is timed
//!    apart and printed beside it. Then the same with 100,000 images in
//!    the library, against the first run: a job's cost must not grow with
//!    the library (every save and completion used to list the thumbnail
//!    folder).
//!
//! Criterion prints each figure; the summary at the end prints the ratios
//! from interleaved runs (medians), which is what the README quotes.

#[path = "support/images.rs"]
mod images;

use criterion::Criterion;
use easel_engine::library::validate::ImageLimits;
use easel_engine::library::Library;
use easel_engine::{Config, Engine, JobEvent, JobStatus, NewJob, RunUntil};
use rusqlite::{params, Connection};
use std::path::Path;
use std::time::{Duration, Instant};

fn bare(dir: &Path) -> Connection {
    let conn = Connection::open(dir.join("bare.db")).expect("open bare");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("sync");
    conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS t (id TEXT PRIMARY KEY, request_id TEXT UNIQUE, prompt TEXT)",
    )
    .expect("table");
    conn
}

fn bare_insert(conn: &mut Connection, n: u64) {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .expect("begin");
    tx.execute(
        "INSERT INTO t (id, request_id, prompt) VALUES (?1, ?2, 'a lighthouse at dusk')",
        params![format!("id-{n}"), format!("req-{n}")],
    )
    .expect("insert");
    tx.commit().expect("commit");
}

fn engine(dir: &Path) -> Engine {
    let lib = dir.join("library");
    std::fs::create_dir_all(&lib).expect("library");
    let mut c = Config::new(dir.join("data"), Some(lib));
    c.offline.latency_ms = 0;
    c.poll_interval_ms = 1;
    Engine::open(c).expect("engine")
}

fn job(n: u64, size: u32) -> NewJob {
    NewJob {
        request_id: format!("bench-{n}-{}", uuid_like()),
        prompt: "a lighthouse at dusk".into(),
        negative_prompt: None,
        provider: None,
        model: None,
        width: size,
        height: size,
        count: 1,
        seed: Some(n),
        reference_ids: vec![],
        params: Default::default(),
    }
}

/// A folder on tmpfs when the machine has one (true), else under the
/// target folder.
fn scratch() -> (tempfile::TempDir, bool) {
    match tempfile::tempdir_in("/dev/shm") {
        Ok(d) => (d, true),
        Err(_) => (
            tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp"),
            false,
        ),
    }
}

/// An engine whose database is in `dir` and whose image files (library,
/// thumbnails, staging through a link) are in `files`.
fn lifecycle_engine(dir: &Path, files: &Path) -> Engine {
    let (data, lib, staging) = (
        dir.join("data"),
        files.join("library"),
        files.join("staging"),
    );
    for d in [&data, &lib, &staging] {
        std::fs::create_dir_all(d).expect("folder");
    }
    std::os::unix::fs::symlink(&staging, data.join("staging")).expect("staging link");
    let mut c = Config::new(data, Some(lib));
    c.cache_dir = files.join("cache");
    c.offline.latency_ms = 0;
    c.poll_interval_ms = 1;
    Engine::open(c).expect("engine")
}

async fn until_completed(events: &mut tokio::sync::broadcast::Receiver<JobEvent>, id: &str) {
    loop {
        match events.recv().await {
            Ok(e) if e.job.id == id && e.job.status.is_terminal() => {
                assert_eq!(
                    e.job.status,
                    JobStatus::Completed,
                    "{:?}",
                    e.job.error_message
                );
                return;
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => panic!("events closed: {e}"),
        }
    }
}

/// Median time of the image work one lifecycle does besides bookkeeping:
/// the offline provider's 64² render and PNG encode, then `Library::save`
/// (validate, embed the prompt, hash, write, thumbnail) on tmpfs.
fn image_work(files: &Path) -> Duration {
    std::fs::create_dir_all(files.join("residual")).expect("library");
    let lib = Library::new(
        files.join("residual"),
        files.join("residual-thumbs"),
        ImageLimits::default(),
    );
    let times = (0..40u64)
        .map(|n| {
            let t = Instant::now();
            let png = images::offline_png(n, 64);
            lib.save(&png, &images::params(format!("residual-{n:08}"), n, 64), 1)
                .expect("save");
            t.elapsed()
        })
        .collect();
    median(times)
}

/// WAL frames (pages) one call of `commit` appends, averaged over
/// `calls` calls after a truncating checkpoint (fewer than SQLite's automatic
/// checkpoint at 1,000 frames).
fn wal_frames_per_call(db: &Path, calls: u64, mut commit: impl FnMut()) -> f64 {
    let conn = Connection::open(db).expect("open");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy");
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .expect("page size");
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .expect("checkpoint");
    assert_eq!(busy, 0, "the checkpoint could not truncate the WAL");
    for _ in 0..calls {
        commit();
    }
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let len = std::fs::metadata(&wal).map_or(0, |m| m.len());
    len.saturating_sub(32) as f64 / (page as f64 + 24.0) / calls as f64
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let eng = engine(dir.path());
    let mut events = eng.subscribe();
    let mut conn = bare(dir.path());
    let mut n = 0u64;

    let mut c = Criterion::default()
        .sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    c.bench_function("create_job (durable + event)", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(eng.create_job(job(n, 64))).expect("create");
            while events.try_recv().is_ok() {}
        })
    });
    c.bench_function("bare rusqlite insert transaction", |b| {
        b.iter(|| {
            n += 1;
            bare_insert(&mut conn, n);
        })
    });

    // Interleaved medians for the ratio, so drift hits both sides alike.
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        n += 1;
        let t = Instant::now();
        rt.block_on(eng.create_job(job(n, 64))).expect("create");
        while events.try_recv().is_ok() {}
        ours.push(t.elapsed());
        n += 1;
        let t = Instant::now();
        bare_insert(&mut conn, n);
        base.push(t.elapsed());
    }
    let (ours, base) = (median(ours), median(base));
    // Pages each commit appends to the WAL (checkpoint, then count frames).
    let db = eng.store_path().to_path_buf();
    let ours_pages = wal_frames_per_call(&db, 30, || {
        n += 1;
        rt.block_on(eng.create_job(job(n, 64))).expect("create");
        while events.try_recv().is_ok() {}
    });
    let base_pages = wal_frames_per_call(&dir.path().join("bare.db"), 30, || {
        n += 1;
        bare_insert(&mut conn, n);
    });

    // Lifecycle: a fresh engine with its worker running as in the app, so
    // the queue holds only this job. Its image files (library, thumbnails,
    // staging) go to tmpfs where fsync costs nothing, which stubs the image
    // work out of the comparison; the database stays on the real disk
    // beside the bare one. The residual image work is timed on its own.
    let life_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let (files, on_tmpfs) = scratch();
    let life = lifecycle_engine(life_dir.path(), files.path());
    let mut settled = life.subscribe();
    let worker = {
        let life = life.clone();
        rt.spawn(async move { life.run_worker(RunUntil::Forever).await })
    };
    let mut life_conn = bare(life_dir.path());
    let rounds = 40;
    // One job from click to completed: its time and its writing commits.
    let mut one_job = |n: u64| {
        let before = life.commits();
        let t = Instant::now();
        let j = rt.block_on(life.create_job(job(n, 64))).expect("create");
        rt.block_on(until_completed(&mut settled, &j.id));
        (t.elapsed(), life.commits() - before)
    };
    let (mut lives, mut commits) = (Vec::new(), 0);
    for i in 0..rounds {
        let (took, made) = one_job(i);
        lives.push(took);
        commits += made;
    }
    let life_pages = wal_frames_per_call(life.store_path(), 8, || {
        one_job(rounds + 1);
    });
    // The same jobs with a large library: the thumbnail folder holds one
    // file per image in it, so work a job does per entry shows here.
    fill_thumbnails(&files.path().join("cache").join("thumbnails"), LARGE);
    let large: Vec<_> = (0..rounds).map(|i| one_job(rounds + 2 + i).0).collect();
    worker.abort();
    let per_job = commits / rounds;
    let mut bares = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..per_job {
            n += 1;
            bare_insert(&mut life_conn, n);
        }
        bares.push(t.elapsed());
    }
    let (life_t, bare_t, large_t) = (median(lives), median(bares), median(large));
    let image_work = image_work(files.path());

    println!();
    println!("== summary (medians) ==");
    println!(
        "create_job: {:>8.1} us   bare insert: {:>8.1} us   ratio {:.2} (target <= 1.3)   pages per commit {ours_pages:.1} vs {base_pages:.1}",
        ours.as_secs_f64() * 1e6,
        base.as_secs_f64() * 1e6,
        ours.as_secs_f64() / base.as_secs_f64()
    );
    println!(
        "lifecycle:  {:>8.1} us   {per_job} bare commits: {:>8.1} us   ratio {:.2}   pages per job {life_pages:.1}   (image files on {}; their residual work, 64² render + save + thumbnail: {:.1} us)",
        life_t.as_secs_f64() * 1e6,
        bare_t.as_secs_f64() * 1e6,
        life_t.as_secs_f64() / bare_t.as_secs_f64(),
        if on_tmpfs { "tmpfs" } else { "the target disk: no /dev/shm" },
        image_work.as_secs_f64() * 1e6,
    );
    // For scripts/bench.sh: figure|ours|baseline|ratio|target|pass.
    let ratio = ours.as_secs_f64() / base.as_secs_f64();
    println!(
        "BENCH|click to queued: create_job vs bare insert transaction ({ours_pages:.1} vs {base_pages:.1} pages per commit)|{:.0} µs|{:.0} µs|{ratio:.2}|≤ 1.3|{}",
        ours.as_secs_f64() * 1e6,
        base.as_secs_f64() * 1e6,
        ratio <= 1.3
    );
    let ratio = life_t.as_secs_f64() / bare_t.as_secs_f64();
    println!(
        "BENCH|lifecycle bookkeeping, image files on tmpfs, vs {per_job} bare commits ({per_job} writing commits, {life_pages:.0} pages per job)|{:.2} ms|{:.2} ms|{ratio:.2}|≤ 1.5|{}",
        life_t.as_secs_f64() * 1e3,
        bare_t.as_secs_f64() * 1e3,
        ratio <= 1.5
    );
    let ratio = large_t.as_secs_f64() / life_t.as_secs_f64();
    println!(
        "lifecycle with {LARGE} thumbnails in the cache folder: {:>8.1} us   ratio {ratio:.2} to an empty one",
        large_t.as_secs_f64() * 1e6,
    );
    println!(
        "BENCH|lifecycle with {LARGE} images in the library (their thumbnails in one folder) vs an empty library|{:.2} ms|{:.2} ms|{ratio:.2}|≤ 1.2 (no per-image work)|{}",
        large_t.as_secs_f64() * 1e3,
        life_t.as_secs_f64() * 1e3,
        ratio <= 1.2
    );
    c.final_summary();
}

/// Images in the large library of the lifecycle's second run.
const LARGE: u64 = 100_000;

/// `n` empty files named as thumbnails of other jobs' images.
fn fill_thumbnails(dir: &Path, n: u64) {
    std::fs::create_dir_all(dir).expect("thumbnails");
    for i in 0..n {
        let name = format!("0190aaaa-0000-7000-8000-{i:012}-1-0.png");
        std::fs::File::create(dir.join(name)).expect("thumbnail");
    }
}
