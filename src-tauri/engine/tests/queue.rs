//! The queue as the user controls it: its order (move to front) is the
//! order jobs really start in, and a paused queue starts nothing until it
//! is resumed, on a real database with the real scheduler.

mod common;

use common::{env_with, new_job};
use easel_engine::{EngineError, JobStatus, RunUntil};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_a_job_to_the_front_makes_it_start_first_and_a_paused_queue_starts_nothing() {
    let t = env_with(|c| {
        // One at a time, so the start order is the queue's order.
        c.concurrency.insert("offline".into(), 1);
    });
    let engine = &t.engine;
    engine.set_queue_paused(true).await.expect("pause");
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        let job = engine
            .create_job(new_job(name, &format!("the {name} job")))
            .await
            .expect("create");
        ids.push(job.id);
    }
    // Paused: a worker run to idle starts nothing and returns.
    tokio::time::timeout(Duration::from_secs(30), engine.run_worker(RunUntil::Idle))
        .await
        .expect("returns while paused")
        .expect("worker");
    for id in &ids {
        assert_eq!(engine.get(id).await.expect("get").status, JobStatus::Queued);
    }
    let view = engine.queue().await.expect("queue");
    assert!(view.paused);
    let order: Vec<&str> = view.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(order, [&ids[0], &ids[1], &ids[2]], "oldest first");

    // The third to the front, then the second: the second leads.
    engine.move_to_front(&ids[2]).await.expect("move");
    let moved = engine.move_to_front(&ids[1]).await.expect("move");
    assert_eq!(moved.status, JobStatus::Queued);
    let order: Vec<String> = engine
        .queue()
        .await
        .expect("queue")
        .jobs
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(order, [ids[1].clone(), ids[2].clone(), ids[0].clone()]);

    engine.set_queue_paused(false).await.expect("resume");
    tokio::time::timeout(Duration::from_secs(60), engine.run_worker(RunUntil::Idle))
        .await
        .expect("runs in time")
        .expect("worker");
    // The order they really started in: the change numbers (global, strictly
    // increasing) of their claims.
    let mut started = Vec::new();
    for id in &ids {
        let d = engine.detail(id).await.expect("detail");
        assert_eq!(d.job.status, JobStatus::Completed);
        assert!(
            d.timeline
                .iter()
                .any(|e| e.detail == "moved to the front of the queue")
                || id == &ids[0]
        );
        let claimed = d
            .timeline
            .iter()
            .find(|e| e.to_status == JobStatus::Submitting)
            .expect("claimed")
            .seq;
        started.push((claimed, id.clone()));
    }
    started.sort();
    let started: Vec<String> = started.into_iter().map(|(_, id)| id).collect();
    assert_eq!(started, [ids[1].clone(), ids[2].clone(), ids[0].clone()]);
    assert!(!engine.queue().await.expect("queue").paused);
    assert!(engine.queue().await.expect("queue").jobs.is_empty());

    // A job that is not waiting cannot be moved.
    let refused = engine.move_to_front(&ids[0]).await;
    assert!(
        matches!(refused, Err(EngineError::WrongState { .. })),
        "{refused:?}"
    );
}

/// Due jobs that cannot start yet (their provider is at its limit, or the
/// queue is paused) wait for a slot without the scheduler looping: it
/// used to sleep until the earliest due job's time, which had passed, so
/// it woke at once, over and over, asking the database each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn due_jobs_that_cannot_start_leave_the_scheduler_asleep() {
    let t = env_with(|c| {
        c.concurrency.insert("offline".into(), 1);
        c.offline.latency_ms = 1_500;
    });
    let mut ids = Vec::new();
    for name in ["running", "waiting", "also waiting"] {
        let job = t
            .engine
            .create_job(new_job(name, &format!("the {name} job")))
            .await
            .expect("create");
        ids.push(job.id);
    }
    let engine = t.engine.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Idle).await });
    common::wait_for_status(&t.engine, &ids[0], JobStatus::Processing).await;
    // The first job runs for 1.5 s; meanwhile the other two are due and
    // cannot start. Half a second of that: a few reads at most (the
    // recovery tick), not hundreds.
    let before = t.engine.reads();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reads = t.engine.reads() - before;
    assert_eq!(
        t.engine.get(&ids[1]).await.expect("get").status,
        JobStatus::Queued,
        "the limit held"
    );
    assert!(
        reads < 50,
        "{reads} reads in half a second with nothing to start"
    );

    // They still start as soon as the slot is free, and all complete.
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("runs in time")
        .expect("joined")
        .expect("worker");
    for id in &ids {
        assert_eq!(
            t.engine.get(id).await.expect("get").status,
            JobStatus::Completed
        );
    }
}

/// A paused queue with due jobs leaves the app's worker (which runs until
/// the app quits) asleep too, until the queue is resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_leaves_the_scheduler_asleep() {
    let t = env_with(|_| {});
    t.engine.set_queue_paused(true).await.expect("pause");
    let job = t
        .engine
        .create_job(new_job("paused", "a job the pause holds"))
        .await
        .expect("create");
    let engine = t.engine.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Forever).await });
    // Past the worker's start-up sweeps.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = t.engine.reads();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reads = t.engine.reads() - before;
    assert!(reads < 50, "{reads} reads in half a second while paused");
    assert_eq!(
        t.engine.get(&job.id).await.expect("get").status,
        JobStatus::Queued
    );
    t.engine.set_queue_paused(false).await.expect("resume");
    common::wait_for_status(&t.engine, &job.id, JobStatus::Completed).await;
    t.engine.stop();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("stops")
        .expect("joined")
        .expect("worker");
}
