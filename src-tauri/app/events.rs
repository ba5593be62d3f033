//! Forwards job changes to the UI as `job-event` (`JobEvent`: the job, its
//! `seq`, and `prev_seq`, the seq of the previous event this bridge sent),
//! in `seq` order. A window whose last seen seq is not `prev_seq` (it
//! reloaded, or missed an event) refetches.
//!
//! It reads the engine's change feed (changes after a `seq`, from the
//! database), the same feed `easel-cli watch` prints, so changes made by
//! another process (the CLI beside the app) reach the window too, and the
//! UI never sees a gap it could not fill.

use crate::activity::Activity;
use crate::image_scope;
use crate::notices::{self, Finished};
use crate::tray;
use easel_engine::Engine;
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};

pub const JOB_EVENT: &str = "job-event";
const TICK: Duration = Duration::from_millis(500);

pub async fn bridge(app: AppHandle, engine: Engine) {
    let seq = match engine.current_seq().await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!(error = %e, "event bridge cannot read the database");
            0
        }
    };
    let mut feed = engine.changes(seq).chained_from(0);
    let mut finished = Finished::default();
    loop {
        match feed.next(TICK).await {
            Ok(Some(events)) => {
                let settled: Vec<_> = events
                    .iter()
                    .filter_map(|e| finished.observe(&e.job).map(|status| (status, &e.job)))
                    .collect();
                if let Some(notice) = notices::notice(&settled) {
                    notices::send(&app, notice);
                }
                for event in events {
                    // Its images are viewable before the window hears of them.
                    if event.job.status == easel_engine::JobStatus::Completed {
                        image_scope::of(&app).allow_job(&engine, &event.job);
                    }
                    if let Err(e) = app.emit(JOB_EVENT, &event) {
                        tracing::warn!(error = %e, "cannot emit a job event");
                    }
                }
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read job changes; retrying");
                tokio::time::sleep(TICK).await;
            }
        }
        match engine.active_counts().await {
            Ok(counts) => {
                if app.state::<Activity>().set(counts) {
                    tray::update(&app, counts);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot count running jobs"),
        }
    }
}
