//! `cargo bench -p easel-engine --bench queries`
//!
//! The gallery's queries at 1,000,000 jobs, through `Engine::list` (the
//! app's own path: the database thread hop, the SQL, the rows): the first
//! page of 200, a page deep in the list, each status, provider, model, a
//! date, favorites, and prompt search by prefix and by phrase.
//! `store::jobs::tests` checks that each reads an index in order.
//! Then the scheduler's own statements in the same library, through the
//! store's functions: the running count every claim makes (its provider
//! has about 200,000 jobs), the budget check a click makes when a monthly
//! budget is set, the queue's counts, and the purge of deleted rows the
//! worker makes at start (with an image row for every completed job).

#[path = "support/library.rs"]
mod library;

use criterion::Criterion;
use easel_engine::store::{jobs as q, Store};
use easel_engine::{Config, Engine, JobStatus, ListQuery, Period};
use library::{gallery_shape, Rng};
use std::time::{Duration, Instant};

const JOBS: u64 = 1_000_000;
const DAY_MS: i64 = 86_400_000;

fn main() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tmp");
    let config = || Config::new(dir.path().join("data"), Some(dir.path().join("library")));
    drop(Engine::open(config()).expect("create schema"));
    let now = chrono::Utc::now().timestamp_millis();
    let t = Instant::now();
    let mut rng = Rng::new(7);
    // A job every 90 s back from now: about 3 years of a busy studio.
    library::fill(&config().db_path(), JOBS, now, 90_000, |_| {
        gallery_shape(&mut rng)
    })
    .expect("fill");
    println!("built {JOBS} jobs in {:.1} s", t.elapsed().as_secs_f64());
    let eng = Engine::open(config()).expect("engine");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let list = |q: &ListQuery| rt.block_on(eng.list(q.clone())).expect("list");

    // The page that starts half way down: keyset from the row above it.
    let mut before = None;
    for _ in 0..(JOBS / 2 / 1000) {
        let page = list(&ListQuery {
            before: before.clone(),
            limit: Some(1000),
            ..Default::default()
        });
        let last = page.last().expect("rows");
        before = Some((last.created_at, last.id.clone()));
    }
    let page = |q: ListQuery| ListQuery {
        limit: Some(200),
        ..q
    };
    let d = ListQuery::default;
    let cases: Vec<(&str, ListQuery, f64)> = vec![
        ("first page of 200", page(d()), 5.0),
        (
            "page at 500,000 (keyset)",
            page(ListQuery {
                before: before.clone(),
                ..d()
            }),
            5.0,
        ),
        (
            "status completed",
            page(ListQuery {
                status: Some(JobStatus::Completed),
                ..d()
            }),
            5.0,
        ),
        (
            "status failed",
            page(ListQuery {
                status: Some(JobStatus::Failed),
                ..d()
            }),
            5.0,
        ),
        (
            "status canceled",
            page(ListQuery {
                status: Some(JobStatus::Canceled),
                ..d()
            }),
            5.0,
        ),
        (
            "status queued (none)",
            page(ListQuery {
                status: Some(JobStatus::Queued),
                ..d()
            }),
            5.0,
        ),
        (
            "provider",
            page(ListQuery {
                provider: Some("fal".into()),
                ..d()
            }),
            5.0,
        ),
        (
            "provider + model",
            page(ListQuery {
                provider: Some("replicate".into()),
                model: Some("sdxl".into()),
                ..d()
            }),
            5.0,
        ),
        (
            "last 30 days",
            page(ListQuery {
                period: Some(Period::Month),
                ..d()
            }),
            5.0,
        ),
        (
            "since two years ago, deep page",
            page(ListQuery {
                created_since: Some(now - 730 * DAY_MS),
                before: before.clone(),
                ..d()
            }),
            5.0,
        ),
        (
            "favorites",
            page(ListQuery {
                favorite: Some(true),
                ..d()
            }),
            5.0,
        ),
        (
            "favorites, provider",
            page(ListQuery {
                favorite: Some(true),
                provider: Some("openai".into()),
                ..d()
            }),
            5.0,
        ),
        (
            "search prefix \"lightho\" (5 %)",
            page(ListQuery {
                search: Some("lightho".into()),
                ..d()
            }),
            20.0,
        ),
        (
            "search phrase \"red fox\" (1 %)",
            page(ListQuery {
                search: Some("\"red fox\"".into()),
                ..d()
            }),
            20.0,
        ),
        (
            "search rare word \"zeppelin\" (0.01 %)",
            page(ListQuery {
                search: Some("zeppelin".into()),
                ..d()
            }),
            20.0,
        ),
        (
            "search two words \"misty harbor\"",
            page(ListQuery {
                search: Some("misty harbor".into()),
                ..d()
            }),
            20.0,
        ),
    ];

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    for (name, q, _) in &cases {
        c.bench_function(&format!("list 1M: {name}"), |b| b.iter(|| list(q)));
    }

    println!();
    println!("== summary (medians of 41 runs each, {JOBS} jobs) ==");
    for (name, q, target_ms) in &cases {
        let rows = list(q).len();
        let mut times: Vec<Duration> = (0..41)
            .map(|_| {
                let t = Instant::now();
                list(q);
                t.elapsed()
            })
            .collect();
        times.sort();
        let ms = times[times.len() / 2].as_secs_f64() * 1e3;
        println!("{name:<36} {ms:>7.2} ms  {rows:>4} rows");
        println!(
            "BENCH|gallery query at 1M jobs: {name} ({rows} rows)|{ms:.2} ms|-|-|< {target_ms} ms|{}",
            ms < *target_ms
        );
    }

    // The scheduler's statements, on the store itself (the engine holds
    // the database's open lock, so it goes first).
    drop(eng);
    // An image row for every completed job, as the app's library has, for
    // the purge the worker makes at start (nothing deleted: the cost of
    // finding that out).
    rusqlite::Connection::open(config().db_path())
        .expect("open")
        .execute_batch(
            "INSERT INTO assets (job_id, output_index, path, thumb_path, width, height, bytes, \
             sha256, created_at) SELECT id, 0, 'images/' || id, 'thumbs/' || id, width, height, \
             1000, 'x', created_at FROM jobs WHERE status = 'completed'",
        )
        .expect("image rows");
    let store = Store::open(&config().db_path(), Duration::from_secs(5)).expect("store");
    let median_ms = |run: &dyn Fn()| {
        let mut times: Vec<Duration> = (0..41)
            .map(|_| {
                let t = Instant::now();
                run();
                t.elapsed()
            })
            .collect();
        times.sort();
        times[times.len() / 2].as_secs_f64() * 1e3
    };
    let scheduler = [
        (
            "a claim's running count (provider with ~200,000 jobs)",
            median_ms(&|| {
                store
                    .write(|tx| q::running_count(tx, "offline"))
                    .expect("running count");
            }),
        ),
        (
            "a click's budget check (the month's commitments)",
            median_ms(&|| {
                store
                    .read(|c| easel_engine::store::ledger::committed_since(c, 0))
                    .expect("committed");
            }),
        ),
        (
            "the purge of deleted jobs and images at worker start (~960,000 images)",
            median_ms(&|| {
                store
                    .write(|tx| easel_engine::store::deletions::purge(tx, 0))
                    .expect("purge");
            }),
        ),
        (
            "queued and running counts",
            median_ms(&|| {
                store.read(q::active_counts).expect("active counts");
            }),
        ),
    ];
    for (name, ms) in scheduler {
        println!("{name:<36} {ms:>7.2} ms");
        println!(
            "BENCH|scheduler at 1M jobs: {name}|{ms:.2} ms|-|-|< 5 ms|{}",
            ms < 5.0
        );
    }
    c.final_summary();
}
