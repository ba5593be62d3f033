//! The engine's public API: what the desktop app, the CLI and tests call.

use crate::config::Config;
use crate::error::EngineError;
use crate::jobs::transitions::{self, Outcome};
use crate::jobs::validate;
use crate::library::Library;
use crate::model::{JobDetail, JobEvent, JobSummary, ListQuery, NewJob};
use crate::providers::{Capabilities, Registry};
use crate::store::jobs::{self as q, NewJobRow};
use crate::store::{ledger, now_ms, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

pub(crate) struct Shared {
    pub config: Config,
    pub store: Store,
    pub providers: Registry,
    pub library: Library,
    pub events: broadcast::Sender<JobEvent>,
    /// Wakes the scheduler when work may have appeared.
    pub wake: Notify,
    /// This process's worker id, recorded as the lease owner.
    pub worker_id: String,
    /// Test hook: `EASEL_CRASHPOINT=<phase>` stops the worker at that point
    /// so a test can kill the process there.
    pub crashpoint: Option<String>,
}

impl Shared {
    /// Run a blocking store operation off the async runtime's threads.
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| EngineError::Shutdown)?
            .map_err(EngineError::from)
    }

    pub fn publish(&self, job: &JobSummary) {
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(JobEvent {
            seq: job.seq,
            job: job.clone(),
        });
    }
}

