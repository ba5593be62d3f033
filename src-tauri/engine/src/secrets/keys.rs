//! The engine's handle on provider keys: the keychain behind a small cache,
//! so a provider polling every 200 ms does not ask the keychain each time.

use super::{ApiKey, KeyStore, KeychainError, MemoryKeyStore, OsKeyStore};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use ts_rs::TS;

/// Where a provider's key stands, as Settings and the generate panel show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    /// The provider works without a key.
    NotNeeded,
    Missing,
    Stored,
    /// Taken from the conventional environment variable (never stored);
    /// it wins over a key in the keychain while it is set.
    Environment {
        variable: String,
    },
    /// The keychain could not be asked.
    Unavailable {
        message: String,
    },
}

/// How long a "no key" answer is trusted. A key can be added outside this
/// process (another Easel, the CLI, a keychain app); a stored key is not
/// re-read, since a provider call that fails with it reports that anyway.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Keys {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    /// Reads an environment variable (the process's, or none in tests).
    env: fn(&str) -> Option<String>,
    negative_ttl: Duration,
    cache: Mutex<Cache>,
}

/// Only answers the keychain gave; failures are asked again next time.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, Entry>,
    /// Bumped when a write starts and when it ends, so a read that overlapped
    /// a write (and may have seen the old value) does not cache its answer.
    generation: u64,
}

struct Entry {
    key: Option<ApiKey>,
    read_at: Instant,
}

impl Keys {
    pub fn new(store: Arc<dyn KeyStore>) -> Keys {
        Keys::with_negative_ttl(store, NEGATIVE_TTL)
    }

    /// Like `new`, trusting "no key" answers for `ttl` (tests shorten it).
    pub fn with_negative_ttl(store: Arc<dyn KeyStore>, ttl: Duration) -> Keys {
        Keys {
            inner: Arc::new(Inner {
                store,
                env: |_| None,
                negative_ttl: ttl,
                cache: Mutex::new(Cache::default()),
            }),
        }
    }

    /// The OS keychain, entries under `service`, and the provider's
    /// conventional environment variable (`OPENAI_API_KEY`, ...).
    pub fn os(service: &str) -> Keys {
        Keys::new(Arc::new(OsKeyStore::new(service))).with_env(|name| std::env::var(name).ok())
    }

    /// Like this, reading environment variables through `env` (tests give
    /// their own instead of the process's).
    pub fn with_env(self, env: fn(&str) -> Option<String>) -> Keys {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            store: Arc::clone(&shared.store),
            env: shared.env,
            negative_ttl: shared.negative_ttl,
            cache: Mutex::new(Cache::default()),
        });
        Keys {
            inner: Arc::new(Inner { env, ..inner }),
        }
    }

    /// The provider's key from its environment variable, when set.
    fn env_key(&self, provider: &str) -> Option<(&'static str, ApiKey)> {
        let variable = env_variable(provider)?;
        let text = (self.inner.env)(variable)?;
        Some((variable, ApiKey::parse(&text).ok()?))
    }

    /// Keys kept in memory only (tests).
    pub fn memory() -> Keys {
        Keys::new(Arc::new(MemoryKeyStore::default()))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // Entries are replaced whole, so a poisoned map is still consistent.
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached answer for `provider`, if still trusted.
    fn cached(&self, cache: &Cache, provider: &str) -> Option<Option<ApiKey>> {
        let entry = cache.entries.get(provider)?;
        let fresh = entry.key.is_some() || entry.read_at.elapsed() < self.inner.negative_ttl;
        fresh.then(|| entry.key.clone())
    }

    /// Start a write: drop the cached answer (if the write fails, the next
    /// read asks the keychain) and return the generation it runs under.
    fn begin_write(&self, provider: &str) -> u64 {
        let mut cache = self.cache();
        cache.entries.remove(provider);
        cache.generation += 1;
        cache.generation
    }

    /// End a write: cache `key` only if no other write started meanwhile
    /// (which of two overlapping writes the keychain kept is unknown).
    fn end_write(&self, provider: &str, started: u64, key: Option<Option<ApiKey>>) {
        let mut cache = self.cache();
        let alone = cache.generation == started;
        cache.generation += 1;
        match key {
            Some(key) if alone => {
                let entry = Entry {
                    key,
                    read_at: Instant::now(),
                };
                cache.entries.insert(provider.to_string(), entry);
            }
            _ => {
                cache.entries.remove(provider);
            }
        }
    }

    /// Run a keychain call off the async runtime (it is blocking IPC).
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn KeyStore) -> Result<T, KeychainError> + Send + 'static,
    ) -> Result<T, KeychainError> {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|_| KeychainError::Failed("the keychain call was interrupted".into()))?
    }

    pub async fn get(&self, provider: &str) -> Result<Option<ApiKey>, KeychainError> {
        if let Some((_, key)) = self.env_key(provider) {
            return Ok(Some(key));
        }
        let started = {
            let cache = self.cache();
            if let Some(known) = self.cached(&cache, provider) {
                return Ok(known);
            }
            cache.generation
        };
        let id = provider.to_string();
        let key = self.blocking(move |s| s.get(&id)).await?;
        let mut cache = self.cache();
        // A write since the read started may have changed the key: answer
        // this caller, but leave the cache to that write.
        if cache.generation == started {
            let entry = Entry {
                key: key.clone(),
                read_at: Instant::now(),
            };
            cache.entries.insert(provider.to_string(), entry);
        }
        Ok(key)
    }

    pub async fn set(&self, provider: &str, key: ApiKey) -> Result<(), KeychainError> {
        let (id, stored) = (provider.to_string(), key.clone());
        let started = self.begin_write(provider);
        let result = self.blocking(move |s| s.set(&id, &stored)).await;
        self.end_write(provider, started, result.is_ok().then_some(Some(key)));
        result
    }

    pub async fn delete(&self, provider: &str) -> Result<bool, KeychainError> {
        let id = provider.to_string();
        let started = self.begin_write(provider);
        let result = self.blocking(move |s| s.delete(&id)).await;
        self.end_write(provider, started, result.is_ok().then_some(None));
        result
    }

    pub async fn state(&self, provider: &str, needs_key: bool) -> KeyState {
        if !needs_key {
            return KeyState::NotNeeded;
        }
        if let Some((variable, _)) = self.env_key(provider) {
            return KeyState::Environment {
                variable: variable.to_string(),
            };
        }
        match self.get(provider).await {
            Ok(Some(_)) => KeyState::Stored,
            Ok(None) => KeyState::Missing,
            Err(e) => KeyState::Unavailable {
                message: e.to_string(),
            },
        }
    }

    /// The key a provider call needs, or why there is none. Providers map
    /// this to their failure kinds (`providers::ProviderError: From`).
    pub async fn require(&self, provider: &str) -> Result<ApiKey, KeyError> {
        match self.get(provider).await {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(KeyError::Missing(provider.to_string())),
            Err(e) => Err(KeyError::Unavailable(e)),
        }
    }
}

