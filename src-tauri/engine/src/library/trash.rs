//! The system trash: where deleted images go, and where Undo finds them
//! again (freedesktop Trash on Linux, the Recycle Bin on Windows).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    #[error("could not move {} to the trash: {message}", path.display())]
    Move { path: PathBuf, message: String },
    #[error("{} is no longer in the trash (it was emptied or the file was restored elsewhere)", path.display())]
    NotInTrash { path: PathBuf },
    #[error("could not bring {} back from the trash: {message}", path.display())]
    Restore { path: PathBuf, message: String },
    #[error("this system's trash cannot give files back: restore them from the trash yourself")]
    Unsupported,
}

/// Move the files that exist among `paths` to the trash (blocking).
pub fn move_to_trash(paths: &[PathBuf]) -> Result<(), TrashError> {
    let present: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
    let Some(first) = present.first() else {
        return Ok(());
    };
    trash::delete_all(&present).map_err(|e| TrashError::Move {
        path: (*first).clone(),
        message: e.to_string(),
    })
}

/// Put `paths` back from the trash (blocking). A path that is already in
/// place is left alone; one that is neither in place nor in the trash is an
/// error and nothing is restored.
#[cfg(any(
    target_os = "windows",
    all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )
))]
pub fn restore(paths: &[PathBuf]) -> Result<(), TrashError> {
    let wanted: Vec<&PathBuf> = paths.iter().filter(|p| !p.exists()).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let listed = trash::os_limited::list().map_err(|e| TrashError::Restore {
        path: wanted[0].clone(),
        message: e.to_string(),
    })?;
    let mut items = Vec::with_capacity(wanted.len());
    for path in &wanted {
        // The newest entry for this path: the one this deletion made.
        let item = listed
            .iter()
            .filter(|i| same_path(&i.original_path(), path))
            .max_by_key(|i| i.time_deleted)
            .ok_or_else(|| TrashError::NotInTrash {
                path: (*path).clone(),
            })?;
        items.push(item.clone());
    }
    trash::os_limited::restore_all(items).map_err(|e| TrashError::Restore {
        path: wanted[0].clone(),
        message: e.to_string(),
    })
}

#[cfg(not(any(
    target_os = "windows",
    all(
        unix,
        not(target_os = "macos"),
        not(target_os = "ios"),
        not(target_os = "android")
    )
)))]
pub fn restore(paths: &[PathBuf]) -> Result<(), TrashError> {
    if paths.iter().all(|p| p.exists()) {
        Ok(())
    } else {
        Err(TrashError::Unsupported)
    }
}

/// The trash records paths as given; the library may be reached through a
/// symlink, so compare folders by what they resolve to.
fn same_path(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    let folder = |p: &Path| p.parent().and_then(|d| d.canonicalize().ok());
    a.file_name() == b.file_name() && folder(a).is_some() && folder(a) == folder(b)
}