#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl Engine {
    /// Open the data folder and database (creating and migrating them), with
    /// the providers this build ships.
    pub fn open(config: Config) -> Result<Engine, EngineError> {
        let providers = Registry::from_config(&config);
        Engine::open_with_providers(config, providers)
    }

    /// `open` with an explicit set of providers.
    pub fn open_with_providers(config: Config, providers: Registry) -> Result<Engine, EngineError> {
        let mkdir = |path: &std::path::Path| {
            std::fs::create_dir_all(path).map_err(|source| EngineError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        mkdir(&config.data_dir)?;
        mkdir(&config.thumbs_dir())?;
        if config.library_dir_is_default {
            mkdir(&config.library_dir)?;
        }
        let store = Store::open(
            &config.db_path(),
            Duration::from_millis(config.busy_timeout_ms),
        )?;
        let library = Library::new(
            config.library_dir.clone(),
            config.thumbs_dir(),
            config.image_limits,
        );
        let (events, _) = broadcast::channel(1024);
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[24..]
        );
        let crashpoint = std::env::var("EASEL_CRASHPOINT").ok();
        Ok(Engine {
            shared: Arc::new(Shared {
                config,
                store,
                providers,
                library,
                events,
                wake: Notify::new(),
                worker_id,
                crashpoint,
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Create a job durably and return it as `queued`. The same request id
    /// returns the first job instead of creating a second one. Nothing is sent
    /// to a provider here: the scheduler picks the job up after the commit.
    pub async fn create_job(&self, new: NewJob) -> Result<JobSummary, EngineError> {
        validate::request_id(&new.request_id)?;
        let sh = &self.shared;
        let rid = new.request_id.clone();
        if let Some(existing) = sh
            .db(move |s| s.read(|c| q::find_by_request_id(c, &rid)))
            .await?
        {
            return Ok(existing);
        }
        let spec = validate::spec(&new, &sh.config.default_provider, &sh.providers)?;
        sh.library.check_writable()?;
        let provider = sh
            .providers
            .get(&spec.provider)
            .ok_or_else(|| EngineError::UnknownProvider(spec.provider.clone()))?;
        let cost = provider.estimate_cost_micros(&spec);
        if let Some(budget) = sh.config.monthly_budget_micros {
            let since = crate::ledger::month_start_ms();
            let committed = sh
                .db(move |s| s.read(|c| ledger::committed_since(c, since)))
                .await?;
            crate::ledger::check_budget(budget, committed, cost)?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let max_attempts = sh.config.max_attempts.max(1);
        let request_id = new.request_id.clone();
        let created = sh
            .db(move |s| {
                s.write(|tx| {
                    // Checked again inside the write lock: another process may
                    // have inserted the same request id since the read above.
                    if let Some(existing) = q::find_by_request_id(tx, &request_id)? {
                        return Ok((existing, false));
                    }
                    let row = NewJobRow {
                        id: &id,
                        request_id: &request_id,
                        spec: &spec,
                        max_attempts,
                        estimated_cost_micros: cost,
                        now: now_ms(),
                    };
                    Ok((q::insert(tx, &row)?, true))
                })
            })
            .await?;
        let (job, is_new) = created;
        if is_new {
            tracing::info!(job_id = %job.id, provider = %job.provider, "job queued");
            sh.publish(&job);
            sh.wake.notify_one();
        }
        Ok(job)
    }

    pub async fn get(&self, id: &str) -> Result<JobSummary, EngineError> {
        let key = id.to_string();
        self.shared
            .db(move |s| s.read(|c| q::get(c, &key)))
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    /// The job with its attempts, timeline, assets and ledger entries.
    pub async fn detail(&self, id: &str) -> Result<JobDetail, EngineError> {
        let key = id.to_string();
        self.shared
            .db(move |s| {
                s.read(|c| {
                    let Some(job) = q::get(c, &key)? else {
                        return Ok(None);
                    };
                    Ok(Some(JobDetail {
                        attempts: q::attempts(c, &key)?,
                        timeline: q::timeline(c, &key)?,
                        assets: q::assets(c, &key)?,
                        ledger: ledger::entries(c, &key)?,
                        job,
                    }))
                })
            })
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
    }

    pub async fn list(&self, query: ListQuery) -> Result<Vec<JobSummary>, EngineError> {
        self.shared
            .db(move |s| s.read(|c| q::list(c, &query)))
            .await
    }

    /// Prompt search through the FTS5 index, newest first.
    pub async fn search(&self, text: &str, limit: u32) -> Result<Vec<JobSummary>, EngineError> {
        self.list(ListQuery {
            search: Some(text.to_string()),
            limit: Some(limit),
            ..ListQuery::default()
        })
        .await
    }

    /// Jobs changed after `seq` in change order, including changes made by
    /// other processes (the CLI beside the app).
    pub async fn changed_since(
        &self,
        seq: i64,
        limit: u32,
    ) -> Result<Vec<JobSummary>, EngineError> {
        self.shared
            .db(move |s| s.read(|c| q::changed_since(c, seq, limit)))
            .await
    }

    pub async fn current_seq(&self) -> Result<i64, EngineError> {
        self.shared.db(|s| s.read(q::current_seq)).await
    }

    /// Changes made by this process, as they commit.
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.shared.events.subscribe()
    }

    pub fn providers(&self) -> Vec<(&'static str, Capabilities)> {
        self.shared
            .providers
            .ids()
            .filter_map(|id| {
                self.shared
                    .providers
                    .get(id)
                    .map(|p| (id, p.capabilities().clone()))
            })
            .collect()
    }

    /// Cancel a queued or running job (also at the provider where it can).
    pub async fn cancel(&self, id: &str) -> Result<JobSummary, EngineError> {
        let key = id.to_string();
        let outcome = Outcome::Canceled {
            reason: "by the user".into(),
        };
        let (settled, handle) = self
            .shared
            .db(move |s| {
                s.write(|tx| {
                    let handle = q::handle(tx, &key)?;
                    Ok((
                        transitions::settle(tx, &key, None, &outcome, now_ms())?,
                        handle,
                    ))
                })
            })
            .await?;
        let Some(job) = settled else {
            let job = self.get(id).await?;
            return Err(EngineError::WrongState {
                id: job.id,
                status: job.status,
                action: "cancel",
            });
        };
        self.shared.publish(&job);
        if let (Some(handle), Some(provider)) = (handle, self.shared.providers.get(&job.provider)) {
            let provider = provider.clone();
            let job_id = job.id.clone();
            tokio::spawn(async move {
                if let Err(e) = provider.cancel(&handle).await {
                    tracing::warn!(job_id = %job_id, provider = provider.id(), error = %e, "provider-side cancel failed");
                }
            });
        }
        Ok(job)
    }

    /// Retry a failed or canceled job as a new run, or resume a held one.
    pub async fn retry(&self, id: &str) -> Result<JobSummary, EngineError> {
        let job = self.get(id).await?;
        let extra = self.shared.config.max_attempts.max(1);
        let current = job.clone();
        let retried = self
            .shared
            .db(move |s| s.write(|tx| transitions::retry(tx, &current, extra, now_ms())))
            .await?;
        let Some(job) = retried else {
            return Err(EngineError::WrongState {
                id: job.id,
                status: job.status,
                action: "retry",
            });
        };
        self.shared.publish(&job);
        self.shared.wake.notify_one();
        Ok(job)
    }

    pub fn store_path(&self) -> &std::path::Path {
        self.shared.store.path()
    }

    /// Write transactions this engine has committed (for benchmarks).
    pub fn commits(&self) -> u64 {
        self.shared.store.commits()
    }

    pub fn library(&self) -> &Library {
        &self.shared.library
    }
}

pub(crate) fn is_terminal_or_held(job: &JobSummary) -> bool {
    job.status.is_terminal() || job.held
}
