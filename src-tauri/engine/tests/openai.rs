//! OpenAI Images through the engine against the emulator (a real HTTP server
//! on 127.0.0.1 speaking OpenAI's documented API): the happy path, edits
//! with references, and each fault the emulator can play. The emulator
//! counts generations per prompt, so each test says how many times OpenAI
//! generated (and billed) the images.

mod common;

use common::{files_containing, new_job};
use easel_emulator::{openai, Fault};
use easel_engine::{Config, Engine, JobDetail, JobStatus, Keys, LedgerKind, NewJob, RunUntil};
use std::time::Duration;

const KEY: &str = "sk-emu-Test4242abcd";

struct Setup {
    engine: Engine,
    emu: openai::Running,
    data: tempfile::TempDir,
    library: tempfile::TempDir,
}

async fn setup(tweak: impl FnOnce(&mut Config)) -> Setup {
    let emu = openai::start(KEY, 0).await.expect("emulator");
    let data = tempfile::tempdir().expect("data");
    let library = tempfile::tempdir().expect("library");
    let mut config = common::fast_config(data.path(), library.path());
    config
        .base_urls
        .insert("openai".into(), emu.base_url.clone());
    config.provider_timeout_ms = 2_000;
    tweak(&mut config);
    let registry = easel_engine::providers::Registry::from_config(&config);
    let engine = Engine::open_with(config, registry, Keys::memory()).expect("engine");
    engine.set_api_key("openai", KEY).await.expect("key");
    Setup {
        engine,
        emu,
        data,
        library,
    }
}

fn openai_job(prompt: &str, count: u32) -> NewJob {
    NewJob {
        provider: Some("openai".into()),
        model: Some("gpt-image-2".into()),
        width: 256,
        height: 256,
        count,
        ..new_job(&format!("rid-{prompt}"), prompt)
    }
}

async fn run(s: &Setup, job: NewJob) -> JobDetail {
    let job = s.engine.create_job(job).await.expect("create");
    tokio::time::timeout(
        Duration::from_secs(60),
        s.engine.run_worker(RunUntil::Settled(vec![job.id.clone()])),
    )
    .await
    .expect("settles in time")
    .expect("worker");
    s.engine.detail(&job.id).await.expect("detail")
}

/// The requests that reached the image endpoints (a worker also reads the
/// model listing when it starts, in the background).
fn image_calls(s: &Setup) -> Vec<String> {
    s.emu
        .script
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST /v1/images/"))
        .collect()
}

fn said(d: &JobDetail, text: &str) -> bool {
    d.timeline.iter().any(|t| t.detail.contains(text))
}

