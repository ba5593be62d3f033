//! The engine's handle on provider keys: the keychain behind a small cache,
//! so a provider polling every 200 ms does not ask the keychain each time.

use super::{ApiKey, KeyStore, KeychainError, MemoryKeyStore, OsKeyStore};
use crate::providers::{FailureKind, ProviderError};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
    /// The keychain could not be asked.
    Unavailable {
        message: String,
    },
}

#[derive(Clone)]
pub struct Keys {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn KeyStore>,
    /// Only answers the keychain gave; failures are asked again next time.
    cache: Mutex<HashMap<String, Option<ApiKey>>>,
}

impl Keys {
    pub fn new(store: Arc<dyn KeyStore>) -> Keys {
        Keys {
            inner: Arc::new(Inner {
                store,
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The OS keychain, entries under `service`.
    pub fn os(service: &str) -> Keys {
        Keys::new(Arc::new(OsKeyStore::new(service)))
    }

    /// Keys kept in memory only (tests).
    pub fn memory() -> Keys {
        Keys::new(Arc::new(MemoryKeyStore::default()))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<ApiKey>>> {
        // Entries are replaced whole, so a poisoned map is still consistent.
        self.inner.cache.lock().unwrap_or_else(|p| p.into_inner())
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
        if let Some(known) = self.cache().get(provider) {
            return Ok(known.clone());
        }
        let id = provider.to_string();
        let key = self.blocking(move |s| s.get(&id)).await?;
        self.cache().insert(provider.to_string(), key.clone());
        Ok(key)
    }

    pub async fn set(&self, provider: &str, key: ApiKey) -> Result<(), KeychainError> {
        let (id, stored) = (provider.to_string(), key.clone());
        // Forget first: if the write fails, the next read asks the keychain.
        self.cache().remove(provider);
        self.blocking(move |s| s.set(&id, &stored)).await?;
        self.cache().insert(provider.to_string(), Some(key));
        Ok(())
    }

    pub async fn delete(&self, provider: &str) -> Result<bool, KeychainError> {
        let id = provider.to_string();
        self.cache().remove(provider);
        let existed = self.blocking(move |s| s.delete(&id)).await?;
        self.cache().insert(provider.to_string(), None);
        Ok(existed)
    }

    pub async fn state(&self, provider: &str, needs_key: bool) -> KeyState {
        if !needs_key {
            return KeyState::NotNeeded;
        }
        match self.get(provider).await {
            Ok(Some(_)) => KeyState::Stored,
            Ok(None) => KeyState::Missing,
            Err(e) => KeyState::Unavailable {
                message: e.to_string(),
            },
        }
    }

    /// The key a provider call needs, or the failure to record on the job:
    /// a missing key is the user's to fix (not retried), a keychain that
    /// cannot be reached may come back (a locked keyring), so it is retried.
    pub async fn require(&self, provider: &str) -> Result<ApiKey, ProviderError> {
        match self.get(provider).await {
            Ok(Some(key)) => Ok(key),
            Ok(None) => Err(ProviderError::new(
                FailureKind::Auth,
                format!("no API key for {provider}: add one in Settings"),
            )),
            Err(e) => Err(ProviderError::new(FailureKind::Retryable, e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        assert_eq!(e.kind, FailureKind::Retryable);

        store.fail.store(false, Ordering::SeqCst);
        let e = keys.require("acme").await.expect_err("missing");
        assert_eq!(e.kind, FailureKind::Auth);
        assert!(e.message.contains("add one in Settings"), "{}", e.message);
        assert_eq!(
            store.reads.load(Ordering::SeqCst),
            3,
            "errors were asked again"
        );

        store.inner.set("acme", &key("sk-2")).expect("set");
        let fresh = Keys::new(store.clone());
        assert_eq!(fresh.require("acme").await.expect("stored"), key("sk-2"));
    }
}
