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
// Unknown keys are not refused: a config written by a newer Easel must not
// stop this one from starting. `parse_settings` reports them instead.
#[serde(default)]
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

/// The webhook receiver (`[webhooks]`): off unless enabled. It listens on
/// 127.0.0.1 only; a provider reaches it through `public_url`, a tunnel the
/// user runs (Replicate delivers only to public HTTPS URLs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    pub enabled: bool,
    /// 0: any free port (shown in Settings).
    pub port: u16,
    /// The receiver's public root, e.g. `https://easel.example.net`; providers
    /// are told `{public_url}/webhooks/{provider}`. None: polling only.
    pub public_url: Option<String>,
}

/// What `config.toml` may set. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
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
    pub save_hold_after_ms: Option<u64>,
    pub poll_interval_ms: Option<u64>,
    pub recovery_interval_ms: Option<u64>,
    pub crash_limit: Option<u32>,
    pub monthly_budget_micros: Option<i64>,
    pub backoff_base_ms: Option<u64>,
    pub backoff_max_ms: Option<u64>,
    pub max_image_bytes: Option<u64>,
    pub max_image_pixels: Option<u64>,
    pub busy_timeout_ms: Option<u64>,
    /// How long one provider call may take (a synchronous image request can
    /// take minutes).
    pub provider_timeout_ms: Option<u64>,
    pub concurrency: BTreeMap<String, u32>,
    pub base_urls: BTreeMap<String, String>,
    /// Per provider: how long a job may stay with it unfinished.
    pub processing_deadlines_ms: BTreeMap<String, u64>,
    pub offline: OfflineSettings,
    pub webhooks: WebhookSettings,
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
    /// A save that keeps waiting for the library (folder gone, disk full)
    /// is held for the user after this long.
    pub save_hold_after_ms: u64,
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
    /// Overrides of each provider's processing deadline.
    pub processing_deadlines_ms: BTreeMap<String, u64>,
    pub provider_timeout_ms: u64,
    pub offline: OfflineSettings,
    pub webhooks: WebhookSettings,
    /// The keychain service name provider keys are stored under
    /// (`EASEL_KEYCHAIN_SERVICE`; tests use their own).
    pub keychain_service: String,
    /// Problems found while loading that did not stop it (unknown keys in
    /// `config.toml`), for front ends to show.
    pub warnings: Vec<String>,
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
            save_hold_after_ms: 30 * 60_000,
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
            processing_deadlines_ms: BTreeMap::new(),
            provider_timeout_ms: 300_000,
            offline: OfflineSettings::default(),
            webhooks: WebhookSettings::default(),
            keychain_service: KEYCHAIN_SERVICE.into(),
            warnings: Vec::new(),
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
        let (settings, warnings) = read_settings(&data_dir.join(CONFIG_FILE))?;
        let library_dir = library_dir
            .or_else(|| env_path("EASEL_LIBRARY_DIR"))
            .or_else(|| settings.library_dir.clone());
        let mut config = Config::new(data_dir, library_dir);
        check_library_dir(&config.library_dir)?;
        config.warnings = warnings;
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
        config.check()?;
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
            save_hold_after_ms,
            poll_interval_ms,
            recovery_interval_ms,
            crash_limit,
            backoff_base_ms,
            backoff_max_ms,
            busy_timeout_ms,
            provider_timeout_ms
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
        self.processing_deadlines_ms
            .extend(s.processing_deadlines_ms);
        self.offline = s.offline;
        self.webhooks = s.webhooks;
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
        if let Some(v) = env_number("EASEL_SAVE_HOLD_MS")? {
            self.save_hold_after_ms = v;
        }
        if let Some(v) = env_number("EASEL_PROVIDER_TIMEOUT_MS")? {
            self.provider_timeout_ms = v;
        }
        if let Some(port) = env_number("EASEL_WEBHOOK_PORT")? {
            self.webhooks.enabled = true;
            self.webhooks.port = u16::try_from(port).map_err(|_| {
                EngineError::InvalidInput(format!("EASEL_WEBHOOK_PORT {port} is not a port"))
            })?;
        }
        if let Ok(url) = std::env::var("EASEL_WEBHOOK_PUBLIC_URL") {
            self.webhooks.public_url = Some(url).filter(|u| !u.trim().is_empty());
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

    /// Values that cannot work. A lease of 0 would expire as it is taken;
    /// short leases (tens of milliseconds) are fine, if slow.
    pub fn check(&self) -> Result<(), EngineError> {
        if self.lease_ms == 0 {
            return Err(EngineError::InvalidInput(
                "lease_ms (EASEL_LEASE_MS) must be at least 1 millisecond".into(),
            ));
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

    /// Provider outputs made durable before saving (see `staging`).
    pub fn staging_dir(&self) -> PathBuf {
        self.data_dir.join("staging")
    }

    /// Progress previews of running jobs (see `previews`).
    pub fn previews_dir(&self) -> PathBuf {
        self.data_dir.join("previews")
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

/// A key `config.toml` has that this version of Easel does not know, as the
/// table path to it (`["offline", "jitter_ms"]`).
pub(crate) type UnknownKey = Vec<String>;

/// Parse `config.toml` text. Unknown keys are returned rather than refused
/// (a newer Easel may have written them); a known key with a wrong type is
/// still an error naming the file.
pub(crate) fn parse_settings(
    text: &str,
    path: &Path,
) -> Result<(Settings, Vec<UnknownKey>), EngineError> {
    // Name the line (and show it): "invalid type: string, expected u32"
    // alone does not say which setting is wrong.
    let bad = |e: toml::de::Error| {
        let place = e.span().map(|span| {
            let start = span.start.min(text.len());
            let line_no = text[..start].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or_default().trim();
            format!(", line {line_no} (`{line}`)")
        });
        EngineError::InvalidInput(format!(
            "{}{}: {}",
            path.display(),
            place.unwrap_or_default(),
            e.message()
        ))
    };
    let mut unknown = Vec::new();
    let de = toml::Deserializer::parse(text).map_err(bad)?;
    let settings = serde_ignored::deserialize(de, |p| unknown.push(key_path(&p))).map_err(bad)?;
    unknown.sort();
    Ok((settings, unknown))
}

fn key_path(path: &serde_ignored::Path<'_>) -> UnknownKey {
    use serde_ignored::Path as P;
    let mut out = match path {
        P::Root => return Vec::new(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => key_path(parent),
    };
    match path {
        P::Map { key, .. } => out.push(key.clone()),
        P::Seq { index, .. } => out.push(index.to_string()),
        _ => {}
    }
    out
}

fn read_settings(path: &Path) -> Result<(Settings, Vec<String>), EngineError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let (settings, unknown) = parse_settings(&text, path)?;
            let keys: Vec<String> = unknown.iter().map(|k| k.join(".")).collect();
            if !keys.is_empty() {
                tracing::warn!(
                    file = %path.display(),
                    keys = ?keys,
                    "config.toml has settings this version of Easel does not know; they are ignored"
                );
            }
            let warnings = keys
                .iter()
                .map(|k| format!("{}: unknown setting `{k}` was ignored", path.display()))
                .collect();
            Ok((settings, warnings))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Settings::default(), Vec::new())),
        Err(e) => Err(EngineError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// Refuse a library folder Easel must not fill with images and manage
/// (it trashes files there): see `refused_library_dir`.
pub fn check_library_dir(dir: &Path) -> Result<(), EngineError> {
    let home = dirs::home_dir();
    let canonical_home = home.as_deref().and_then(|h| h.canonicalize().ok());
    // Both the path as given and where its symlinks lead are checked: a link
    // to `/` is as bad as `/`, and a folder not made yet has no canonical form.
    let mut reasons = vec![refused_library_dir(dir, home.as_deref())];
    if let Ok(real) = dir.canonicalize() {
        reasons.push(refused_library_dir(&real, home.as_deref()));
        reasons.push(refused_library_dir(&real, canonical_home.as_deref()));
    }
    match reasons.into_iter().flatten().next() {
        Some(reason) => Err(EngineError::InvalidInput(format!(
            "{} cannot be the library folder: it is {reason}; choose or make a folder for \
             Easel's images, such as Pictures/Easel in your home folder",
            dir.display()
        ))),
        None => Ok(()),
    }
}

/// Folders that can never be the library.
#[cfg(unix)]
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var",
    #[cfg(target_os = "macos")]
    "/System",
    #[cfg(target_os = "macos")]
    "/Library",
    #[cfg(target_os = "macos")]
    "/Applications",
    #[cfg(target_os = "macos")]
    "/private",
    #[cfg(target_os = "macos")]
    "/private/var",
];
/// Folders nothing inside of which can be the library either.
#[cfg(unix)]
const SYSTEM_TREES: &[&str] = &[
    "/proc",
    "/sys",
    "/dev",
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/boot",
    #[cfg(target_os = "macos")]
    "/System",
    #[cfg(target_os = "macos")]
    "/private/etc",
];
// Lower case: Windows paths are compared case-insensitively.
#[cfg(windows)]
const SYSTEM_DIRS: &[&str] = &[
    r"c:\windows",
    r"c:\program files",
    r"c:\program files (x86)",
    r"c:\programdata",
    r"c:\users",
];
#[cfg(windows)]
const SYSTEM_TREES: &[&str] = &[
    r"c:\windows",
    r"c:\program files",
    r"c:\program files (x86)",
];
#[cfg(not(any(unix, windows)))]
const SYSTEM_DIRS: &[&str] = &[];
#[cfg(not(any(unix, windows)))]
const SYSTEM_TREES: &[&str] = &[];

/// Why `dir` cannot be the library folder, if it cannot: a filesystem root,
/// `home` itself, or a system folder. Pure (no disk access), so `..` is
/// resolved by name; `check_library_dir` also checks the canonical path.
pub fn refused_library_dir(dir: &Path, home: Option<&Path>) -> Option<&'static str> {
    let dir = normalize(dir);
    // `/`, `C:\`: nothing above them (an empty relative path is not a root).
    if dir.parent().is_none() && !dir.as_os_str().is_empty() {
        return Some("the root of a file system");
    }
    if home.is_some_and(|h| normalize(h) == dir) {
        return Some("your home folder itself");
    }
    let system = SYSTEM_DIRS.iter().any(|s| dir == Path::new(s))
        || SYSTEM_TREES.iter().any(|s| dir.starts_with(s));
    system.then_some("a system folder")
}

/// `dir` with `.` dropped and `..` applied by name (lower case on Windows).
fn normalize(dir: &Path) -> PathBuf {
    use std::path::Component;
    #[cfg(windows)]
    let dir = &PathBuf::from(dir.to_string_lossy().to_lowercase());
    let mut out = PathBuf::new();
    for part in dir.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn roots_home_and_system_folders_are_refused_as_the_library() {
        let home = Some(Path::new("/home/ann"));
        let refused = |dir: &str| refused_library_dir(Path::new(dir), home);
        for root in ["/", "/..", "/tmp/../.."] {
            assert_eq!(refused(root), Some("the root of a file system"), "{root}");
        }
        for dir in [
            "/home/ann",
            "/home/ann/",
            "/home/ann/.",
            "/home/ann/Pictures/..",
        ] {
            assert_eq!(refused(dir), Some("your home folder itself"), "{dir}");
        }
        for dir in [
            "/etc",
            "/usr",
            "/var",
            "/lib64",
            "/usr/share/easel",
            "/proc/self",
            "/dev/shm",
            "/etc/easel",
            "/boot/x",
            "/tmp/../etc",
        ] {
            assert_eq!(refused(dir), Some("a system folder"), "{dir}");
        }
        for dir in [
            "/home/ann/Pictures/Easel",
            "/home/ann/Easel",
            "/tmp",
            "/tmp/easel-test",
            "/var/tmp/easel",
            "/mnt/photos",
            "/etc/../tmp/easel",
        ] {
            assert_eq!(refused(dir), None, "{dir}");
        }
        assert_eq!(refused_library_dir(Path::new("/home/ann"), None), None);
    }

    #[cfg(unix)]
    #[test]
    fn check_library_dir_follows_links_and_allows_temp_folders() {
        let tmp = tempfile::tempdir().expect("tmp");
        check_library_dir(tmp.path()).expect("a temp folder is fine");
        check_library_dir(&tmp.path().join("not-made-yet")).expect("a new folder is fine");
        let err = check_library_dir(Path::new("/")).expect_err("root");
        assert!(matches!(err, EngineError::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().contains("root of a file system"), "{err}");
        let link = tmp.path().join("to-etc");
        std::os::unix::fs::symlink("/etc", &link).expect("symlink");
        let err = check_library_dir(&link).expect_err("a link to /etc");
        assert!(err.to_string().contains("a system folder"), "{err}");
        if let Some(home) = dirs::home_dir() {
            let err = check_library_dir(&home).expect_err("home");
            assert!(err.to_string().contains("home folder itself"), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_returned_with_their_table_path() {
        let text = "max_attempts = 7\nshiny = true\n[offline]\nlatency_ms = 5\njitter = 2\n";
        let (settings, unknown) = parse_settings(text, Path::new("config.toml")).expect("parse");
        assert_eq!(settings.max_attempts, Some(7));
        assert_eq!(settings.offline.latency_ms, 5);
        assert_eq!(
            unknown,
            vec![
                vec!["offline".to_string(), "jitter".into()],
                vec!["shiny".into()]
            ]
        );
        let err = parse_settings(
            "[offline]\nlatency_ms = \"slow\"\n",
            Path::new("config.toml"),
        )
        .expect_err("wrong type");
        assert!(err.to_string().contains("config.toml"), "{err}");
    }
}
