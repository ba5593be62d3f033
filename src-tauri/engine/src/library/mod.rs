//! The image library: validated outputs saved as PNGs with embedded
//! generation metadata, plus gallery thumbnails.
//!
//! Saving is idempotent so a job interrupted mid-save can simply be saved
//! again: the path depends only on the job's parameters, the bytes only on
//! the input, and every write is atomic.

pub mod atomic;
mod decode_budget;
pub mod exif;
pub mod metadata;
pub mod slug;
pub mod thumbnail;
pub mod trash;
pub mod validate;

use std::collections::HashMap;
use std::fs;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};

use chrono::Datelike;
use image::ImageFormat;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use decode_budget::DecodeBudget;
pub use metadata::{GenerationParams, MetadataError};
pub use thumbnail::ThumbnailError;
pub use validate::{ImageLimits, ValidateError};

/// Longest side of gallery thumbnails unless [`Library::with_thumb_side`]
/// says otherwise.
pub const DEFAULT_THUMB_SIDE: u32 = 512;
/// Characters of prompt slug in file names.
const SLUG_CHARS: usize = 48;

/// Where images are stored.
#[derive(Debug, Clone)]
pub struct Library {
    root: PathBuf,
    thumbs: PathBuf,
    limits: ImageLimits,
    thumb_side: u32,
}

