//! Which files the window may load (through `image_protocol`): image files
//! (PNG, JPEG, WebP) directly in the thumbnail cache, the progress previews
//! folder, or in one of the
//! library's dated folders (`YYYY/MM/DD`, where Easel writes its images).
//! Not the library folder as a whole, not sub-folders, not other kinds of
//! file: whatever else a user keeps there stays out of reach of the web
//! view. A folder is added when a job completes into it.

use easel_engine::JobSummary;
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use tauri::{AppHandle, Manager};

#[derive(Default)]
pub struct ImageScope {
    allowed: Mutex<HashSet<PathBuf>>,
}

impl ImageScope {
    /// Allow the files directly in `dir` (once).
    pub fn allow_dir(&self, dir: &Path) {
        let mut allowed = self.allowed.lock().unwrap_or_else(|p| p.into_inner());
        allowed.insert(dir.to_path_buf());
    }

    /// Whether the window may load `path`: an absolute path without `..`,
    /// an image extension, not a hidden (temp) file, directly in an allowed
    /// folder.
    pub fn allows(&self, path: &Path) -> bool {
        let plain = path.is_absolute()
            && path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        let image_name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .is_some_and(|n| !n.starts_with('.') && content_type(Path::new(n.as_ref())).is_some());
        let allowed = self.allowed.lock().unwrap_or_else(|p| p.into_inner());
        plain && image_name && path.parent().is_some_and(|dir| allowed.contains(dir))
    }

    /// Allow every dated folder that exists under a library root.
    pub fn allow_library(&self, root: &Path) {
        for year in numbered_dirs(root, 4) {
            for month in numbered_dirs(&year, 2) {
                for day in numbered_dirs(&month, 2) {
                    self.allow_dir(&day);
                }
            }
        }
    }

    /// A job completed: its images are in its dated folder of the current
    /// library.
    pub fn allow_job(&self, engine: &easel_engine::Engine, job: &JobSummary) {
        if let Some(dir) = engine.image_dir_of(job) {
            self.allow_dir(&dir);
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

/// The MIME type of an image file Easel stores, by its extension.
pub fn content_type(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        _ => None,
    }
}

/// The scope, from the app's managed state.
pub fn of(app: &AppHandle) -> tauri::State<'_, ImageScope> {
    app.state::<ImageScope>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_directly_in_allowed_folders() {
        let scope = ImageScope::default();
        scope.allow_dir(Path::new("/lib/2026/11/30"));
        let allows = |p: &str| scope.allows(Path::new(p));
        assert!(allows("/lib/2026/11/30/job-1-0-a-cat.png"));
        assert!(allows("/lib/2026/11/30/b.JPG"));
        assert!(allows("/lib/2026/11/30/c.webp"));
        assert!(!allows("/lib/2026/11/30/notes.txt"), "not an image");
        assert!(!allows("/lib/2026/11/30/noext"), "no extension");
        assert!(!allows("/lib/2026/11/30/.job-1-0.png.tmp"), "a temp file");
        assert!(!allows("/lib/2026/11/30/.hidden.png"), "a hidden file");
        assert!(!allows("/lib/2026/11/30/sub/d.png"), "a sub-folder");
        assert!(
            !allows("/lib/2026/11/30/../../../x.png"),
            "parent components"
        );
        assert!(!allows("/lib/copied.png"), "the library root");
        assert!(!allows("lib/2026/11/30/e.png"), "a relative path");
    }
}
