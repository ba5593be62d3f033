//! Files a job must not keep: when a job ends failed or canceled, none of
//! its files stay in the library or the thumbnail cache; when it completes,
//! only the files its asset rows name stay (a superseded or crashed runner
//! may have written others).

use crate::model::{Asset, JobSummary};
use crate::shared::Shared;
use std::path::PathBuf;

/// The files asset rows name (image and thumbnail each): what a completed
/// job keeps.
pub(crate) fn asset_files(assets: &[Asset]) -> Vec<PathBuf> {
    assets
        .iter()
        .flat_map(|a| [PathBuf::from(&a.path), PathBuf::from(&a.thumb_path)])
        .collect()
}

/// Remove `job`'s files except `keep`, off the async runtime. Failures are
/// logged: the job's state is already committed and a leftover file is
/// removed by the next sweep of this job.
pub(crate) async fn remove_unowned_files(sh: &Shared, job: &JobSummary, keep: Vec<PathBuf>) {
    let library = sh.library();
    let (id, created, epoch) = (job.id.clone(), job.created_at, job.lease_epoch);
    let Some(created_at) = chrono::DateTime::from_timestamp_millis(created) else {
        return;
    };
    let removed = tokio::task::spawn_blocking(move || {
        library.remove_job_files(&id, created_at, &keep, epoch)
    })
    .await;
    match removed {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => {
            tracing::info!(job_id = %job.id, files = n, "removed files no asset row names")
        }
        Ok(Err(e)) => tracing::warn!(job_id = %job.id, error = %e, "cannot remove the job's files"),
        Err(e) => tracing::warn!(job_id = %job.id, error = %e, "file cleanup did not run"),
    }
}

/// [`remove_unowned_files`] when a runner before this one may have left
/// files: a job's first runner (lease epoch 1) wrote only what `keep` and
/// its own list of written files name (a write that failed took its temp
/// file with it), and the files' names carry the epoch, so there is
/// nothing else to find. The sweep reads the job's day folder and the
/// whole thumbnail folder (one entry per image in the library): with the
/// save's own reads of both (gone too), a job took 70 ms instead of 6.6
/// at 100,000 images (engine bench).
pub(crate) async fn remove_earlier_runs_files(sh: &Shared, job: &JobSummary, keep: Vec<PathBuf>) {
    if job.lease_epoch > 1 {
        remove_unowned_files(sh, job, keep).await;
    }
}

/// Remove files this runner wrote itself (by their exact paths: every one
/// carries this runner's lease epoch, so none belongs to another runner).
pub(crate) async fn remove_own_files(files: Vec<PathBuf>) {
    if files.is_empty() {
        return;
    }
    let _ = tokio::task::spawn_blocking(move || {
        for path in files {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove a file");
                }
            }
        }
    })
    .await;
}
