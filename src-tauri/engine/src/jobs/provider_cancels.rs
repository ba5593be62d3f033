//! The provider-cancel service: sends the cancels owed to providers
//! (`store::cancels`) until each is acknowledged. A cancel is owed when the
//! user cancels a job the provider holds, or when a submit is answered after
//! the job was canceled; the row is written with that change, so a crash,
//! a closed app or a failed call only delays the cancel.

use crate::jobs::backoff;
use crate::shared::Shared;
use crate::store::{cancels as q, now_ms};
use std::sync::Arc;
use std::time::Duration;

/// A cancel still failing this long after it was asked for is given up:
/// the provider has finished (or dropped) the job by then.
const GIVE_UP_AFTER_MS: i64 = 24 * 3_600_000;
const BATCH: u32 = 20;

/// Send owed cancels until the task is aborted (with the worker), waking
/// when one is owed or the next retry is due.
pub(crate) async fn run(sh: Arc<Shared>) {
    loop {
        let next = drain(&sh).await;
        let wait = next
            .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
            .unwrap_or(Duration::from_secs(3_600))
            .max(Duration::from_millis(10));
        tokio::select! {
            () = sh.cancels_owed.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Send every due cancel once; returns when the next one is due.
async fn drain(sh: &Arc<Shared>) -> Option<i64> {
    let now = now_ms();
    let due = match sh.db(move |s| s.read(|c| q::due(c, now, BATCH))).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read owed provider cancels");
            return Some(now_ms() + 5_000);
        }
    };
    for owed in due {
        let span = tracing::info_span!("provider_cancel", job_id = %owed.job_id, provider = %owed.provider, tries = owed.tries);
        let _enter = span.enter();
        let Some(provider) = sh.providers.get(&owed.provider).cloned() else {
            settle(sh, &owed.job_id, "the provider is no longer known").await;
            continue;
        };
        let key = if provider.capabilities().needs_key {
            sh.keys.get(provider.id()).await.ok().flatten()
        } else {
            None
        };
        match provider.cancel(&owed.handle, key.as_ref()).await {
            Ok(()) => settle(sh, &owed.job_id, "acknowledged").await,
            Err(e) if e.kind.is_retryable() && now_ms() - owed.requested_at < GIVE_UP_AFTER_MS => {
                let wait = backoff::delay(
                    owed.tries + 1,
                    sh.config.backoff_base_ms,
                    sh.config.backoff_max_ms,
                    e.retry_after,
                );
                let next_at = now_ms() + wait.as_millis() as i64;
                tracing::warn!(error = %e, "provider cancel failed; will ask again");
                let (id, message) = (owed.job_id.clone(), e.message.clone());
                let _ = sh
                    .db(move |s| s.write(|tx| q::failed(tx, &id, next_at, &message)))
                    .await;
            }
            // Not found, already finished, a key problem, or too long: there
            // is nothing left to stop, or no way to stop it.
            Err(e) => settle(sh, &owed.job_id, &format!("given up: {e}")).await,
        }
    }
    sh.db(|s| s.read(q::next_due)).await.ok().flatten()
}

async fn settle(sh: &Arc<Shared>, job_id: &str, how: &str) {
    tracing::info!(outcome = how, "provider cancel settled");
    let id = job_id.to_string();
    if let Err(e) = sh.db(move |s| s.write(|tx| q::settled(tx, &id))).await {
        tracing::warn!(error = %e, "cannot record a settled provider cancel");
    }
}
