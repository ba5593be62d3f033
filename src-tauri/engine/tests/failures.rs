//! How the scheduler handles provider failures, bad results and an unavailable
//! library. A scripted provider (a test double, in process) plays the
//! provider's part so each failure happens exactly when the test wants it.

mod common;

use async_trait::async_trait;
use common::{env, env_with_provider, fast_config, files, new_job, test_capabilities, TestEnv};
use easel_engine::providers::offline::render::render_png;
use easel_engine::providers::{
    Capabilities, FailureKind, Output, OutputMeta, PollStatus, Provider, ProviderError,
    SubmitRequest, Submitted, Waiting,
};
use easel_engine::{ApiKey, Engine, JobSpec, JobStatus, Keys, LedgerKind, NewJob, RunUntil};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
enum Outputs {
    Image,
    Garbage,
    /// Every output an image but the last, which does not decode.
    LastGarbage,
    /// One image fewer than the request asked for.
    OneShort,
    /// An SVG drawing, which is not stored.
    Svg,
    /// A PNG cut short: it looks like an image until it is decoded, when
    /// the job is saved, after the provider finished (and billed).
    Truncated,
}

struct Scripted {
    caps: Capabilities,
    submits: Mutex<VecDeque<Result<(), ProviderError>>>,
    polls: Mutex<VecDeque<Result<PollStatus, ProviderError>>>,
    output: Outputs,
    submit_calls: AtomicU32,
    /// When each submit was called.
    submit_times: Mutex<Vec<std::time::Instant>>,
    /// Answers the submit with the images, as a synchronous provider does.
    synchronous: bool,
    fetch_calls: AtomicU32,
    poll_calls: AtomicU32,
    /// Fetches that work; later ones find the result URLs expired.
    fetches_before_expiry: u32,
    /// Whether a lost submit can be found at the provider (it keeps a list).
    findable: bool,
    find_calls: AtomicU32,
}

impl Scripted {
    fn new(
        submits: Vec<Result<(), ProviderError>>,
        polls: Vec<Result<PollStatus, ProviderError>>,
        output: Outputs,
    ) -> Arc<Self> {
        Self::with(submits, polls, output, |_| {})
    }

    /// `new`, then changed by `tweak` (synchronous, expiring URLs).
    fn with(
        submits: Vec<Result<(), ProviderError>>,
        polls: Vec<Result<PollStatus, ProviderError>>,
        output: Outputs,
        tweak: impl FnOnce(&mut Scripted),
    ) -> Arc<Self> {
        let mut scripted = Scripted {
            caps: test_capabilities("s1", 1_000),
            submits: Mutex::new(submits.into()),
            polls: Mutex::new(polls.into()),
            output,
            submit_calls: AtomicU32::new(0),
            submit_times: Mutex::new(Vec::new()),
            synchronous: false,
            fetch_calls: AtomicU32::new(0),
            poll_calls: AtomicU32::new(0),
            fetches_before_expiry: u32::MAX,
            findable: false,
            find_calls: AtomicU32::new(0),
        };
        tweak(&mut scripted);
        Arc::new(scripted)
    }
}

