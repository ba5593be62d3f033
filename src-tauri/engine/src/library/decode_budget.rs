//! The pixels being decoded at once, by every worker of the process: saving
//! an output decodes it whole (validation, thumbnail), so memory is bounded
//! by this budget instead of by concurrency × the per-image pixel limit.

use tokio::sync::{Semaphore, SemaphorePermit};

/// Pixels per permit: coarse enough that a budget of a few hundred
/// megapixels fits a semaphore's permit count.
const UNIT: u64 = 4096;

#[derive(Debug)]
pub struct DecodeBudget {
    permits: Semaphore,
    units: u32,
}

impl DecodeBudget {
    /// A budget of `max_pixels` decoded pixels in flight (at least one unit).
    pub fn new(max_pixels: u64) -> Self {
        let units = (max_pixels / UNIT).clamp(1, 1 << 28) as u32;
        Self {
            permits: Semaphore::new(units as usize),
            units,
        }
    }

    /// Waits until `pixels` fit in the budget and holds them until the permit
    /// drops. An image larger than the whole budget takes all of it (it runs
    /// alone rather than never); an unreadable header counts as one unit, as
    /// decoding it fails at once.
    pub async fn reserve(&self, pixels: Option<u64>) -> Option<SemaphorePermit<'_>> {
        let units = pixels
            .map_or(1, |px| px.div_ceil(UNIT))
            .clamp(1, u64::from(self.units)) as u32;
        self.permits.acquire_many(units).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    const WAIT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn saves_over_the_budget_wait_for_earlier_ones() {
        let budget = DecodeBudget::new(4096 * 100);
        let first = budget.reserve(Some(4096 * 60)).await.expect("fits");
        assert!(
            timeout(WAIT, budget.reserve(Some(4096 * 50)))
                .await
                .is_err(),
            "60 + 50 units exceed the budget of 100: the second waits"
        );
        let small = timeout(WAIT, budget.reserve(Some(4096 * 40))).await;
        assert!(small.is_ok(), "60 + 40 fit");
        drop(small);
        drop(first);
        assert!(timeout(WAIT, budget.reserve(Some(4096 * 50))).await.is_ok());
    }

    #[tokio::test]
    async fn an_image_larger_than_the_budget_runs_alone() {
        let budget = DecodeBudget::new(4096 * 10);
        let huge = timeout(WAIT, budget.reserve(Some(u64::MAX))).await;
        let huge = huge.expect("clamped to the whole budget, not waiting for ever");
        assert!(
            timeout(WAIT, budget.reserve(None)).await.is_err(),
            "nothing else decodes meanwhile"
        );
        drop(huge);
        assert!(timeout(WAIT, budget.reserve(None)).await.is_ok());
    }

    #[test]
    fn a_tiny_limit_still_allows_one_image() {
        assert_eq!(DecodeBudget::new(0).units, 1);
    }
}
