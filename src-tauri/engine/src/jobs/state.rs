//! The job state machine: which transitions exist. The table itself lives
//! on [`JobStatus::may_become`] (the store enforces it on every change);
//! this is the name the rest of the engine and the tests use.

use crate::model::JobStatus;
#[cfg(test)]
use crate::model::JobStatus::*;

/// Is `from -> to` a transition the engine may make?
pub fn allowed(from: JobStatus, to: JobStatus) -> bool {
    from.may_become(to)
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
