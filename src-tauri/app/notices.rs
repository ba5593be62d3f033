//! Native notifications for jobs that finish while the window is out of
//! view (hidden in the tray, minimized or behind other windows).

use crate::window::MAIN;
use easel_engine::{JobStatus, JobSummary};
use std::collections::HashSet;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

/// Jobs this run saw unfinished. A job is announced once, when it settles,
/// and never for later edits (favorite) to a finished job.
#[derive(Default)]
pub struct Finished {
    active: HashSet<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

impl Finished {
    /// Feed each job change in order; returns the jobs that just settled.
    pub fn observe(&mut self, job: &JobSummary) -> Option<JobStatus> {
        if !job.status.is_terminal() {
            self.active.insert(job.id.clone());
            return None;
        }
        self.active.remove(&job.id).then_some(job.status)
    }
}

/// One notice for a batch of settled jobs (one per job would flood the
/// desktop when a batch of images lands together). Cancels are the user's
/// own doing and are not announced.
pub fn notice(settled: &[(JobStatus, &JobSummary)]) -> Option<Notice> {
    let done: Vec<&JobSummary> = settled
        .iter()
        .filter(|(s, _)| *s == JobStatus::Completed)
        .map(|(_, j)| *j)
        .collect();
    let failed: Vec<&JobSummary> = settled
        .iter()
        .filter(|(s, _)| *s == JobStatus::Failed)
        .map(|(_, j)| *j)
        .collect();
    let short = |p: &str| -> String {
        let mut s: String = p.chars().take(80).collect();
        if p.chars().count() > 80 {
            s.push('…');
        }
        s
    };
    match (done.as_slice(), failed.as_slice()) {
        ([], []) => None,
        ([one], []) => Some(Notice {
            title: "Image ready".into(),
            body: short(&one.prompt),
        }),
        (many, []) => Some(Notice {
            title: format!("{} images ready", many.len()),
            body: short(&many[many.len() - 1].prompt),
        }),
        ([], [one]) => Some(Notice {
            title: "Generation failed".into(),
            body: format!(
                "{}: {}",
                short(&one.prompt),
                one.error_message
                    .as_deref()
                    .unwrap_or("see the job for details")
            ),
        }),
        (done, failed) => Some(Notice {
            title: format!("{} ready, {} failed", done.len(), failed.len()),
            body: "Open Easel to see them.".into(),
        }),
    }
}

/// The window is in front of the user: the gallery already shows it all.
fn in_view(app: &AppHandle) -> bool {
    app.get_webview_window(MAIN).is_some_and(|w| {
        w.is_visible().unwrap_or(false)
            && !w.is_minimized().unwrap_or(false)
            && w.is_focused().unwrap_or(false)
    })
}

pub fn send(app: &AppHandle, notice: Notice) {
    if in_view(app) {
        return;
    }
    let shown = app
        .notification()
        .builder()
        .title(&notice.title)
        .body(&notice.body)
        .show();
    if let Err(e) = shown {
        tracing::warn!(error = %e, "cannot show a notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, status: JobStatus) -> JobSummary {
        JobSummary {
            id: id.into(),
            request_id: id.into(),
            status,
            provider: "offline".into(),
            model: "m".into(),
            prompt: format!("prompt {id}"),
            negative_prompt: None,
            width: 64,
            height: 64,
            count: 1,
            seed: 1,
            created_at: 0,
            updated_at: 0,
            attempts: 0,
            max_attempts: 3,
            run: 1,
            progress: None,
            next_run_at: 0,
            held: false,
            crash_count: 0,
            error_code: None,
            error_message: None,
            estimated_cost_micros: 0,
            seq: 1,
            favorite: false,
            thumb_path: None,
            asset_count: 0,
            reference_ids: vec![],
            lease_epoch: 0,
            params: Default::default(),
            queue_position: None,
            provider_message: None,
            priority: 0,
            deleted: false,
            group_id: None,
            preview_path: None,
            image_path: None,
        }
    }

    #[test]
    fn a_job_is_announced_once_when_it_settles() {
        let mut f = Finished::default();
        assert_eq!(f.observe(&job("a", JobStatus::Queued)), None);
        assert_eq!(f.observe(&job("a", JobStatus::Processing)), None);
        assert_eq!(
            f.observe(&job("a", JobStatus::Completed)),
            Some(JobStatus::Completed)
        );
        // A later change to the finished job (favorite) is not news.
        assert_eq!(f.observe(&job("a", JobStatus::Completed)), None);
        // Jobs that finished before this run are not announced.
        assert_eq!(f.observe(&job("old", JobStatus::Failed)), None);
    }

    #[test]
    fn batches_make_one_notice() {
        let a = job("a", JobStatus::Completed);
        let b = job("b", JobStatus::Completed);
        let mut c = job("c", JobStatus::Failed);
        c.error_message = Some("blocked by the content policy".into());
        let one = notice(&[(JobStatus::Completed, &a)]).expect("notice");
        assert_eq!(one.title, "Image ready");
        assert_eq!(one.body, "prompt a");
        let two =
            notice(&[(JobStatus::Completed, &a), (JobStatus::Completed, &b)]).expect("notice");
        assert_eq!(two.title, "2 images ready");
        let failed = notice(&[(JobStatus::Failed, &c)]).expect("notice");
        assert_eq!(failed.title, "Generation failed");
        assert_eq!(failed.body, "prompt c: blocked by the content policy");
        let mixed = notice(&[(JobStatus::Completed, &a), (JobStatus::Failed, &c)]).expect("notice");
        assert_eq!(mixed.title, "1 ready, 1 failed");
        assert_eq!(notice(&[(JobStatus::Canceled, &a)]), None);
    }
}
