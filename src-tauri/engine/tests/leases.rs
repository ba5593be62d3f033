//! Leases, fencing and limits on a real SQLite file, through the typed
//! transitions the scheduler and runners use.

use easel_engine::jobs::transitions::{self as t, Outcome, Recovered};
use easel_engine::model::{JobSpec, JobStatus};
use easel_engine::store::jobs::{self as q, Lease, NewJobRow};
use easel_engine::store::Store;
use std::time::Duration;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(&dir.path().join("easel.db"), Duration::from_secs(5)).expect("open");
    (dir, store)
}

fn insert(store: &Store, id: &str, now: i64) {
    let spec = JobSpec {
        prompt: "p".into(),
        negative_prompt: None,
        provider: "offline".into(),
        model: "m".into(),
        width: 64,
        height: 64,
        count: 1,
        seed: 1,
        reference_ids: vec![],
        params: Default::default(),
    };
    store
        .write(|tx| {
            q::insert(
                tx,
                &NewJobRow {
                    id,
                    request_id: id,
                    spec: &spec,
                    max_attempts: 3,
                    estimated_cost_micros: 0,
                    fingerprint: "fp",
                    group_id: None,
                    now,
                },
            )
        })
        .expect("insert");
}

fn get(store: &Store, id: &str) -> easel_engine::JobSummary {
    store.read(|c| q::get(c, id)).expect("read").expect("job")
}

#[test]
fn a_superseded_runner_of_the_same_process_changes_nothing() {
    let (_d, store) = store();
    insert(&store, "a", 1_000);
    let claimed = store
        .write(|tx| t::claim(tx, "offline", 2, "w1", 1_100, 1_000))
        .expect("claim")
        .expect("claimed");
    let old = Lease {
        owner: "w1".into(),
        epoch: claimed.lease_epoch,
    };
    // The lease lapses (a late heartbeat) and the same worker id takes the
    // job over: same owner, new epoch.
    let taken = store
        .write(|tx| t::recover(tx, "a", "w1", 9_000, 3, 2_000))
        .expect("recover");
    let Recovered::Taken(taken) = taken else {
        panic!("{taken:?}")
    };
    assert_eq!(taken.lease_epoch, old.epoch + 1);
    // Not a crash: it is this very worker.
    assert_eq!(taken.crash_count, 0);
    // The superseded runner: heartbeat, accept, settle all refused.
    let heartbeat = store
        .write(|tx| q::heartbeat(tx, "a", &old, 99_000))
        .expect("heartbeat");
    assert!(!heartbeat);
    let accepted = store
        .write(|tx| t::accepted(tx, &claimed, &old, "h", "accepted", 2_100))
        .expect("accept");
    assert!(accepted.is_none());
    let failed = Outcome::Failed {
        code: "x".into(),
        message: "y".into(),
        http_status: None,
    };
    let settled = store
        .write(|tx| t::settle(tx, "a", Some(&old), &failed, 2_200))
        .expect("settle");
    assert!(settled.is_none());
    assert_eq!(get(&store, "a").status, JobStatus::Submitting);
    // The current runner still can.
    let current = Lease {
        owner: "w1".into(),
        epoch: taken.lease_epoch,
    };
    assert!(store
        .write(|tx| t::accepted(tx, &taken, &current, "h", "accepted", 2_300))
        .expect("accept")
        .is_some());
}

