//! The janitor: at worker start, removes files that runners killed mid-save
//! (SIGKILL, power loss) left behind for jobs that have since ended. A
//! runner that stops normally removes its own; this covers the ones that
//! could not. Each concern of maintenance is its own service (as River's).

use crate::jobs::cleanup;
use crate::library::JobFiles;
use crate::model::JobStatus;
use crate::shared::Shared;
use crate::store::jobs as q;
use crate::store::now_ms;

/// How far back, and how many jobs, the start-up sweep looks at: a killed
/// runner's leftovers belong to jobs that ended while or just after it died.
const WINDOW_MS: i64 = 60 * 60 * 1000;
const MAX_JOBS: u32 = 500;

/// Webhook deliveries are remembered this long: providers stop retrying a
/// delivery within hours (Replicate), so an older id never comes back.
const DELIVERIES_KEPT_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Undo is offered this long after a delete; then the record goes (the
/// files stay in the system trash until the user empties it).
const DELETED_KEPT_MS: i64 = 24 * 60 * 60 * 1000;

/// Forget jobs and images deleted more than `DELETED_KEPT_MS` ago, and
/// their thumbnails (a cache).
pub(crate) async fn purge_deleted(sh: &Shared) {
    let before = now_ms() - DELETED_KEPT_MS;
    let purged = sh
        .db(move |s| s.write(|tx| crate::store::deletions::purge(tx, before)))
        .await;
    match purged {
        Ok(p) if p.jobs + p.images == 0 => {}
        Ok(p) => {
            let thumbs = p.thumbnails;
            let _ = tokio::task::spawn_blocking(move || {
                for t in thumbs {
                    let _ = std::fs::remove_file(t);
                }
            })
            .await;
            tracing::info!(
                jobs = p.jobs,
                images = p.images,
                "forgot deleted jobs and images"
            );
        }
        Err(e) => tracing::warn!(error = %e, "cannot purge deleted jobs"),
    }
}

/// Forget webhook deliveries older than `DELIVERIES_KEPT_MS`.
pub(crate) async fn prune_webhook_deliveries(sh: &Shared) {
    let before = now_ms() - DELIVERIES_KEPT_MS;
    let pruned = sh
        .db(move |s| s.write(|tx| crate::store::webhooks::prune_deliveries(tx, before)))
        .await;
    match pruned {
        Ok(0) => {}
        Ok(n) => tracing::info!(deliveries = n, "forgot old webhook deliveries"),
        Err(e) => tracing::warn!(error = %e, "cannot prune webhook deliveries"),
    }
}

/// Staged outputs of jobs that ended (or no longer exist) without their
/// runner removing them: canceled from another process mid-save, or a
/// runner killed between settling and cleaning up.
pub(crate) async fn sweep_staging(sh: &Shared) {
    let staging = sh.staging.clone();
    let ids = match tokio::task::spawn_blocking(move || staging.job_ids()).await {
        Ok(Ok(ids)) => ids,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot list the staging area");
            return;
        }
        Err(_) => return,
    };
    for id in ids {
        let key = id.clone();
        let ended = match sh.db(move |s| s.read(|c| q::get(c, &key))).await {
            Ok(Some(job)) => job.status.is_terminal(),
            Ok(None) => true,
            Err(_) => false,
        };
        if ended {
            let staging = sh.staging.clone();
            let removed = tokio::task::spawn_blocking(move || staging.remove(&id)).await;
            if let Ok(Err(e)) = removed {
                tracing::warn!(error = %e, "cannot remove staged outputs of an ended job");
            }
        }
    }
}

/// Previews no job names: left by a runner killed mid-job (a runner that
/// stops removes its own). At worker start no runner of this process is
/// running, and another process's running job names its current preview.
pub(crate) async fn sweep_previews(sh: &Shared) {
    let previews = sh.previews.clone();
    let Ok(files) = tokio::task::spawn_blocking(move || previews.all()).await else {
        return;
    };
    for (id, path) in files {
        let key = id.clone();
        let named = match sh.db(move |s| s.read(|c| q::get(c, &key))).await {
            Ok(Some(job)) => job.preview_path.as_deref() == path.to_str(),
            Ok(None) => false,
            Err(_) => true,
        };
        if !named {
            let _ = tokio::task::spawn_blocking(move || std::fs::remove_file(path)).await;
        }
    }
}

/// One read of the recently ended jobs (and the held ones) and their
/// assets, then one pass over each folder involved (not one per job: the
/// thumbnail folder holds every job's thumbnails).
pub(crate) async fn sweep_recent(sh: &Shared) {
    let since = now_ms() - WINDOW_MS;
    let listed = sh
        .db(move |s| {
            s.read(|c| {
                let mut out = Vec::new();
                // Held jobs too: no runner runs them, and their killed
                // runs' files (no asset row names them) may have outlived
                // the recovery that held them.
                let settled = q::recently_settled(c, since, MAX_JOBS)?;
                for job in settled.into_iter().chain(q::held_running(c, MAX_JOBS)?) {
                    let keep = if job.status == JobStatus::Completed {
                        cleanup::asset_files(&q::all_assets(c, &job.id)?)
                    } else {
                        Vec::new()
                    };
                    let Some(created_at) = chrono::DateTime::from_timestamp_millis(job.created_at)
                    else {
                        continue;
                    };
                    out.push(JobFiles {
                        job_id: job.id,
                        created_at,
                        keep,
                        max_epoch: job.lease_epoch,
                    });
                }
                Ok(out)
            })
        })
        .await;
    let jobs = match listed {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list recently ended jobs to sweep");
            return;
        }
    };
    let library = sh.library();
    match tokio::task::spawn_blocking(move || library.remove_jobs_files(&jobs)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(files = n, "start-up sweep removed files no asset row names"),
        Ok(Err(e)) => tracing::warn!(error = %e, "start-up sweep could not finish"),
        Err(e) => tracing::warn!(error = %e, "start-up sweep did not run"),
    }
}
