//! The scheduler: recovers jobs whose worker died, claims due jobs within each
//! provider's concurrency limit, and runs each one in its own task.

use crate::engine::{Engine, Shared};
use crate::error::EngineError;
use crate::jobs::runner;
use crate::jobs::transitions::{self, Recovered};
use crate::store::jobs as q;
use crate::store::now_ms;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// When `Engine::run_worker` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunUntil {
    /// Run until the future is dropped (the app, `easel-cli work`).
    Forever,
    /// Until every job that is not held is terminal (`work --until-idle`).
    Idle,
    /// Until these jobs are terminal or held (`generate --wait`).
    Settled(Vec<String>),
}

impl Engine {
    /// Run the scheduler and workers. Recovers whatever a previous process
    /// left behind first, then keeps recovering periodically.
    pub async fn run_worker(&self, until: RunUntil) -> Result<(), EngineError> {
        let sh = Arc::clone(&self.shared);
        let mut tasks = JoinSet::new();
        let tick = Duration::from_millis(
            sh.config
                .recovery_interval_ms
                .min(sh.config.lease_ms / 2)
                .max(20),
        );
        let mut next_recovery = tokio::time::Instant::now();
        tracing::info!(worker = %sh.worker_id, "worker started");
        loop {
            if tokio::time::Instant::now() >= next_recovery {
                recover(&sh, &mut tasks).await?;
                next_recovery = tokio::time::Instant::now() + tick;
            }
            claim_due(&sh, &mut tasks).await?;
            if done(&sh, &until, tasks.is_empty()).await? {
                tracing::info!("worker finished: nothing left to run");
                return Ok(());
            }
            let wake_at = sh.db(|s| s.read(q::next_wakeup)).await?;
            let sleep = wake_at
                .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
                .unwrap_or(tick)
                .min(tick);
            tokio::select! {
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = joined {
                        tracing::error!(error = %e, "job task panicked; recovery will resume the job");
                    }
                }
                () = sh.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
    }
}

async fn recover(sh: &Arc<Shared>, tasks: &mut JoinSet<()>) -> Result<(), EngineError> {
    let now = now_ms();
    let expired = sh
        .db(move |s| s.read(|c| q::expired_leases(c, now)))
        .await?;
    for job in expired {
        let (id, owner, limit) = (job.id.clone(), sh.worker_id.clone(), sh.config.crash_limit);
        let until = now_ms() + sh.config.lease_ms as i64;
        let result = sh
            .db(move |s| {
                s.write(|tx| transitions::recover(tx, &id, &owner, until, limit, now_ms()))
            })
            .await?;
        match result {
            Recovered::Taken(job) => {
                tracing::info!(job_id = %job.id, status = %job.status, "recovered job");
                sh.publish(&job);
                tasks.spawn(runner::drive(Arc::clone(sh), job, true));
            }
            Recovered::Held(job) => {
                tracing::warn!(job_id = %job.id, crashes = job.crash_count, "job held after repeated crashes");
                sh.publish(&job);
            }
            Recovered::Gone => {}
        }
    }
    Ok(())
}

async fn claim_due(sh: &Arc<Shared>, tasks: &mut JoinSet<()>) -> Result<(), EngineError> {
    let now = now_ms();
    let providers = sh
        .db(move |s| s.read(|c| q::providers_with_due_work(c, now)))
        .await?;
    if !providers.is_empty() {
        runner::crashpoint(sh, "queued", "-").await;
    }
    for provider in providers {
        loop {
            let limit = sh.concurrency_for(&provider);
            let (p, owner) = (provider.clone(), sh.worker_id.clone());
            let until = now_ms() + sh.config.lease_ms as i64;
            let claimed = sh
                .db(move |s| {
                    s.write(|tx| transitions::claim(tx, &p, limit, &owner, until, now_ms()))
                })
                .await?;
            let Some(job) = claimed else { break };
            sh.publish(&job);
            tasks.spawn(runner::drive(Arc::clone(sh), job, false));
        }
    }
    Ok(())
}

async fn done(sh: &Arc<Shared>, until: &RunUntil, idle_here: bool) -> Result<bool, EngineError> {
    match until {
        RunUntil::Forever => Ok(false),
        RunUntil::Idle => {
            if !idle_here {
                return Ok(false);
            }
            let open = sh
                .db(|s| {
                    s.read(|c| {
                        Ok(c.query_row(
                            "SELECT COUNT(*) FROM jobs WHERE held = 0 \
                             AND status NOT IN ('completed','failed','canceled')",
                            [],
                            |r| r.get::<_, i64>(0),
                        )?)
                    })
                })
                .await?;
            Ok(open == 0)
        }
        RunUntil::Settled(ids) => {
            for id in ids {
                let key = id.clone();
                let job = sh.db(move |s| s.read(|c| q::get(c, &key))).await?;
                if job.is_some_and(|j| !crate::engine::is_terminal_or_held(&j)) {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }
}