#[test]
fn a_double_retry_of_a_held_job_never_touches_the_new_owner() {
    let (_d, store) = store();
    insert(&store, "h", 1_000);
    store
        .write(|tx| t::claim(tx, "offline", 2, "w1", 1_100, 1_000))
        .expect("claim");
    // w1 dies; w2 finds it at the crash limit and holds it.
    let held = store
        .write(|tx| t::recover(tx, "h", "w2", 3_000, 1, 2_000))
        .expect("recover");
    assert!(matches!(held, Recovered::Held(_)), "{held:?}");
    // Two retries race (a double click in two windows): the first resumes
    // it, w3 takes it over, then the second retry arrives.
    let first = store
        .write(|tx| t::retry(tx, "h", 3, 2_100))
        .expect("retry");
    assert!(first.is_some());
    let taken = store
        .write(|tx| t::recover(tx, "h", "w3", 9_000, 3, 2_200))
        .expect("recover");
    assert!(matches!(taken, Recovered::Taken(_)), "{taken:?}");
    let second = store
        .write(|tx| t::retry(tx, "h", 3, 2_300))
        .expect("retry");
    assert!(second.is_none(), "a job that is not held is not resumed");
    let j = get(&store, "h");
    assert!(!j.held);
    let owner: Option<String> = store
        .read(|c| {
            Ok(
                c.query_row("SELECT lease_owner FROM jobs WHERE id = 'h'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .expect("owner");
    assert_eq!(
        owner.as_deref(),
        Some("w3"),
        "the live worker keeps its lease"
    );
}

#[test]
fn the_concurrency_limit_counts_jobs_whose_worker_died() {
    let (_d, store) = store();
    insert(&store, "a", 1_000);
    insert(&store, "b", 1_001);
    store
        .write(|tx| t::claim(tx, "offline", 1, "w1", 1_100, 1_000))
        .expect("claim")
        .expect("a claimed");
    // w1 died at 1_100; w2 starts at 5_000. The limit is 1: "a" still
    // counts until it settles, so "b" waits.
    let b = store
        .write(|tx| t::claim(tx, "offline", 1, "w2", 9_000, 5_000))
        .expect("claim");
    assert!(b.is_none(), "claimed past the limit: {b:?}");
    let taken = store
        .write(|tx| t::recover(tx, "a", "w2", 9_000, 3, 5_000))
        .expect("recover");
    assert!(matches!(taken, Recovered::Taken(_)));
    let b = store
        .write(|tx| t::claim(tx, "offline", 1, "w2", 9_000, 5_001))
        .expect("claim");
    assert!(b.is_none());
    let running = store
        .write(|tx| q::running_count(tx, "offline"))
        .expect("count");
    assert_eq!(running, 1);
}

#[test]
fn recovery_takes_over_only_as_many_as_the_limit_leaves_free() {
    let (_d, store) = store();
    for (i, id) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        insert(&store, id, 1_000 + i as i64);
    }
    // w1 ran a..e and died (leases to 1_100); w3 is alive and runs f.
    for _ in 0..5 {
        store
            .write(|tx| t::claim(tx, "offline", 10, "w1", 1_100, 1_010))
            .expect("claim")
            .expect("claimed");
    }
    store
        .write(|tx| t::claim(tx, "offline", 10, "w3", 99_000, 1_010))
        .expect("claim")
        .expect("f claimed");
    let recover = |limit: u32, batch: usize, here: &dyn Fn(&str) -> bool| {
        store
            .write(|tx| {
                t::recover_within_limit(tx, "offline", limit, "w2", 9_000, 3, 5_000, here, batch)
            })
            .expect("recover")
            .into_iter()
            .map(|r| match r {
                Recovered::Taken(j) => j.id,
                other => panic!("expected a takeover, got {other:?}"),
            })
            .collect::<Vec<_>>()
    };
    // Limit 3: f (alive elsewhere) and a (this process's own late runner)
    // count, so only b, the oldest of the rest, is taken over.
    assert_eq!(recover(3, 100, &|id| id == "a"), ["b"]);
    assert_eq!(recover(3, 100, &|id| id == "a"), Vec::<String>::new());
    // A higher limit, in batches: oldest first, never past the batch.
    assert_eq!(recover(10, 2, &|_| false), ["a", "c"]);
    assert_eq!(recover(10, 2, &|_| false), ["d", "e"]);
    assert_eq!(recover(10, 2, &|_| false), Vec::<String>::new());
}
