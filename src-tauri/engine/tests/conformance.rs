//! The conformance suite: the same scenarios, through the engine, against
//! every HTTP provider's emulator. A provider joins by adding a row to
//! `PROVIDERS` (and its emulator to `Emulator`); what differs between
//! providers is only what their API lets Easel know (`reconciliation`).

mod common;

use common::{files_containing, new_job};
use easel_emulator::faults::Script;
use easel_emulator::{openai, replicate, Fault};
use easel_engine::providers::{Reconciliation, Registry};
use easel_engine::{Config, Engine, JobDetail, JobStatus, Keys, LedgerKind, NewJob, RunUntil};
use std::time::Duration;

struct Provider {
    id: &'static str,
    model: &'static str,
    key: &'static str,
    /// A 429 body as the provider words it.
    throttled: &'static str,
}

const PROVIDERS: [Provider; 2] = [
    Provider {
        id: "openai",
        model: "gpt-image-2",
        key: "sk-emu-Conform1234abcd",
        throttled: r#"{"error":{"message":"Rate limit reached for images","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#,
    },
    Provider {
        id: "replicate",
        model: "someone/conformance-model",
        key: "r8_EmuConform1234abcd",
        throttled: r#"{"detail":"Request was throttled. Your rate limit resets in ~1s.","status":429}"#,
    },
];

enum Emulator {
    OpenAi(openai::Running),
    Replicate(replicate::Running),
}

impl Emulator {
    async fn start(p: &Provider) -> Emulator {
        match p.id {
            "openai" => Emulator::OpenAi(openai::start(p.key, 0).await.expect("emulator")),
            _ => Emulator::Replicate(replicate::start(p.key, 0).await.expect("emulator")),
        }
    }

    fn base_url(&self) -> &str {
        match self {
            Emulator::OpenAi(e) => &e.base_url,
            Emulator::Replicate(e) => &e.base_url,
        }
    }

    fn script(&self) -> &Script {
        match self {
            Emulator::OpenAi(e) => &e.script,
            Emulator::Replicate(e) => &e.script,
        }
    }
}

struct Setup {
    engine: Engine,
    emu: Emulator,
    provider: &'static Provider,
    data: tempfile::TempDir,
    library: tempfile::TempDir,
}

async fn setup(provider: &'static Provider) -> Setup {
    let emu = Emulator::start(provider).await;
    let data = tempfile::tempdir().expect("data");
    let library = tempfile::tempdir().expect("library");
    let mut config: Config = common::fast_config(data.path(), library.path());
    config
        .base_urls
        .insert(provider.id.into(), emu.base_url().to_string());
    config.provider_timeout_ms = 1_000;
    let registry = Registry::from_config(&config);
    let engine = Engine::open_with(config, registry, Keys::memory()).expect("engine");
    engine
        .set_api_key(provider.id, provider.key)
        .await
        .expect("key");
    Setup {
        engine,
        emu,
        provider,
        data,
        library,
    }
}

impl Setup {
    fn job(&self, prompt: &str, count: u32) -> NewJob {
        NewJob {
            provider: Some(self.provider.id.into()),
            model: Some(self.provider.model.into()),
            width: 256,
            height: 256,
            count,
            ..new_job(&format!("rid-{prompt}"), prompt)
        }
    }

    async fn run(&self, prompt: &str, count: u32) -> JobDetail {
        let job = self
            .engine
            .create_job(self.job(prompt, count))
            .await
            .expect("create");
        tokio::time::timeout(
            Duration::from_secs(60),
            self.engine
                .run_worker(RunUntil::Settled(vec![job.id.clone()])),
        )
        .await
        .expect("settles in time")
        .expect("worker");
        self.engine.detail(&job.id).await.expect("detail")
    }

    fn generations(&self, prompt: &str) -> u32 {
        self.emu.script().generations(prompt)
    }

    fn reconciliation(&self) -> Reconciliation {
        self.engine
            .providers()
            .into_iter()
            .find(|(id, _)| *id == self.provider.id)
            .map(|(_, caps)| caps.reconciliation)
            .expect("provider")
    }
}

fn said(d: &JobDetail, text: &str) -> bool {
    d.timeline.iter().any(|t| t.detail.contains(text))
}

fn ledger(d: &JobDetail) -> Vec<LedgerKind> {
    d.ledger.iter().map(|l| l.kind).collect()
}