#[async_trait]
impl Provider for Scripted {
    fn id(&self) -> &'static str {
        "scripted"
    }
    fn capabilities(&self) -> &Capabilities {
        &self.caps
    }
    async fn submit(&self, req: &SubmitRequest<'_>) -> Result<Submitted, ProviderError> {
        self.submit_calls.fetch_add(1, Ordering::SeqCst);
        self.submit_times
            .lock()
            .expect("lock")
            .push(std::time::Instant::now());
        let next = self
            .submits
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Ok(()));
        next?;
        let handle = format!("h-{}", req.idempotency_key);
        if self.synchronous {
            let outputs = self.outputs(req.spec)?;
            return Ok(Submitted::Done {
                handle,
                outputs,
                cost_micros: None,
            });
        }
        Ok(Submitted::Pending(handle))
    }
    async fn find_submitted(
        &self,
        req: &SubmitRequest<'_>,
    ) -> Result<Option<String>, ProviderError> {
        self.find_calls.fetch_add(1, Ordering::SeqCst);
        // A findable provider "accepted" every submit it was sent, answered
        // or not.
        let sent = self.submit_calls.load(Ordering::SeqCst) > 0;
        Ok((self.findable && sent).then(|| format!("h-{}", req.idempotency_key)))
    }
    async fn poll(
        &self,
        _: &str,
        _: &JobSpec,
        _: Option<&ApiKey>,
    ) -> Result<PollStatus, ProviderError> {
        self.poll_calls.fetch_add(1, Ordering::SeqCst);
        self.polls
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Ok(PollStatus::Done))
    }
    async fn fetch_outputs(
        &self,
        _: &str,
        spec: &JobSpec,
        _: Option<&ApiKey>,
    ) -> Result<Vec<Output>, ProviderError> {
        let n = self.fetch_calls.fetch_add(1, Ordering::SeqCst);
        if n >= self.fetches_before_expiry {
            return Err(ProviderError::new(
                FailureKind::NotFound,
                "the result URL expired (data removed)",
            ));
        }
        self.outputs(spec)
    }
    async fn cancel(&self, _: &str, _: Option<&ApiKey>) -> Result<(), ProviderError> {
        Ok(())
    }
}

impl Scripted {
    fn outputs(&self, spec: &JobSpec) -> Result<Vec<Output>, ProviderError> {
        let image = |i: u32| render_png("x", u64::from(i), spec.width, spec.height).expect("png");
        let garbage = || b"<html>502 Bad Gateway</html>".to_vec();
        let svg = || br#"<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>"#.to_vec();
        Ok((0..spec.count)
            .filter_map(|i| match self.output {
                Outputs::Image => Some(image(i)),
                Outputs::Garbage => Some(garbage()),
                Outputs::Svg => Some(svg()),
                Outputs::LastGarbage if i + 1 == spec.count => Some(garbage()),
                Outputs::LastGarbage => Some(image(i)),
                Outputs::OneShort if i + 1 == spec.count => None,
                Outputs::OneShort => Some(image(i)),
                Outputs::Truncated => Some(image(i)[..120].to_vec()),
            })
            .map(|bytes| easel_engine::providers::Output {
                bytes,
                // The provider chose the seeds.
                meta: OutputMeta {
                    seed: Some(9_000),
                    revised_prompt: None,
                },
            })
            .collect())
    }
}

fn err(kind: FailureKind, retry_after_ms: Option<u64>) -> ProviderError {
    let mut e = ProviderError::new(kind, format!("scripted {kind:?}"));
    e.retry_after = retry_after_ms.map(Duration::from_millis);
    e.http_status = Some(429);
    e
}

struct Setup {
    engine: Engine,
    provider: Arc<Scripted>,
    data: tempfile::TempDir,
    library: tempfile::TempDir,
}

fn setup(provider: Arc<Scripted>) -> Setup {
    let TestEnv {
        data,
        library,
        engine,
    } = env_with_provider(provider.clone(), Keys::memory());
    Setup {
        engine,
        provider,
        data,
        library,
    }
}

fn scripted_job(rid: &str) -> NewJob {
    NewJob {
        provider: Some("scripted".into()),
        ..new_job(rid, "scripted job")
    }
}

