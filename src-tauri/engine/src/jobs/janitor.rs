//! The janitor: at worker start, removes files that runners killed mid-save
//! (SIGKILL, power loss) left behind for jobs that have since ended. A
//! runner that stops normally removes its own; this covers the ones that
//! could not. Each concern of maintenance is its own service (as River's).

use crate::jobs::cleanup;
use crate::model::JobStatus;
use crate::shared::Shared;
use crate::store::jobs as q;
use crate::store::now_ms;

/// How far back, and how many jobs, the start-up sweep looks at: a killed
/// runner's leftovers belong to jobs that ended while or just after it died.
const WINDOW_MS: i64 = 60 * 60 * 1000;
const MAX_JOBS: u32 = 500;

pub(crate) async fn sweep_recent(sh: &Shared) {
    let since = now_ms() - WINDOW_MS;
    let jobs = match sh
        .db(move |s| s.read(|c| q::recently_settled(c, since, MAX_JOBS)))
        .await
    {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list recently ended jobs to sweep");
            return;
        }
    };
    for job in jobs {
        let keep = if job.status == JobStatus::Completed {
            let id = job.id.clone();
            match sh.db(move |s| s.read(|c| q::assets(c, &id))).await {
                Ok(assets) => cleanup::asset_files(&assets),
                // Without the asset list nothing can be told apart: skip.
                Err(_) => continue,
            }
        } else {
            Vec::new()
        };
        cleanup::remove_unowned_files(sh, &job, keep).await;
    }
}
