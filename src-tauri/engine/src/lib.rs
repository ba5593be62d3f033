//! Easel's job engine: durable image-generation jobs from click to library.
//!
//! GUI-free: the desktop app, the `easel-cli` binary and the tests all use
//! the same [`Engine`] API. See `../shared/design.md` for the architecture.

mod boards;
pub mod changes;
pub mod config;
mod creation;
mod deletion;
pub mod engine;
pub mod error;
pub mod jobs;
pub mod ledger;
pub mod library;
pub mod model;
pub mod previews;
pub mod provider_keys;
pub mod providers;
pub mod references;
pub mod secrets;
pub mod settings;
pub(crate) mod shared;
pub mod staging;
pub mod store;
pub mod webhooks;

pub use config::Config;
pub use creation::MAX_GROUP;
pub use engine::Engine;
pub use error::{EngineError, ErrorKind, ErrorPayload};
pub use jobs::scheduler::RunUntil;
pub use model::*;
pub use provider_keys::KeyCheck;
pub use providers::ProviderInfo;
pub use references::ReferenceImage;
pub use secrets::{ApiKey, KeyState, Keys};
pub use settings::AppSettings;
