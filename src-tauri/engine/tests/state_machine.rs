//! Property test of the job state machine on a real SQLite file: any sequence
//! of events (claims, provider results, duplicate and stale settlements,
//! crashes, cancels, retries) leaves every job in a legal state, with one
//! charge per run the provider finished, at most one asset per output, and a
//! balanced ledger.

use easel_engine::jobs::state::allowed;
use easel_engine::jobs::transitions::{self as t, Outcome};
use easel_engine::jobs::transitions::{DeferPolicy, Failure};
use easel_engine::model::{Asset, JobSpec, JobStatus};
use easel_engine::store::jobs::{self as q, Lease, NewJobRow};
use easel_engine::store::{Store, StoreError};
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

const JOBS: usize = 3;
const WORKERS: [&str; 2] = ["w1", "w2"];

#[derive(Debug, Clone)]
enum Op {
    Create(usize),
    Claim(usize),
    Accept(usize, bool),
    Progress(usize, bool),
    ProviderDone(usize, bool),
    Complete(usize, bool),
    FailRetryable(usize, bool),
    Fail(usize, bool),
    /// A webhook or poll reporting failure with no lease (owner = None).
    FailFromOutside(usize),
    Cancel(usize),
    Retry(usize),
    DeferSave(usize),
    /// The worker dies: its lease lapses; another worker recovers the job.
    Crash(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let j = 0..JOBS;
    let stale = any::<bool>();
    prop_oneof![
        j.clone().prop_map(Op::Create),
        (0..WORKERS.len()).prop_map(Op::Claim),
        (j.clone(), stale).prop_map(|(j, s)| Op::Accept(j, s)),
        (j.clone(), stale).prop_map(|(j, s)| Op::Progress(j, s)),
        (j.clone(), stale).prop_map(|(j, s)| Op::ProviderDone(j, s)),
        (j.clone(), stale).prop_map(|(j, s)| Op::Complete(j, s)),
        (j.clone(), stale).prop_map(|(j, s)| Op::FailRetryable(j, s)),
        (j.clone(), stale).prop_map(|(j, s)| Op::Fail(j, s)),
        j.clone().prop_map(Op::FailFromOutside),
        j.clone().prop_map(Op::Cancel),
        j.clone().prop_map(Op::Retry),
        j.clone().prop_map(Op::DeferSave),
        (j, 0..WORKERS.len()).prop_map(|(j, w)| Op::Crash(j, w)),
    ]
}

fn spec() -> JobSpec {
    JobSpec {
        prompt: "p".into(),
        negative_prompt: None,
        provider: "offline".into(),
        model: "m".into(),
        width: 64,
        height: 64,
        count: 2,
        seed: 1,
        reference_ids: vec![],
        params: Default::default(),
    }
}

fn job_id(i: usize) -> String {
    format!("job-{i}")
}

/// The lease the op acts under: the holder's, or a stale one. A stale
/// lease has the holder's owner id with the previous epoch (a superseded
/// runner of the same process, which only the epoch tells apart).
fn actor(store: &Store, id: &str, stale: bool) -> Lease {
    let (owner, epoch) = store
        .read(|c| {
            Ok(c.query_row(
                "SELECT lease_owner, lease_epoch FROM jobs WHERE id = ?1",
                [id],
                |r| Ok((r.get::<_, Option<String>>(0)?, r.get::<_, i64>(1)?)),
            )
            .unwrap_or((None, 0)))
        })
        .unwrap_or((None, 0));
    Lease {
        owner: owner.unwrap_or_else(|| "nobody".into()),
        epoch: if stale { epoch - 1 } else { epoch },
    }
}

fn assets(n: u32) -> Vec<Asset> {
    (0..n)
        .map(|i| Asset {
            output_index: i,
            path: format!("/lib/{i}.png"),
            thumb_path: format!("/thumbs/{i}.png"),
            width: 64,
            height: 64,
            bytes: 10,
            sha256: "00".into(),
            created_at: 0,
            favorite: false,
        })
        .collect()
}

fn apply(store: &Store, op: &Op, now: &mut i64) -> Result<(), StoreError> {
    *now += 1_000;
    let now = *now;
    let lease = now + 10_000;
    let job = |i: usize| -> Result<Option<easel_engine::JobSummary>, StoreError> {
        store.read(|c| q::get(c, &job_id(i)))
    };
    match op {
        Op::Create(i) => {
            let id = job_id(*i);
            store.write(|tx| {
                if q::find_by_request_id(tx, &id)?.is_none() {
                    q::insert(
                        tx,
                        &NewJobRow {
                            id: &id,
                            request_id: &id,
                            spec: &spec(),
                            max_attempts: 2,
                            estimated_cost_micros: 500,
                            fingerprint: "fp",
                            group_id: None,
                            now,
                        },
                    )?;
                }
                Ok(())
            })?;
        }
        Op::Claim(w) => {
            store.write(|tx| t::claim(tx, "offline", 2, WORKERS[*w], lease, now))?;
        }
        Op::Accept(i, stale)
        | Op::Progress(i, stale)
        | Op::ProviderDone(i, stale)
        | Op::FailRetryable(i, stale) => {
            let Some(j) = job(*i)? else { return Ok(()) };
            let owner = actor(store, &j.id, *stale);
            store.write(|tx| {
                match op {
                    Op::Accept(..) => t::accepted(tx, &j, &owner, "h", "accepted", now)?,
                    Op::Progress(..) => {
                        let said = t::Waiting {
                            progress: Some(0.5),
                            queue_position: Some(1),
                            message: Some("in queue"),
                        };
                        t::waiting(tx, &j, &owner, &said, now)?
                    }
                    Op::ProviderDone(..) => t::provider_done(tx, &j, &owner, None, now)?,
                    _ => t::requeue(
                        tx,
                        &j,
                        &owner,
                        &Failure {
                            code: "rate_limited",
                            message: "slow down",
                            http_status: Some(429),
                        },
                        now + 5,
                        now,
                    )?,
                };
                Ok(())
            })?;
        }
        Op::Complete(i, stale) => {
            let Some(j) = job(*i)? else { return Ok(()) };
            let owner = actor(store, &j.id, *stale);
            let outcome = Outcome::Completed {
                assets: assets(j.count),
            };
            store.write(|tx| t::settle(tx, &j.id, Some(&owner), &outcome, now))?;
        }
        Op::Fail(i, stale) => {
            let Some(j) = job(*i)? else { return Ok(()) };
            let owner = actor(store, &j.id, *stale);
            let outcome = Outcome::Failed {
                code: "x".into(),
                message: "bad".into(),
                http_status: None,
            };
            store.write(|tx| t::settle(tx, &j.id, Some(&owner), &outcome, now))?;
        }
        Op::FailFromOutside(i) => {
            let outcome = Outcome::Failed {
                code: "x".into(),
                message: "bad".into(),
                http_status: None,
            };
            store.write(|tx| t::settle(tx, &job_id(*i), None, &outcome, now))?;
        }
        Op::Cancel(i) => {
            let outcome = Outcome::Canceled {
                reason: "user".into(),
            };
            store.write(|tx| t::settle(tx, &job_id(*i), None, &outcome, now))?;
        }
        Op::Retry(i) => {
            let Some(j) = job(*i)? else { return Ok(()) };
            store.write(|tx| t::retry(tx, &j.id, 2, now))?;
        }
        Op::DeferSave(i) => {
            let Some(j) = job(*i)? else { return Ok(()) };
            let owner = actor(store, &j.id, false);
            let policy = DeferPolicy {
                base_ms: 10,
                max_ms: 100,
                hold_after_ms: 5_000,
            };
            store.write(|tx| {
                t::defer_saving(tx, &j, &owner, "disk_full", "disk gone", policy, now)
            })?;
        }
        Op::Crash(i, w) => {
            let id = job_id(*i);
            store.write(|tx| {
                tx.execute("UPDATE jobs SET lease_expires_at = ?2 WHERE id = ?1 AND lease_expires_at IS NOT NULL", rusqlite::params![id, now - 1])?;
                t::recover(tx, &id, WORKERS[*w], lease, 3, now)?;
                Ok(())
            })?;
        }
    }
    Ok(())
}

fn check_invariants(
    store: &Store,
    completed_once: &mut HashMap<String, ()>,
) -> Result<(), TestCaseError> {
    let rows = store
        .read(|c| {
            let mut out = Vec::new();
            for i in 0..JOBS {
                if let Some(j) = q::get(c, &job_id(i))? {
                    let charges: i64 = c.query_row("SELECT COUNT(*) FROM ledger WHERE job_id = ?1 AND kind = 'charge'", [&j.id], |r| r.get(0))?;
                    let open: i64 = c.query_row(
                        "SELECT COUNT(*) FROM ledger r WHERE job_id = ?1 AND run = ?2 AND kind = 'reserve' \
                         AND NOT EXISTS (SELECT 1 FROM ledger s WHERE s.job_id = r.job_id AND s.run = r.run AND s.kind IN ('charge','release'))",
                        rusqlite::params![j.id, j.run], |r| r.get(0))?;
                    let both: i64 = c.query_row(
                        "SELECT COUNT(*) FROM (SELECT run FROM ledger WHERE job_id = ?1 AND kind IN ('charge','release') GROUP BY run HAVING COUNT(*) > 1)",
                        [&j.id], |r| r.get(0))?;
                    let lease_owner: Option<String> = c.query_row("SELECT lease_owner FROM jobs WHERE id = ?1", [&j.id], |r| r.get(0))?;
                    let assets = q::assets(c, &j.id)?.len();
                    let timeline = q::timeline(c, &j.id)?;
                    out.push((j, charges, open, both, assets, timeline, lease_owner));
                }
            }
            Ok(out)
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (j, charges, open, both, assets, timeline, lease_owner) in rows {
        // A run is charged once, when the provider finished it (it billed
        // then), whatever became of the run afterwards.
        let finished = timeline
            .iter()
            .filter(|e| e.detail.starts_with("provider finished"))
            .count() as i64;
        prop_assert_eq!(
            charges,
            finished,
            "{} charges for {} finished runs",
            charges,
            finished
        );
        prop_assert!(
            charges <= i64::from(j.run),
            "{} charged {} times",
            j.id,
            charges
        );
        prop_assert_eq!(both, 0, "a run both charged and released");
        prop_assert!(assets as u32 <= j.count);
        if j.status == JobStatus::Completed {
            completed_once.insert(j.id.clone(), ());
            prop_assert!(charges >= 1);
            prop_assert_eq!(assets as u32, j.count);
        } else {
            prop_assert!(
                !completed_once.contains_key(&j.id),
                "{} left completed",
                j.id
            );
            prop_assert_eq!(assets, 0);
        }
        if j.status.is_terminal() {
            prop_assert_eq!(open, 0, "terminal job with an open reservation");
            prop_assert!(lease_owner.is_none(), "terminal job still leased");
        }
        let mut last_seq = 0;
        for e in &timeline {
            prop_assert!(e.seq > last_seq);
            last_seq = e.seq;
            if let Some(from) = e.from_status {
                prop_assert!(
                    allowed(from, e.to_status),
                    "illegal {} -> {}",
                    from,
                    e.to_status
                );
            }
        }
        prop_assert_eq!(timeline.last().map(|e| e.to_status), Some(j.status));
        prop_assert_eq!(timeline.last().map(|e| e.seq).unwrap_or(0) <= j.seq, true);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_event_sequence_keeps_jobs_legal(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let store = Store::open(&dir.path().join("easel.db"), Duration::from_secs(5))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut now = 1_000_000;
        let mut completed = HashMap::new();
        for op in &ops {
            apply(&store, op, &mut now).map_err(|e| TestCaseError::fail(format!("{op:?}: {e}")))?;
            check_invariants(&store, &mut completed)?;
        }
    }
}