fn completed(p: &Provider, d: &JobDetail) {
    assert_eq!(
        d.job.status,
        JobStatus::Completed,
        "{}: {:?} {:?}",
        p.id,
        d.job.error_code,
        d.job.error_message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_stores_every_output_charges_once_and_writes_no_key() {
    for p in &PROVIDERS {
        let s = setup(p).await;
        let d = s.run("a green field", 2).await;
        completed(p, &d);
        assert_eq!(d.assets.len(), 2, "{}", p.id);
        for a in &d.assets {
            let bytes = std::fs::read(&a.path).expect("stored");
            image::load_from_memory(&bytes).expect("decodes");
        }
        assert_eq!(s.generations("a green field"), 1, "{}", p.id);
        assert_eq!(
            ledger(&d),
            [LedgerKind::Reserve, LedgerKind::Charge],
            "{}",
            p.id
        );
        assert!(
            files_containing(&[s.data.path(), s.library.path()], p.key).is_empty(),
            "{}: the key is in a file",
            p.id
        );
        assert!(!format!("{d:?}").contains(p.key), "{}", p.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_error_page_is_reconciled_on_the_same_attempt() {
    for p in &PROVIDERS {
        let s = setup(p).await;
        s.emu.script().push(Fault::html_5xx(502));
        let d = s.run("a gate in the rain", 1).await;
        completed(p, &d);
        assert_eq!(d.attempts.len(), 1, "{}", p.id);
        assert_eq!(s.generations("a gate in the rain"), 1, "{}", p.id);
        let expected = match s.reconciliation() {
            Reconciliation::Listing => "the provider has no record of it",
            Reconciliation::IdempotencyKey => "same idempotency key",
            Reconciliation::NotFindable => "possible duplicate",
        };
        assert!(said(&d, expected), "{}: {:?}", p.id, d.timeline);
        assert!(
            !d.job
                .error_message
                .as_deref()
                .unwrap_or_default()
                .contains("<html"),
            "{}",
            p.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_never_generated_twice_where_the_provider_can_tell() {
    for p in &PROVIDERS {
        let s = setup(p).await;
        s.emu.script().push(Fault::AcceptThenReset);
        let d = s.run("a broken line", 1).await;
        completed(p, &d);
        assert_eq!(d.attempts.len(), 1, "{}", p.id);
        match s.reconciliation() {
            Reconciliation::NotFindable => {
                // Sent again: generated twice at most, and said so.
                assert_eq!(s.generations("a broken line"), 2, "{}", p.id);
                assert!(said(&d, "possible duplicate"), "{}", p.id);
            }
            _ => {
                assert_eq!(s.generations("a broken line"), 1, "{}", p.id);
                assert!(!said(&d, "possible duplicate"), "{}", p.id);
            }
        }
        assert_eq!(
            ledger(&d),
            [LedgerKind::Reserve, LedgerKind::Charge],
            "{}",
            p.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_waits_as_asked_then_succeeds() {
    for p in &PROVIDERS {
        let s = setup(p).await;
        s.emu.script().push(Fault::rate_limited(1, p.throttled));
        let d = s.run("a queue at noon", 1).await;
        completed(p, &d);
        assert_eq!(
            d.attempts[0].outcome.as_deref(),
            Some("rate_limited"),
            "{}",
            p.id
        );
        let waited = d.attempts[1].started_at - d.attempts[0].ended_at.expect("ended");
        assert!(waited >= 1_000, "{}: waited {waited} ms", p.id);
        assert_eq!(s.generations("a queue at noon"), 1, "{}", p.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_that_are_not_raster_images_fail_clearly_and_store_nothing() {
    for p in &PROVIDERS {
        for fault in [Fault::NotAnImage, Fault::Svg] {
            let s = setup(p).await;
            s.emu.script().push(fault.clone());
            let d = s.run("not a picture", 1).await;
            assert_eq!(d.job.status, JobStatus::Failed, "{} {fault:?}", p.id);
            assert_eq!(
                d.job.error_code.as_deref(),
                Some("invalid_image"),
                "{} {fault:?}",
                p.id
            );
            assert!(
                common::files(s.library.path()).is_empty(),
                "{} {fault:?}",
                p.id
            );
            assert_eq!(
                ledger(&d),
                [LedgerKind::Reserve, LedgerKind::Release],
                "{} {fault:?}",
                p.id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_fails_as_a_key_problem_without_showing_it() {
    for p in &PROVIDERS {
        let s = setup(p).await;
        let revoked = format!("{}Revoked", &p.key[..6]);
        s.engine.set_api_key(p.id, &revoked).await.expect("key");
        let d = s.run("a locked room", 1).await;
        assert_eq!(d.job.status, JobStatus::Failed, "{}", p.id);
        assert_eq!(d.job.error_code.as_deref(), Some("auth"), "{}", p.id);
        let why = d.job.error_message.clone().unwrap_or_default();
        assert!(!why.contains("Revoked"), "{}: {why}", p.id);
        assert_eq!(s.generations("a locked room"), 0, "{}", p.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_canceled_while_queued_never_reaches_the_provider() {
    for p in &PROVIDERS {
        let s = setup(p).await;
        let job = s
            .engine
            .create_job(s.job("never sent", 1))
            .await
            .expect("create");
        s.engine.cancel(&job.id).await.expect("cancel");
        tokio::time::timeout(
            Duration::from_secs(20),
            s.engine.run_worker(RunUntil::Settled(vec![job.id.clone()])),
        )
        .await
        .expect("in time")
        .expect("worker");
        let d = s.engine.detail(&job.id).await.expect("detail");
        assert_eq!(d.job.status, JobStatus::Canceled, "{}", p.id);
        assert_eq!(s.generations("never sent"), 0, "{}", p.id);
        // Nothing but the model listing a worker reads when it starts.
        let calls = s.emu.script().requests();
        assert!(
            calls.iter().all(|r| r.starts_with("GET /v1/models ")),
            "{}: {calls:?}",
            p.id
        );
    }
}
