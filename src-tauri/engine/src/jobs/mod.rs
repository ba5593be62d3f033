//! The job lifecycle: the state machine, guarded transitions and settlement,
//! backoff, and the scheduler/runner that drives jobs through providers.

pub mod backoff;
pub(crate) mod cleanup;
pub mod fingerprint;
pub(crate) mod janitor;
pub(crate) mod provider_cancels;
pub mod runner;
pub mod scheduler;
pub mod state;
pub mod transitions;
pub mod validate;