/// One stored output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedAsset {
    pub output_index: u32,
    pub path: PathBuf,
    pub thumb_path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Size of the saved file (the input plus embedded metadata).
    pub bytes: u64,
    /// Hex SHA-256 of the saved file.
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("library folder {0} does not exist")]
    Missing(PathBuf),
    #[error("library path {0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("library folder {path} is not writable: {source}")]
    NotWritable { path: PathBuf, source: io::Error },
    #[error("provider sent an invalid image: {0}")]
    Invalid(#[from] ValidateError),
    #[error("could not embed metadata: {0}")]
    Metadata(#[from] MetadataError),
    #[error("could not re-encode the image as PNG: {0}")]
    Encode(#[source] image::ImageError),
    #[error("could not create the thumbnail: {0}")]
    Thumbnail(#[from] ThumbnailError),
    #[error("I/O error at {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot read the image {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: ValidateError,
    },
}

/// An image's pixels as 8-bit RGBA, row by row.
pub struct Rgba {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// Read a library image's pixels (for the clipboard), with the checks a
/// provider's output gets: what is on disk is input too.
pub fn read_rgba(path: &Path) -> Result<Rgba, LibraryError> {
    let bytes = fs::read(path).map_err(|source| LibraryError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let image = validate::validate(&bytes, &ImageLimits::default()).map_err(|source| {
        LibraryError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    })?;
    Ok(Rgba {
        width: image.width,
        height: image.height,
        rgba: image.image.into_rgba8().into_raw(),
    })
}

impl LibraryError {
    /// For a save that must wait: a stable code and what the user sees
    /// ("library folder unavailable", "disk full").
    pub fn wait_reason(&self) -> (&'static str, String) {
        match self {
            LibraryError::Io { source, .. } if is_disk_full(source) => {
                ("disk_full", format!("disk full: {self}"))
            }
            _ => (
                "library_unavailable",
                format!("library folder unavailable: {self}"),
            ),
        }
    }

    /// Whether retrying later can succeed without a different input: the user
    /// can plug the drive back in or fix permissions; a bad image stays bad.
    pub fn is_retryable(&self) -> bool {
        match self {
            LibraryError::Missing(_)
            | LibraryError::NotWritable { .. }
            | LibraryError::Io { .. } => true,
            LibraryError::NotAFolder(_)
            | LibraryError::Invalid(_)
            | LibraryError::Metadata(_)
            | LibraryError::Encode(_)
            | LibraryError::Thumbnail(_)
            | LibraryError::Unreadable { .. } => false,
        }
    }
}

fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> LibraryError + '_ {
    move |source| LibraryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Library {
    pub fn new(root: PathBuf, thumbs: PathBuf, limits: ImageLimits) -> Self {
        Library {
            root,
            thumbs,
            limits,
            thumb_side: DEFAULT_THUMB_SIDE,
        }
    }

    /// Sets the thumbnails' longest side (at least 1).
    pub fn with_thumb_side(mut self, side: u32) -> Self {
        self.thumb_side = side.max(1);
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn thumbs(&self) -> &Path {
        &self.thumbs
    }

    pub fn limits(&self) -> &ImageLimits {
        &self.limits
    }

    /// Checks that the library folder exists, is a folder, and accepts a new
    /// file. Never creates the folder: a missing one usually means an
    /// unplugged drive, and files written elsewhere would be lost to the user.
    pub fn check_writable(&self) -> Result<(), LibraryError> {
        self.check_writable_with(probe_write)
    }

    fn check_writable_with(
        &self,
        probe: impl FnOnce(&Path) -> io::Result<()>,
    ) -> Result<(), LibraryError> {
        let meta = match fs::metadata(&self.root) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(LibraryError::Missing(self.root.clone()))
            }
            Err(source) => {
                return Err(LibraryError::NotWritable {
                    path: self.root.clone(),
                    source,
                })
            }
        };
        if !meta.is_dir() {
            return Err(LibraryError::NotAFolder(self.root.clone()));
        }
        // Root ignores permission bits, so the probe alone would pass a
        // read-only folder when running as root. (Unix only: on Windows the
        // read-only attribute of a folder is not enforced and is set on
        // ordinary folders such as "Pictures".)
        #[cfg(unix)]
        if meta.permissions().readonly() {
            return Err(LibraryError::NotWritable {
                path: self.root.clone(),
                source: io::Error::new(io::ErrorKind::PermissionDenied, "folder is read-only"),
            });
        }
        probe(&self.root).map_err(|source| LibraryError::NotWritable {
            path: self.root.clone(),
            source,
        })
    }

    /// `root/YYYY/MM/DD`, the folder of a job created at `created_at` (UTC).
    pub fn dated_dir(&self, created_at: chrono::DateTime<chrono::Utc>) -> PathBuf {
        let date = created_at.date_naive();
        self.root
            .join(format!("{:04}", date.year()))
            .join(format!("{:02}", date.month()))
            .join(format!("{:02}", date.day()))
    }

    /// `root/YYYY/MM/DD/{job_id}-{epoch}-{output_index}-{slug}.{png|jpg|webp}`,
    /// dated by `created_at` (UTC), in the format it is stored in (see
    /// `stored_format`). `epoch` is the lease epoch of the runner that
    /// writes it: two runners of one job (one of them superseded) never write
    /// the same file, so each removes only its own, and an asset row always
    /// names the file of the runner that completed the job.
    pub fn path_for(&self, p: &GenerationParams, epoch: i64, format: ImageFormat) -> PathBuf {
        let ext = match format {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::WebP => "webp",
            _ => "png",
        };
        self.dated_dir(p.created_at).join(format!(
            "{}-{epoch}-{}-{}.{ext}",
            safe_id(&p.job_id),
            p.output_index,
            slug::slug(&p.prompt, SLUG_CHARS)
        ))
    }

    /// `thumbs/{job_id}-{epoch}-{output_index}.png`.
    pub fn thumb_path_for(&self, p: &GenerationParams, epoch: i64) -> PathBuf {
        self.thumbs.join(format!(
            "{}-{epoch}-{}.png",
            safe_id(&p.job_id),
            p.output_index
        ))
    }

    /// Removes the files of job `job_id` (images, thumbnails and leftover
    /// temp files) written under lease epochs up to `max_epoch`, except
    /// those in `keep`. Used when a job ends failed or canceled (keep
    /// nothing) or completed (keep its assets), so the library holds no file
    /// without an asset row. Files of a later epoch belong to a runner that
    /// claimed the job after it was read (a retry) and are left alone.
    pub fn remove_job_files(
        &self,
        job_id: &str,
        created_at: chrono::DateTime<chrono::Utc>,
        keep: &[PathBuf],
        max_epoch: i64,
    ) -> Result<usize, LibraryError> {
        self.remove_jobs_files(&[JobFiles {
            job_id: job_id.to_string(),
            created_at,
            keep: keep.to_vec(),
            max_epoch,
        }])
    }

    /// [`Library::remove_job_files`] for many jobs at once, reading each
    /// folder once (the thumbnail folder holds every job's thumbnails, so a
    /// per-job sweep of N jobs would read it N times).
    pub fn remove_jobs_files(&self, jobs: &[JobFiles]) -> Result<usize, LibraryError> {
        let by_id: HashMap<String, &JobFiles> =
            jobs.iter().map(|j| (safe_id(&j.job_id), j)).collect();
        let mut dirs: Vec<PathBuf> = jobs.iter().map(|j| self.dated_dir(j.created_at)).collect();
        dirs.sort();
        dirs.dedup();
        if !jobs.is_empty() {
            dirs.push(self.thumbs.clone());
        }
        let mut removed = 0;
        for dir in dirs {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(LibraryError::Io { path: dir, source }),
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let file_name = file_name.to_string_lossy();
                let Some((job, epoch)) = owner_of(&file_name, &by_id) else {
                    continue;
                };
                let path = entry.path();
                if epoch > job.max_epoch || keep_contains(&job.keep, &path) {
                    continue;
                }
                match fs::remove_file(&path) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(LibraryError::Io { path, source }),
                }
            }
        }
        Ok(removed)
    }

    /// Validates `bytes`, embeds the metadata and stores image and thumbnail.
    ///
    /// The provider's encoding is kept: PNG gets text chunks, JPEG and WebP
    /// an EXIF UserComment (no lossy image is inflated into a PNG); anything
    /// else is stored as PNG. Saving the same input with the same
    /// parameters again yields the same path and identical files.
    pub fn save(
        &self,
        bytes: &[u8],
        p: &GenerationParams,
        epoch: i64,
    ) -> Result<SavedAsset, LibraryError> {
        // The folder checks without the probe file: the writes below are the
        // probe, and a process killed mid-probe would leave a file behind.
        self.check_writable_with(|_| Ok(()))?;
        let valid = validate::validate(bytes, &self.limits)?;
        // The metadata says what the image is, not what was asked for.
        let actual = GenerationParams {
            width: valid.width,
            height: valid.height,
            ..p.clone()
        };
        let (png, format) = with_metadata(bytes, &valid, &actual)?;
        let thumb = thumbnail::thumbnail_png(&valid.image, self.thumb_side)?;
        let sha256 = hex::encode(Sha256::digest(&png));

        let path = self.path_for(p, epoch, format);
        self.create_dated_dirs(&path)?;
        write_file(&path, &png)?;

        let thumb_path = self.thumb_path_for(p, epoch);
        atomic::create_dir_durable(&self.thumbs).map_err(io_error(&self.thumbs))?;
        write_file(&thumb_path, &thumb)?;

        Ok(SavedAsset {
            output_index: p.output_index,
            path,
            thumb_path,
            width: valid.width,
            height: valid.height,
            bytes: png.len() as u64,
            sha256,
        })
    }

    /// Creates the folders between the root and `path` one level at a time,
    /// so a root that vanished since the check (drive unplugged) is reported
    /// instead of silently recreated.
    fn create_dated_dirs(&self, path: &Path) -> Result<(), LibraryError> {
        let Some(dir) = path.parent() else {
            return Ok(());
        };
        let Ok(rel) = dir.strip_prefix(&self.root) else {
            return Ok(());
        };
        let mut current = self.root.clone();
        for part in rel.components() {
            current.push(part);
            match fs::create_dir(&current) {
                // The new folder's entry must survive a crash before any
                // file in it is reported as stored.
                Ok(()) => sync_parent(&current)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(LibraryError::Missing(self.root.clone()))
                }
                Err(source) => {
                    return Err(LibraryError::Io {
                        path: current,
                        source,
                    })
                }
            }
        }
        Ok(())
    }
}