fn ledger(d: &JobDetail) -> Vec<LedgerKind> {
    d.ledger.iter().map(|l| l.kind).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generates_stores_and_charges_once_and_the_key_is_written_nowhere() {
    let s = setup(|_| {}).await;
    let d = run(&s, openai_job("a quiet harbour at dawn", 2)).await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    assert_eq!(d.assets.len(), 2);
    for a in &d.assets {
        let bytes = std::fs::read(&a.path).expect("stored image");
        image::load_from_memory(&bytes).expect("decodes");
        assert_eq!((a.width, a.height), (256, 256));
        // OpenAI takes no seed: none is claimed; its rewritten prompt is kept.
        let text = common::parameters_text(&bytes);
        assert!(!text.contains("Seed:"), "{text}");
        assert!(
            text.contains("Revised prompt: a quiet harbour at dawn (revised)"),
            "{text}"
        );
    }
    assert_eq!(s.emu.script.generations("a quiet harbour at dawn"), 1);
    assert_eq!(image_calls(&s), ["POST /v1/images/generations auth=ok"]);
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Charge]);
    // Charged what the answer's token usage costs, not the estimate: the
    // emulator reports 2 × 1056 image tokens out (quality "auto", its
    // default, as medium) and 13 text tokens in.
    let charged = d.ledger[1].amount_micros;
    assert_eq!(charged, 13 * 5 + 2 * 1056 * 40, "{:?}", d.ledger);
    assert_ne!(charged, d.job.estimated_cost_micros);
    assert!(
        files_containing(&[s.data.path(), s.library.path()], KEY).is_empty(),
        "the key is in no file"
    );
    assert!(!format!("{d:?}").contains(KEY), "nor in the job's record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_image_streams_partial_images_to_the_job_before_it_is_saved() {
    let s = setup(|_| {}).await;
    let mut events = s.engine.subscribe();
    let mut streamed = openai_job("a tern over the surf", 1);
    streamed.params.insert(
        "previews".into(),
        easel_engine::ParamValue::Text("2".into()),
    );
    let d = run(&s, streamed).await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    // Two partial images asked for, each shown while the
    // request was still in flight (the job submitting), then gone.
    let mut shown = std::collections::BTreeSet::new();
    while let Ok(event) = events.try_recv() {
        if let Some(path) = event.job.preview_path {
            assert_eq!(event.job.status, JobStatus::Submitting);
            shown.insert(path);
        }
    }
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert_eq!(d.job.preview_path, None);
    assert!(common::files(&s.data.path().join("previews")).is_empty());
    // One generation, charged from the completed event's usage.
    assert_eq!(s.emu.script.generations("a tern over the surf"), 1);
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Charge]);
    assert_eq!(
        d.ledger[1].amount_micros,
        13 * 5 + 1056 * 40,
        "{:?}",
        d.ledger
    );
    let bytes = std::fs::read(&d.assets[0].path).expect("stored image");
    assert!(common::parameters_text(&bytes).contains("(revised)"));

    // Previews off: a plain answer, nothing shown.
    let mut events = s.engine.subscribe();
    let mut off = openai_job("no previews please", 1);
    off.params.insert(
        "previews".into(),
        easel_engine::ParamValue::Text("0".into()),
    );
    let d = run(&s, off).await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    while let Ok(event) = events.try_recv() {
        assert_eq!(event.job.preview_path, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_images_go_to_the_edits_endpoint() {
    let s = setup(|_| {}).await;
    let png = easel_engine::providers::offline::render::render_png("ref", 1, 64, 64).expect("png");
    let reference = s.engine.import_reference(png).await.expect("import");
    let job = NewJob {
        reference_ids: vec![reference.id.clone()],
        ..openai_job("the same scene in winter", 1)
    };
    let d = run(&s, job).await;
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{:?}",
        d.job.error_message
    );
    assert_eq!(image_calls(&s), ["POST /v1/images/edits auth=ok"]);
    assert_eq!(s.emu.script.generations("the same scene in winter"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resent_and_the_duplicate_is_recorded() {
    // Each fault on a plain answer and on a streamed one (previews on: the
    // stream breaks after its partial images, or hangs after the first).
    let cases = [
        (Fault::AcceptThenHang, "a hung answer"),
        (Fault::AcceptThenReset, "a reset answer"),
        (Fault::MalformedJson, "a garbled answer"),
    ]
    .into_iter()
    .flat_map(|(fault, prompt)| [(fault.clone(), prompt, "0"), (fault, prompt, "2")]);
    for (fault, prompt, previews) in cases {
        let s = setup(|c| c.provider_timeout_ms = 800).await;
        s.emu.script.push(fault.clone());
        let mut job = openai_job(prompt, 1);
        job.params.insert(
            "previews".into(),
            easel_engine::ParamValue::Text(previews.into()),
        );
        let d = run(&s, job).await;
        let fault = format!("{fault:?} with {previews} previews");
        assert_eq!(
            d.job.status,
            JobStatus::Completed,
            "{fault:?}: {:?}",
            d.job.error_message
        );
        assert_eq!(d.attempts.len(), 1, "{fault:?}");
        assert!(
            said(&d, "possible duplicate"),
            "{fault:?}: {:?}",
            d.timeline
        );
        // OpenAI cannot be asked whether the first request was done: it was
        // generated twice, and the timeline says so.
        assert_eq!(s.emu.script.generations(prompt), 2, "{fault:?}");
        assert_eq!(
            ledger(&d),
            [LedgerKind::Reserve, LedgerKind::Charge],
            "{fault:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_quota_fails_at_once_and_says_what_to_do() {
    let s = setup(|_| {}).await;
    s.emu.script.push(Fault::rate_limited(
        20,
        r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
    ));
    let d = run(&s, openai_job("an empty wallet", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("no_credits"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(
        why.starts_with("out of credits at OpenAI: add credit there, then Retry"),
        "{why}"
    );
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(ledger(&d), [LedgerKind::Reserve, LedgerKind::Release]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_or_missing_key_fails_with_the_reason() {
    let s = setup(|_| {}).await;
    s.engine
        .set_api_key("openai", "sk-emu-Wrong0000zzzz")
        .await
        .expect("key");
    let d = run(&s, openai_job("a locked door", 1)).await;
    assert_eq!(d.job.status, JobStatus::Failed);
    assert_eq!(d.job.error_code.as_deref(), Some("auth"));
    let why = d.job.error_message.clone().unwrap_or_default();
    assert!(why.contains("OpenAI refused the API key"), "{why}");
    assert!(!why.contains("Wrong0000"), "{why}");

    // Without a key the job is refused at the click, before anything is
    // stored or sent.
    s.engine.delete_api_key("openai").await.expect("delete");
    let refused = s.engine.create_job(openai_job("no key at all", 1)).await;
    assert!(
        matches!(refused, Err(easel_engine::EngineError::MissingKey(ref p)) if p == "openai"),
        "{refused:?}"
    );
    assert_eq!(s.emu.script.generations("no key at all"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_key_test_asks_openai() {
    let s = setup(|_| {}).await;
    let ok = s.engine.test_api_key("openai", None).await.expect("test");
    assert!(ok.ok, "{}", ok.message);
    let bad = s
        .engine
        .test_api_key("openai", Some("sk-emu-Nope11112222"))
        .await
        .expect("test");
    assert!(!bad.ok);
    assert!(bad.message.contains("refused"), "{}", bad.message);
    assert_eq!(
        s.emu.script.requests(),
        ["GET /v1/models auth=ok", "GET /v1/models auth=bad"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_shutdown_dates_come_from_the_model_listing() {
    let s = setup(|_| {}).await;
    s.emu.set_shutdown("gpt-image-2", "2027-01-15");
    let info = |engine: &Engine| {
        let engine = engine.clone();
        async move {
            engine
                .provider_infos()
                .await
                .into_iter()
                .find(|p| p.id == "openai")
                .expect("openai")
        }
    };
    assert!(info(&s.engine).await.shutdowns.is_empty(), "not read yet");
    s.engine.refresh_models().await;
    let shutdowns = info(&s.engine).await.shutdowns;
    assert_eq!(
        shutdowns.get("gpt-image-2").map(String::as_str),
        Some("2027-01-15")
    );
    assert_eq!(
        shutdowns.get("gpt-image-1.5").map(String::as_str),
        Some("2026-12-01")
    );
    assert_eq!(s.emu.script.requests(), ["GET /v1/models auth=ok"]);
}