async fn run(s: &Setup, rid: &str) -> easel_engine::JobDetail {
    let job = s
        .engine
        .create_job(scripted_job(rid))
        .await
        .expect("create");
    common::settle(&s.engine, &job.id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_submit_is_retried_after_retry_after() {
    let s = setup(Scripted::new(
        vec![Err(err(FailureKind::RateLimited, Some(300)))],
        vec![],
        Outputs::Image,
    ));
    let d = run(&s, "r").await;
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!(d.attempts.len(), 2);
    assert_eq!(d.attempts[0].outcome.as_deref(), Some("rate_limited"));
    assert_eq!(d.attempts[0].http_status, Some(429));
    assert_eq!(d.attempts[1].outcome.as_deref(), Some("succeeded"));
    let waited = d.attempts[1].started_at - d.attempts[0].ended_at.expect("ended");
    assert!(
        waited >= 300,
        "retried after {waited} ms, Retry-After was 300 ms"
    );
    let kinds: Vec<_> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [LedgerKind::Reserve, LedgerKind::Charge],
        "one reservation across attempts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_cools_the_provider_down_for_its_other_jobs() {
    let provider = Scripted::new(
        vec![Err(err(FailureKind::RateLimited, Some(400)))],
        vec![],
        Outputs::Image,
    );
    // One job at a time: without a cooldown the second job would be sent
    // as soon as the first is requeued.
    let TestEnv {
        engine,
        data: _data,
        library: _library,
    } = common::env_with_provider_and(provider.clone(), Keys::memory(), |c| {
        c.default_concurrency = 1;
    });
    let a = engine
        .create_job(scripted_job("a"))
        .await
        .expect("create a");
    let b = engine
        .create_job(scripted_job("b"))
        .await
        .expect("create b");
    let ids = vec![a.id.clone(), b.id.clone()];
    engine
        .run_worker(RunUntil::Settled(ids))
        .await
        .expect("worker");
    for id in [&a.id, &b.id] {
        let d = engine.detail(id).await.expect("detail");
        assert_eq!(d.job.status, JobStatus::Completed, "{id}");
    }
    let times = provider.submit_times.lock().expect("lock").clone();
    assert_eq!(times.len(), 3, "a (429), then b and a's retry");
    for later in &times[1..] {
        let after = later.duration_since(times[0]);
        assert!(
            after >= Duration::from_millis(400),
            "a submit {after:?} after the 429 that asked for 400 ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credits_fails_at_once_and_releases_the_reservation() {
    let s = setup(Scripted::new(
        vec![Err(err(FailureKind::NoCredits, Some(5)))],
        vec![],
        Outputs::Image,
    ));
    let d = run(&s, "r").await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("no_credits"));
    assert_eq!(d.attempts.len(), 1, "never retried");
    assert_eq!(s.provider.submit_calls.load(Ordering::SeqCst), 1);
    let kinds: Vec<_> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_stop_at_max_attempts() {
    let always = (0..10)
        .map(|_| Err(err(FailureKind::Retryable, None)))
        .collect();
    let s = setup(Scripted::new(always, vec![], Outputs::Image));
    let d = run(&s, "r").await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("attempts_exhausted"));
    assert_eq!(d.attempts.len(), 3);
    assert_eq!(s.provider.submit_calls.load(Ordering::SeqCst), 3);
    let kinds: Vec<_> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_policy_refusal_fails_at_once() {
    let s = setup(Scripted::new(
        vec![Err(err(FailureKind::ContentPolicy, None))],
        vec![],
        Outputs::Image,
    ));
    let d = run(&s, "r").await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("content_policy"));
    assert_eq!(d.attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_poll_polls_again_and_never_resubmits() {
    let polls = vec![
        Err(err(FailureKind::Retryable, None)),
        Ok(Waiting::progress(Some(0.5))),
        Err(err(FailureKind::RateLimited, Some(50))),
        Ok(PollStatus::Done),
    ];
    let s = setup(Scripted::new(vec![], polls, Outputs::Image));
    let d = run(&s, "r").await;
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!(
        s.provider.submit_calls.load(Ordering::SeqCst),
        1,
        "a poll error must not pay twice"
    );
    assert_eq!(d.attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_does_not_decode_fails_the_job_and_writes_nothing() {
    let s = setup(Scripted::new(vec![], vec![], Outputs::Garbage));
    let d = run(&s, "r").await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("invalid_image"));
    assert!(d.job.error_message.as_deref().unwrap_or_default().len() > 10);
    assert!(d.assets.is_empty());
    assert!(files(s.library.path()).is_empty());
    let kinds: Vec<_> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_that_disappears_mid_job_delays_the_save_and_loses_nothing() {
    let t = env();
    let job = t
        .engine
        .create_job(new_job("lib", "a barn in the rain"))
        .await
        .expect("create");
    let lib = t.library.path().to_path_buf();
    std::fs::remove_dir(&lib).expect("unplug");
    let engine = t.engine.clone();
    let id = job.id.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Settled(vec![id])).await });
    wait_until_saving_waits_for_the_library(&t.engine, &job.id).await;
    std::fs::create_dir(&lib).expect("plug back in");
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("done")
        .expect("join")
        .expect("run");
    let d = t.engine.detail(&job.id).await.expect("detail");
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!(files(&lib).len(), 1);
    assert_eq!(d.attempts.len(), 1, "saving again never resubmits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_database_run_each_job_once_within_the_limit() {
    let t = common::env_with(|c| {
        c.offline.latency_ms = 150;
        c.concurrency.insert("offline".into(), 1);
    });
    // A second engine on the same files stands for a second process.
    let mut config2 = fast_config(t.data.path(), t.library.path());
    config2.offline.latency_ms = 150;
    config2.concurrency.insert("offline".into(), 1);
    let second = Engine::open(config2).expect("second engine");
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(
            t.engine
                .create_job(new_job(&format!("p{i}"), "pines"))
                .await
                .expect("create")
                .id,
        );
    }
    let (a, b) = tokio::join!(
        t.engine.run_worker(RunUntil::Idle),
        second.run_worker(RunUntil::Idle)
    );
    a.expect("worker a");
    b.expect("worker b");
    for id in &ids {
        let d = t.engine.detail(id).await.expect("detail");
        assert_eq!(d.job.status, JobStatus::Completed);
        assert_eq!(d.attempts.len(), 1, "job {id} ran more than once");
        assert_eq!(d.assets.len(), 1);
    }
    assert_eq!(files(t.library.path()).len(), 4);
    // Never more than one running at a time (limit 1), judged from the
    // global change log: each job's running span must not overlap another's.
    let mut spans = Vec::new();
    for id in &ids {
        let d = t.engine.detail(id).await.expect("detail");
        let start = d
            .timeline
            .iter()
            .find(|e| e.to_status == JobStatus::Submitting)
            .map(|e| e.seq);
        let end = d
            .timeline
            .iter()
            .find(|e| e.to_status == JobStatus::Completed)
            .map(|e| e.seq);
        spans.push((start.expect("start"), end.expect("end")));
    }
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 < w[1].0, "running spans overlap: {spans:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_jobs_beyond_the_limit_resume_as_slots_free_before_queued_ones() {
    use easel_engine::jobs::transitions as t;
    use easel_engine::store::{now_ms, Store};
    let limit = 2;
    let env = common::env_with(|c| {
        c.offline.latency_ms = 100;
        c.concurrency.insert("offline".into(), limit);
    });
    let mut ids = Vec::new();
    for i in 0..5 {
        let job = env
            .engine
            .create_job(new_job(&format!("r{i}"), "harbor"))
            .await;
        ids.push(job.expect("create").id);
    }
    // A worker that ran four of them at once (a higher limit then) died:
    // its leases have lapsed.
    let store = Store::open(&env.engine.config().db_path(), Duration::from_secs(5)).expect("store");
    for _ in 0..4 {
        let now = now_ms();
        store
            .write(|tx| t::claim(tx, "offline", 10, "dead-worker", now, now))
            .expect("claim")
            .expect("claimed");
    }
    drop(store);
    env.engine.run_worker(RunUntil::Idle).await.expect("run");

    // Running spans in the global change order: from the claim or takeover
    // that started the job here to its completion.
    let mut edges = Vec::new();
    let mut queued_start = 0;
    let mut resumed = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let d = env.engine.detail(id).await.expect("detail");
        assert_eq!(d.job.status, JobStatus::Completed, "{:?}", d.timeline);
        let start = d
            .timeline
            .iter()
            .filter(|e| {
                e.detail.contains("resumed by") || (i == 4 && e.detail.starts_with("claimed"))
            })
            .map(|e| e.seq)
            .next_back()
            .expect("started here");
        let end = d.timeline.last().expect("entries").seq;
        edges.push((start, 1i32));
        edges.push((end, -1));
        if i == 4 {
            queued_start = start;
        } else {
            resumed.push(start);
        }
    }
    edges.sort();
    let (mut running, mut most) = (0, 0);
    for (_, step) in edges {
        running += step;
        most = most.max(running);
    }
    assert!(most <= limit as i32, "{most} ran at once, limit {limit}");
    assert!(
        resumed.iter().all(|&s| s < queued_start),
        "a queued job started before an interrupted one resumed: {resumed:?} vs {queued_start}"
    );
    let mut in_order = resumed.clone();
    in_order.sort();
    assert_eq!(resumed, in_order, "interrupted jobs resume oldest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_over_the_pixel_limit_fails_with_the_reason() {
    let t = common::env_with(|c| c.image_limits.max_pixels = 1_000);
    let job = t
        .engine
        .create_job(new_job("big", "too big"))
        .await
        .expect("create");
    let d = common::settle(&t.engine, &job.id).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("invalid_image"));
    let msg = d.job.error_message.unwrap_or_default();
    assert!(
        msg.contains("128") && msg.contains("96"),
        "reason should name the size: {msg}"
    );
    assert!(files(t.library.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_a_running_job_stops_it_and_releases_its_reservation() {
    let t = common::env_with(|c| {
        c.offline.latency_ms = 60_000;
        c.lease_ms = 300;
    });
    let job = t
        .engine
        .create_job(new_job("run", "slow"))
        .await
        .expect("create");
    let engine = t.engine.clone();
    let id = job.id.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Forever).await });
    common::wait_for_status(&t.engine, &id, JobStatus::Processing).await;
    let canceled = t.engine.cancel(&id).await.expect("cancel");
    assert_eq!(canceled.status, JobStatus::Canceled);
    // Give the worker a few heartbeats to notice; nothing may change after.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let d = t.engine.detail(&id).await.expect("detail");
    assert_eq!(d.job.status, JobStatus::Canceled);
    assert_eq!(d.attempts[0].outcome.as_deref(), Some("canceled"));
    let kinds: Vec<_> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Release]);
    assert!(files(t.library.path()).is_empty());
    worker.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_exit_hands_running_jobs_to_the_next_start_at_once() {
    // A lease far longer than the test may take: only a release lets the
    // second engine take the job over in time.
    let t = common::env_with(|c| {
        c.offline.latency_ms = 1_500;
        c.lease_ms = 600_000;
    });
    let job = t
        .engine
        .create_job(new_job("quit", "a quiet exit"))
        .await
        .expect("create");
    let engine = t.engine.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Forever).await });
    common::wait_for_status(&t.engine, &job.id, JobStatus::Processing).await;
    assert_eq!(t.engine.release_leases().await.expect("release"), 1);
    worker.abort();

    let mut config = fast_config(t.data.path(), t.library.path());
    config.offline.latency_ms = 1_500;
    config.lease_ms = 600_000;
    let next = Engine::open(config).expect("next start");
    let d = tokio::time::timeout(Duration::from_secs(20), common::settle(&next, &job.id))
        .await
        .expect("taken over at once, not after the lease");
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!(d.job.crash_count, 0, "a clean exit is not a crash");
    assert_eq!(
        d.attempts.len(),
        1,
        "resumed by polling, not submitted again"
    );
    assert_eq!(d.assets.len(), 1);
}