/// The final PNG bytes: the original PNG with chunks spliced in, or a PNG
/// re-encoding of the decoded image.
fn with_metadata(
    bytes: &[u8],
    valid: &validate::Validated,
    p: &GenerationParams,
) -> Result<(Vec<u8>, ImageFormat), LibraryError> {
    match valid.format {
        ImageFormat::Png => match metadata::embed_generation_params(bytes, p) {
            Ok(out) => return Ok((out, ImageFormat::Png)),
            // Decoders tolerate some damage (a bad ancillary CRC, no IEND)
            // that chunk splicing does not; the pixels are fine, so fall
            // back to re-encoding them.
            Err(MetadataError::Json(e)) => return Err(MetadataError::Json(e).into()),
            Err(_) => {}
        },
        ImageFormat::Jpeg => {
            if let Ok(out) = exif::embed_in_jpeg(bytes, &metadata::a1111_parameters(p)) {
                return Ok((out, ImageFormat::Jpeg));
            }
        }
        ImageFormat::WebP => {
            if let Ok(out) = exif::embed_in_webp(bytes, &metadata::a1111_parameters(p)) {
                return Ok((out, ImageFormat::WebP));
            }
        }
        _ => {}
    }
    let mut encoded = Cursor::new(Vec::new());
    valid
        .image
        .write_to(&mut encoded, ImageFormat::Png)
        .map_err(LibraryError::Encode)?;
    Ok((
        metadata::embed_generation_params(encoded.get_ref(), p)?,
        ImageFormat::Png,
    ))
}

