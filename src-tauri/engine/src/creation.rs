//! Creating jobs: one from a click, or a group (one prompt sent to several
//! models to compare) created all at once. Every job is committed before
//! the scheduler can see it; nothing is sent to a provider here.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::jobs::{fingerprint, validate};
use crate::model::{JobSpec, JobSummary, NewJob};
use crate::store::jobs::{self as q, NewJobRow};
use crate::store::now_ms;
use std::collections::HashSet;

/// The most jobs one group holds: what the compare view shows side by side.
pub const MAX_GROUP: usize = 4;

/// A request checked and priced, ready to insert.
struct Prepared {
    new: NewJob,
    spec: JobSpec,
    fingerprint: String,
    cost: i64,
}

enum Created {
    Made(Vec<Result<JobSummary, EngineError>>),
    OverBudget(EngineError),
}

impl Engine {
    /// Create a job durably and return it as `queued`. The same request id
    /// with the same request returns the first job (before any other check:
    /// a re-sent request whose job exists always gets it); the same id with a
    /// different request is a conflict. Nothing is sent to a provider here:
    /// the scheduler picks the job up after the commit.
    pub async fn create_job(&self, new: NewJob) -> Result<JobSummary, EngineError> {
        let mut made = self.create_jobs(vec![new], None).await?;
        made.pop().ok_or(EngineError::Shutdown)
    }

    /// Send one prompt to several models at once: one job each (2 to
    /// `MAX_GROUP`), all sharing `group_id` so the gallery can compare
    /// them. All or nothing: if any request is invalid, lacks a key or
    /// would pass the budget, none is created. Re-sending the same group
    /// (same request ids) returns the same jobs.
    pub async fn create_group(
        &self,
        group_id: &str,
        news: Vec<NewJob>,
    ) -> Result<Vec<JobSummary>, EngineError> {
        validate::request_id(group_id)
            .map_err(|_| EngineError::InvalidInput("the group id is empty or too long".into()))?;
        if !(2..=MAX_GROUP).contains(&news.len()) {
            return Err(EngineError::InvalidInput(format!(
                "a comparison sends 2 to {MAX_GROUP} jobs, not {}",
                news.len()
            )));
        }
        let mut seen = HashSet::new();
        if !news.iter().all(|n| seen.insert(n.request_id.as_str())) {
            return Err(EngineError::InvalidInput(
                "two jobs of the comparison share a request id".into(),
            ));
        }
        self.create_jobs(news, Some(group_id.to_string())).await
    }

    async fn create_jobs(
        &self,
        news: Vec<NewJob>,
        group: Option<String>,
    ) -> Result<Vec<JobSummary>, EngineError> {
        for new in &news {
            validate::request_id(&new.request_id)?;
        }
        let sh = &self.shared;
        // Checked first and without a read of the request ids: a click is
        // nearly always new, and the write below finds a re-sent request
        // under its lock anyway. A request that fails a check may still be
        // a re-send whose jobs exist, and those get their jobs whatever the
        // checks say now (a key removed since must not turn an IPC retry
        // into an error).
        let mut prepared = Vec::with_capacity(news.len());
        for new in &news {
            match self.prepare(new.clone()).await {
                Ok(p) => prepared.push(p),
                Err(refused) => return self.existing_or(&news, refused).await,
            }
        }
        let budget = sh.live().monthly_budget_micros;
        let max_attempts = sh.config.max_attempts.max(1);
        let created = sh
            .db(move |s| {
                s.write(|tx| {
                    // Under the write lock, so a request id another
                    // process or IPC retry inserted a moment ago is found.
                    let mut existing = Vec::with_capacity(prepared.len());
                    for p in &prepared {
                        existing.push(q::find_request(tx, &p.new.request_id)?);
                    }
                    let fresh = existing.iter().any(Option::is_none);
                    // The budget is checked in the insert's own transaction:
                    // concurrent creates serialize on the write lock, and the
                    // month's committed total includes every job before. A
                    // re-send that creates nothing is not refused.
                    if let (Some(budget), true) = (budget, fresh) {
                        let cost: i64 = prepared
                            .iter()
                            .zip(&existing)
                            .filter(|(_, e)| e.is_none())
                            .map(|(p, _)| p.cost)
                            .sum();
                        if let Err(e) = crate::ledger::check_budget_in(tx, budget, cost)? {
                            return Ok(Created::OverBudget(e));
                        }
                    }
                    let now = now_ms();
                    let mut out = Vec::with_capacity(prepared.len());
                    for (p, e) in prepared.iter().zip(existing) {
                        if let Some(found) = e {
                            out.push(same_request(&p.new, found));
                            continue;
                        }
                        let id = uuid::Uuid::now_v7().to_string();
                        let row = NewJobRow {
                            id: &id,
                            request_id: &p.new.request_id,
                            spec: &p.spec,
                            max_attempts,
                            estimated_cost_micros: p.cost,
                            fingerprint: &p.fingerprint,
                            group_id: group.as_deref(),
                            now,
                        };
                        out.push(Ok(q::insert(tx, &row)?));
                    }
                    Ok(Created::Made(out))
                })
            })
            .await?;
        let jobs = match created {
            Created::Made(jobs) => jobs.into_iter().collect::<Result<Vec<_>, _>>()?,
            Created::OverBudget(e) => return Err(e),
        };
        for job in &jobs {
            tracing::info!(job_id = %job.id, provider = %job.provider, group = ?job.group_id, "job queued");
            sh.publish(job);
        }
        sh.wake.notify_one();
        Ok(jobs)
    }

