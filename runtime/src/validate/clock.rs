//! [`Clock`]: the validator's time, which tests move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The validator's time: the system clock, or one that tests move forward by hand.
///
/// ```
/// use std::time::Duration;
/// use axum_mcp_azure_oauth::validate::Clock;
///
/// let clock = Clock::manual();
/// clock.advance(Duration::from_secs(301)); // past the 5-minute refetch limit
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Seconds added to the system time (manual clocks only).
    offset: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self { offset: None }
    }
    /// A clock that starts at the system time and moves forward by [`Clock::advance`] as well.
    pub fn manual() -> Self {
        Self { offset: Some(Arc::new(AtomicI64::new(0))) }
    }
    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Some(offset) = &self.offset {
            offset.fetch_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX), Ordering::SeqCst);
        }
    }
    fn offset(&self) -> u64 {
        self.offset.as_ref().map_or(0, |o| o.load(Ordering::SeqCst).max(0).unsigned_abs())
    }
    /// Seconds since the Unix epoch.
    pub(crate) fn unix(&self) -> u64 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        now.saturating_add(self.offset())
    }
    /// A monotonic instant.
    pub(crate) fn instant(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(Duration::from_secs(self.offset())).unwrap_or(now)
    }
}
