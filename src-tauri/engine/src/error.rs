//! The engine's error type. Callers (CLI, Tauri shell) map it to exit codes
//! and a serializable error for the UI through `EngineError::kind`.

use crate::library::LibraryError;
use crate::model::JobStatus;
use serde::Serialize;
use std::path::PathBuf;
use ts_rs::TS;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The caller's input is wrong; nothing was stored.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    #[error("provider {provider:?} has no model {model:?} (available: {available})")]
    UnknownModel {
        provider: String,
        model: String,
        available: String,
    },
    #[error("no job {0}")]
    NotFound(String),
    #[error("job {id} is {status}; {action} is not possible now")]
    WrongState {
        id: String,
        status: JobStatus,
        action: &'static str,
    },
    #[error(
        "this job would go over the monthly budget: {} of {} is spent or reserved, and it needs {}",
        usd(*spent_micros),
        usd(*budget_micros),
        usd(*needed_micros)
    )]
    BudgetExceeded {
        budget_micros: i64,
        spent_micros: i64,
        needed_micros: i64,
    },
    #[error(transparent)]
    Library(#[from] LibraryError),
    #[error(transparent)]
    Reference(#[from] crate::references::ReferenceError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Trash(#[from] crate::library::trash::TrashError),
    #[error("{0} needs an API key: add it in Settings")]
    MissingKey(String),
    #[error(transparent)]
    Keychain(#[from] crate::secrets::KeychainError),
    #[error("request id {request_id:?} was already used for a different request (job {job_id}); use a new request id")]
    RequestConflict { request_id: String, job_id: String },
    #[error("the engine is shutting down")]
    Shutdown,
}

/// A stable, machine-readable error category for the UI and exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    InvalidInput,
    NotFound,
    Conflict,
    /// A request id already used for a different request.
    RequestConflict,
    Budget,
    Library,
    Storage,
    /// A provider key is missing (the user adds it in Settings).
    MissingKey,
    /// The system keychain could not be used.
    Keychain,
    Internal,
}

impl EngineError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::InvalidInput(_)
            | EngineError::UnknownProvider(_)
            | EngineError::UnknownModel { .. } => ErrorKind::InvalidInput,
            EngineError::Reference(e) if e.is_input() => ErrorKind::InvalidInput,
            EngineError::NotFound(_) => ErrorKind::NotFound,
            EngineError::WrongState { .. } => ErrorKind::Conflict,
            EngineError::RequestConflict { .. } => ErrorKind::RequestConflict,
            EngineError::BudgetExceeded { .. } => ErrorKind::Budget,
            EngineError::Library(_) | EngineError::Trash(_) => ErrorKind::Library,
            EngineError::MissingKey(_) => ErrorKind::MissingKey,
            EngineError::Keychain(_) => ErrorKind::Keychain,
            EngineError::Store(e) if e.is_user_facing() => ErrorKind::Storage,
            EngineError::Store(_)
            | EngineError::Reference(_)
            | EngineError::Io { .. }
            | EngineError::Shutdown => ErrorKind::Internal,
        }
    }

    /// True when the problem is the caller's input (CLI exit code 2).
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::InvalidInput
                | ErrorKind::Library
                | ErrorKind::Budget
                | ErrorKind::MissingKey
                | ErrorKind::RequestConflict
        )
    }
}

/// The form an error crosses to the UI in.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ErrorPayload {
    pub kind: ErrorKind,
    pub message: String,
}

impl From<&EngineError> for ErrorPayload {
    fn from(e: &EngineError) -> Self {
        ErrorPayload {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Micro-dollars as people read them: `$1.25`, or `$0.0035` below a cent.
fn usd(micros: i64) -> String {
    let dollars = micros as f64 / 1e6;
    if micros != 0 && micros.abs() < 10_000 {
        format!("${dollars:.4}")
    } else {
        format!("${dollars:.2}")
    }
}

#[cfg(test)]
mod usd_tests {
    #[test]
    fn amounts_read_as_dollars() {
        assert_eq!(super::usd(1_250_000), "$1.25");
        assert_eq!(super::usd(100_000), "$0.10");
        assert_eq!(super::usd(3_500), "$0.0035");
        assert_eq!(super::usd(0), "$0.00");
        let e = super::EngineError::BudgetExceeded {
            budget_micros: 100_000,
            spent_micros: 60_000,
            needed_micros: 60_000,
        };
        assert_eq!(
            e.to_string(),
            "this job would go over the monthly budget: $0.06 of $0.10 is spent or reserved, and it needs $0.06"
        );
    }
}