/// The conventional environment variable holding a provider's key, as the
/// providers' own tools read it.
pub fn env_variable(provider: &str) -> Option<&'static str> {
    match provider {
        "openai" => Some("OPENAI_API_KEY"),
        "replicate" => Some("REPLICATE_API_TOKEN"),
        _ => None,
    }
}

/// Why a provider call has no key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    /// The user's to fix: not worth retrying.
    #[error("no API key for {0}: add one in Settings")]
    Missing(String),
    /// The keychain cannot be reached now (a locked keyring): may come back.
    #[error(transparent)]
    Unavailable(KeychainError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use tokio::sync::oneshot;

    /// Counts keychain reads, to show the cache saves them.
    #[derive(Default)]
    struct Counting {
        inner: MemoryKeyStore,
        reads: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl KeyStore for Counting {
        fn get(&self, p: &str) -> Result<Option<ApiKey>, KeychainError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(KeychainError::Unavailable("locked".into()));
            }
            self.inner.get(p)
        }
        fn set(&self, p: &str, k: &ApiKey) -> Result<(), KeychainError> {
            self.inner.set(p, k)
        }
        fn delete(&self, p: &str) -> Result<bool, KeychainError> {
            self.inner.delete(p)
        }
    }

    fn key(text: &str) -> ApiKey {
        ApiKey::parse(text).expect("valid key")
    }

    #[tokio::test]
    async fn an_environment_key_wins_and_is_never_stored() {
        let store = Arc::new(Counting::default());
        let keys = Keys::new(store.clone()).with_env(|name| match name {
            "OPENAI_API_KEY" => Some("sk-from-env-1234".into()),
            "REPLICATE_API_TOKEN" => Some("   ".into()),
            _ => None,
        });
        assert_eq!(
            keys.state("openai", true).await,
            KeyState::Environment {
                variable: "OPENAI_API_KEY".into()
            }
        );
        assert_eq!(keys.get("openai").await, Ok(Some(key("sk-from-env-1234"))));
        keys.set("openai", key("sk-in-keychain"))
            .await
            .expect("set");
        assert_eq!(
            keys.get("openai").await,
            Ok(Some(key("sk-from-env-1234"))),
            "the environment wins while set"
        );
        assert_eq!(store.inner.get("openai"), Ok(Some(key("sk-in-keychain"))));
        // A blank variable is no key; a provider without one reads the keychain.
        assert_eq!(keys.state("replicate", true).await, KeyState::Missing);
        assert_eq!(keys.state("acme", true).await, KeyState::Missing);
    }

    #[tokio::test]
    async fn reads_are_cached_and_writes_update_the_cache() {
        let store = Arc::new(Counting::default());
        let keys = Keys::new(store.clone());
        assert_eq!(keys.state("acme", true).await, KeyState::Missing);
        assert_eq!(keys.get("acme").await, Ok(None));
        assert_eq!(store.reads.load(Ordering::SeqCst), 1, "second read cached");

        keys.set("acme", key("sk-1")).await.expect("set");
        assert_eq!(keys.get("acme").await, Ok(Some(key("sk-1"))));
        assert_eq!(store.reads.load(Ordering::SeqCst), 1);
        assert_eq!(keys.state("acme", true).await, KeyState::Stored);
        assert_eq!(keys.state("acme", false).await, KeyState::NotNeeded);

        assert_eq!(keys.delete("acme").await, Ok(true));
        assert_eq!(keys.delete("acme").await, Ok(false));
        assert_eq!(keys.get("acme").await, Ok(None));
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_map_to_provider_errors() {
        let store = Arc::new(Counting::default());
        store.fail.store(true, Ordering::SeqCst);
        let keys = Keys::new(store.clone());
        let state = keys.state("acme", true).await;
        assert!(matches!(state, KeyState::Unavailable { .. }), "{state:?}");
        let e = keys.require("acme").await.expect_err("unavailable");
        assert!(matches!(e, KeyError::Unavailable(_)), "{e:?}");

        store.fail.store(false, Ordering::SeqCst);
        let e = keys.require("acme").await.expect_err("missing");
        assert!(matches!(e, KeyError::Missing(_)), "{e:?}");
        assert!(e.to_string().contains("add one in Settings"), "{e}");
        assert_eq!(
            store.reads.load(Ordering::SeqCst),
            3,
            "errors were asked again"
        );

        store.inner.set("acme", &key("sk-2")).expect("set");
        let fresh = Keys::new(store.clone());
        assert_eq!(fresh.require("acme").await.expect("stored"), key("sk-2"));
    }

    #[tokio::test]
    async fn a_missing_key_is_asked_again_after_the_negative_ttl() {
        let store = Arc::new(Counting::default());
        let keys = Keys::with_negative_ttl(store.clone(), Duration::from_millis(20));
        assert_eq!(keys.get("acme").await, Ok(None));
        // Added outside this process (another Easel, the CLI).
        store.inner.set("acme", &key("sk-3")).expect("set");
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(keys.get("acme").await, Ok(Some(key("sk-3"))));
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
        // A stored key is still cached past the TTL.
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(keys.get("acme").await, Ok(Some(key("sk-3"))));
        assert_eq!(store.reads.load(Ordering::SeqCst), 2);
    }

    /// A keychain whose next read, once it has its answer, waits for the
    /// test: a write can then run while the read is in flight.
    #[derive(Default)]
    struct Gated {
        inner: MemoryKeyStore,
        gate: Mutex<Option<(oneshot::Sender<()>, mpsc::Receiver<()>)>>,
    }

    impl Gated {
        /// Returns (read has its answer, let the read finish).
        fn hold_next_read(&self) -> (oneshot::Receiver<()>, mpsc::Sender<()>) {
            let (entered_tx, entered_rx) = oneshot::channel();
            let (release_tx, release_rx) = mpsc::channel();
            *self.gate.lock().unwrap_or_else(|p| p.into_inner()) = Some((entered_tx, release_rx));
            (entered_rx, release_tx)
        }
    }

    impl KeyStore for Gated {
        fn get(&self, p: &str) -> Result<Option<ApiKey>, KeychainError> {
            let gate = self.gate.lock().unwrap_or_else(|p| p.into_inner()).take();
            let answer = self.inner.get(p);
            if let Some((entered, release)) = gate {
                let _ = entered.send(());
                let _ = release.recv();
            }
            answer
        }
        fn set(&self, p: &str, k: &ApiKey) -> Result<(), KeychainError> {
            self.inner.set(p, k)
        }
        fn delete(&self, p: &str) -> Result<bool, KeychainError> {
            self.inner.delete(p)
        }
    }

    /// Run `write` while a `get` of "acme" is in flight; returns what that get answered.
    async fn read_across<F: std::future::Future>(
        store: &Gated,
        keys: &Keys,
        write: F,
    ) -> Result<Option<ApiKey>, KeychainError> {
        let (entered, release) = store.hold_next_read();
        let reader = tokio::spawn({
            let keys = keys.clone();
            async move { keys.get("acme").await }
        });
        entered.await.expect("the read started");
        write.await;
        release.send(()).expect("the read is waiting");
        reader.await.expect("the read finished")
    }

    #[tokio::test]
    async fn a_read_overlapping_a_delete_does_not_cache_the_old_key() {
        let store = Arc::new(Gated::default());
        store.inner.set("acme", &key("sk-old")).expect("set");
        let keys = Keys::new(store.clone());
        let seen = read_across(&store, &keys, async {
            assert_eq!(keys.delete("acme").await, Ok(true));
        })
        .await;
        assert_eq!(
            seen,
            Ok(Some(key("sk-old"))),
            "the read answers what it saw"
        );
        assert_eq!(keys.get("acme").await, Ok(None), "but does not cache it");
    }

    #[tokio::test]
    async fn a_read_overlapping_a_set_does_not_cache_the_old_answer() {
        let store = Arc::new(Gated::default());
        let keys = Keys::new(store.clone());
        let seen = read_across(&store, &keys, async {
            keys.set("acme", key("sk-new")).await.expect("set");
        })
        .await;
        assert_eq!(seen, Ok(None));
        assert_eq!(keys.get("acme").await, Ok(Some(key("sk-new"))));
    }
}
