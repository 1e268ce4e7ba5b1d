//! Retrying a request within a time budget: `Retry-After` when the server gives one, else
//! exponential backoff, never past the deadline; and the one loop that tries, judges and waits.

use std::time::Duration;

use tokio::time::Instant;

/// The longest pause between two tries when the server gives no `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The first pause when the server gives no `Retry-After` (doubled on each try).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Waits between tries: `Retry-After` when given, else exponential backoff from 250 ms up to
/// 8 seconds, never past the deadline.
#[derive(Debug)]
pub(crate) struct Backoff {
    deadline: Instant,
    attempt: u32,
}

impl Backoff {
    /// A budget of `budget` from now (a budget past what `Instant` can hold is a year: as good as
    /// unbounded).
    pub(crate) fn new(budget: Duration) -> Self {
        let now = Instant::now();
        let deadline = now.checked_add(budget).unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        Self { deadline, attempt: 0 }
    }

    /// Sleeps before the next try; `false` when the wait would pass the deadline (give up).
    pub(crate) async fn wait(&mut self, retry_after: Option<Duration>) -> bool {
        let backoff = FIRST_BACKOFF.saturating_mul(1 << self.attempt.min(10)).min(MAX_BACKOFF);
        let wait = retry_after.unwrap_or(backoff);
        // A `Retry-After` too large to add (the server's or a proxy's) is past any deadline.
        if Instant::now().checked_add(wait).is_none_or(|until| until > self.deadline) {
            return false;
        }
        self.attempt += 1;
        tokio::time::sleep(wait).await;
        true
    }
}

/// `Retry-After` in seconds (the form Entra ID and Graph send; RFC 9110 §10.2.3 also allows a date,
/// which they do not use).
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// What one try came to.
pub(crate) enum Attempt<T, E> {
    /// The answer.
    Done(T),
    /// Worth another try after the wait (`Retry-After`, or backoff when `None`); `E` if the budget
    /// is spent.
    Retry(E, Option<Duration>),
    /// Worth another try at once, without counting as a failure (a renewed credential).
    Again,
    /// Final.
    Fail(E),
}

impl<T, E> Attempt<T, E> {
    /// What a retry loop does with this try: `Some` result to return, or `None` to try again (after
    /// the wait `backoff` allows; a wait past the budget gives up with the try's error).
    ///
    /// ```ignore
    /// loop {
    ///     let attempt = try_once(&mut backoff).await;
    ///     if let Some(result) = attempt.settle(&mut backoff).await {
    ///         return result;
    ///     }
    /// }
    /// ```
    pub(crate) async fn settle(self, backoff: &mut Backoff) -> Option<Result<T, E>> {
        match self {
            Self::Done(value) => Some(Ok(value)),
            Self::Fail(e) => Some(Err(e)),
            Self::Again => None,
            Self::Retry(e, wait) => (!backoff.wait(wait).await).then_some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_honours_retry_after_and_stops_at_the_deadline() {
        let start = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(10));
        assert!(b.wait(None).await);
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        assert!(b.wait(None).await);
        assert_eq!(start.elapsed(), Duration::from_millis(750));
        assert!(b.wait(Some(Duration::from_secs(5))).await);
        assert!(!b.wait(Some(Duration::from_secs(5))).await, "past the deadline");
        assert_eq!(start.elapsed(), Duration::from_millis(5750));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_budgets_and_waits_do_not_overflow_the_clock() {
        let mut b = Backoff::new(Duration::MAX);
        assert!(!b.wait(Some(Duration::from_secs(u64::MAX))).await, "past any deadline");
        assert!(b.wait(Some(Duration::from_secs(1))).await);
        let mut b = Backoff::new(Duration::from_secs(30));
        assert!(!b.wait(Some(Duration::MAX)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn settling_retries_until_done_and_gives_up_with_the_last_error() {
        let mut backoff = Backoff::new(Duration::from_secs(10));
        let again: Attempt<u8, &str> = Attempt::Again;
        assert_eq!(again.settle(&mut backoff).await, None);
        let start = Instant::now();
        assert_eq!(
            Attempt::<u8, _>::Retry("busy", Some(Duration::from_secs(1))).settle(&mut backoff).await,
            None
        );
        assert_eq!(start.elapsed(), Duration::from_secs(1), "waited as asked");
        assert_eq!(Attempt::<_, &str>::Done(3).settle(&mut backoff).await, Some(Ok(3)));
        assert_eq!(Attempt::<u8, _>::Fail("no").settle(&mut backoff).await, Some(Err("no")));
        let mut spent = Backoff::new(Duration::from_secs(1));
        assert_eq!(
            Attempt::<u8, _>::Retry("busy", Some(Duration::from_secs(2))).settle(&mut spent).await,
            Some(Err("busy"))
        );
    }
}
