//! Comparison groups on a real database: one prompt sent to several models
//! is one job each, created together in one commit or not at all, found
//! again by its group; re-sending the group returns the same jobs. And
//! progress previews: the offline provider's partial images reach the job
//! while it works, as small files, and are gone once it settles.

mod common;

use common::{env, env_with, new_job};
use easel_engine::{Engine, EngineError, JobStatus, NewJob, RunUntil, MAX_GROUP};
use std::collections::BTreeSet;
use std::time::Duration;

fn remix(request_id: &str, prompt: &str) -> NewJob {
    NewJob {
        model: Some("easel-remix-1".into()),
        ..new_job(request_id, prompt)
    }
}

async fn count_jobs(engine: &Engine) -> usize {
    engine
        .list(easel_engine::ListQuery::default())
        .await
        .expect("list")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_created_in_one_commit_and_found_by_its_id() {
    let t = env();
    let engine = &t.engine;
    let commits = engine.commits();
    let jobs = engine
        .create_group(
            "g1",
            vec![new_job("g1/0", "a red kite"), remix("g1/1", "a red kite")],
        )
        .await
        .expect("group");
    assert_eq!(
        engine.commits() - commits,
        1,
        "both jobs in one transaction"
    );
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.group_id.as_deref() == Some("g1")));
    assert!(jobs.iter().all(|j| j.status == JobStatus::Queued));
    let models: Vec<&str> = jobs.iter().map(|j| j.model.as_str()).collect();
    assert_eq!(models, ["easel-landscape-1", "easel-remix-1"]);

    // A re-sent group (an IPC retry) is the same jobs, and adds nothing.
    let again = engine
        .create_group(
            "g1",
            vec![new_job("g1/0", "a red kite"), remix("g1/1", "a red kite")],
        )
        .await
        .expect("again");
    let ids = |js: &[easel_engine::JobSummary]| js.iter().map(|j| j.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&jobs));
    assert_eq!(count_jobs(engine).await, 2);

    engine.run_worker(RunUntil::Idle).await.expect("run");
    let group = engine.group("g1").await.expect("group");
    assert_eq!(ids(&group), ids(&jobs), "oldest first");
    assert!(group.iter().all(|j| j.status == JobStatus::Completed));
    assert!(engine.group("nope").await.expect("empty").is_empty());

    // A deleted member leaves the group.
    engine
        .delete(vec![jobs[1].id.clone()])
        .await
        .expect("delete");
    assert_eq!(
        ids(&engine.group("g1").await.expect("group")),
        ids(&jobs[..1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_with_one_bad_request_creates_nothing() {
    let t = env();
    let engine = &t.engine;
    let bad = NewJob {
        model: Some("no-such-model".into()),
        ..new_job("b/1", "a heron")
    };
    let err = engine
        .create_group("b", vec![new_job("b/0", "a heron"), bad])
        .await
        .expect_err("refused");
    assert!(matches!(err, EngineError::UnknownModel { .. }), "{err}");
    assert_eq!(
        count_jobs(engine).await,
        0,
        "the good request was not created either"
    );

    // Sizes outside 2..=MAX_GROUP, and two members under one request id.
    let one = engine.create_group("c", vec![new_job("c/0", "x")]).await;
    assert!(matches!(one, Err(EngineError::InvalidInput(_))), "{one:?}");
    let many: Vec<NewJob> = (0..=MAX_GROUP)
        .map(|i| new_job(&format!("d/{i}"), "x"))
        .collect();
    let many = engine.create_group("d", many).await;
    assert!(
        matches!(many, Err(EngineError::InvalidInput(_))),
        "{many:?}"
    );
    let twice = engine
        .create_group("e", vec![new_job("e/0", "x"), new_job("e/0", "x")])
        .await;
    assert!(
        matches!(twice, Err(EngineError::InvalidInput(_))),
        "{twice:?}"
    );
    let blank = engine
        .create_group(" ", vec![new_job("f/0", "x"), new_job("f/1", "x")])
        .await;
    assert!(
        matches!(blank, Err(EngineError::InvalidInput(_))),
        "{blank:?}"
    );
    assert_eq!(count_jobs(engine).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_over_the_budget_creates_nothing() {
    // Three priced jobs fit a budget that one job's estimate does not pass
    // but the group's total does.
    let provider = std::sync::Arc::new(PricedProvider::new());
    let t = common::env_with_provider_and(provider, easel_engine::Keys::memory(), |_| {});
    let engine = &t.engine;
    let mut settings = engine.settings().await.expect("settings");
    settings.monthly_budget_micros = Some(100_000);
    engine.save_settings(settings).await.expect("budget");
    let priced = |rid: &str| NewJob {
        provider: Some("priced".into()),
        model: Some("m".into()),
        ..new_job(rid, "a gull")
    };
    let err = engine
        .create_group("p", vec![priced("p/0"), priced("p/1"), priced("p/2")])
        .await
        .expect_err("over budget");
    assert!(matches!(err, EngineError::BudgetExceeded { .. }), "{err}");
    assert_eq!(count_jobs(engine).await, 0);
    let two = engine
        .create_group("q", vec![priced("q/0"), priced("q/1")])
        .await
        .expect("two fit");
    assert_eq!(two.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_provider_shows_previews_while_it_works_and_they_go_when_it_ends() {
    let t = env_with(|c| c.offline.latency_ms = 1_500);
    let engine = &t.engine;
    let mut events = engine.subscribe();
    let job = engine
        .create_job(NewJob {
            width: 512,
            height: 384,
            ..new_job("preview", "a valley at noon")
        })
        .await
        .expect("create");
    let worker = {
        let engine = engine.clone();
        let id = job.id.clone();
        tokio::spawn(async move { engine.run_worker(RunUntil::Settled(vec![id])).await })
    };
    let mut shown = BTreeSet::new();
    let mut sizes = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("events in time")
            .expect("event");
        let j = event.job;
        if let Some(path) = &j.preview_path {
            assert_eq!(
                j.status,
                JobStatus::Processing,
                "previews only while it works"
            );
            if shown.insert(path.clone()) {
                // Read at once: the runner removes older ones as newer come.
                if let Ok(img) = image::open(path) {
                    sizes.push((img.width(), img.height()));
                }
            }
        }
        if j.status.is_terminal() {
            assert_eq!(j.status, JobStatus::Completed);
            assert_eq!(j.preview_path, None, "a settled job names no preview");
            break;
        }
    }
    worker.await.expect("join").expect("worker");
    assert_eq!(
        shown.len(),
        2,
        "a coarse preview, then a finer one: {shown:?}"
    );
    // The offline provider renders them at 1/16 and 1/4 of the size.
    assert!(sizes.contains(&(128, 96)), "{sizes:?}");
    let previews = t.data.path().join("previews");
    let left: Vec<_> = std::fs::read_dir(&previews)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "previews removed once the job ended: {left:?}"
    );
    assert_eq!(engine.get(&job.id).await.expect("job").preview_path, None);
}

/// A provider like the offline one but priced at 40,000 micros an image.
struct PricedProvider {
    caps: easel_engine::providers::Capabilities,
}

impl PricedProvider {
    fn new() -> Self {
        PricedProvider {
            caps: common::test_capabilities("m", 40_000),
        }
    }
}

#[async_trait::async_trait]
impl easel_engine::providers::Provider for PricedProvider {
    fn id(&self) -> &'static str {
        "priced"
    }
    fn capabilities(&self) -> &easel_engine::providers::Capabilities {
        &self.caps
    }
    async fn submit(
        &self,
        _req: &easel_engine::providers::SubmitRequest<'_>,
    ) -> Result<easel_engine::providers::Submitted, easel_engine::providers::ProviderError> {
        Ok(easel_engine::providers::Submitted::Pending("h".into()))
    }
    async fn find_submitted(
        &self,
        _req: &easel_engine::providers::SubmitRequest<'_>,
    ) -> Result<Option<String>, easel_engine::providers::ProviderError> {
        Ok(None)
    }
    async fn poll(
        &self,
        _handle: &str,
        _spec: &easel_engine::JobSpec,
        _key: Option<&easel_engine::ApiKey>,
    ) -> Result<easel_engine::providers::PollStatus, easel_engine::providers::ProviderError> {
        Ok(easel_engine::providers::Waiting::progress(None))
    }
    async fn fetch_outputs(
        &self,
        _handle: &str,
        _spec: &easel_engine::JobSpec,
        _key: Option<&easel_engine::ApiKey>,
    ) -> Result<Vec<easel_engine::providers::Output>, easel_engine::providers::ProviderError> {
        Ok(vec![])
    }
    async fn cancel(
        &self,
        _handle: &str,
        _key: Option<&easel_engine::ApiKey>,
    ) -> Result<(), easel_engine::providers::ProviderError> {
        Ok(())
    }
}
