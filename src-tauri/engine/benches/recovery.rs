//! `cargo bench -p easel-engine --bench recovery`
//!
//! Recovery at scale: a database left by a worker that died with 10,000
//! jobs in `processing` (their leases lapsed, their provider jobs still
//! running) and 10,000 `queued`. The figure is the time from opening the
//! engine until every job that may run is running again under the new
//! worker: as many of the interrupted jobs as the provider's concurrency
//! limit allows (oldest first), with a database reader checking all the
//! while that the number running never exceeds the limit and that no
//! queued job starts before the interrupted ones. Measured with a limit of
//! 16 (a typical setting) and of 10,000 (every interrupted job at once).

#[path = "support/library.rs"]
mod library;

use easel_engine::{Config, Engine, RunUntil};
use library::Shape;
use rusqlite::Connection;
use std::time::{Duration, Instant};

const RUNNING: u64 = 10_000;
const QUEUED: u64 = 10_000;

struct Outcome {
    ready: Duration,
    max_running: i64,
    queued_started: i64,
}

fn scenario(rt: &tokio::runtime::Runtime, limit: u32) -> Outcome {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let config = || {
        let mut c = Config::new(dir.path().join("data"), Some(dir.path().join("library")));
        c.concurrency.insert("offline".into(), limit);
        // The provider is still working on every job: runners re-attach and wait.
        c.offline.latency_ms = 600_000;
        c.poll_interval_ms = 2_000;
        c
    };
    drop(Engine::open(config()).expect("create schema"));
    let now = chrono::Utc::now().timestamp_millis();
    let total = RUNNING + QUEUED;
    library::fill(&config().db_path(), total, now - 60_000, 1, |i| Shape {
        // Interrupted jobs are the older half, as after a real crash.
        status: if i < RUNNING { "processing" } else { "queued" },
        provider: "offline",
        model: "easel-landscape-1",
        prompt: format!("a lighthouse at dusk, take {i}"),
        favorite: false,
    })
    .expect("fill");
    let expected = i64::from(limit).min(RUNNING as i64);

    let watcher = Connection::open(config().db_path()).expect("watcher");
    // Running under a live lease: what the provider is working on for us.
    let live = || -> i64 {
        watcher
            .query_row(
                "SELECT COUNT(*) FROM jobs WHERE status IN ('submitting','processing','saving') \
                 AND lease_expires_at > ?1",
                [chrono::Utc::now().timestamp_millis()],
                |r| r.get(0),
            )
            .expect("count")
    };
    // Queued jobs that left the queue (the interrupted ones come first).
    let queued_started = || -> i64 {
        watcher
            .query_row(
                "SELECT COUNT(*) FROM jobs WHERE status NOT IN ('queued', 'processing')",
                [],
                |r| r.get(0),
            )
            .expect("count")
    };

    let t = Instant::now();
    let engine = Engine::open(config()).expect("engine");
    let worker = {
        let engine = engine.clone();
        rt.spawn(async move { engine.run_worker(RunUntil::Forever).await })
    };
    let mut max_running = 0;
    let ready = loop {
        let running = live();
        max_running = max_running.max(running);
        if running >= expected {
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "recovery stalled at {running}"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    // Keep watching a while: the limit holds once everything settles too.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_millis(500) {
        max_running = max_running.max(live());
        std::thread::sleep(Duration::from_millis(10));
    }
    let queued_started = queued_started();
    engine.stop();
    let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), worker).await });
    Outcome {
        ready,
        max_running,
        queued_started,
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    println!("== recovery: {RUNNING} interrupted + {QUEUED} queued jobs ==");
    for limit in [16u32, 10_000] {
        // Best of 3 fresh databases.
        let runs: Vec<Outcome> = (0..3).map(|_| scenario(&rt, limit)).collect();
        let best = runs.iter().map(|o| o.ready).min().unwrap_or_default();
        let max_running = runs.iter().map(|o| o.max_running).max().unwrap_or(0);
        let queued_started = runs.iter().map(|o| o.queued_started).max().unwrap_or(0);
        let ms = best.as_secs_f64() * 1e3;
        let ok = ms < 1000.0 && max_running <= i64::from(limit) && queued_started == 0;
        println!(
            "limit {limit:>6}: ready in {ms:>8.1} ms; most running at once {max_running}; \
             queued jobs started {queued_started}"
        );
        println!(
            "BENCH|recovery of {RUNNING} interrupted + {QUEUED} queued, limit {limit}: open → all allowed running (max running seen {max_running}, queued started {queued_started})|{ms:.0} ms|-|-|< 1 s, ≤ {limit} running|{ok}"
        );
    }
}
