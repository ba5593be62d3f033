//! Every bad input gets a clear error naming the problem, and nothing already
//! stored is lost.

mod common;

use common::{env, env_with, new_job};
use easel_engine::{Config, Engine, EngineError, ErrorKind, ListQuery, NewJob};

async fn refused(t: &common::TestEnv, job: NewJob, expect: &str) {
    let err = t.engine.create_job(job).await.expect_err(expect);
    assert!(
        err.to_string().to_lowercase().contains(expect),
        "error {err:?} does not mention {expect:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_jobs_are_refused_with_a_reason_and_nothing_is_lost() {
    let t = env();
    let kept = t
        .engine
        .create_job(new_job("keep", "kept"))
        .await
        .expect("ok job");

    let with = |f: &dyn Fn(&mut NewJob)| {
        let mut j = new_job("bad", "a prompt");
        f(&mut j);
        j
    };
    refused(&t, with(&|j| j.prompt = String::new()), "prompt is empty").await;
    refused(&t, with(&|j| j.prompt = "   \n ".into()), "prompt is empty").await;
    refused(
        &t,
        with(&|j| j.prompt = "x".repeat(32_001)),
        "limit is 32000",
    )
    .await;
    refused(
        &t,
        with(&|j| j.negative_prompt = Some("x".repeat(32_001))),
        "negative prompt",
    )
    .await;
    refused(
        &t,
        with(&|j| j.provider = Some("dalle-9000".into())),
        "unknown provider",
    )
    .await;
    refused(&t, with(&|j| j.model = Some("nope".into())), "has no model").await;
    refused(&t, with(&|j| j.width = 8), "width 8 is out of range").await;
    refused(
        &t,
        with(&|j| j.height = 100_000),
        "height 100000 is out of range",
    )
    .await;
    refused(&t, with(&|j| j.width = 100), "multiple of 8").await;
    refused(&t, with(&|j| j.count = 0), "count 0").await;
    refused(&t, with(&|j| j.count = 9), "count 9").await;
    refused(&t, with(&|j| j.seed = Some(u64::MAX)), "seed").await;
    refused(&t, with(&|j| j.request_id = " ".into()), "request id").await;

    let all = t.engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, kept.id);
    let err = t
        .engine
        .create_job(with(&|j| j.prompt = String::new()))
        .await
        .expect_err("x");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_library_folder_is_refused_not_created() {
    let t = env();
    let gone = t.library.path().join("unplugged-drive");
    let mut config = common::fast_config(t.data.path(), &gone);
    config.library_dir_is_default = false;
    let engine = Engine::open(config).expect("open");
    let err = engine
        .create_job(new_job("m", "x"))
        .await
        .expect_err("missing");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(
        !gone.exists(),
        "a chosen library folder must not be created"
    );
    assert_eq!(err.kind(), ErrorKind::Library);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_path_that_is_a_file_or_read_only_is_refused() {
    let t = env();
    let file = t.library.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    let engine = Engine::open(common::fast_config(t.data.path(), &file)).expect("open");
    let err = engine
        .create_job(new_job("f", "x"))
        .await
        .expect_err("file");
    assert!(err.to_string().contains("not a folder"), "{err}");

    // /proc/self is a folder nobody can create files in, root included
    // (permission bits alone do not stop root, which CI runs as).
    let ro = std::path::Path::new("/proc/self");
    let engine = Engine::open(common::fast_config(t.data.path(), ro)).expect("open");
    let err = engine
        .create_job(new_job("ro", "x"))
        .await
        .expect_err("read-only");
    assert!(err.to_string().contains("not writable"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_gives_a_clear_error_and_loses_nothing() {
    let t = env_with(|c| c.busy_timeout_ms = 100);
    let kept = t
        .engine
        .create_job(new_job("k", "kept"))
        .await
        .expect("create");
    let other = rusqlite::Connection::open(t.engine.store_path()).expect("open");
    other.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let err = t
        .engine
        .create_job(new_job("l", "blocked"))
        .await
        .expect_err("locked");
    assert!(err.to_string().contains("locked"), "{err}");
    other.execute_batch("ROLLBACK").expect("unlock");
    let all = t.engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, kept.id);
    t.engine
        .create_job(new_job("l", "works now"))
        .await
        .expect("after unlock");
}

#[test]
fn a_bad_config_file_names_the_file_and_the_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("config.toml"), "max_attempts = \"many\"\n").expect("write");
    let err = Config::load(Some(dir.path().to_path_buf()), None).expect_err("bad config");
    assert!(matches!(err, EngineError::InvalidInput(_)));
    assert!(err.to_string().contains("config.toml"), "{err}");
    assert!(err.to_string().contains("invalid type"), "{err}");
}

#[test]
fn a_config_file_from_a_newer_easel_loads_and_warns_of_unknown_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    let text =
        "max_attempts = 7\nsparkle_mode = true\n\n[offline]\nlatency_ms = 42\njitter_ms = 5\n";
    std::fs::write(dir.path().join("config.toml"), text).expect("write");
    let config = Config::load(Some(dir.path().to_path_buf()), None).expect("loads");
    assert_eq!(config.max_attempts, 7);
    assert_eq!(config.offline.latency_ms, 42);
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    for key in ["`sparkle_mode`", "`offline.jitter_ms`"] {
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains(key) && w.contains("config.toml")),
            "{key} not in {:?}",
            config.warnings
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saving_settings_keeps_the_keys_a_newer_easel_wrote() {
    let t = env();
    let path = t.data.path().join("config.toml");
    let text = "sparkle_mode = \"on\"\n\n[offline]\nlatency_ms = 42\njitter_ms = 5\n";
    std::fs::write(&path, text).expect("write");
    let mut s = t.engine.settings().await.expect("settings");
    s.monthly_budget_micros = Some(1_000);
    t.engine.save_settings(s).await.expect("save");
    let config = Config::load(Some(t.data.path().to_path_buf()), None).expect("reload");
    assert_eq!(config.monthly_budget_micros, Some(1_000));
    assert_eq!(config.offline.latency_ms, 42);
    assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
    let saved: toml::Table =
        toml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("still TOML");
    assert_eq!(saved["sparkle_mode"].as_str(), Some("on"));
    assert_eq!(saved["offline"]["jitter_ms"].as_integer(), Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_folder_or_a_root_cannot_be_the_library_and_nothing_changes() {
    let t = env();
    let before = t.engine.settings().await.expect("settings");
    let mut refused = vec!["/".to_string()];
    refused.extend(dirs::home_dir().map(|h| h.to_string_lossy().into_owned()));
    for dir in refused {
        let mut s = before.clone();
        s.library_dir = dir.clone();
        s.monthly_budget_micros = Some(9);
        let err = t.engine.save_settings(s).await.expect_err(&dir);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{dir}: {err}");
        assert!(err.to_string().contains("cannot be the library"), "{err}");
        assert_eq!(t.engine.settings().await.expect("settings"), before);
        assert!(!t.data.path().join("config.toml").exists(), "{dir}");

        let err = Config::load(Some(t.data.path().to_path_buf()), Some(dir.clone().into()))
            .expect_err(&dir);
        assert!(matches!(err, EngineError::InvalidInput(_)), "{err:?}");
    }
}
