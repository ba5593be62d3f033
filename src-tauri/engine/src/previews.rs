//! Progress previews: the partial images a provider sends while it works
//! (OpenAI's partial images, the offline provider's early render). Each is
//! checked like an output, shrunk to a small PNG and kept as
//! `previews/{job_id}.{epoch}.{step}.png` until the job leaves processing.
//! They are a courtesy: nothing here is precious, and a preview that cannot
//! be kept is skipped, never a reason to fail the job.

use crate::library::thumbnail::thumbnail_png;
use crate::library::validate::{validate, ImageLimits};
use std::io;
use std::path::{Path, PathBuf};

/// Previews are shown in a card and, blurred, in the viewer: small is enough.
const PREVIEW_SIDE: u32 = 512;

#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    #[error("the preview is not an image Easel can read: {0}")]
    Invalid(String),
    #[error("cannot write the preview {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone)]
pub struct Previews {
    dir: PathBuf,
}

impl Previews {
    pub fn new(dir: PathBuf) -> Previews {
        Previews { dir }
    }

    /// Check `bytes` and keep a small copy as the job's preview number
    /// `step` under lease `epoch`; the path to show.
    pub fn save(
        &self,
        job_id: &str,
        epoch: i64,
        step: u32,
        bytes: &[u8],
        limits: &ImageLimits,
    ) -> Result<PathBuf, PreviewError> {
        let image = validate(bytes, limits).map_err(|e| PreviewError::Invalid(e.to_string()))?;
        let png = thumbnail_png(&image.image, PREVIEW_SIDE)
            .map_err(|e| PreviewError::Invalid(e.to_string()))?;
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PreviewError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let path = self
            .dir
            .join(format!("{}.{epoch}.{step}.png", safe(job_id)));
        // Written aside and renamed: the web view never reads half a file.
        // No fsync: a preview lost to a power cut is simply not shown.
        let tmp = path.with_extension("png.tmp");
        std::fs::write(&tmp, png).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(path)
    }

    /// Remove the job's previews except `keep`.
    pub fn clear(&self, job_id: &str, keep: Option<&Path>) {
        self.remove_prefixed(&format!("{}.", safe(job_id)), keep);
    }

    /// Remove the previews one run (lease `epoch`) of the job made: a
    /// runner removes its own, never another's.
    pub fn remove_run(&self, job_id: &str, epoch: i64) {
        self.remove_prefixed(&format!("{}.{epoch}.", safe(job_id)), None);
    }

    fn remove_prefixed(&self, prefix: &str, keep: Option<&Path>) {
        for path in self.files() {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix));
            if named && Some(path.as_path()) != keep {
                let _ = std::fs::remove_file(&path);
            }
        }
    }

    /// Every preview file, with the job id its name starts with.
    pub fn all(&self) -> Vec<(String, PathBuf)> {
        self.files()
            .into_iter()
            .filter_map(|p| {
                let name = p.file_name()?.to_str()?;
                let id = name.split('.').next()?.to_string();
                Some((id, p))
            })
            .collect()
    }

    fn files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.dir)
            .map(|dir| dir.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

/// Job ids are UUIDs the engine made; anything else is kept to one plain
/// path component without dots.
fn safe(job_id: &str) -> String {
    job_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 100, 50]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut out, image::ImageFormat::Png)
            .expect("encode");
        out.into_inner()
    }

    #[test]
    fn keeps_a_small_copy_and_clears_the_older_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let previews = Previews::new(dir.path().join("previews"));
        let limits = ImageLimits::default();
        let first = previews
            .save("job-1", 1, 0, &png(1024, 768), &limits)
            .expect("first");
        let second = previews
            .save("job-1", 1, 1, &png(1024, 768), &limits)
            .expect("second");
        previews
            .save("job-2", 1, 0, &png(64, 64), &limits)
            .expect("other");
        let small = image::open(&second).expect("readable");
        assert_eq!((small.width(), small.height()), (512, 384));
        previews.clear("job-1", Some(&second));
        assert!(!first.exists());
        assert!(second.exists());
        let ids: Vec<String> = previews.all().into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&"job-2".to_string()));
        previews
            .save("job-1", 2, 0, &png(64, 64), &limits)
            .expect("next run");
        previews.remove_run("job-1", 1);
        assert!(!second.exists());
        assert_eq!(previews.all().len(), 2, "the next run's preview stays");
    }

    #[test]
    fn refuses_what_is_not_an_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let previews = Previews::new(dir.path().to_path_buf());
        let err = previews
            .save("job", 1, 0, b"not an image", &ImageLimits::default())
            .expect_err("refused");
        assert!(matches!(err, PreviewError::Invalid(_)), "{err}");
        assert!(previews.all().is_empty());
    }
}
