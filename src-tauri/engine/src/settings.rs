//! Settings the user changes from the app: validated, written to
//! `config.toml` atomically, and applied to the running engine at once.

use crate::config::{check_library_dir, parse_settings, Settings, UnknownKey, CONFIG_FILE};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::library::{atomic::write_atomic, Library};
use crate::store::ledger;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use ts_rs::TS;

pub const MAX_CONCURRENCY: u32 = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppSettings {
    pub library_dir: String,
    pub default_provider: String,
    pub concurrency: BTreeMap<String, u32>,
    #[ts(type = "number | null")]
    pub monthly_budget_micros: Option<i64>,
    /// Read-only: charged this month plus what unfinished jobs may cost.
    #[ts(type = "number")]
    #[serde(default)]
    pub spent_this_month_micros: i64,
}

impl Engine {
    pub async fn settings(&self) -> Result<AppSettings, EngineError> {
        let since = crate::ledger::month_start_ms();
        let spent = self
            .shared
            .db(move |s| s.read(|c| ledger::committed_since(c, since)))
            .await?;
        let live = self.shared.live.read().unwrap_or_else(|p| p.into_inner());
        Ok(AppSettings {
            library_dir: live.library.root().to_string_lossy().into_owned(),
            default_provider: live.default_provider.clone(),
            concurrency: live.concurrency.clone(),
            monthly_budget_micros: live.monthly_budget_micros,
            spent_this_month_micros: spent,
        })
    }

    /// Check, persist and apply new settings. A new library folder must
    /// exist and be writable; images already saved stay where they are and
    /// the gallery keeps showing them (rows store absolute paths).
    pub async fn save_settings(&self, new: AppSettings) -> Result<AppSettings, EngineError> {
        let sh = &self.shared;
        let invalid = |m: String| EngineError::InvalidInput(m);
        if sh.providers.get(&new.default_provider).is_none() {
            return Err(EngineError::UnknownProvider(new.default_provider.clone()));
        }
        for (provider, n) in &new.concurrency {
            if sh.providers.get(provider).is_none() {
                return Err(EngineError::UnknownProvider(provider.clone()));
            }
            if *n == 0 || *n > MAX_CONCURRENCY {
                return Err(invalid(format!(
                    "concurrency for {provider} must be 1..={MAX_CONCURRENCY}, got {n}"
                )));
            }
        }
        if new.monthly_budget_micros.is_some_and(|b| b < 0) {
            return Err(invalid("the monthly budget cannot be negative".into()));
        }
        let root = PathBuf::from(new.library_dir.trim());
        if !root.is_absolute() {
            return Err(invalid(format!(
                "the library folder must be an absolute path, got {:?}",
                new.library_dir
            )));
        }
        check_library_dir(&root)?;
        let library = Library::new(root.clone(), sh.config.thumbs_dir(), sh.config.image_limits);
        library.check_writable()?;

        let path = sh.config.data_dir.join(CONFIG_FILE);
        let (mut file, unknown, old_text) = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let (settings, unknown) = parse_settings(&text, &path)?;
                (settings, unknown, text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (Settings::default(), Vec::new(), String::new())
            }
            Err(source) => return Err(EngineError::Io { path, source }),
        };
        let previous = sh.live().library.root().to_path_buf();
        if previous != root && !file.earlier_library_dirs.contains(&previous) {
            file.earlier_library_dirs.push(previous);
        }
        file.earlier_library_dirs.retain(|d| *d != root);
        file.library_dir = Some(root);
        file.default_provider = Some(new.default_provider.clone());
        file.concurrency = new.concurrency.clone();
        file.monthly_budget_micros = new.monthly_budget_micros;
        let cannot_write = |e: toml::ser::Error| invalid(format!("cannot write settings: {e}"));
        let text = if unknown.is_empty() {
            toml::to_string(&file).map_err(cannot_write)?
        } else {
            // Keep the keys a newer Easel wrote, so saving here loses nothing.
            let old: toml::Table = toml::from_str(&old_text)
                .map_err(|e| invalid(format!("{}: {}", path.display(), e.message())))?;
            let mut table = toml::Table::try_from(&file).map_err(cannot_write)?;
            for key in &unknown {
                carry_over(&old, &mut table, key);
            }
            toml::to_string(&table).map_err(cannot_write)?
        };
        write_atomic(&path, text.as_bytes()).map_err(|source| EngineError::Io {
            path: path.clone(),
            source,
        })?;
        {
            let mut live = sh.live.write().unwrap_or_else(|p| p.into_inner());
            live.library = Arc::new(library);
            live.default_provider = new.default_provider;
            live.concurrency = new.concurrency;
            live.monthly_budget_micros = new.monthly_budget_micros;
        }
        sh.library_probed
            .store(true, std::sync::atomic::Ordering::Release);
        sh.wake.notify_one();
        self.settings().await
    }
}

/// Copy the value at `key` in `from` into `to`, making tables on the way.
fn carry_over(from: &toml::Table, to: &mut toml::Table, key: &UnknownKey) {
    let Some((last, parents)) = key.split_last() else {
        return;
    };
    let (mut from, mut to) = (from, to);
    for name in parents {
        let Some(next) = from.get(name).and_then(toml::Value::as_table) else {
            return;
        };
        let slot = to
            .entry(name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(slot) = slot.as_table_mut() else {
            return;
        };
        (from, to) = (next, slot);
    }
    if let Some(value) = from.get(last) {
        to.insert(last.clone(), value.clone());
    }
}
