//! Crash-safe file writes: a reader sees the old file or the new one, never
//! a torn mix, and a completed write survives power loss.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `path` atomically.
///
/// The data goes to `.{file_name}.tmp-{random}` in the same folder (a rename
/// is only atomic within one filesystem), is fsynced, renamed over `path`
/// (replacing any existing file), and the folder is fsynced so the rename
/// itself is durable. On error the temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    let prefix = temp_prefix(path)?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).rand_bytes(8);
    #[cfg(unix)]
    {
        // tempfile creates files as 0600; library images should get the
        // usual umask-derived mode (typically 0644) like any saved file.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.as_file_mut().write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On failure the returned temp file is dropped, which deletes it.
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// `.{file_name}.tmp-`, built from the raw OS name so non-UTF-8 names work.
fn temp_prefix(path: &Path) -> io::Result<OsString> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    Ok(prefix)
}

/// The folder holding `path`; a bare file name lives in the current folder.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `create_dir_all` that also fsyncs the parent of every folder it made:
/// files in it are fsynced, and a crash must not lose the folder entry
/// holding them.
pub fn create_dir_durable(dir: &Path) -> io::Result<()> {
    create_dir_durable_with(dir, &mut sync_dir)
}

fn create_dir_durable_with(
    dir: &Path,
    sync: &mut impl FnMut(&Path) -> io::Result<()>,
) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable_with(parent, sync)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync(parent_dir(dir)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file to flush it; NTFS journals
    // the rename itself.
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn creating_folders_fsyncs_the_parent_of_each_one_made() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("a");
        fs::create_dir(&base).unwrap();
        let deep = base.join("b").join("c").join("d");
        let mut synced = Vec::new();
        create_dir_durable_with(&deep, &mut |p| {
            synced.push(p.to_path_buf());
            sync_dir(p)
        })
        .unwrap();
        assert!(deep.is_dir());
        assert_eq!(
            synced,
            [base.clone(), base.join("b"), base.join("b").join("c")],
            "each new folder's parent, outermost first; not the existing ones"
        );
        synced.clear();
        create_dir_durable_with(&deep, &mut |p| {
            synced.push(p.to_path_buf());
            Ok(())
        })
        .unwrap();
        assert!(synced.is_empty(), "nothing made, nothing synced");
        let file = base.join("file");
        fs::write(&file, b"x").unwrap();
        assert!(
            create_dir_durable(&file.join("sub")).is_err(),
            "under a file"
        );
    }

    #[test]
    fn writes_content_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        write_atomic(&path, b"hello").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(names(dir.path()), vec!["a.png"]);
    }

    #[test]
    fn overwrites_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        fs::write(&path, b"old content that is longer").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(names(dir.path()), vec!["a.png"]);
    }

    #[cfg(unix)]
    #[test]
    fn file_mode_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.png");
        write_atomic(&path, b"x").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        // Whatever the umask, the group/other bits tempfile would strip are
        // back to what a normal create gives (at least owner read/write).
        assert_eq!(mode & 0o600, 0o600);
        let plain = dir.path().join("plain");
        fs::write(&plain, b"x").unwrap();
        assert_eq!(
            mode & 0o777,
            fs::metadata(&plain).unwrap().permissions().mode() & 0o777
        );
    }

    #[test]
    fn missing_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("a.png");
        assert!(write_atomic(&path, b"x").is_err());
    }

    #[test]
    fn temp_name_pattern_matches_cleanup() {
        // A temp file is named `.{file_name}.tmp-…`: the library's sweep
        // finds a killed writer's by the job and epoch its name starts with.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.png");
        let kept = tempfile::Builder::new()
            .prefix(&temp_prefix(&path).unwrap())
            .tempfile_in(dir.path())
            .unwrap()
            .keep()
            .unwrap();
        assert!(kept
            .1
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".x.png.tmp-"));
    }

    #[test]
    fn path_without_file_name_is_rejected() {
        assert_eq!(
            write_atomic(Path::new("/"), b"x").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }
}
