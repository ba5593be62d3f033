//! Files a job must not keep: when a job ends failed or canceled, none of
//! its files stay in the library or the thumbnail cache; when it completes,
//! only the files its asset rows name stay (a superseded or crashed runner
//! may have written others).

use crate::library::JobFiles;
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
    let Some(files) = job_files(job, keep) else {
        return;
    };
    remove(sh, vec![files], Some(&job.id)).await;
}

/// [`remove_unowned_files`] for several jobs that keep no file (jobs held
/// after repeated crashes), with one pass over each folder for them all:
/// the thumbnail folder holds every job's thumbnails.
pub(crate) async fn remove_files_of_jobs(sh: &Shared, jobs: &[JobSummary]) {
    let files: Vec<JobFiles> = jobs
        .iter()
        .filter_map(|job| job_files(job, Vec::new()))
        .collect();
    if !files.is_empty() {
        remove(sh, files, None).await;
    }
}

/// What the library may remove of `job`: files up to its lease epoch (a
/// later runner's are not ours to touch) other than `keep`.
fn job_files(job: &JobSummary, keep: Vec<PathBuf>) -> Option<JobFiles> {
    Some(JobFiles {
        job_id: job.id.clone(),
        created_at: chrono::DateTime::from_timestamp_millis(job.created_at)?,
        keep,
        max_epoch: job.lease_epoch,
    })
}

async fn remove(sh: &Shared, files: Vec<JobFiles>, job_id: Option<&str>) {
    let library = sh.library();
    let removed = tokio::task::spawn_blocking(move || library.remove_jobs_files(&files)).await;
    let job_id = job_id.unwrap_or("-");
    match removed {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(job_id, files = n, "removed files no asset row names"),
        Ok(Err(e)) => tracing::warn!(job_id, error = %e, "cannot remove the job's files"),
        Err(e) => tracing::warn!(job_id, error = %e, "file cleanup did not run"),
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
