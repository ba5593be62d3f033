//! Where keys are kept: the OS keychain through `keyring` (Secret Service on
//! Linux, Keychain on macOS, Credential Manager on Windows), one entry per
//! provider. Calls block (they are IPC to the keychain daemon); the engine
//! makes them off the async runtime.

use super::ApiKey;
use std::collections::HashMap;
use std::sync::Mutex;

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
}

impl OsKeyStore {
    pub fn new(service: impl Into<String>) -> Self {
        OsKeyStore {
            service: service.into(),
        }
    }

    fn entry(&self, provider: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, provider).map_err(map_error)
    }
}

/// Messages are written here rather than taken from the error's Display,
/// because some variants carry the stored bytes.
fn map_error(e: keyring::Error) -> KeychainError {
    use keyring::Error as E;
    match e {
        E::NoDefaultStore => KeychainError::Unavailable(
            "no keychain service found (on Linux: GNOME Keyring, KeePassXC or another Secret Service)"
                .into(),
        ),
        E::NoStorageAccess(inner) => KeychainError::Unavailable(inner.to_string()),
        E::PlatformFailure(inner) => KeychainError::Unavailable(inner.to_string()),
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
        match self.entry(provider)?.get_password() {
            Ok(text) => ApiKey::parse(&text)
                .map(Some)
                .map_err(|why| KeychainError::Failed(format!("the stored key is unusable: {why}"))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    fn set(&self, provider: &str, key: &ApiKey) -> Result<(), KeychainError> {
        self.entry(provider)?
            .set_password(key.expose())
            .map_err(map_error)
    }

    fn delete(&self, provider: &str) -> Result<bool, KeychainError> {
        match self.entry(provider)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
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
