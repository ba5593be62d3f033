//! The engine's public API: what the desktop app, the CLI and tests call.

use crate::config::Config;
use crate::error::EngineError;
use crate::jobs::transitions::{self, Outcome};
use crate::library::{DecodeBudget, Library};
use crate::model::{
    ActiveCounts, JobDetail, JobEvent, JobSummary, ListQuery, QueueView, StartupReport,
};
use crate::providers::{Capabilities, Registry};
use crate::references::{ReferenceImage, References};
use crate::secrets::Keys;
use crate::shared::{Live, Shared};
use crate::staging::Staging;
use crate::store::jobs as q;
use crate::store::{cancels, ledger, now_ms, search_index, Store};
use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl Engine {
    /// Open the data folder and database (creating and migrating them), with
    /// the providers this build ships and keys from the OS keychain.
    pub fn open(config: Config) -> Result<Engine, EngineError> {
        let providers = Registry::from_config(&config);
        Engine::open_with_providers(config, providers)
    }

    /// `open` with an explicit set of providers (keys from the OS keychain).
    pub fn open_with_providers(config: Config, providers: Registry) -> Result<Engine, EngineError> {
        let keys = Keys::os(&config.keychain_service);
        Engine::open_with(config, providers, keys)
    }

    /// `open` with explicit providers and key store; a provider that needs
    /// a key must be given the same `keys` (it reads its key there).
    pub fn open_with(
        config: Config,
        providers: Registry,
        keys: Keys,
    ) -> Result<Engine, EngineError> {
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
        let now = now_ms();
        let interrupted = store
            .read(q::in_flight)?
            .into_iter()
            .filter(|(_, owner, until)| !held_by_live_process(owner.as_deref(), *until, now))
            .map(|(id, _, _)| id)
            .collect();
        // One image at the pixel limit may decode at a time (and any number
        // of smaller ones that fit beside it), across all workers.
        let decode_budget = DecodeBudget::new(config.image_limits.max_pixels);
        let staging = Staging::new(config.staging_dir());
        let previews = crate::previews::Previews::new(config.previews_dir());
        let live = Live {
            library: Arc::new(library),
            default_provider: config.default_provider.clone(),
            concurrency: config.concurrency.clone(),
            monthly_budget_micros: config.monthly_budget_micros,
        };
        let (events, _) = broadcast::channel(1024);
        let worker_id = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::now_v7().simple().to_string()[24..]
        );
        let crashpoint = std::env::var("EASEL_CRASHPOINT").ok();
        let references_dir = config.references_dir();
        Ok(Engine {
            shared: Arc::new(Shared {
                config,
                live: RwLock::new(live),
                store,
                providers,
                events,
                wake: Notify::new(),
                worker_id,
                crashpoint,
                stopping: tokio::sync::watch::channel(false).0,
                last_event: Mutex::new(0),
                interrupted,
                running: Mutex::new(HashSet::new()),
                cooldowns: Default::default(),
                decode_budget,
                library_probed: AtomicBool::new(false),
                references: References::new(references_dir),
                staging,
                previews,
                keys,
                cancels_owed: Notify::new(),
                pokes: broadcast::channel(256).0,
                webhook_status: Mutex::new(Default::default()),
                shutdowns: RwLock::new(Default::default()),
            }),
        })
    }

    /// Ask a running `run_worker` to stop: it claims nothing more, its
    /// runners stop at their next safe point (removing files they wrote and
    /// did not commit), and it returns once they have. Follow with
    /// `release_leases` so the next start resumes the jobs at once.
    pub fn stop(&self) {
        self.shared.stopping.send_replace(true);
        self.shared.wake.notify_one();
    }

    /// Run the scheduler and workers (see `jobs::scheduler`) until `until`.
    /// Run jobs (and, when enabled, the webhook receiver) until `until`.
    pub async fn run_worker(&self, until: crate::RunUntil) -> Result<(), EngineError> {
        let receiver = crate::webhooks::receiver::start(&self.shared).await;
        // Shutdown dates are news, not a precondition: read in the background.
        let engine = self.clone();
        let models = tokio::spawn(async move { engine.refresh_models().await });
        let _models = crate::shared::AbortOnDrop(models);
        let result = crate::jobs::scheduler::run(Arc::clone(&self.shared), until).await;
        if let Some(task) = receiver {
            task.abort();
            self.shared.set_webhook_status(|s| s.listening = None);
        }
        result
    }

    /// The webhook receiver's state and last delivery, for Settings.
    pub fn webhook_status(&self) -> crate::model::WebhookStatus {
        let status = self.shared.webhook_status.lock();
        let mut status = status
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        status.enabled = self.shared.config.webhooks.enabled;
        status.public_url = self.shared.config.webhooks.public_url.clone();
        status
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// Check and store a reference image (the bytes of a file the user
    /// dropped or picked) for jobs to name by its id.
    pub async fn import_reference(&self, bytes: Vec<u8>) -> Result<ReferenceImage, EngineError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.references.import(&bytes))
            .await
            .map_err(|_| EngineError::Shutdown)?
            .map_err(EngineError::from)
    }

    /// Use one of a job's images as a reference for a new job: stored, like
    /// an imported file, by its content.
    pub async fn reference_from_image(
        &self,
        id: &str,
        index: u32,
    ) -> Result<ReferenceImage, EngineError> {
        let path = self.image_path(id, index).await?;
        let read = path.clone();
        let bytes = tokio::task::spawn_blocking(move || std::fs::read(read))
            .await
            .map_err(|_| EngineError::Shutdown)?
            .map_err(|source| EngineError::Io { path, source })?;
        self.import_reference(bytes).await
    }

    /// The library file of one of a job's images.
    pub async fn image_path(
        &self,
        id: &str,
        index: u32,
    ) -> Result<std::path::PathBuf, EngineError> {
        let (_, assets) = self.job_with_assets(id).await?;
        assets
            .iter()
            .find(|a| a.output_index == index)
            .map(|a| std::path::PathBuf::from(&a.path))
            .ok_or_else(|| EngineError::NotFound(format!("{id} image {}", index + 1)))
    }

    /// A job and its visible images: the part of `detail` the per-image
    /// actions need (not its attempts, timeline or ledger).
    pub(crate) async fn job_with_assets(
        &self,
        id: &str,
    ) -> Result<(JobSummary, Vec<crate::model::Asset>), EngineError> {
        let key = id.to_string();
        self.shared
            .db(move |s| {
                s.read(|c| {
                    let Some(job) = q::get(c, &key)? else {
                        return Ok(None);
                    };
                    Ok(Some((job, q::assets(c, &key)?)))
                })
            })
            .await?
            .ok_or_else(|| EngineError::NotFound(id.to_string()))
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
        let searching = is_search(query.search.as_deref());
        self.shared
            .db(move |s| {
                if searching {
                    search_index::up_to_date(s)?;
                }
                s.read(|c| q::list(c, &query))
            })
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

    /// The generate panel's prompt history: starred prompts and up to
    /// `limit` recent ones, narrowed by `search`.
    pub async fn prompt_history(
        &self,
        search: Option<String>,
        limit: u32,
    ) -> Result<crate::model::PromptHistory, EngineError> {
        let limit = limit.clamp(1, 200);
        self.shared
            .db(move |s| {
                if is_search(search.as_deref()) {
                    search_index::up_to_date(s)?;
                }
                s.read(|c| {
                    Ok(crate::model::PromptHistory {
                        favorites: crate::store::prompts::favorites(c, search.as_deref())?,
                        recent: crate::store::prompts::recent(c, search.as_deref(), limit)?,
                    })
                })
            })
            .await
    }

    /// Star or unstar a prompt in the history.
    pub async fn set_prompt_favorite(
        &self,
        prompt: String,
        negative_prompt: Option<String>,
        favorite: bool,
    ) -> Result<(), EngineError> {
        if prompt.trim().is_empty() {
            return Err(EngineError::InvalidInput("the prompt is empty".into()));
        }
        self.shared
            .db(move |s| {
                s.write(|tx| {
                    crate::store::prompts::set_favorite(
                        tx,
                        &prompt,
                        negative_prompt.as_deref(),
                        favorite,
                        now_ms(),
                    )
                })
            })
            .await?;
        Ok(())
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
    /// Files the job had already written are removed; a runner still saving
    /// loses its lease and removes what it writes after this.
    pub async fn cancel(&self, id: &str) -> Result<JobSummary, EngineError> {
        let key = id.to_string();
        let outcome = Outcome::Canceled {
            reason: "by the user".into(),
        };
        let settled = self
            .shared
            .db(move |s| {
                s.write(|tx| {
                    let handle = q::handle(tx, &key)?;
                    let settled = transitions::settle(tx, &key, None, &outcome, now_ms())?;
                    // Owed to the provider with the cancel itself: sent by
                    // the worker's cancel service until acknowledged.
                    if let (Some(job), Some(handle)) = (&settled, handle) {
                        cancels::request(tx, &job.id, &job.provider, &handle, now_ms())?;
                    }
                    Ok(settled)
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
        self.shared.cancels_owed.notify_one();
        crate::jobs::cleanup::remove_unowned_files(&self.shared, &job, Vec::new()).await;
        Ok(job)
    }

    /// Retry a failed or canceled job as a new run, or resume a held one.
    /// Everything waiting or running, in the order it will run, and
    /// whether the queue is paused.
    pub async fn queue(&self) -> Result<QueueView, EngineError> {
        let (jobs, paused) = self
            .shared
            .db(|s| s.read(|c| Ok((q::queue(c)?, q::queue_paused(c)?))))
            .await?;
        Ok(QueueView { jobs, paused })
    }

    /// Move a queued job to the front of the queue: it is the next of its
    /// provider's jobs to start.
    pub async fn move_to_front(&self, id: &str) -> Result<JobSummary, EngineError> {
        let key = id.to_string();
        let moved = self
            .shared
            .db(move |s| s.write(|tx| transitions::move_to_front(tx, &key, now_ms())))
            .await?;
        let Some(job) = moved else {
            let job = self.get(id).await?;
            return Err(EngineError::WrongState {
                id: job.id,
                status: job.status,
                action: "moving it in the queue",
            });
        };
        self.shared.publish(&job);
        Ok(job)
    }

    /// Pause the queue (no new job starts, in any process; running jobs
    /// finish) or resume it.
    pub async fn set_queue_paused(&self, paused: bool) -> Result<(), EngineError> {
        self.shared
            .db(move |s| s.write(|tx| q::set_queue_paused(tx, paused)))
            .await?;
        // A resumed queue starts its jobs now, not at the next wakeup.
        self.shared.wake.notify_one();
        Ok(())
    }

    /// A new run is checked against the monthly budget in the retry's own
    /// write transaction, as a new job is.
    pub async fn retry(&self, id: &str) -> Result<JobSummary, EngineError> {
        let extra = self.shared.config.max_attempts.max(1);
        let budget = self.shared.live().monthly_budget_micros;
        let key = id.to_string();
        let retried = self
            .shared
            .db(move |s| {
                s.write(|tx| {
                    if let (Some(budget), Some(job)) = (budget, q::get(tx, &key)?) {
                        if !job.status.is_running() {
                            let cost = job.estimated_cost_micros;
                            if let Err(e) = crate::ledger::check_budget_in(tx, budget, cost)? {
                                return Ok(Err(e));
                            }
                        }
                    }
                    Ok(Ok(transitions::retry(tx, &key, extra, now_ms())?))
                })
            })
            .await??;
        let Some(job) = retried else {
            let job = self.get(id).await?;
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

    /// Mark or unmark jobs as favorites; returns the jobs that changed.
    pub async fn set_favorite(
        &self,
        ids: Vec<String>,
        favorite: bool,
    ) -> Result<Vec<JobSummary>, EngineError> {
        let changed = self
            .shared
            .db(move |s| {
                s.write(|tx| {
                    let mut out = Vec::new();
                    for id in &ids {
                        out.extend(q::set_favorite(tx, id, favorite, now_ms())?);
                    }
                    Ok(out)
                })
            })
            .await?;
        for job in &changed {
            self.shared.publish(job);
        }
        Ok(changed)
    }

    /// On a clean exit (Quit): hand this process's running jobs back so the
    /// next start resumes them at once, instead of after the lease lapses,
    /// and without counting a crash. Workers still running here lose their
    /// lease and stop touching those jobs.
    pub async fn release_leases(&self) -> Result<usize, EngineError> {
        let owner = self.shared.worker_id.clone();
        let released = self
            .shared
            .db(move |s| s.write(|tx| q::release_leases(tx, &owner)))
            .await?;
        if released > 0 {
            tracing::info!(jobs = released, "released running jobs for the next start");
        }
        Ok(released)
    }

    /// Jobs waiting and running now, across every process on this database
    /// (for the tray and for deciding whether closing the window may quit).
    pub async fn active_counts(&self) -> Result<ActiveCounts, EngineError> {
        self.shared.db(|s| s.read(q::active_counts)).await
    }

    /// What an earlier run left unfinished, for the app's launch banner.
    pub async fn startup_report(&self) -> Result<StartupReport, EngineError> {
        let held = self
            .list(ListQuery {
                held: Some(true),
                limit: Some(1000),
                ..ListQuery::default()
            })
            .await?
            .into_iter()
            .filter(|j| !j.status.is_terminal())
            .collect();
        Ok(StartupReport {
            interrupted: self.shared.interrupted.clone(),
            held,
            config_warnings: self.shared.config.warnings.clone(),
        })
    }

    /// Is `path` an image or thumbnail the engine stored?
    pub async fn is_asset_path(&self, path: &str) -> Result<bool, EngineError> {
        let path = path.to_string();
        self.shared
            .db(move |s| s.read(|c| q::is_asset_path(c, &path)))
            .await
    }

    pub fn store_path(&self) -> &std::path::Path {
        self.shared.store.path()
    }

    /// Write transactions this engine has committed that changed rows (for
    /// benchmarks and tests).
    pub fn commits(&self) -> u64 {
        self.shared.store.commits()
    }

    /// Reads this engine has made of its database (for tests and
    /// benchmarks).
    pub fn reads(&self) -> u64 {
        self.shared.store.reads()
    }

    /// The folder of the current library that `job`'s images are saved in.
    pub fn image_dir_of(&self, job: &JobSummary) -> Option<std::path::PathBuf> {
        let created = chrono::DateTime::from_timestamp_millis(job.created_at)?;
        Some(self.library().dated_dir(created))
    }

    pub fn library(&self) -> Arc<Library> {
        self.shared.library()
    }
}

/// Is a running job held by another process that is alive (the CLI beside
/// the app), rather than left by one that stopped? Worker ids start with
/// the process id; where processes can be looked up (Linux), that decides,
/// so a job whose process was killed a moment ago counts as interrupted
/// even though its lease has not lapsed yet. Elsewhere a live lease does.
fn held_by_live_process(owner: Option<&str>, lease_until: Option<i64>, now: i64) -> bool {
    let Some(owner) = owner else {
        return false;
    };
    #[cfg(target_os = "linux")]
    if let Some(pid) = owner.split('-').next().and_then(|p| p.parse::<u32>().ok()) {
        return std::path::Path::new(&format!("/proc/{pid}")).exists();
    }
    lease_until.is_some_and(|t| t > now)
}

/// Whether `text` searches prompts (and so needs the search index up to
/// date first: new jobs are indexed after their click).
fn is_search(text: Option<&str>) -> bool {
    text.is_some_and(|t| !t.trim().is_empty())
}
