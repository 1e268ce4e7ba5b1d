//! Single flight: while a computation for a key is running, callers of that key wait for it and
//! share its result — a value or an error — instead of starting their own. What the result is
//! kept for afterwards is the caller's business (a cache); a finished flight is forgotten.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::lock::lock;

/// The computations in flight, by key.
#[derive(Debug)]
pub(crate) struct SingleFlight<K, V> {
    flights: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Hash + Eq + Clone, V: Clone> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self { flights: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    /// The result of `compute` for `key`: run now, or — when a run for `key` is in flight — that
    /// run's. If the caller running it goes away, a waiting caller runs its own `compute` instead.
    pub(crate) async fn run<F, Fut>(&self, key: &K, compute: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let flight = Arc::clone(lock(&self.flights).entry(key.clone()).or_default());
        // Dropped when the run ends — or when this caller goes away mid-run (a client that
        // disconnected), so that an abandoned key does not stay in the map.
        let leave = Leave { flights: &self.flights, key, flight };
        leave.flight.get_or_init(compute).await.clone()
    }

    /// How many keys have a computation in flight.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }
}

/// Forgets a caller's flight when the caller is done with it: when the flight has a result (later
/// callers run anew, the caller keeps what it needs), or when nobody else is waiting on it.
struct Leave<'a, K: Hash + Eq, V> {
    flights: &'a Mutex<HashMap<K, Arc<OnceCell<V>>>>,
    key: &'a K,
    flight: Arc<OnceCell<V>>,
}

impl<K: Hash + Eq, V> Drop for Leave<'_, K, V> {
    fn drop(&mut self) {
        let mut flights = lock(self.flights);
        let ours = flights.get(self.key).is_some_and(|f| Arc::ptr_eq(f, &self.flight));
        // Clones are only taken under this lock: the map's and this one are all when none waits.
        let alone = Arc::strong_count(&self.flight) == 2;
        if ours && (self.flight.initialized() || alone) {
            flights.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn callers_of_a_key_in_flight_share_its_one_result_error_included() {
        let flights = Arc::new(SingleFlight::<&str, Result<u32, String>>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, hold) = tokio::sync::watch::channel(false);
        let callers: Vec<_> = (0..6)
            .map(|_| {
                let (flights, runs, mut hold) = (Arc::clone(&flights), Arc::clone(&runs), hold.clone());
                tokio::spawn(async move {
                    flights
                        .run(&"k", || async move {
                            runs.fetch_add(1, Ordering::SeqCst);
                            let _ = hold.wait_for(|go| *go).await;
                            Err("down".to_owned())
                        })
                        .await
                })
            })
            .collect();
        // On this single-threaded runtime, yielding lets every spawned caller reach its wait: the
        // first one runs and holds, the others wait on its flight.
        while runs.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        release.send_replace(true);
        for caller in callers {
            assert_eq!(caller.await.expect("joined"), Err("down".to_owned()));
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one run for six callers");
        assert_eq!(flights.in_flight(), 0, "a finished flight is forgotten");
        assert_eq!(flights.run(&"k", || async { Ok(7) }).await, Ok(7), "the next call runs again");
    }

    #[tokio::test]
    async fn a_caller_that_goes_away_mid_run_leaves_nothing_behind() {
        let flights = Arc::new(SingleFlight::<u32, u32>::default());
        let started = Arc::new(tokio::sync::Notify::new());
        let caller = {
            let (flights, started) = (Arc::clone(&flights), Arc::clone(&started));
            tokio::spawn(async move {
                flights
                    .run(&1, || async move {
                        started.notify_one();
                        std::future::pending::<u32>().await
                    })
                    .await
            })
        };
        started.notified().await;
        assert_eq!(flights.in_flight(), 1);
        caller.abort();
        assert!(caller.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(flights.in_flight(), 0, "the abandoned key is forgotten");
        assert_eq!(flights.run(&1, || async { 5 }).await, 5, "and runs anew");
    }
}