/// The format `bytes` will be stored in: its own when PNG, JPEG or WebP.
pub fn stored_format(bytes: &[u8]) -> ImageFormat {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::WebP)) => f,
        _ => ImageFormat::Png,
    }
}

fn sync_parent(dir: &Path) -> Result<(), LibraryError> {
    match dir.parent() {
        Some(parent) => atomic::sync_dir(parent).map_err(io_error(parent)),
        None => Ok(()),
    }
}

/// The pixel count an encoded image declares in its header (None when the
/// header cannot be read: decoding will then report why).
pub fn declared_pixels(bytes: &[u8]) -> Option<u64> {
    let (w, h) = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()?;
    Some(u64::from(w) * u64::from(h))
}

/// Atomic write. It reads no folder: every run of a job names its files
/// with its own lease epoch, so no temp file a killed run left is this
/// path's; [`Library::remove_job_files`] removes it with that run's files.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), LibraryError> {
    atomic::write_atomic(path, bytes).map_err(io_error(path))
}

const PROBE_PREFIX: &str = ".easel-probe-";
/// A probe lives for microseconds; one older than this was left by a
/// process killed mid-probe.
const STALE_PROBE: std::time::Duration = std::time::Duration::from_secs(60);

/// Creates and removes a temp file: the only reliable writability test.
/// Also removes probes that a killed process left behind.
fn probe_write(dir: &Path) -> io::Result<()> {
    remove_stale_probes(dir);
    tempfile::Builder::new()
        .prefix(PROBE_PREFIX)
        .tempfile_in(dir)?
        .close()
}

fn remove_stale_probes(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with(PROBE_PREFIX)
        {
            continue;
        }
        let age = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok());
        if age.is_some_and(|a| a >= STALE_PROBE) {
            // Best effort: another process may have removed it already.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Job ids come from our own store, but they end up in file names, so keep
/// them to a harmless alphabet rather than trust that.
/// One job's files to sweep: see [`Library::remove_job_files`].
#[derive(Debug, Clone)]
pub struct JobFiles {
    pub job_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub keep: Vec<PathBuf>,
    pub max_epoch: i64,
}

/// The job (of `jobs`, keyed by safe id) and lease epoch a library file name
/// belongs to: `{id}-{epoch}-…` or the temp file `.{id}-{epoch}-…`. Ids may
/// contain '-', so each '-' is tried as the end of the id.
fn owner_of<'a>(
    file_name: &str,
    jobs: &HashMap<String, &'a JobFiles>,
) -> Option<(&'a JobFiles, i64)> {
    let name = file_name.strip_prefix('.').unwrap_or(file_name);
    name.match_indices('-').find_map(|(at, _)| {
        let job = jobs.get(&name[..at])?;
        let epoch = name[at + 1..].split('-').next()?.parse().ok()?;
        Some((*job, epoch))
    })
}