fn two_image_job(rid: &str) -> NewJob {
    NewJob {
        count: 2,
        ..scripted_job(rid)
    }
}

/// Every file under the data folder's thumbnail cache.
fn thumbnails(s: &Setup) -> Vec<std::path::PathBuf> {
    files(&s.data.path().join("cache"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_later_output_fails_the_job_and_keeps_none_of_the_earlier_ones() {
    let s = setup(Scripted::new(vec![], vec![], Outputs::LastGarbage));
    let job = s
        .engine
        .create_job(two_image_job("k"))
        .await
        .expect("create");
    let d = common::settle(&s.engine, &job.id).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("invalid_image"));
    assert!(d.assets.is_empty());
    // Output 0 was stored before output 1 failed: it must not stay behind.
    assert_eq!(files(s.library.path()), Vec::<std::path::PathBuf>::new());
    assert_eq!(thumbnails(&s), Vec::<std::path::PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_images_than_requested_fail_clearly_and_store_nothing() {
    let s = setup(Scripted::new(vec![], vec![], Outputs::OneShort));
    let job = s
        .engine
        .create_job(two_image_job("short"))
        .await
        .expect("create");
    let d = common::settle(&s.engine, &job.id).await;
    assert_eq!(d.job.status, JobStatus::Failed, "{:?}", d.timeline);
    assert_eq!(d.job.error_code.as_deref(), Some("wrong_output_count"));
    let message = d.job.error_message.unwrap_or_default();
    assert!(
        message.contains("returned 1 image for a request of 2"),
        "{message}"
    );
    assert!(files(s.library.path()).is_empty());
    let kinds: Vec<LedgerKind> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_that_keeps_waiting_is_held_with_the_reason_then_resumes() {
    let t = common::env_with(|c| {
        c.backoff_base_ms = 5;
        c.backoff_max_ms = 40;
        c.save_hold_after_ms = 2_500;
    });
    let job = t
        .engine
        .create_job(new_job("held-save", "a pier at low tide"))
        .await
        .expect("create");
    let lib = t.library.path().to_path_buf();
    std::fs::remove_dir(&lib).expect("unplug");
    let d = common::settle(&t.engine, &job.id).await;
    assert!(d.job.held, "held after waiting: {:?}", d.timeline);
    assert_eq!(d.job.status, JobStatus::Saving);
    assert_eq!(d.job.error_code.as_deref(), Some("library_unavailable"));
    let reason = d.job.error_message.clone().unwrap_or_default();
    assert!(reason.contains("library folder unavailable"), "{reason}");
    // Many tries, one timeline line that counts them (not one line each).
    let waits: Vec<&str> = d
        .timeline
        .iter()
        .map(|e| e.detail.as_str())
        .filter(|l| l.starts_with("could not save yet"))
        .collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(waits[0].contains("times"), "{waits:?}");
    // The app lists it among held jobs, with the reason.
    let report = t.engine.startup_report().await.expect("report");
    assert!(report.held.iter().any(|j| j.id == job.id));
    // Fixed: resume, and nothing was lost.
    std::fs::create_dir(&lib).expect("plug back in");
    t.engine.retry(&job.id).await.expect("resume");
    let d = common::settle(&t.engine, &job.id).await;
    assert_eq!(d.job.status, JobStatus::Completed, "{:?}", d.timeline);
    assert_eq!(files(&lib).len(), 1);
    assert_eq!(d.attempts.len(), 1, "resuming a save never resubmits");
}

/// The files left in the staging area.
fn staged_files(s: &Setup) -> Vec<std::path::PathBuf> {
    files(&s.data.path().join("staging"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_are_staged_when_the_provider_finishes_so_expiring_urls_survive_a_waiting_save() {
    // The result URLs work once; saving has to wait for the library.
    let s = setup(Scripted::with(vec![], vec![], Outputs::Image, |p| {
        p.fetches_before_expiry = 1;
    }));
    let job = s
        .engine
        .create_job(scripted_job("stage"))
        .await
        .expect("create");
    let lib = s.library.path().to_path_buf();
    std::fs::remove_dir(&lib).expect("unplug the library");
    let engine = s.engine.clone();
    let id = job.id.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Settled(vec![id])).await });
    wait_until_saving_waits_for_the_library(&s.engine, &job.id).await;
    // Several more tries (the backoff starts at 10 ms, capped at 50 ms).
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!staged_files(&s).is_empty(), "the outputs wait in staging");
    std::fs::create_dir(&lib).expect("plug it back in");
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("done")
        .expect("join")
        .expect("run");
    let d = s.engine.detail(&job.id).await.expect("detail");
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    assert_eq!(
        s.provider.fetch_calls.load(Ordering::SeqCst),
        1,
        "fetched once, at the finish"
    );
    assert_eq!(files(&lib).len(), 1);
    assert!(
        staged_files(&s).is_empty(),
        "staging is emptied once stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_synchronous_provider_answers_with_the_images_and_is_asked_nothing_more() {
    let s = setup(Scripted::with(vec![], vec![], Outputs::Image, |p| {
        p.synchronous = true;
    }));
    let d = run(&s, "sync").await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    assert_eq!(s.provider.submit_calls.load(Ordering::SeqCst), 1);
    assert_eq!(s.provider.poll_calls.load(Ordering::SeqCst), 0, "no poll");
    assert_eq!(
        s.provider.fetch_calls.load(Ordering::SeqCst),
        0,
        "no download"
    );
    assert_eq!(d.assets.len(), 1);
    // The seed the provider reported is the one embedded in the image.
    let image = std::fs::read(&d.assets[0].path).expect("image");
    assert!(
        common::contains(&image, "Seed: 9000,"),
        "the provider's seed is embedded"
    );
    assert!(staged_files(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_svg_output_is_refused_before_it_is_kept() {
    let s = setup(Scripted::new(vec![], vec![], Outputs::Svg));
    let d = run(&s, "svg").await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("invalid_image"));
    let why = d.job.error_message.as_deref().unwrap_or_default();
    assert!(why.contains("not a PNG, JPEG or WebP"), "{why}");
    assert!(files(s.library.path()).is_empty());
    assert!(staged_files(&s).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_outputs_of_a_job_canceled_while_saving_are_removed_at_the_next_start() {
    let s = setup(Scripted::new(vec![], vec![], Outputs::Image));
    let job = s
        .engine
        .create_job(scripted_job("cancel-staged"))
        .await
        .expect("create");
    std::fs::remove_dir(s.library.path()).expect("unplug the library");
    let engine = s.engine.clone();
    let id = job.id.clone();
    let worker = tokio::spawn(async move { engine.run_worker(RunUntil::Settled(vec![id])).await });
    for _ in 0..500 {
        if !staged_files(&s).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!staged_files(&s).is_empty(), "staged while the save waits");
    let canceled = s.engine.cancel(&job.id).await.expect("cancel");
    assert_eq!(canceled.status, JobStatus::Canceled);
    tokio::time::timeout(Duration::from_secs(60), worker)
        .await
        .expect("done")
        .expect("join")
        .expect("run");
    // The next start sweeps what no runner will ever use.
    s.engine.run_worker(RunUntil::Idle).await.expect("worker");
    assert!(staged_files(&s).is_empty(), "{:?}", staged_files(&s));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_whose_answer_is_lost_is_found_at_the_provider_not_sent_again() {
    let s = setup(Scripted::with(
        vec![Err(err(FailureKind::Unknown, None))],
        vec![],
        Outputs::Image,
        |p| p.findable = true,
    ));
    let d = run(&s, "lost").await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    assert_eq!(
        s.provider.submit_calls.load(Ordering::SeqCst),
        1,
        "sent once"
    );
    assert_eq!(s.provider.find_calls.load(Ordering::SeqCst), 1);
    assert_eq!(d.attempts.len(), 1, "the same attempt");
    assert!(
        d.timeline.iter().any(|t| t
            .detail
            .contains("found at the provider after an unanswered submit")),
        "{:?}",
        d.timeline
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_submit_a_provider_cannot_find_is_resent_once_and_marked_a_possible_duplicate() {
    let s = setup(Scripted::new(
        vec![Err(err(FailureKind::Unknown, None))],
        vec![],
        Outputs::Image,
    ));
    let d = run(&s, "dup").await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    assert_eq!(s.provider.submit_calls.load(Ordering::SeqCst), 2);
    assert_eq!(d.attempts.len(), 1, "the same attempt, not a new run");
    assert!(
        d.timeline
            .iter()
            .any(|t| t.detail.contains("possible duplicate")),
        "{:?}",
        d.timeline
    );
    let kinds: Vec<_> = d.ledger.iter().map(|l| l.kind).collect();
    assert_eq!(kinds, [LedgerKind::Reserve, LedgerKind::Charge]);
}

/// Wait until job `id` waits in `saving` for a missing library folder.
async fn wait_until_saving_waits_for_the_library(engine: &Engine, id: &str) {
    for _ in 0..500 {
        let j = engine.get(id).await.expect("get");
        let missing = j
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("does not exist"));
        if j.status == JobStatus::Saving && missing {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the job should wait in saving while the library is missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_the_provider_finished_is_charged_even_if_saving_fails_and_a_retry_is_charged_again()
{
    let s = setup(Scripted::new(vec![], vec![], Outputs::Truncated));
    let d = run(&s, "billed").await;
    assert_eq!(d.job.status, JobStatus::Failed, "{:?}", d.timeline);
    assert_eq!(d.job.error_code.as_deref(), Some("invalid_image"));
    // The provider billed when it finished: the run is charged, not
    // released, although no image could be kept.
    let entries = |d: &easel_engine::JobDetail| -> Vec<(u32, LedgerKind)> {
        d.ledger.iter().map(|l| (l.run, l.kind)).collect()
    };
    assert_eq!(
        entries(&d),
        [(1, LedgerKind::Reserve), (1, LedgerKind::Charge)]
    );
    // A retry is a new generation, paid again: run 2 has its own charge.
    s.engine.retry(&d.job.id).await.expect("retry");
    let d = common::settle(&s.engine, &d.job.id).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(
        entries(&d),
        [
            (1, LedgerKind::Reserve),
            (1, LedgerKind::Charge),
            (2, LedgerKind::Reserve),
            (2, LedgerKind::Charge)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_provider_says_while_queued_reaches_the_job_and_goes_when_it_finishes() {
    let said = |position: u32| {
        Ok(PollStatus::Pending(Waiting {
            queue_position: Some(position),
            message: Some(format!("{position} ahead in the queue")),
            ..Waiting::default()
        }))
    };
    let polls = vec![
        said(2),
        said(2),
        said(0),
        Ok(Waiting::progress(Some(0.5))),
        Ok(PollStatus::Done),
    ];
    let s = setup(Scripted::new(vec![], polls, Outputs::Image));
    let mut events = s.engine.subscribe();
    let d = run(&s, "queued").await;
    assert_eq!(d.job.status, JobStatus::Completed);
    assert_eq!((d.job.queue_position, d.job.provider_message), (None, None));
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.job.id == d.job.id && e.job.status == JobStatus::Processing {
            seen.push((e.job.queue_position, e.job.provider_message.clone()));
        }
    }
    // Each change is published once (the repeated answer is not), and the
    // queue position goes once the provider reports progress instead.
    let said: Vec<_> = seen.iter().filter(|s| s.0.is_some()).cloned().collect();
    assert_eq!(
        said,
        [
            (Some(2), Some("2 ahead in the queue".to_string())),
            (Some(0), Some("0 ahead in the queue".to_string()))
        ],
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&(None, None)), "{seen:?}");
}
