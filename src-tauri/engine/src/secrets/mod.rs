//! Provider API keys. They live in the OS keychain only: never in SQLite,
//! config files, logs or events. The `ApiKey` type has no `Display` or
//! `Serialize` and a redacted `Debug`, so a key cannot reach a log or the UI
//! by accident; code that needs the text calls `expose` at the HTTP call.

mod api_key;
mod keychain;
mod keys;

pub use api_key::ApiKey;
pub use keychain::{KeyStore, KeychainError, MemoryKeyStore, OsKeyStore};
pub use keys::{env_variable, KeyError, KeyState, Keys};
