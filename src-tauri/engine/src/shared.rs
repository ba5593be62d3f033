//! The state every part of the engine shares: configuration, the store,
//! providers, the event channel and this process's worker identity. The
//! public API (`engine.rs`) and the job machinery (`jobs/`) both build on it;
//! it imports neither.

use crate::config::Config;
use crate::error::EngineError;
use crate::library::{DecodeBudget, Library, LibraryError};
use crate::model::{JobEvent, JobSummary, WebhookStatus};
use crate::providers::cooldown::Cooldowns;
use crate::providers::Registry;
use crate::references::References;
use crate::secrets::Keys;
use crate::staging::Staging;
use crate::store::{Store, StoreError};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, Notify};

/// Settings the user can change while the app runs (see `save_settings`).
pub struct Live {
    pub library: Arc<Library>,
    pub default_provider: String,
    pub concurrency: BTreeMap<String, u32>,
    pub monthly_budget_micros: Option<i64>,
}

pub struct Shared {
    /// As loaded at start; `live` holds what the user changed since.
    pub config: Config,
    pub live: RwLock<Live>,
    pub store: Store,
    pub providers: Registry,
    pub events: broadcast::Sender<JobEvent>,
    /// Wakes the scheduler when work may have appeared.
    pub wake: Notify,
    /// This process's worker id, recorded as the lease owner.
    pub worker_id: String,
    /// Test hook: `EASEL_CRASHPOINT=<phase>` stops the worker at that point
    /// so a test can kill the process there.
    pub crashpoint: Option<String>,
    /// The seq of the last event sent on `events` (for `JobEvent::prev_seq`).
    pub last_event: Mutex<i64>,
    /// Jobs that were in flight when this engine opened the database.
    pub interrupted: Vec<String>,
    /// Jobs a runner task of this process is driving right now. Recovery
    /// never takes one of these over, however late its heartbeat: a process
    /// does not recover a job it is running.
    pub running: Mutex<HashSet<String>>,
    /// Providers that answered 429: no job of this process calls them
    /// until their wait has passed.
    pub cooldowns: Cooldowns,
    /// Pixels being decoded right now by all workers: bounds the memory
    /// that saving takes whatever the concurrency.
    pub decode_budget: DecodeBudget,
    /// Set when the worker is asked to stop (Ctrl-C, SIGTERM, quit): runners
    /// stop at their next safe point and remove what they wrote, instead of
    /// being dropped mid-save.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// The current library folder passed the full writability probe.
    pub library_probed: AtomicBool,
    pub references: References,
    /// Provider outputs made durable when the provider finishes.
    pub staging: Staging,
    /// Progress previews of running jobs.
    pub previews: crate::previews::Previews,
    pub keys: Keys,
    /// Wakes the provider-cancel service: a cancel is owed.
    pub cancels_owed: Notify,
    /// Job ids whose runner should poll now (a webhook said so).
    pub pokes: broadcast::Sender<String>,
    pub webhook_status: Mutex<WebhookStatus>,
    /// Announced model shutdown dates, by provider then model (from the
    /// providers' model listings).
    pub shutdowns: RwLock<BTreeMap<String, BTreeMap<String, String>>>,
}

/// Removes a job from `Shared::running` when its runner ends, however it ends.
pub(crate) struct RunningGuard<'a> {
    shared: &'a Shared,
    id: String,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.running).remove(&self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded values stay consistent across a panic (whole inserts and
    // removes), so a poisoned lock's content is still good.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Ask the runner of `job_id` (if it is polling) to poll now.
    pub(crate) fn poke(&self, job_id: &str) {
        let _ = self.pokes.send(job_id.to_string());
    }

    pub(crate) fn set_webhook_status(&self, f: impl FnOnce(&mut WebhookStatus)) {
        f(&mut lock(&self.webhook_status));
    }
    /// Mark `id` as run by this process (before its runner is spawned).
    pub(crate) fn start_running(&self, id: &str) {
        lock(&self.running).insert(id.to_string());
    }

    /// The guard that unmarks `id` when the runner ends.
    pub(crate) fn running_guard(&self, id: &str) -> RunningGuard<'_> {
        RunningGuard {
            shared: self,
            id: id.to_string(),
        }
    }

    pub(crate) fn is_running_here(&self, id: &str) -> bool {
        lock(&self.running).contains(id)
    }

    pub(crate) fn live(&self) -> std::sync::RwLockReadGuard<'_, Live> {
        // A writer that panicked left a complete value behind (it only
        // replaces whole fields), so the lock's content is still good.
        self.live.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn library(&self) -> Arc<Library> {
        Arc::clone(&self.live().library)
    }

    /// The click-to-queued path must stay one durable insert: the full
    /// writability probe (a file created and removed) runs once per library
    /// folder; after that a metadata look-up catches an unplugged drive.
    pub fn check_library(&self) -> Result<(), EngineError> {
        let library = self.library();
        if !self.library_probed.load(Ordering::Acquire) {
            library.check_writable()?;
            self.library_probed.store(true, Ordering::Release);
            return Ok(());
        }
        match std::fs::metadata(library.root()) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(LibraryError::NotAFolder(library.root().to_path_buf()).into()),
            Err(_) => {
                // Gone or unreadable: probe again next time it is back.
                self.library_probed.store(false, Ordering::Release);
                Err(LibraryError::Missing(library.root().to_path_buf()).into())
            }
        }
    }

    pub fn concurrency_for(&self, provider: &str) -> u32 {
        self.live()
            .concurrency
            .get(provider)
            .copied()
            .unwrap_or(self.config.default_concurrency)
            .max(1)
    }

    /// Run a blocking store operation without blocking the runtime's other
    /// tasks. On the multi-thread runtime (the app's, the CLI's) it runs in
    /// place while the worker's other tasks move to another thread: a trip
    /// to the blocking pool and back took 75 µs (median, this machine's
    /// VM) against 6 µs, more than most statements cost, and a job makes
    /// about twenty. Elsewhere (a current-thread runtime) it goes to the
    /// blocking pool.
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let store = self.store.clone();
        if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
            return tokio::task::block_in_place(move || f(&store)).map_err(EngineError::from);
        }
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| EngineError::Shutdown)?
            .map_err(EngineError::from)
    }

    pub fn publish(&self, job: &JobSummary) {
        let mut last = lock(&self.last_event);
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(JobEvent {
            seq: job.seq,
            prev_seq: *last,
            job: job.clone(),
        });
        *last = job.seq;
    }
}

/// A background task that ends with its owner (a runner's heartbeat, the
/// worker's services).
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
