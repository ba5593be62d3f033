//! Cost policy: estimates come from the provider, the ledger rows from the
//! store (`store::ledger`); this module decides whether a new job fits the
//! monthly budget.

use crate::error::EngineError;
use chrono::{Datelike, TimeZone};

/// The first millisecond of the current calendar month, local time.
pub fn month_start_ms() -> i64 {
    let now = chrono::Local::now();
    chrono::Local
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

/// The budget check inside a write transaction (a create or a retry), so
/// concurrent ones serialize on the write lock and each sees every job
/// committed before it. The outer result is the store's, the inner the
/// refusal.
pub fn check_budget_in(
    tx: &rusqlite::Transaction<'_>,
    budget: i64,
    cost: i64,
) -> crate::store::Result<Result<(), EngineError>> {
    let committed = crate::store::ledger::committed_since(tx, month_start_ms())?;
    Ok(check_budget(budget, committed, cost))
}

/// Refuse a job that would take the month past the budget. `committed` is
/// what was charged this month plus what unfinished jobs may still cost.
/// A budget that is fully used refuses even free jobs: "budget reached" is
/// what the user set, and a clear stop beats a surprising exception.
pub fn check_budget(budget: i64, committed: i64, cost: i64) -> Result<(), EngineError> {
    if committed + cost > budget || committed >= budget {
        return Err(EngineError::BudgetExceeded {
            budget_micros: budget,
            spent_micros: committed,
            needed_micros: cost,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget() {
        assert!(check_budget(1_000, 0, 500).is_ok());
        assert!(check_budget(1_000, 500, 500).is_ok());
        assert!(check_budget(1_000, 600, 500).is_err());
        assert!(check_budget(1_000, 1_000, 0).is_err());
        assert!(check_budget(0, 0, 0).is_err());
    }
}
