//! The staging area: a provider's outputs are made durable here the moment
//! the provider finishes, before that is committed, so that saving to the
//! library (which may wait for minutes on a missing folder or a full disk)
//! never depends on result URLs that expire (Replicate's after an hour,
//! BFL's after ten minutes) or on paying for a synchronous result twice.
//!
//! `staging/{job_id}/{index}.out` holds the bytes as the provider sent them;
//! `manifest.json`, written last, lists each output's metadata: a job's
//! outputs are staged when, and only when, its manifest exists.

use crate::library::atomic;
use crate::providers::{Output, OutputMeta};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone)]
pub struct Staging {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Manifest {
    version: u32,
    outputs: Vec<OutputMeta>,
}

impl Staging {
    pub fn new(dir: PathBuf) -> Staging {
        Staging { dir }
    }

    fn job_dir(&self, job_id: &str) -> PathBuf {
        // Job ids are UUIDs the engine made; anything else is kept to one
        // plain path component.
        let safe: String = job_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(safe)
    }

    fn output_path(&self, job_id: &str, index: usize) -> PathBuf {
        self.job_dir(job_id).join(format!("{index}.out"))
    }

    /// Write every output (fsynced, atomically), then the manifest. Staging
    /// the same job again replaces it whole.
    pub fn stage(&self, job_id: &str, outputs: &[Output]) -> io::Result<()> {
        let dir = self.job_dir(job_id);
        atomic::create_dir_durable(&dir)?;
        // A manifest from an earlier staging must not vouch for new files
        // while they are being replaced.
        remove_if_present(&dir.join(MANIFEST))?;
        for (index, output) in outputs.iter().enumerate() {
            atomic::write_atomic(&self.output_path(job_id, index), &output.bytes)?;
        }
        let manifest = Manifest {
            version: 1,
            outputs: outputs.iter().map(|o| o.meta.clone()).collect(),
        };
        let json = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        atomic::write_atomic(&dir.join(MANIFEST), &json)
    }

    /// The staged outputs' metadata, in output order; None when nothing
    /// (complete) is staged for the job.
    pub fn staged(&self, job_id: &str) -> io::Result<Option<Vec<OutputMeta>>> {
        let bytes = match std::fs::read(self.job_dir(job_id).join(MANIFEST)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => Ok(Some(m.outputs)),
            // A manifest this version cannot read counts as nothing staged:
            // the outputs are fetched again.
            Err(e) => {
                tracing::warn!(job_id, error = %e, "unreadable staging manifest");
                Ok(None)
            }
        }
    }

    /// One staged output's bytes (read one at a time when saving).
    pub fn read(&self, job_id: &str, index: usize) -> io::Result<Vec<u8>> {
        std::fs::read(self.output_path(job_id, index))
    }

    /// Remove the job's staging (once its outputs are in the library, or it
    /// ended without them).
    pub fn remove(&self, job_id: &str) -> io::Result<()> {
        match std::fs::remove_dir_all(self.job_dir(job_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The job ids that have a staging folder (for the start-up sweep).
    pub fn job_ids(&self) -> io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(bytes: &[u8], seed: Option<u64>) -> Output {
        Output {
            bytes: bytes.to_vec(),
            meta: OutputMeta {
                seed,
                revised_prompt: seed.map(|s| format!("revised {s}")),
            },
        }
    }

    #[test]
    fn staged_outputs_read_back_in_order_and_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().join("staging"));
        assert!(staging.staged("job-1").unwrap().is_none());
        staging
            .stage("job-1", &[output(b"zero", Some(7)), output(b"one", None)])
            .unwrap();
        let metas = staging.staged("job-1").unwrap().expect("staged");
        assert_eq!(metas.len(), 2);
        assert_eq!(metas[0].seed, Some(7));
        assert_eq!(metas[0].revised_prompt.as_deref(), Some("revised 7"));
        assert_eq!(metas[1].seed, None);
        assert_eq!(staging.read("job-1", 0).unwrap(), b"zero");
        assert_eq!(staging.read("job-1", 1).unwrap(), b"one");
        assert!(staging.staged("job-2").unwrap().is_none(), "per job");

        // Staged again (a second fetch after a crash): replaced whole.
        staging.stage("job-1", &[output(b"again", None)]).unwrap();
        assert_eq!(staging.staged("job-1").unwrap().expect("staged").len(), 1);
        assert_eq!(staging.read("job-1", 0).unwrap(), b"again");

        assert_eq!(staging.job_ids().unwrap(), ["job-1"]);
        staging.remove("job-1").unwrap();
        assert!(staging.staged("job-1").unwrap().is_none());
        assert!(staging.job_ids().unwrap().is_empty());
        staging.remove("job-1").unwrap();
    }

    #[test]
    fn outputs_without_a_manifest_are_not_staged() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = Staging::new(tmp.path().join("staging"));
        staging.stage("j", &[output(b"x", None)]).unwrap();
        // A crash between the outputs and the manifest of a re-staging.
        std::fs::remove_file(tmp.path().join("staging/j").join(MANIFEST)).unwrap();
        assert!(staging.staged("j").unwrap().is_none());
        std::fs::write(tmp.path().join("staging/j").join(MANIFEST), b"{garbage").unwrap();
        assert!(
            staging.staged("j").unwrap().is_none(),
            "unreadable counts as none"
        );
        assert_eq!(
            staging
                .job_dir("../x")
                .file_name()
                .unwrap()
                .to_string_lossy(),
            "___x",
            "one path component"
        );
    }
}
