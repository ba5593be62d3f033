//! Reference images for models that edit or remix. The UI imports a file
//! once (its bytes cross IPC); it is checked like any untrusted image, then
//! stored content-addressed (`<sha256>.<ext>`) under the data folder, so a job
//! names its references by id and a restart, retry or re-run finds the same
//! bytes. Storing is atomic (temp file, fsync, rename) and importing the same
//! file twice stores it once.

use crate::library::atomic::write_atomic;
use crate::library::validate::{validate, ImageLimits, ValidateError};
use image::{DynamicImage, ImageFormat};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use ts_rs::TS;

/// Larger files are refused before decoding: providers take far less.
pub const MAX_REFERENCE_BYTES: u64 = 20 * MB;
const MB: u64 = 1024 * 1024;
/// 40 megapixels: more than any provider accepts as an input image.
pub const MAX_REFERENCE_PIXELS: u64 = 40_000_000;
/// Reference images one job may carry, whatever the model allows.
pub const MAX_REFERENCES_PER_JOB: usize = 4;

const LIMITS: ImageLimits = ImageLimits {
    max_bytes: MAX_REFERENCE_BYTES,
    max_pixels: MAX_REFERENCE_PIXELS,
};

/// A stored reference image, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReferenceImage {
    /// The sha256 of the file's bytes, in hex.
    pub id: String,
    pub width: u32,
    pub height: u32,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("the file is {:.1} MB; a reference image can be at most {} MB", *bytes as f64 / MB as f64, max / MB)]
    TooLarge { bytes: u64, max: u64 },
    #[error("the file is not an image Easel can use: {0}")]
    Invalid(#[from] ValidateError),
    #[error("reference image {0:?} is not stored (add the image again)")]
    Unknown(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ReferenceError {
    /// The caller's input is at fault (as opposed to the disk).
    pub fn is_input(&self) -> bool {
        !matches!(self, ReferenceError::Io { .. })
    }
}

pub struct References {
    dir: PathBuf,
}

fn extension(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "jpg",
        ImageFormat::WebP => "webp",
        _ => "png",
    }
}

const EXTENSIONS: [&str; 3] = ["png", "jpg", "webp"];

impl References {
    pub fn new(dir: PathBuf) -> Self {
        References { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Check `bytes` (size, format, dimensions, a full decode) and store them.
    pub fn import(&self, bytes: &[u8]) -> Result<ReferenceImage, ReferenceError> {
        let size = bytes.len() as u64;
        if size > MAX_REFERENCE_BYTES {
            return Err(ReferenceError::TooLarge {
                bytes: size,
                max: MAX_REFERENCE_BYTES,
            });
        }
        let checked = validate(bytes, &LIMITS)?;
        let id = hex::encode(Sha256::digest(bytes));
        let path = self.dir.join(format!("{id}.{}", extension(checked.format)));
        if !path.is_file() {
            let io = |source| ReferenceError::Io {
                path: path.clone(),
                source,
            };
            crate::library::atomic::create_dir_durable(&self.dir).map_err(io)?;
            write_atomic(&path, bytes).map_err(io)?;
        }
        Ok(ReferenceImage {
            id,
            width: checked.width,
            height: checked.height,
            bytes: bytes.len() as u64,
        })
    }

    /// The stored file for `id`; only ids this store made are looked up.
    pub fn path(&self, id: &str) -> Result<PathBuf, ReferenceError> {
        let well_formed = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if well_formed {
            for ext in EXTENSIONS {
                let path = self.dir.join(format!("{id}.{ext}"));
                if path.is_file() {
                    return Ok(path);
                }
            }
        }
        Err(ReferenceError::Unknown(id.to_string()))
    }

    /// Read and decode a stored reference (checked again: the disk is input too).
    pub fn load(&self, id: &str) -> Result<DynamicImage, ReferenceError> {
        let path = self.path(id)?;
        let bytes = std::fs::read(&path).map_err(|source| ReferenceError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(validate(&bytes, &LIMITS)?.image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};
    use std::io::Cursor;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = ImageBuffer::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 90]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    #[test]
    fn import_stores_once_by_content_and_loads_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let refs = References::new(dir.path().join("references"));
        let bytes = png(40, 30);
        let a = refs.import(&bytes).expect("import");
        let b = refs.import(&bytes).expect("import again");
        assert_eq!(a, b);
        assert_eq!((a.width, a.height, a.bytes), (40, 30, bytes.len() as u64));
        let stored = std::fs::read_dir(refs.dir()).expect("dir").count();
        assert_eq!(stored, 1, "one file for two imports of the same bytes");
        assert_eq!(
            std::fs::read(refs.path(&a.id).expect("path")).expect("read"),
            bytes
        );
        let img = refs.load(&a.id).expect("load");
        assert_eq!((img.width(), img.height()), (40, 30));
    }

    #[test]
    fn non_images_and_bad_ids_are_refused_and_nothing_is_stored() {
        let dir = tempfile::tempdir().expect("tmp");
        let refs = References::new(dir.path().join("references"));
        let err = refs.import(b"just some notes\n").expect_err("text");
        assert!(err.is_input());
        assert!(
            err.to_string().contains("not in a recognised image format"),
            "{err}"
        );
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert!(refs.import(&truncated).expect_err("truncated").is_input());
        assert!(!refs.dir().exists(), "nothing was written");
        for id in ["", "../../etc/passwd", &"0".repeat(64)] {
            assert!(
                matches!(refs.path(id), Err(ReferenceError::Unknown(_))),
                "{id}"
            );
        }
    }

    #[test]
    fn oversized_files_are_refused_before_decoding() {
        let dir = tempfile::tempdir().expect("tmp");
        let refs = References::new(dir.path().to_path_buf());
        let mut big = png(8, 8);
        big.resize(MAX_REFERENCE_BYTES as usize + 1, 0);
        let err = refs.import(&big).expect_err("too big");
        assert!(matches!(err, ReferenceError::TooLarge { .. }), "{err}");
        assert!(err.is_input());
        assert_eq!(
            err.to_string(),
            "the file is 20.0 MB; a reference image can be at most 20 MB"
        );
    }
}