fn keep_contains(keep: &[PathBuf], path: &Path) -> bool {
    keep.iter().any(|k| k == path)
}

fn safe_id(id: &str) -> String {
    let cleaned: String = id
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "job".to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn params(job: &str, index: u32) -> GenerationParams {
        GenerationParams {
            job_id: job.into(),
            output_index: index,
            prompt: "A quiet lake at dawn, mist over the water".into(),
            negative_prompt: Some("people".into()),
            seed: Some(99),
            revised_prompt: None,
            width: 320,
            height: 200,
            provider: "offline".into(),
            model: "landscape".into(),
            created_at: Utc.with_ymd_and_hms(2025, 1, 2, 23, 59, 0).unwrap(),
        }
    }

    fn image_bytes(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 77])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        root: PathBuf,
        thumbs: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("Library");
        fs::create_dir(&root).unwrap();
        let thumbs = dir.path().join("cache").join("thumbs");
        Fixture {
            root,
            thumbs,
            _dir: dir,
        }
    }

    fn library(f: &Fixture) -> Library {
        Library::new(f.root.clone(), f.thumbs.clone(), ImageLimits::default()).with_thumb_side(64)
    }

    /// Every file under `dir`, recursively, relative to it.
    fn files(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn happy_path_png() {
        let f = fixture();
        let lib = library(&f);
        let p = params("job42", 1);
        let input = image_bytes(320, 200, ImageFormat::Png);
        let saved = lib.save(&input, &p, 1).unwrap();

        assert_eq!(
            saved.path,
            f.root
                .join("2025/01/02/job42-1-1-a-quiet-lake-at-dawn-mist-over-the-water.png")
        );
        assert_eq!(saved.thumb_path, f.thumbs.join("job42-1-1.png"));
        assert_eq!(
            (saved.width, saved.height, saved.output_index),
            (320, 200, 1)
        );

        let stored = fs::read(&saved.path).unwrap();
        assert_eq!(saved.bytes, stored.len() as u64);
        assert_eq!(saved.sha256, hex::encode(Sha256::digest(&stored)));
        let decoded = image::load_from_memory(&stored).unwrap();
        assert_eq!(
            decoded.as_bytes(),
            image::load_from_memory(&input).unwrap().as_bytes()
        );

        let text = metadata::read_png_text(&stored).unwrap();
        let keys: Vec<&str> = text.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["parameters", "easel"]);
        assert_eq!(text[0].1, metadata::a1111_parameters(&p));
        assert_eq!(metadata::read_generation_params(&stored).unwrap(), Some(p));

        let thumb = image::load_from_memory(&fs::read(&saved.thumb_path).unwrap()).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (64, 40));

        // Only the two files: no temp or probe leftovers.
        assert_eq!(
            files(&f.root),
            ["2025/01/02/job42-1-1-a-quiet-lake-at-dawn-mist-over-the-water.png"]
        );
        assert_eq!(files(&f.thumbs), ["job42-1-1.png"]);
    }

    #[test]
    fn jpeg_and_webp_keep_their_encoding_with_the_metadata_in_exif() {
        let f = fixture();
        let lib = library(&f);
        for (i, (format, ext)) in [(ImageFormat::Jpeg, "jpg"), (ImageFormat::WebP, "webp")]
            .into_iter()
            .enumerate()
        {
            let p = params("j", i as u32);
            let input = image_bytes(100, 80, format);
            let saved = lib.save(&input, &p, 1).unwrap();
            assert_eq!(saved.path.extension().unwrap(), ext);
            let stored = fs::read(&saved.path).unwrap();
            assert_eq!(image::guess_format(&stored).unwrap(), format);
            // No lossy image inflated into a PNG: the same encoded pixels,
            // with a few hundred bytes of EXIF.
            assert!(stored.len() < input.len() + 1_024, "{format:?}");
            assert_eq!(
                image::load_from_memory(&stored).unwrap().to_rgb8(),
                image::load_from_memory(&input).unwrap().to_rgb8()
            );
            let comment = exif::read_comment(&stored).unwrap();
            assert!(comment.starts_with(&p.prompt), "{comment}");
            assert!(comment.contains("Seed: 99, Size: 100x80"), "{comment}");
            assert_eq!((saved.width, saved.height), (100, 80));
            assert_eq!(saved.path, lib.path_for(&p, 1, stored_format(&input)));
        }
    }

    #[test]
    fn damaged_but_decodable_png_is_reencoded() {
        let f = fixture();
        let lib = library(&f);
        let png = image_bytes(50, 50, ImageFormat::Png);
        // A text chunk with a wrong CRC: decoders skip it, splicing refuses.
        let mut input = png[..33].to_vec();
        input.extend_from_slice(&[0, 0, 0, 3]);
        input.extend_from_slice(b"tEXta\0b");
        input.extend_from_slice(&[1, 2, 3, 4]);
        input.extend_from_slice(&png[33..]);
        assert!(metadata::embed_png_text(&input, &[]).is_err());
        let saved = lib.save(&input, &params("j", 0), 1).unwrap();
        let stored = fs::read(&saved.path).unwrap();
        assert!(metadata::read_generation_params(&stored).unwrap().is_some());
        let decoded = image::load_from_memory(&stored).unwrap();
        assert_eq!(
            decoded.as_bytes(),
            image::load_from_memory(&png).unwrap().as_bytes()
        );
    }

    /// Saving reads no folder (the thumbnail folder holds one entry per
    /// image in the library, and every save listed it twice): a killed
    /// run's temp file stays until the job's sweep, which removes it.
    #[test]
    fn save_is_idempotent_and_leaves_stale_temps_to_the_sweep() {
        let f = fixture();
        let lib = library(&f);
        let p = params("job7", 0);
        let input = image_bytes(120, 90, ImageFormat::Png);
        let first = lib.save(&input, &p, 1).unwrap();
        let first_bytes = fs::read(&first.path).unwrap();

        // A run killed mid-write leaves temp siblings behind.
        let stale = |path: &Path| {
            let name = path.file_name().unwrap().to_string_lossy();
            let stale = path.with_file_name(format!(".{name}.tmp-deadbeef"));
            fs::write(&stale, b"half a png").unwrap();
            stale
        };
        let (stale_image, stale_thumb) = (stale(&first.path), stale(&first.thumb_path));

        let second = lib.save(&input, &p, 1).unwrap();
        assert_eq!(first, second);
        assert_eq!(fs::read(&second.path).unwrap(), first_bytes);
        assert!(
            stale_image.exists() && stale_thumb.exists(),
            "save read the folder"
        );

        let keep = [second.path.clone(), second.thumb_path.clone()];
        assert_eq!(
            lib.remove_job_files("job7", p.created_at, &keep, 1)
                .unwrap(),
            2
        );
        assert!(!stale_image.exists() && !stale_thumb.exists());
        assert_eq!(files(&f.root).len(), 1);
        assert_eq!(files(&f.thumbs).len(), 1);
    }

    #[test]
    fn missing_root_is_retryable_and_not_created() {
        let f = fixture();
        let root = f.root.join("unplugged-drive");
        let lib = Library::new(root.clone(), f.thumbs.clone(), ImageLimits::default());
        let err = lib
            .save(&image_bytes(10, 10, ImageFormat::Png), &params("j", 0), 1)
            .unwrap_err();
        assert!(
            matches!(&err, LibraryError::Missing(p) if *p == root),
            "{err}"
        );
        assert!(err.is_retryable());
        assert_eq!(
            err.to_string(),
            format!("library folder {} does not exist", root.display())
        );
        assert!(!root.exists());
        assert!(!f.thumbs.exists());
    }

    #[test]
    fn root_that_is_a_file() {
        let f = fixture();
        let file = f.root.join("not-a-dir");
        fs::write(&file, b"x").unwrap();
        let lib = Library::new(file, f.thumbs.clone(), ImageLimits::default());
        let err = lib.check_writable().unwrap_err();
        assert!(matches!(err, LibraryError::NotAFolder(_)), "{err}");
        assert!(!err.is_retryable());
    }

    #[cfg(unix)]
    #[test]
    fn read_only_root_is_not_writable() {
        use std::os::unix::fs::PermissionsExt;
        let f = fixture();
        fs::set_permissions(&f.root, fs::Permissions::from_mode(0o555)).unwrap();
        let err = library(&f)
            .save(&image_bytes(10, 10, ImageFormat::Png), &params("j", 0), 1)
            .unwrap_err();
        fs::set_permissions(&f.root, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(err, LibraryError::NotWritable { .. }), "{err}");
        assert!(err.is_retryable());
    }

    #[test]
    fn failing_probe_is_not_writable() {
        let f = fixture();
        let err = library(&f)
            .check_writable_with(|_| Err(io::Error::new(io::ErrorKind::StorageFull, "disk full")))
            .unwrap_err();
        assert!(
            matches!(&err, LibraryError::NotWritable { source, .. } if source.kind() == io::ErrorKind::StorageFull)
        );
        assert!(err.to_string().contains("disk full"));
        // The real probe leaves nothing behind.
        library(&f).check_writable().unwrap();
        assert!(files(&f.root).is_empty());
    }

    #[test]
    fn invalid_bytes_are_rejected_without_writing() {
        let f = fixture();
        let lib = library(&f);
        let err = lib
            .save(b"<html>503 Service Unavailable</html>", &params("j", 0), 1)
            .unwrap_err();
        assert!(
            matches!(err, LibraryError::Invalid(ValidateError::UnknownFormat)),
            "{err}"
        );
        assert!(!err.is_retryable());
        let png = image_bytes(64, 64, ImageFormat::Png);
        let err = lib
            .save(&png[..png.len() / 2], &params("j", 0), 1)
            .unwrap_err();
        assert!(
            matches!(err, LibraryError::Invalid(ValidateError::Decode(_))),
            "{err}"
        );
        assert!(files(&f.root).is_empty());
        assert!(!f.thumbs.exists());
    }

    #[test]
    fn too_many_pixels() {
        let f = fixture();
        let limits = ImageLimits {
            max_pixels: 1000,
            ..ImageLimits::default()
        };
        let lib = Library::new(f.root.clone(), f.thumbs.clone(), limits);
        let err = lib
            .save(&image_bytes(40, 30, ImageFormat::Png), &params("j", 0), 1)
            .unwrap_err();
        assert!(
            matches!(
                err,
                LibraryError::Invalid(ValidateError::TooManyPixels {
                    width: 40,
                    height: 30,
                    max: 1000
                })
            ),
            "{err}"
        );
        assert!(!err.is_retryable());
    }

    #[test]
    fn paths_are_contained() {
        let f = fixture();
        let lib = library(&f);
        let mut p = params("../../etc", 3);
        p.prompt = "../../etc/passwd".into();
        let path = lib.path_for(&p, 1, ImageFormat::Png);
        assert_eq!(path, f.root.join("2025/01/02/______etc-1-3-etc-passwd.png"));
        assert_eq!(
            lib.thumb_path_for(&p, 1),
            f.thumbs.join("______etc-1-3.png")
        );
        p.job_id = String::new();
        p.prompt = "🌅".into();
        assert_eq!(
            lib.path_for(&p, 1, ImageFormat::Png),
            f.root.join("2025/01/02/job-1-3-image.png")
        );
    }

    #[test]
    fn removing_a_jobs_files_spares_later_epochs_kept_files_and_other_jobs() {
        let f = fixture();
        let lib = library(&f);
        let png = image_bytes(10, 10, ImageFormat::Png);
        let p = params("jobA", 0);
        let old = lib.save(&png, &p, 1).unwrap();
        let kept = lib.save(&png, &p, 2).unwrap();
        let later = lib.save(&png, &p, 3).unwrap();
        let other = lib.save(&png, &params("jobAB", 0), 1).unwrap();
        let removed = lib
            .remove_job_files(
                "jobA",
                p.created_at,
                &[kept.path.clone(), kept.thumb_path.clone()],
                2,
            )
            .unwrap();
        assert_eq!(removed, 2, "epoch 1's image and thumbnail");
        assert!(!old.path.exists() && !old.thumb_path.exists());
        for stays in [
            &kept.path,
            &kept.thumb_path,
            &later.path,
            &later.thumb_path,
            &other.path,
        ] {
            assert!(stays.exists(), "{}", stays.display());
        }
    }

    #[test]
    fn one_sweep_of_many_jobs_matches_hyphenated_ids_and_fences_each_by_its_epoch() {
        let f = fixture();
        let lib = library(&f);
        let png = image_bytes(10, 10, ImageFormat::Png);
        let (a, b, c) = (
            "0190aaaa-0000-7000-8000-000000000001",
            "0190aaaa-0000-7000-8000-000000000002",
            "0190aaaa-0000-7000-8000-000000000003",
        );
        let a1 = lib.save(&png, &params(a, 0), 1).unwrap();
        let a2 = lib.save(&png, &params(a, 1), 1).unwrap();
        let b1 = lib.save(&png, &params(b, 0), 1).unwrap();
        let b4 = lib.save(&png, &params(b, 0), 4).unwrap();
        let c1 = lib.save(&png, &params(c, 0), 1).unwrap();
        // A temp file a killed writer left for job a.
        let temp = a1.path.with_file_name(format!(".{a}-1-0-x.png.tmp"));
        fs::write(&temp, b"partial").unwrap();
        let job = |id: &str, keep: Vec<PathBuf>, max_epoch| JobFiles {
            job_id: id.to_string(),
            created_at: params(id, 0).created_at,
            keep,
            max_epoch,
        };
        let removed = lib
            .remove_jobs_files(&[
                // Completed: keeps output 1.
                job(a, vec![a2.path.clone(), a2.thumb_path.clone()], 1),
                // Failed at epoch 3; epoch 4 is a retry claimed meanwhile.
                job(b, vec![], 3),
            ])
            .unwrap();
        assert_eq!(
            removed, 5,
            "a's output 0 (image, thumb, temp), b's epoch 1 (image, thumb)"
        );
        for gone in [&a1.path, &a1.thumb_path, &temp, &b1.path, &b1.thumb_path] {
            assert!(!gone.exists(), "{}", gone.display());
        }
        for stays in [
            &a2.path,
            &a2.thumb_path,
            &b4.path,
            &b4.thumb_path,
            &c1.path,
            &c1.thumb_path,
        ] {
            assert!(stays.exists(), "{}", stays.display());
        }
        assert_eq!(lib.remove_jobs_files(&[]).unwrap(), 0);
    }

    #[test]
    fn a_probe_left_by_a_killed_process_is_removed_by_the_next_probe() {
        let f = fixture();
        let lib = library(&f);
        let stale = f.root.join(".easel-probe-left");
        let fresh = f.root.join(".easel-probe-running");
        fs::write(&stale, b"").unwrap();
        fs::write(&fresh, b"").unwrap();
        let old = std::time::SystemTime::now() - STALE_PROBE * 2;
        fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        lib.check_writable().unwrap();
        assert!(!stale.exists(), "the stale probe is removed");
        assert!(fresh.exists(), "a probe that may be in use stays");
    }
}
