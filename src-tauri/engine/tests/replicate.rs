//! Replicate through the engine against the emulator (a real HTTP server on
//! 127.0.0.1 speaking Replicate's documented API): predictions held with
//! `Prefer: wait` or polled, any `owner/name` model, reconciliation by
//! listing after a lost answer, expired file URLs, cancel, and signed
//! webhooks. The emulator counts generations per prompt, so each test says
//! how many predictions Replicate ran (and billed).

mod common;

use common::{files_containing, new_job};
use easel_emulator::{replicate, Fault};
use easel_engine::{Config, Engine, JobDetail, JobStatus, Keys, LedgerKind, NewJob, RunUntil};
use std::time::Duration;

const KEY: &str = "r8_EmuTest4242abcdefgh";

struct Setup {
    engine: Engine,
    emu: replicate::Running,
    data: tempfile::TempDir,
    library: tempfile::TempDir,
}

async fn setup(tweak: impl FnOnce(&mut Config)) -> Setup {
    let emu = replicate::start(KEY, 0).await.expect("emulator");
    let data = tempfile::tempdir().expect("data");
    let library = tempfile::tempdir().expect("library");
    let mut config = common::fast_config(data.path(), library.path());
    config
        .base_urls
        .insert("replicate".into(), emu.base_url.clone());
    config.provider_timeout_ms = 2_000;
    tweak(&mut config);
    let registry = easel_engine::providers::Registry::from_config(&config);
    let engine = Engine::open_with(config, registry, Keys::memory()).expect("engine");
    engine.set_api_key("replicate", KEY).await.expect("key");
    Setup {
        engine,
        emu,
        data,
        library,
    }
}

fn job(model: &str, prompt: &str, count: u32) -> NewJob {
    NewJob {
        provider: Some("replicate".into()),
        model: Some(model.into()),
        width: 512,
        height: 512,
        count,
        ..new_job(&format!("rid-{prompt}"), prompt)
    }
}

const SCHNELL: &str = "black-forest-labs/flux-schnell";
const DEV: &str = "black-forest-labs/flux-dev";

async fn run(s: &Setup, job: NewJob) -> JobDetail {
    let job = s.engine.create_job(job).await.expect("create");
    settle(s, &job.id).await
}

async fn settle(s: &Setup, id: &str) -> JobDetail {
    tokio::time::timeout(
        Duration::from_secs(60),
        s.engine.run_worker(RunUntil::Settled(vec![id.to_string()])),
    )
    .await
    .expect("settles in time")
    .expect("worker");
    s.engine.detail(id).await.expect("detail")
}

fn said(d: &JobDetail, text: &str) -> bool {
    d.timeline.iter().any(|t| t.detail.contains(text))
}

fn ledger(d: &JobDetail) -> Vec<LedgerKind> {
    d.ledger.iter().map(|l| l.kind).collect()
}

