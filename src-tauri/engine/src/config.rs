//! Engine settings: defaults, `config.toml` in the data folder, then
//! environment overrides (`EASEL_*`), in that order of precedence.

use crate::error::EngineError;
use crate::library::validate::ImageLimits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const CONFIG_FILE: &str = "config.toml";
pub const DB_FILE: &str = "easel.db";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfflineSettings {
    /// Simulated time from submit to result, like a cloud provider's queue.
    pub latency_ms: u64,
    /// Simulated price, so budgets and the ledger can be tried without keys.
    pub price_per_image_micros: i64,
}

impl Default for OfflineSettings {
    fn default() -> Self {
        OfflineSettings {
            latency_ms: 1500,
            price_per_image_micros: 0,
        }
    }
}

/// What `config.toml` may set. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub library_dir: Option<PathBuf>,
    /// Library folders used before the current one: their images stay where
    /// they are, and the app may still show them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub earlier_library_dirs: Vec<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub default_provider: Option<String>,
    pub max_attempts: Option<u32>,
    pub lease_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub recovery_interval_ms: Option<u64>,
    pub crash_limit: Option<u32>,
    pub monthly_budget_micros: Option<i64>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub max_image_bytes: Option<u64>,
    pub max_image_pixels: Option<u64>,
    pub busy_timeout_ms: Option<u64>,
    pub concurrency: BTreeMap<String, u32>,
    pub base_urls: BTreeMap<String, String>,
    pub offline: OfflineSettings,
}

/// The resolved configuration the engine runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub library_dir: PathBuf,
    /// The default library folder is created on first use; a folder the user
    /// chose is not (a missing one is usually an unplugged drive).
    pub library_dir_is_default: bool,
    /// Other folders holding images from earlier library choices.
    pub earlier_library_dirs: Vec<PathBuf>,
    pub cache_dir: PathBuf,
    pub default_provider: String,
    pub max_attempts: u32,
    pub lease_ms: u64,
    pub poll_interval_ms: u64,
    pub recovery_interval_ms: u64,
    /// A job in flight during this many consecutive crashes is held.
    pub crash_limit: u32,
    pub monthly_budget_micros: Option<i64>,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub image_limits: ImageLimits,
    pub busy_timeout_ms: u64,
    pub concurrency: BTreeMap<String, u32>,
    pub default_concurrency: u32,
    pub base_urls: BTreeMap<String, String>,
    pub offline: OfflineSettings,
    /// The keychain service name provider keys are stored under
    /// (`EASEL_KEYCHAIN_SERVICE`; tests use their own).
    pub keychain_service: String,
}

/// The app's identifier, as in `tauri.conf.json`.
pub const KEYCHAIN_SERVICE: &str = "studio.easel.app";

impl Config {
    /// Defaults rooted in `data_dir`, with the library in `library_dir` if given.
    pub fn new(data_dir: PathBuf, library_dir: Option<PathBuf>) -> Self {
        let (library_dir, library_dir_is_default) = match library_dir {
            Some(dir) => (dir, false),
            None => (default_library_dir(), true),
        };
        let limits = ImageLimits::default();
        Config {
            cache_dir: data_dir.join("cache"),
            data_dir,
            library_dir,
            library_dir_is_default,
            earlier_library_dirs: Vec::new(),
            default_provider: "offline".into(),
            max_attempts: 3,
            lease_ms: 15_000,
            poll_interval_ms: 200,
            recovery_interval_ms: 5_000,
            crash_limit: 3,
            monthly_budget_micros: None,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
            image_limits: limits,
            busy_timeout_ms: 5_000,
            concurrency: BTreeMap::new(),
            default_concurrency: 2,
            base_urls: BTreeMap::new(),
            offline: OfflineSettings::default(),
            keychain_service: KEYCHAIN_SERVICE.into(),
        }
    }

