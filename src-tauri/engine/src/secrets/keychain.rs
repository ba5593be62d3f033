//! Where keys are kept: the OS keychain through `keyring-core` and the
//! platform's store (Secret Service on Linux and the BSDs, Keychain on macOS,
//! Credential Manager on Windows), one entry per provider. Calls block (they
//! are IPC to the keychain daemon); the engine makes them off the async
//! runtime.

use super::ApiKey;
use keyring_core::{CredentialStore, Entry};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeychainError {
    /// No keychain to talk to (no Secret Service running, access refused).
    #[error("the system keychain is not available: {0}")]
    Unavailable(String),
    #[error("the system keychain failed: {0}")]
    Failed(String),
}

pub trait KeyStore: Send + Sync + 'static {
    fn get(&self, provider: &str) -> Result<Option<ApiKey>, KeychainError>;
    fn set(&self, provider: &str, key: &ApiKey) -> Result<(), KeychainError>;
    /// Returns whether there was a key to delete.
    fn delete(&self, provider: &str) -> Result<bool, KeychainError>;
}

/// The OS keychain. `service` names Easel's entries (the app identifier),
/// so tests can use their own.
pub struct OsKeyStore {
    service: String,
    /// Connected on first use. Not kept after a failure, so a keychain that
    /// starts (or unlocks) after Easel is found on the next try, without a
    /// restart.
    store: Mutex<Option<Arc<CredentialStore>>>,
}

impl OsKeyStore {
    pub fn new(service: impl Into<String>) -> Self {
        OsKeyStore {
            service: service.into(),
            store: Mutex::new(None),
        }
    }

    /// Run `op` on this provider's entry; a failure to reach the keychain
    /// drops the connection so the next call makes a new one.
    fn with_entry<T>(
        &self,
        provider: &str,
        op: impl FnOnce(&Entry) -> keyring_core::Result<T>,
    ) -> Result<T, keyring_core::Error> {
        // The slot holds a whole value or none, so a poisoned lock is fine.
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let store = match slot.as_ref() {
            Some(store) => Arc::clone(store),
            None => Arc::clone(slot.insert(open_platform_store()?)),
        };
        let result = Entry::new_in_store(&store, &self.service, provider).and_then(|e| op(&e));
        if let Err(
            keyring_core::Error::PlatformFailure(_) | keyring_core::Error::NoStorageAccess(_),
        ) = &result
        {
            *slot = None;
        }
        result
    }
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
fn open_platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(zbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(target_os = "macos")]
fn open_platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(target_os = "windows")]
fn open_platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(not(any(
    all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    ),
    target_os = "macos",
    target_os = "windows"
)))]
fn open_platform_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(keyring_core::Error::NoDefaultStore)
}

/// Messages are written here rather than taken from the error's Display,
/// because some variants carry the stored bytes.
fn map_error(e: keyring_core::Error) -> KeychainError {
    use keyring_core::Error as E;
    match e {
        E::NoDefaultStore => {
            KeychainError::Unavailable("Easel has no keychain to use on this system".into())
        }
        E::NoStorageAccess(inner) | E::PlatformFailure(inner) => {
            KeychainError::Unavailable(inner.to_string())
        }
        E::BadEncoding(_) => KeychainError::Failed("the stored key is not text".into()),
        E::Ambiguous(_) => {
            KeychainError::Failed("the keychain holds more than one key for this provider".into())
        }
        E::TooLong(what, max) => KeychainError::Failed(format!("{what} is longer than {max}")),
        E::Invalid(what, why) => KeychainError::Failed(format!("{what}: {why}")),
        E::BadDataFormat(..) => KeychainError::Failed("the stored key is malformed".into()),
        E::BadStoreFormat(why) | E::NotSupportedByStore(why) => KeychainError::Failed(why),
        E::NoEntry => KeychainError::Failed("no such key".into()),
        _ => KeychainError::Failed("the keychain refused the request".into()),
    }
}

impl KeyStore for OsKeyStore {
    fn get(&self, provider: &str) -> Result<Option<ApiKey>, KeychainError> {
        match self.with_entry(provider, |e| e.get_password()) {
            Ok(text) => ApiKey::parse(&text)
                .map(Some)
                .map_err(|why| KeychainError::Failed(format!("the stored key is unusable: {why}"))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    fn set(&self, provider: &str, key: &ApiKey) -> Result<(), KeychainError> {
        self.with_entry(provider, |e| e.set_password(key.expose()))
            .map_err(map_error)
    }

    fn delete(&self, provider: &str) -> Result<bool, KeychainError> {
        match self.with_entry(provider, |e| e.delete_credential()) {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(e)),
        }
    }
}

/// Keys held in memory only, for tests and the engine's own unit tests.
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, ApiKey>>,
}

impl KeyStore for MemoryKeyStore {
    fn get(&self, provider: &str) -> Result<Option<ApiKey>, KeychainError> {
        Ok(self.lock().get(provider).cloned())
    }

    fn set(&self, provider: &str, key: &ApiKey) -> Result<(), KeychainError> {
        self.lock().insert(provider.to_string(), key.clone());
        Ok(())
    }

    fn delete(&self, provider: &str) -> Result<bool, KeychainError> {
        Ok(self.lock().remove(provider).is_some())
    }
}

impl MemoryKeyStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ApiKey>> {
        // The map is whole after any panic (single inserts and removes).
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}
