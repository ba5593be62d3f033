//! Provider keys through the engine: a provider that needs a key cannot be
//! used without one, a stored key reaches the provider, Test reports what the
//! provider said, and the key text never lands in the database, config
//! files, events or logs. Keys are held in memory here; `keychain.rs` runs
//! the same through the real Secret Service.

mod common;

use common::keyed::ACCEPTED;
use common::{contains, files_containing, keyed_env, keyed_job, run_keyed_job, settle};
use easel_engine::{EngineError, ErrorKind, JobStatus, KeyState, Keys, ListQuery};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Everything the engine logs in this test binary, at every level.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Arc::clone(&buf);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(Arc::clone(&writer)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn key_state(infos: &[easel_engine::ProviderInfo], id: &str) -> KeyState {
    infos
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.key.clone())
        .expect("provider listed")
}

#[tokio::test]
async fn a_provider_without_its_key_cannot_be_used_and_nothing_is_created() {
    let (t, provider) = keyed_env(Keys::memory());
    let infos = t.engine.provider_infos().await;
    assert_eq!(key_state(&infos, "keyed"), KeyState::Missing);
    assert_eq!(key_state(&infos, "offline"), KeyState::NotNeeded);

    let e = t
        .engine
        .create_job(keyed_job("r1"))
        .await
        .expect_err("no key");
    assert!(
        matches!(e, EngineError::MissingKey(ref p) if p == "keyed"),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::MissingKey);
    assert!(e.to_string().contains("add it in Settings"), "{e}");
    let jobs = t.engine.list(ListQuery::default()).await.expect("list");
    assert!(jobs.is_empty(), "no job row for a refused click");
    assert!(provider.sent().is_empty(), "the provider was never called");
}

#[tokio::test]
async fn bad_keys_and_keyless_providers_are_refused_with_clear_errors() {
    let (t, _) = keyed_env(Keys::memory());
    for (provider, text, expected) in [
        ("keyed", "  ", "empty"),
        ("keyed", "sk-one sk-two", "space or line break"),
        ("offline", "sk-x", "offline needs no API key"),
    ] {
        let e = t.engine.set_api_key(provider, text).await.expect_err(text);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(expected), "{e}");
    }
    let e = t
        .engine
        .set_api_key("nope", "sk-x")
        .await
        .expect_err("unknown");
    assert!(matches!(e, EngineError::UnknownProvider(_)), "{e}");
    let infos = t.engine.provider_infos().await;
    assert_eq!(
        key_state(&infos, "keyed"),
        KeyState::Missing,
        "nothing stored"
    );
    let e = t
        .engine
        .test_api_key("keyed", None)
        .await
        .expect_err("no key");
    assert_eq!(e.kind(), ErrorKind::MissingKey);
}

#[tokio::test]
async fn test_reports_what_the_provider_said_without_storing_a_candidate() {
    let (t, provider) = keyed_env(Keys::memory());
    let check = t
        .engine
        .test_api_key("keyed", Some("sk-wrong"))
        .await
        .expect("tested");
    assert!(!check.ok);
    assert!(
        check.message.contains("refused the key"),
        "{}",
        check.message
    );
    assert!(!check.message.contains("sk-wrong"), "{}", check.message);
    let check = t
        .engine
        .test_api_key("keyed", Some(ACCEPTED))
        .await
        .expect("tested");
    assert!(check.ok, "{}", check.message);
    let infos = t.engine.provider_infos().await;
    assert_eq!(
        key_state(&infos, "keyed"),
        KeyState::Missing,
        "Test does not store"
    );

    t.engine
        .set_api_key("keyed", ACCEPTED)
        .await
        .expect("stored");
    let check = t.engine.test_api_key("keyed", None).await.expect("tested");
    assert!(check.ok, "the stored key: {}", check.message);
    assert_eq!(provider.sent(), ["sk-wrong", ACCEPTED, ACCEPTED]);
}

#[tokio::test]
async fn a_stored_key_reaches_the_provider_and_never_the_disk_events_or_logs() {
    let logs = captured_logs();
    let (t, provider) = keyed_env(Keys::memory());
    let mut events = t.engine.subscribe();

    let info = t
        .engine
        .set_api_key("keyed", &format!("  {ACCEPTED}\n"))
        .await
        .expect("stored");
    assert_eq!(info.key, KeyState::Stored);
    run_keyed_job(&t, &provider, "r1").await;

    // Removing the key stops new work on the provider; a job already
    // created fails with a message that says what to do.
    let late = t.engine.create_job(keyed_job("r2")).await.expect("created");
    let info = t.engine.delete_api_key("keyed").await.expect("removed");
    assert_eq!(info.key, KeyState::Missing);
    let detail = settle(&t.engine, &late.id).await;
    assert_eq!(detail.job.status, JobStatus::Failed);
    assert_eq!(detail.job.error_code.as_deref(), Some("auth"));
    let message = detail.job.error_message.clone().unwrap_or_default();
    assert!(message.contains("add one in Settings"), "{message}");

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(serde_json::to_string(&e).expect("json"));
    }
    assert!(!seen.is_empty());
    let logged = String::from_utf8_lossy(&logs.lock().expect("lock")).to_string();
    assert!(
        logged.contains("api key stored in the keychain"),
        "logs were captured"
    );
    assert!(
        !contains(logged.as_bytes(), ACCEPTED),
        "the key is in the logs"
    );
    assert!(
        !contains(seen.join("\n").as_bytes(), ACCEPTED),
        "the key is in an event"
    );
    let leaked = files_containing(&[t.data.path(), t.library.path()], ACCEPTED);
    assert!(leaked.is_empty(), "the key is in {leaked:?}");
}

/// An IPC retry of a click whose job exists gets that job, even after the
/// key it needed was removed; a new click still needs the key.
#[tokio::test]
async fn a_resent_request_gets_its_job_after_the_key_is_removed() {
    let (t, provider) = keyed_env(Keys::memory());
    t.engine
        .set_api_key("keyed", ACCEPTED)
        .await
        .expect("store the key");
    let first = t
        .engine
        .create_job(keyed_job("again-1"))
        .await
        .expect("create");
    t.engine.delete_api_key("keyed").await.expect("remove");
    let again = t
        .engine
        .create_job(keyed_job("again-1"))
        .await
        .expect("the retry gets its job");
    assert_eq!(again.id, first.id);
    let e = t
        .engine
        .create_job(keyed_job("again-2"))
        .await
        .expect_err("a new click needs the key");
    assert_eq!(e.kind(), ErrorKind::MissingKey, "{e}");
    let jobs = t.engine.list(ListQuery::default()).await.expect("list");
    assert_eq!(jobs.len(), 1);
    assert!(provider.sent().is_empty(), "no worker ran");
}