    /// Resolve from explicit folders (CLI flags), then the environment
    /// (`EASEL_DATA_DIR`, `EASEL_LIBRARY_DIR`, ...), then `config.toml`.
    pub fn load(
        data_dir: Option<PathBuf>,
        library_dir: Option<PathBuf>,
    ) -> Result<Self, EngineError> {
        let env_path = |name: &str| std::env::var_os(name).map(PathBuf::from);
        let chosen = data_dir.or_else(|| env_path("EASEL_DATA_DIR"));
        let is_default_data_dir = chosen.is_none();
        let data_dir = chosen.unwrap_or_else(default_data_dir);
        let settings = read_settings(&data_dir.join(CONFIG_FILE))?;
        let library_dir = library_dir
            .or_else(|| env_path("EASEL_LIBRARY_DIR"))
            .or_else(|| settings.library_dir.clone());
        let mut config = Config::new(data_dir, library_dir);
        // The folder config.toml names is an earlier one too when a flag or
        // EASEL_LIBRARY_DIR overrides it.
        let mut earlier = settings.earlier_library_dirs.clone();
        earlier.extend(settings.library_dir.clone());
        earlier.retain(|d| *d != config.library_dir);
        earlier.dedup();
        config.earlier_library_dirs = earlier;
        if is_default_data_dir {
            if let Some(cache) = dirs::cache_dir() {
                config.cache_dir = cache.join("easel");
            }
        }
        config.apply(settings);
        config.apply_env()?;
        Ok(config)
    }

    fn apply(&mut self, s: Settings) {
        if let Some(v) = s.cache_dir {
            self.cache_dir = v;
        }
        if let Some(v) = s.default_provider {
            self.default_provider = v;
        }
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = s.$field { self.$field = v; } )* };
        }
        set!(
            max_attempts,
            lease_ms,
            poll_interval_ms,
            recovery_interval_ms,
            crash_limit,
            backoff_base_ms,
            backoff_max_ms,
            busy_timeout_ms
        );
        if s.monthly_budget_micros.is_some() {
            self.monthly_budget_micros = s.monthly_budget_micros;
        }
        if let Some(v) = s.max_image_bytes {
            self.image_limits.max_bytes = v;
        }
        if let Some(v) = s.max_image_pixels {
            self.image_limits.max_pixels = v;
        }
        self.concurrency.extend(s.concurrency);
        self.base_urls.extend(s.base_urls);
        self.offline = s.offline;
    }

    fn apply_env(&mut self) -> Result<(), EngineError> {
        if let Some(ms) = env_number("EASEL_OFFLINE_LATENCY_MS")? {
            self.offline.latency_ms = ms;
        }
        if let Some(v) = env_number("EASEL_MAX_ATTEMPTS")? {
            self.max_attempts = v as u32;
        }
        if let Some(v) = env_number("EASEL_LEASE_MS")? {
            self.lease_ms = v;
        }
        if let Ok(service) = std::env::var("EASEL_KEYCHAIN_SERVICE") {
            if !service.trim().is_empty() {
                self.keychain_service = service;
            }
        }
        for (key, value) in std::env::vars() {
            if let Some(provider) = key
                .strip_prefix("EASEL_")
                .and_then(|k| k.strip_suffix("_BASE_URL"))
            {
                self.base_urls
                    .insert(provider.to_ascii_lowercase(), value.clone());
            }
        }
        Ok(())
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// Imported reference images (content-addressed).
    pub fn references_dir(&self) -> PathBuf {
        self.data_dir.join("references")
    }

    pub fn thumbs_dir(&self) -> PathBuf {
        self.cache_dir.join("thumbnails")
    }

    pub fn base_url(&self, provider: &str) -> Option<&str> {
        self.base_urls.get(provider).map(String::as_str)
    }
}

fn env_number(name: &str) -> Result<Option<u64>, EngineError> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map(Some).map_err(|_| {
            EngineError::InvalidInput(format!("{name} must be a whole number, got {v:?}"))
        }),
        Err(_) => Ok(None),
    }
}

fn read_settings(path: &Path) -> Result<Settings, EngineError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| EngineError::InvalidInput(format!("{}: {}", path.display(), e.message()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
        Err(e) => Err(EngineError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("easel")
}

fn default_library_dir() -> PathBuf {
    dirs::picture_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join("Pictures")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("Easel")
}
