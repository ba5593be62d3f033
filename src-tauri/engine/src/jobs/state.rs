//! The job state machine: which transitions exist. The store enforces them
//! with guarded updates; this table documents them and lets tests check
//! every transition recorded in a timeline.

use crate::model::JobStatus::{self, *};

/// Is `from -> to` a transition the engine may make?
pub fn allowed(from: JobStatus, to: JobStatus) -> bool {
    match (from, to) {
        // Claimed by a worker.
        (Queued, Submitting) => true,
        // Accepted by the provider; progress updates stay in processing.
        (Submitting, Processing) | (Processing, Processing) => true,
        // Provider finished; the result is being stored.
        (Processing, Saving) => true,
        // Stored: the only way to completed.
        (Saving, Completed) => true,
        // A retryable failure before anything was stored goes back to the queue.
        (Submitting, Queued) | (Processing, Queued) => true,
        // Saving that must wait (library unavailable) stays in saving;
        // being held after crashes keeps the phase.
        (Submitting, Submitting) | (Saving, Saving) => true,
        // Give up, or the user cancels, from any non-terminal state.
        (f, Failed) | (f, Canceled) if !f.is_terminal() => true,
        // Only an explicit user retry leaves a terminal failure.
        (Failed, Queued) | (Canceled, Queued) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completed_is_final() {
        for to in JobStatus::ALL {
            assert!(!allowed(Completed, to), "completed -> {to}");
        }
    }

    #[test]
    fn completed_only_from_saving() {
        for from in JobStatus::ALL {
            assert_eq!(
                allowed(from, Completed),
                from == Saving,
                "{from} -> completed"
            );
        }
    }

    #[test]
    fn terminal_states_never_fail_or_cancel_again() {
        for from in [Completed, Failed, Canceled] {
            assert!(!allowed(from, Failed));
            assert!(!allowed(from, Canceled));
        }
    }
}
