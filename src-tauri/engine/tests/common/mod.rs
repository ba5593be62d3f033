//! Shared set-up for the engine's integration tests: a real SQLite file and a
//! real library folder in fresh temporary folders.
#![allow(dead_code)]

pub mod keyed;

use easel_engine::providers::{Capabilities, ModelInfo, Provider, Registry};
use easel_engine::{Config, Engine, EngineError, JobDetail, JobStatus, Keys, NewJob, RunUntil};
use std::path::Path;
use std::sync::Arc;
use tempfile::TempDir;

pub struct TestEnv {
    pub data: TempDir,
    pub library: TempDir,
    pub engine: Engine,
}

pub fn fast_config(data: &Path, library: &Path) -> Config {
    let mut c = Config::new(data.to_path_buf(), Some(library.to_path_buf()));
    c.offline.latency_ms = 0;
    c.poll_interval_ms = 10;
    c.lease_ms = 2_000;
    c.backoff_base_ms = 10;
    c.backoff_max_ms = 50;
    c
}

pub fn env_with(tweak: impl FnOnce(&mut Config)) -> TestEnv {
    new_env(tweak, Engine::open)
}

/// Fresh data and library folders, a fast config changed by `tweak`, and
/// the engine `open` makes from it.
fn new_env(
    tweak: impl FnOnce(&mut Config),
    open: impl FnOnce(Config) -> Result<Engine, EngineError>,
) -> TestEnv {
    let data = tempfile::tempdir().expect("temp data dir");
    let library = tempfile::tempdir().expect("temp library dir");
    let mut config = fast_config(data.path(), library.path());
    tweak(&mut config);
    let engine = open(config).expect("open engine");
    TestEnv {
        data,
        library,
        engine,
    }
}

/// An engine with the shipped providers plus `provider`, reading keys
/// from `keys`.
pub fn env_with_provider(provider: Arc<dyn Provider>, keys: Keys) -> TestEnv {
    env_with_provider_and(provider, keys, |_| {})
}

/// `env_with_provider` with the config changed by `tweak`.
pub fn env_with_provider_and(
    provider: Arc<dyn Provider>,
    keys: Keys,
    tweak: impl FnOnce(&mut Config),
) -> TestEnv {
    new_env(tweak, |config| {
        let mut registry = Registry::from_config(&config);
        registry.insert(provider);
        Engine::open_with(config, registry, keys)
    })
}

pub fn env() -> TestEnv {
    env_with(|_| {})
}

/// An engine with the shipped providers plus `keyed`, which needs a key
/// from `keys`.
pub fn keyed_env(keys: Keys) -> (TestEnv, Arc<keyed::Keyed>) {
    let provider = keyed::Keyed::new(&keys);
    (env_with_provider(provider.clone(), keys), provider)
}

/// Run a job on `keyed` to completion and check every call carried the
/// accepted key.
pub async fn run_keyed_job(env: &TestEnv, provider: &keyed::Keyed, request_id: &str) {
    let job = env
        .engine
        .create_job(keyed_job(request_id))
        .await
        .expect("created");
    let detail = settle(&env.engine, &job.id).await;
    assert_eq!(
        detail.job.status,
        easel_engine::JobStatus::Completed,
        "{:?}",
        detail.job.error_message
    );
    let sent = provider.sent();
    assert!(sent.len() >= 3, "submit, poll and fetch each sent the key");
    assert!(
        sent.iter().all(|k| k == keyed::ACCEPTED),
        "{} calls",
        sent.len()
    );
}

/// A job for the `keyed` provider.
pub fn keyed_job(request_id: &str) -> NewJob {
    NewJob {
        provider: Some("keyed".into()),
        ..new_job(request_id, "a lighthouse at dusk")
    }
}

pub fn new_job(request_id: &str, prompt: &str) -> NewJob {
    NewJob {
        request_id: request_id.into(),
        prompt: prompt.into(),
        negative_prompt: None,
        provider: None,
        model: None,
        width: 128,
        height: 96,
        count: 1,
        seed: Some(7),
        reference_ids: vec![],
        params: Default::default(),
    }
}

/// Capabilities of a test provider with one model, `model`: sides 64..=512
/// in steps of 8, up to 2 images, no references, no key.
pub fn test_capabilities(model: &str, price_per_image_micros: i64) -> Capabilities {
    Capabilities {
        models: vec![ModelInfo {
            id: model.into(),
            name: model.into(),
            sizes: easel_engine::providers::SizeRule::Free {
                min_side: 64,
                max_side: 512,
                multiple: 8,
                max_pixels: None,
                max_aspect: None,
            },
            max_count: 2,
            max_reference_images: 0,
            max_reference_bytes: 0,
            negative_prompt: true,
            params: Vec::new(),
            price: easel_engine::providers::Price::per_image(price_per_image_micros),
        }],
        default_model: model.into(),
        other_models: None,
        needs_key: false,
        progress: true,
        cancel: false,
        reconciliation: easel_engine::providers::Reconciliation::NotFindable,
        poll_interval_ms: 0,
        processing_deadline_ms: None,
    }
}

/// The files below `dirs` whose bytes contain `needle` (a secret that
/// must not be written anywhere).
pub fn files_containing(dirs: &[&Path], needle: &str) -> Vec<std::path::PathBuf> {
    dirs.iter()
        .flat_map(|d| files(d))
        .filter(|p| contains(&std::fs::read(p).expect("read"), needle))
        .collect()
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file below `dir`, recursively.
pub fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Run a worker until job `id` settles (bounded), then read its detail.
pub async fn settle(engine: &Engine, id: &str) -> JobDetail {
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        engine.run_worker(RunUntil::Settled(vec![id.to_string()])),
    )
    .await
    .expect("the job settles in time")
    .expect("run");
    engine.detail(id).await.expect("detail")
}

/// Wait (bounded: 30 s) until job `id` reaches `status`, while a worker the
/// test started runs it; panics naming the status it never reached.
pub async fn wait_for_status(engine: &Engine, id: &str, status: JobStatus) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while engine.get(id).await.expect("get").status != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} never reached {status:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// The A1111 `parameters` text embedded in a stored PNG.
pub fn parameters_text(png: &[u8]) -> String {
    easel_engine::library::metadata::read_png_text(png)
        .expect("PNG text")
        .into_iter()
        .find(|(k, _)| k == "parameters")
        .map(|(_, v)| v)
        .unwrap_or_default()
}
