//! Forwards job changes to the UI as `job-event` (`JobEvent`: the job, its
//! `seq`, and `prev_seq`, the seq of the previous event this bridge sent),
//! in `seq` order. A window whose last seen seq is not `prev_seq` (it
//! reloaded, or missed an event) refetches.
//!
//! It reads changes from the database by `seq` rather than relaying the
//! in-process channel directly, so changes made by another process (the CLI
//! beside the app) reach the window too, and the UI never sees a gap it
//! could not fill. The in-process channel only wakes it early.

use crate::activity::Activity;
use crate::notices::{self, Finished};
use crate::tray;
use easel_engine::{Engine, JobEvent};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;

pub const JOB_EVENT: &str = "job-event";
const TICK: Duration = Duration::from_millis(500);

pub async fn bridge(app: AppHandle, engine: Engine) {
    let mut wake = engine.subscribe();
    let mut seq = match engine.current_seq().await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!(error = %e, "event bridge cannot read the database");
            0
        }
    };
    let mut prev_seq = 0;
    let mut finished = Finished::default();
    loop {
        match engine.changed_since(seq, 500).await {
            Ok(jobs) => {
                let settled: Vec<_> = jobs
                    .iter()
                    .filter_map(|job| finished.observe(job).map(|status| (status, job)))
                    .collect();
                if let Some(notice) = notices::notice(&settled) {
                    notices::send(&app, notice);
                }
                for job in jobs {
                    seq = seq.max(job.seq);
                    let event = JobEvent {
                        seq: job.seq,
                        prev_seq,
                        job,
                    };
                    prev_seq = event.seq;
                    if let Err(e) = app.emit(JOB_EVENT, &event) {
                        tracing::warn!(error = %e, "cannot emit a job event");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read job changes; retrying"),
        }
        match engine.active_counts().await {
            Ok(counts) => {
                if app.state::<Activity>().set(counts) {
                    tray::update(&app, counts);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot count running jobs"),
        }
        tokio::select! {
            r = wake.recv() => {
                if let Err(RecvError::Closed) = r {
                    return;
                }
            }
            () = tokio::time::sleep(TICK) => {}
        }
    }
}
