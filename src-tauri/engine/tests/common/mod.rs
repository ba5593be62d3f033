//! Shared set-up for the engine's integration tests: a real SQLite file and a
//! real library folder in fresh temporary folders.
#![allow(dead_code)]

use easel_engine::{Config, Engine, JobDetail, NewJob, RunUntil};
use std::path::Path;
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
    let data = tempfile::tempdir().expect("temp data dir");
    let library = tempfile::tempdir().expect("temp library dir");
    let mut config = fast_config(data.path(), library.path());
    tweak(&mut config);
    let engine = Engine::open(config).expect("open engine");
    TestEnv {
        data,
        library,
        engine,
    }
}

pub fn env() -> TestEnv {
    env_with(|_| {})
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
    }
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