fn completed(d: &JobDetail) {
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}: {:?}",
        d.job.error_code,
        d.job.error_message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_model_answers_within_prefer_wait_and_is_stored_at_its_real_size() {
    let s = setup(|_| {}).await;
    let d = run(&s, job(SCHNELL, "a red kite over dunes", 2)).await;
    completed(&d);
    assert_eq!(d.assets.len(), 2);
    for a in &d.assets {
        let bytes = std::fs::read(&a.path).expect("stored image");
        let img = image::load_from_memory(&bytes).expect("decodes");
        // FLUX takes an aspect ratio and megapixels, not a size: 512×512
        // is 1:1 at 0.25 MP, and the size that came back is recorded.
        assert_eq!((img.width(), img.height()), (512, 512));
        assert_eq!((a.width, a.height), (512, 512));
        // The embedded metadata gives the size made, and no seed for a
        // batch (Replicate does not say which seed made which image).
        let text = common::parameters_text(&bytes);
        assert!(
            text.contains("\nSize: 512x512, Model: black-forest-labs/flux-schnell"),
            "{text}"
        );
    }
    assert_eq!(s.emu.script.generations("a red kite over dunes"), 1);
    let requests = s.emu.script.requests();
    assert_eq!(
        requests[0],
        "POST /v1/models/black-forest-labs/flux-schnell/predictions auth=ok"
    );
    // Done within `Prefer: wait`: no poll, the two files fetched at once.
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Charge]);
    assert!(
        files_containing(&[s.data.path(), s.library.path()], KEY).is_empty(),
        "the token is in no file"
    );
    assert!(!format!("{d:?}").contains(KEY), "nor in the job's record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_model_is_polled_until_it_succeeds() {
    let s = setup(|_| {}).await;
    // "starting" (a cold boot) for the first third, then "processing".
    s.emu.control.set_processing(Duration::from_millis(2400));
    let mut events = s.engine.subscribe();
    let d = run(&s, job(DEV, "a lighthouse in fog", 1)).await;
    completed(&d);
    // While Replicate boots the model, the job says so.
    let mut messages = Vec::new();
    while let Ok(e) = events.try_recv() {
        if e.job.status == JobStatus::Processing {
            messages.push(e.job.provider_message.clone());
        }
    }
    assert!(
        messages.contains(&Some("Starting: Replicate is booting the model".into())),
        "{messages:?}"
    );
    assert_eq!(d.job.provider_message, None);
    let id = &s.emu.predictions_for("a lighthouse in fog")[0];
    // The model's settings went as its input: 512×512 is 1:1 at 0.25 MP,
    // with FLUX.1 [dev]'s default steps.
    let input = s.emu.input_of(id).expect("input");
    for (name, value) in [
        ("aspect_ratio", serde_json::json!("1:1")),
        ("megapixels", serde_json::json!("0.25")),
        ("num_inference_steps", serde_json::json!(28)),
        ("go_fast", serde_json::json!(true)),
        ("output_format", serde_json::json!("png")),
    ] {
        assert_eq!(input[name], value, "{name} in {input}");
    }
    assert!(input.get("negative_prompt").is_none(), "{input}");
    let polls = s
        .emu
        .script
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("GET /v1/predictions/{id} ")))
        .count();
    assert!(polls >= 2, "polled {polls} times");
    assert!(said(&d, "accepted by the provider"), "{:?}", d.timeline);
    assert_eq!(s.emu.script.generations("a lighthouse in fog"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_owner_and_model_is_taken_as_typed_and_a_malformed_id_is_refused() {
    let s = setup(|_| {}).await;
    let d = run(
        &s,
        NewJob {
            seed: Some(77),
            ..job("someone/tiny-sd", "a paper boat", 1)
        },
    )
    .await;
    completed(&d);
    let text = common::parameters_text(&std::fs::read(&d.assets[0].path).expect("image"));
    assert!(text.contains("Seed: 77, Size: 512x512"), "{text}");
    assert_eq!(d.job.model, "someone/tiny-sd");
    assert_eq!((d.assets[0].width, d.assets[0].height), (512, 512));

    let refused = s.engine.create_job(job("tiny-sd", "no owner", 1)).await;
    assert!(
        matches!(refused, Err(easel_engine::EngineError::UnknownModel { .. })),
        "{refused:?}"
    );
    // A model Replicate does not have fails with its answer, not a retry.
    let d = run(&s, job("missing/model", "nobody home", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("not_found"));
    assert_eq!(s.emu.script.generations("nobody home"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_submit_answer_is_found_by_listing_and_never_run_twice() {
    for (fault, prompt) in [
        (Fault::AcceptThenHang, "a clock with no hands"),
        (Fault::AcceptThenReset, "a bridge of glass"),
        (Fault::MalformedJson, "a library underwater"),
    ] {
        let s = setup(|c| c.provider_timeout_ms = 1_000).await;
        // Other predictions around it, on more than one page of the list.
        s.emu.control.set_page_size(2);
        s.emu.script.push(fault.clone());
        let d = run(&s, job(DEV, prompt, 1)).await;
        completed(&d);
        assert_eq!(s.emu.script.generations(prompt), 1, "{fault:?}");
        assert!(
            said(&d, "found at the provider after an unanswered submit"),
            "{fault:?}: {:?}",
            d.timeline
        );
        assert!(!said(&d, "possible duplicate"), "{fault:?}");
        assert_eq!(d.attempts.len(), 1, "{fault:?}");
        assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Charge]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_fails_is_asked_again_not_taken_as_an_answer() {
    let s = setup(|c| c.provider_timeout_ms = 1_000).await;
    s.emu.script.push(Fault::AcceptThenHang);
    s.emu.control.fail_lists(1);
    let d = run(&s, job(DEV, "a patient question", 1)).await;
    completed(&d);
    assert!(said(&d, "found at the provider"), "{:?}", d.timeline);
    assert_eq!(s.emu.script.generations("a patient question"), 1);
    let lists = s
        .emu
        .script
        .requests()
        .iter()
        .filter(|r| r.starts_with("GET /v1/predictions auth"))
        .count();
    assert_eq!(lists, 2, "the failed listing was asked again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_matches_the_exact_input_among_many_predictions() {
    let s = setup(|c| c.provider_timeout_ms = 1_000).await;
    s.emu.control.set_page_size(2);
    // Two earlier jobs with the same prompt but other seeds, then the lost one.
    for seed in [1, 2] {
        let d = run(
            &s,
            NewJob {
                seed: Some(seed),
                request_id: format!("earlier-{seed}"),
                ..job(DEV, "the same words", 1)
            },
        )
        .await;
        completed(&d);
    }
    s.emu.script.push(Fault::AcceptThenHang);
    let d = run(
        &s,
        NewJob {
            seed: Some(3),
            ..job(DEV, "the same words", 1)
        },
    )
    .await;
    completed(&d);
    assert_eq!(s.emu.script.generations("the same words"), 3);
    assert!(said(&d, "found at the provider"), "{:?}", d.timeline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_file_url_is_refreshed_through_the_prediction() {
    for model in [SCHNELL, DEV] {
        let s = setup(|_| {}).await;
        s.emu.script.push(Fault::ExpiredUrl);
        let prompt = format!("a tide pool ({model})");
        let d = run(&s, job(model, &prompt, 1)).await;
        completed(&d);
        let requests = s.emu.script.requests();
        let files = requests
            .iter()
            .filter(|r| r.starts_with("GET /v1/files/"))
            .count();
        assert_eq!(files, 2, "one expired, one fresh: {requests:?}");
        assert_eq!(s.emu.script.generations(&prompt), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_replicate_no_longer_has_fail_clearly() {
    let s = setup(|_| {}).await;
    s.emu.script.push(Fault::DataRemoved);
    let d = run(&s, job(DEV, "a message in a bottle", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("not_found"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(why.contains("deleted this prediction's outputs"), "{why}");
    assert!(common::files(s.library.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_failure_is_the_job_failure_and_nsfw_reads_as_content_policy() {
    let s = setup(|_| {}).await;
    s.emu.script.push(Fault::ModelFails(
        "NSFW content detected. Try running it again, or try a different prompt.".into(),
    ));
    let d = run(&s, job(DEV, "something flagged", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("content_policy"));
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Release]);

    s.emu
        .script
        .push(Fault::ModelFails("CUDA out of memory".into()));
    let d = run(&s, job(DEV, "too big to run", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("provider_error"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(why.contains("CUDA out of memory"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_waits_and_no_credit_fails_with_what_to_do() {
    let s = setup(|_| {}).await;
    s.emu.script.push(Fault::rate_limited(
        1,
        r#"{"detail":"Request was throttled. Your rate limit resets in ~1s.","status":429}"#,
    ));
    let d = run(&s, job(SCHNELL, "a crowded market", 1)).await;
    completed(&d);
    assert_eq!(d.attempts[0].outcome.as_deref(), Some("rate_limited"));
    assert_eq!(s.emu.script.generations("a crowded market"), 1);

    s.emu.script.push(Fault::Status {
        status: 402,
        body: r#"{"title":"Insufficient credit","detail":"You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing to purchase credit.","status":402}"#.into(),
        headers: vec![("content-type".into(), "application/problem+json".into())],
    });
    let d = run(&s, job(SCHNELL, "an empty purse", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("no_credits"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(why.starts_with("out of credits at Replicate"), "{why}");
    assert_eq!(d.attempts.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_fails_with_the_reason_and_is_never_shown() {
    let s = setup(|_| {}).await;
    s.engine
        .set_api_key("replicate", "r8_Revoked000000zzzz")
        .await
        .expect("key");
    let d = run(&s, job(SCHNELL, "a closed gate", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("auth"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(why.contains("Replicate"), "{why}");
    assert!(!why.contains("Revoked000000"), "{why}");
    let ok = s
        .engine
        .test_api_key("replicate", Some(KEY))
        .await
        .expect("test");
    assert!(ok.ok, "{}", ok.message);
    assert_eq!(
        s.emu.script.requests().last().map(String::as_str),
        Some("GET /v1/account auth=ok")
    );
}

/// Run a worker, cancel `id` once `ready` says so, and keep the worker
/// running until Replicate has received the cancel for `prompt`'s
/// prediction (cancels are sent by the worker's cancel service). Returns
/// that prediction's id.
async fn cancel_when(
    s: &Setup,
    id: &str,
    prompt: &str,
    ready: impl Fn(&easel_engine::JobSummary) -> bool,
) -> String {
    let worker = s.engine.run_worker(RunUntil::Forever);
    let steer = async {
        loop {
            let j = s.engine.get(id).await.expect("get");
            if ready(&j) {
                s.engine.cancel(id).await.expect("cancel");
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let prediction = loop {
            let found = s.emu.predictions_for(prompt);
            if let Some(p) = found.first().filter(|p| s.emu.cancels(p) >= 1) {
                break p.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        s.engine.stop();
        prediction
    };
    let (done, prediction) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(worker, steer)
    })
    .await
    .expect("in time");
    done.expect("worker");
    prediction
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_while_processing_cancels_the_prediction_at_replicate() {
    let s = setup(|_| {}).await;
    s.emu.control.set_processing(Duration::from_secs(30));
    let created = s
        .engine
        .create_job(job(DEV, "a long exposure", 1))
        .await
        .expect("create");
    let prediction = cancel_when(&s, &created.id, "a long exposure", |j| {
        j.status == JobStatus::Processing
    })
    .await;
    let d = s.engine.detail(&created.id).await.expect("detail");
    assert_eq!(d.job.status, JobStatus::Canceled);
    assert_eq!(s.emu.cancels(&prediction), 1);
    assert_eq!(s.emu.status(&prediction).as_deref(), Some("canceled"));
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_that_never_finishes_fails_at_the_deadline_and_is_canceled() {
    let s = setup(|c| {
        c.processing_deadlines_ms.insert("replicate".into(), 1_500);
    })
    .await;
    s.emu.control.set_processing(Duration::from_secs(60));
    let d = run(&s, job(DEV, "a kettle that never boils", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("provider_timeout"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(
        why.contains("replicate did not finish the job within 1 s"),
        "{why}"
    );
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Release]);
    // Polled at Replicate's pace (a second), not the configured 10 ms.
    let prediction = s.emu.predictions_for("a kettle that never boils")[0].clone();
    let polls = s
        .emu
        .script
        .requests()
        .iter()
        .filter(|r| r.starts_with(&format!("GET /v1/predictions/{prediction} ")))
        .count();
    assert!((1..=3).contains(&polls), "polled {polls} times in 1.5 s");
    // The owed cancel goes out while a worker runs.
    let worker = s.engine.run_worker(RunUntil::Forever);
    let watch = async {
        for _ in 0..500 {
            if s.emu.cancels(&prediction) >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        s.engine.stop();
    };
    let (done, ()) = tokio::join!(worker, watch);
    done.expect("worker");
    assert_eq!(s.emu.status(&prediction).as_deref(), Some("canceled"));
}

/// A free port on 127.0.0.1 for the webhook receiver (its public URL must
/// be known before the engine starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn webhook_setup() -> Setup {
    let port = free_port();
    setup(|c| {
        c.webhooks.enabled = true;
        c.webhooks.port = port;
        c.webhooks.public_url = Some(format!("http://127.0.0.1:{port}"));
        // Only a webhook can finish these jobs within the test's time.
        c.poll_interval_ms = 600_000;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webhook_wakes_the_runner_and_duplicates_and_forgeries_change_nothing() {
    let s = webhook_setup().await;
    s.emu.control.set_processing(Duration::from_millis(300));
    s.emu.script.push(Fault::ForgedWebhook);
    let first = tokio::time::timeout(Duration::from_secs(20), run(&s, job(DEV, "a heron", 1)))
        .await
        .expect("the webhook, not the 10-minute poll, finished it");
    completed(&first);
    let requests = s.emu.script.requests();
    assert!(
        requests.iter().any(|r| r == "webhook forged -> Ok(401)"),
        "{requests:?}"
    );
    let prediction = &s.emu.predictions_for("a heron")[0];
    assert!(
        requests
            .iter()
            .any(|r| r == &format!("webhook msg_{prediction} -> Ok(200)")),
        "{requests:?}"
    );
    assert_eq!(s.emu.script.generations("a heron"), 1);

    s.emu.script.push(Fault::DuplicateWebhook);
    let second = tokio::time::timeout(Duration::from_secs(20), run(&s, job(DEV, "two herons", 1)))
        .await
        .expect("in time");
    completed(&second);
    // The second delivery is acknowledged and recorded as a duplicate.
    for _ in 0..200 {
        let status = s.engine.webhook_status();
        if status
            .last_delivery
            .as_ref()
            .is_some_and(|d| d.outcome == "duplicate")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status = s.engine.webhook_status();
    assert!(status.enabled);
    let last = status.last_delivery.expect("a delivery");
    assert_eq!(last.outcome, "duplicate");
    assert_eq!(last.job_id.as_deref(), Some(second.job.id.as_str()));
    assert_eq!(
        second
            .ledger
            .iter()
            .filter(|l| l.kind == LedgerKind::Charge)
            .count(),
        1
    );
    assert_eq!(s.emu.script.generations("two herons"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_racing_fast_polling_settle_each_job_once() {
    let port = free_port();
    let s = setup(|c| {
        c.webhooks.enabled = true;
        c.webhooks.port = port;
        c.webhooks.public_url = Some(format!("http://127.0.0.1:{port}"));
    })
    .await;
    s.emu.control.set_processing(Duration::from_millis(200));
    for i in 0..4 {
        // Every other one also delivered twice.
        if i % 2 == 0 {
            s.emu.script.push(Fault::DuplicateWebhook);
        }
        let prompt = format!("a race {i}");
        let d = run(&s, job(DEV, &prompt, 1)).await;
        completed(&d);
        assert_eq!(d.assets.len(), 1);
        assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Charge]);
        let stored: Vec<_> = d
            .timeline
            .iter()
            .filter(|t| t.detail.starts_with("stored"))
            .collect();
        assert_eq!(stored.len(), 1, "{:?}", d.timeline);
        assert_eq!(s.emu.script.generations(&prompt), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_refuses_unsigned_stale_forged_and_oversized_deliveries() {
    let s = webhook_setup().await;
    let engine = &s.engine;
    let worker = engine.run_worker(RunUntil::Forever);
    let probe = async {
        let addr = loop {
            if let Some(a) = engine.webhook_status().listening {
                break a;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let url = format!("http://{addr}/webhooks/replicate?job=j1&attempt=1");
        let client = reqwest::Client::new();
        let body = r#"{"id":"p1","status":"succeeded"}"#;
        let now = chrono::Utc::now().timestamp();
        let signed = |ts: i64, body: &str| {
            easel_emulator::signing::sign(
                replicate::WEBHOOK_SECRET,
                "msg_1",
                &ts.to_string(),
                body.as_bytes(),
            )
        };
        let send = |ts: Option<i64>, sig: Option<String>, body: String| {
            let mut r = client.post(&url).body(body);
            if let Some(ts) = ts {
                r = r
                    .header("webhook-id", "msg_1")
                    .header("webhook-timestamp", ts.to_string());
            }
            if let Some(sig) = sig {
                r = r.header("webhook-signature", sig);
            }
            async move { r.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        };
        let unsigned = send(None, None, body.into()).await;
        let stale = send(
            Some(now - 3_600),
            Some(signed(now - 3_600, body)),
            body.into(),
        )
        .await;
        let forged = send(Some(now), Some(signed(now, "{\"other\":1}")), body.into()).await;
        let big = "x".repeat(easel_engine::webhooks::receiver::MAX_BODY + 1);
        let oversized = send(Some(now), Some(signed(now, &big)), big.clone()).await;
        let genuine = send(Some(now), Some(signed(now, body)), body.into()).await;
        let again = send(Some(now), Some(signed(now, body)), body.into()).await;
        engine.stop();
        (unsigned, stale, forged, oversized, genuine, again)
    };
    let (done, codes) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(worker, probe)
    })
    .await
    .expect("in time");
    done.expect("worker");
    assert_eq!(codes, (400, 400, 401, 413, 200, 200));
    let last = engine.webhook_status().last_delivery.expect("a delivery");
    assert_eq!(last.outcome, "duplicate");
    assert_eq!(
        engine.webhook_status().listening,
        None,
        "stopped with the worker"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_answered_after_the_user_canceled_is_canceled_at_replicate() {
    let s = setup(|_| {}).await;
    s.emu.control.set_processing(Duration::from_secs(30));
    // Replicate takes its time to answer the create.
    s.emu
        .script
        .push(Fault::Latency(Duration::from_millis(800)));
    let created = s
        .engine
        .create_job(job(DEV, "a slow reply", 1))
        .await
        .expect("create");
    // Canceled once Replicate has the request, before it answers: the
    // runner's submit comes back with a prediction nobody wants.
    let prediction = cancel_when(&s, &created.id, "a slow reply", |j| {
        j.status == JobStatus::Submitting && !s.emu.script.requests().is_empty()
    })
    .await;
    assert_eq!(s.emu.predictions_for("a slow reply").len(), 1);
    assert_eq!(s.emu.cancels(&prediction), 1);
    assert_eq!(s.emu.status(&prediction).as_deref(), Some("canceled"));
    assert_eq!(
        s.engine.get(&created.id).await.expect("get").status,
        JobStatus::Canceled
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owed_cancel_is_kept_across_a_restart_and_retried_until_acknowledged() {
    let s = setup(|_| {}).await;
    s.emu.control.set_processing(Duration::from_secs(30));
    s.emu.control.fail_cancels(1_000);
    let created = s
        .engine
        .create_job(job(DEV, "a job nobody wants", 1))
        .await
        .expect("create");
    let id = created.id.clone();
    let worker = s.engine.run_worker(RunUntil::Forever);
    let cancel_then_stop = async {
        common::wait_for_status(&s.engine, &id, JobStatus::Processing).await;
        s.engine.cancel(&id).await.expect("cancel");
        // Replicate answers 503 to every cancel; the worker keeps asking.
        let prediction = loop {
            let p = s.emu.predictions_for("a job nobody wants");
            if let Some(p) = p.first().filter(|p| s.emu.cancels(p) >= 2) {
                break p.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        s.engine.stop();
        prediction
    };
    let (done, prediction) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(worker, cancel_then_stop)
    })
    .await
    .expect("in time");
    done.expect("worker");
    assert_eq!(
        s.emu.status(&prediction).as_deref(),
        Some("starting"),
        "still running"
    );
    let db = s.data.path().join("easel.db");
    let owed = |db: &std::path::Path| -> i64 {
        let c = rusqlite::Connection::open(db).expect("db");
        c.query_row("SELECT COUNT(*) FROM provider_cancels", [], |r| r.get(0))
            .expect("count")
    };
    assert_eq!(owed(&db), 1, "the cancel is still owed");

    // Next start: Replicate answers again, and the cancel goes through.
    s.emu.control.fail_cancels(0);
    let before = s.emu.cancels(&prediction);
    let config = {
        let mut c = common::fast_config(s.data.path(), s.library.path());
        c.base_urls
            .insert("replicate".into(), s.emu.base_url.clone());
        c
    };
    drop(s.engine);
    let registry = easel_engine::providers::Registry::from_config(&config);
    let engine = Engine::open_with(config, registry, Keys::memory()).expect("reopen");
    engine.set_api_key("replicate", KEY).await.expect("key");
    let worker = engine.run_worker(RunUntil::Forever);
    let watch = async {
        for _ in 0..500 {
            if s.emu.status(&prediction).as_deref() == Some("canceled") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        engine.stop();
    };
    let (done, ()) = tokio::join!(worker, watch);
    done.expect("worker");
    assert_eq!(s.emu.status(&prediction).as_deref(), Some("canceled"));
    assert_eq!(s.emu.cancels(&prediction), before + 1);
    assert_eq!(owed(&db), 0, "nothing owed once acknowledged");
}
