//! Which files the window may load through the asset protocol: the
//! thumbnail cache and the library's dated folders (`YYYY/MM/DD`, where Easel
//! writes its images), each non-recursively. Not the library folder as a
//! whole: whatever else a user keeps there (or below it) stays out of reach
//! of the web view. A folder is added when a job completes into it.

use easel_engine::JobSummary;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tauri::{AppHandle, Manager};

#[derive(Default)]
pub struct ImageScope {
    allowed: Mutex<HashSet<PathBuf>>,
}

impl ImageScope {
    /// Allow the files directly in `dir` (once).
    pub fn allow_dir(&self, app: &AppHandle, dir: &Path) {
        let mut allowed = self.allowed.lock().unwrap_or_else(|p| p.into_inner());
        if !allowed.insert(dir.to_path_buf()) {
            return;
        }
        if let Err(e) = app.asset_protocol_scope().allow_directory(dir, false) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot allow the folder for images");
        }
    }

    /// Allow every dated folder that exists under a library root.
    pub fn allow_library(&self, app: &AppHandle, root: &Path) {
        for year in numbered_dirs(root, 4) {
            for month in numbered_dirs(&year, 2) {
                for day in numbered_dirs(&month, 2) {
                    self.allow_dir(app, &day);
                }
            }
        }
    }

    /// A job completed: its images are in its dated folder of the current
    /// library.
    pub fn allow_job(&self, app: &AppHandle, engine: &easel_engine::Engine, job: &JobSummary) {
        if let Some(dir) = engine.image_dir_of(job) {
            self.allow_dir(app, &dir);
        }
    }
}

/// Sub-folders of `dir` whose names are `digits` decimal digits.
fn numbered_dirs(dir: &Path, digits: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.len() == digits && name.bytes().all(|b| b.is_ascii_digit())
        })
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// The scope, from the app's managed state.
pub fn of(app: &AppHandle) -> tauri::State<'_, ImageScope> {
    app.state::<ImageScope>()
}