    /// A request that failed a check: the jobs of it when every one exists
    /// (a re-send, each checked to be the same request, else a conflict),
    /// otherwise `refused`.
    async fn existing_or(
        &self,
        news: &[NewJob],
        refused: EngineError,
    ) -> Result<Vec<JobSummary>, EngineError> {
        let keys: Vec<String> = news.iter().map(|n| n.request_id.clone()).collect();
        let found = self
            .shared
            .db(move |s| {
                s.read(|c| {
                    keys.iter()
                        .map(|k| q::find_request(c, k))
                        .collect::<Result<Vec<_>, _>>()
                })
            })
            .await?;
        if !found.iter().all(Option::is_some) {
            return Err(refused);
        }
        news.iter()
            .zip(found)
            .filter_map(|(new, f)| f.map(|f| same_request(new, f)))
            .collect()
    }

    /// Check one request against its provider and model, its references
    /// and its key, and price it.
    async fn prepare(&self, new: NewJob) -> Result<Prepared, EngineError> {
        let sh = &self.shared;
        let default_provider = sh.live().default_provider.clone();
        let spec = validate::spec(&new, &default_provider, &sh.providers)?;
        for id in &spec.reference_ids {
            sh.references.path(id)?;
        }
        sh.check_library()?;
        let provider = sh
            .providers
            .get(&spec.provider)
            .ok_or_else(|| EngineError::UnknownProvider(spec.provider.clone()))?;
        if provider.capabilities().needs_key {
            // A job that cannot be sent is not created: the user adds the
            // key first and nothing is left queued behind a missing key.
            if sh.keys.get(&spec.provider).await?.is_none() {
                return Err(EngineError::MissingKey(spec.provider.clone()));
            }
        }
        let cost = provider.estimate_cost_micros(&spec);
        let fingerprint = fingerprint::of(&new);
        Ok(Prepared {
            new,
            spec,
            fingerprint,
            cost,
        })
    }

    /// The jobs of one comparison, oldest first.
    pub async fn group(&self, group_id: &str) -> Result<Vec<JobSummary>, EngineError> {
        let key = group_id.to_string();
        self.shared
            .db(move |s| s.read(|c| q::in_group(c, &key)))
            .await
    }
}

/// The job an existing request id names, if `new` is the same request;
/// a different request under the same id is a conflict.
fn same_request(
    new: &NewJob,
    (job, stored): (JobSummary, Option<String>),
) -> Result<JobSummary, EngineError> {
    match stored {
        // Jobs from before fingerprints were stored: nothing to compare.
        None => Ok(job),
        Some(fp) if fp == fingerprint::of(new) => Ok(job),
        Some(_) => Err(EngineError::RequestConflict {
            request_id: new.request_id.clone(),
            job_id: job.id,
        }),
    }
}
