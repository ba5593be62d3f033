//! The change feed: every change to any job after a given `seq`, in commit
//! order, from this process or any other on the same database (the CLI
//! beside the app). The app's event bridge and `easel-cli watch` both read
//! it; each event carries the seq of the previous one, so a listener that
//! missed one refetches instead of showing a wrong screen.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::model::JobEvent;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// Changes are read in pages of this many jobs.
const PAGE: u32 = 500;

pub struct ChangeFeed {
    engine: Engine,
    /// The last seq read.
    seq: i64,
    /// The seq of the last event handed out (`JobEvent::prev_seq`).
    prev_seq: i64,
    /// This process's commits wake the feed early; other processes' are
    /// seen at the next tick.
    wake: broadcast::Receiver<JobEvent>,
}

impl Engine {
    /// A feed of the changes after `seq` (`current_seq()` for "from now").
    pub fn changes(&self, seq: i64) -> ChangeFeed {
        ChangeFeed {
            engine: self.clone(),
            seq,
            prev_seq: seq,
            wake: self.subscribe(),
        }
    }
}

impl ChangeFeed {
    /// Start the `prev_seq` chain at `prev` instead of at the start seq (the
    /// app's bridge starts at 0: a window there from the start refetches
    /// nothing, a reloaded one sees a mismatch).
    pub fn chained_from(mut self, prev: i64) -> Self {
        self.prev_seq = prev;
        self
    }

    /// The next changes: at once if there are any, else after this process
    /// commits one or `tick` passes (then possibly none). None when the
    /// engine is gone.
    pub async fn next(&mut self, tick: Duration) -> Result<Option<Vec<JobEvent>>, EngineError> {
        let events = self.read().await?;
        if !events.is_empty() {
            return Ok(Some(events));
        }
        tokio::select! {
            r = self.wake.recv() => {
                if let Err(RecvError::Closed) = r {
                    return Ok(None);
                }
            }
            () = tokio::time::sleep(tick) => {}
        }
        self.read().await.map(Some)
    }

    async fn read(&mut self) -> Result<Vec<JobEvent>, EngineError> {
        // Drain wake-ups already queued: the read below covers them.
        while let Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) = self.wake.try_recv() {}
        let jobs = self.engine.changed_since(self.seq, PAGE).await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            self.seq = self.seq.max(job.seq);
            let event = JobEvent {
                seq: job.seq,
                prev_seq: self.prev_seq,
                job,
            };
            self.prev_seq = event.seq;
            out.push(event);
        }
        Ok(out)
    }
}
