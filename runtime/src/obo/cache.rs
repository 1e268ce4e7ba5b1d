//! The on-behalf-of cache: one downstream token per caller and scope set, until shortly before it
//! expires and never past the caller's own token; one exchange in flight per key.
//!
//! Sharded maps of slots behind `std` mutexes held for a few instructions; a hit locks one shard,
//! compares the key and clones an `Arc`: no allocation beyond the key. A miss takes the slot's
//! flight lock (an async mutex), so that every caller of one key waits for the one exchange in
//! flight and takes its result, token or error. Bounded: a full shard drops idle slots whose token
//! is spent, then any idle one.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::error::OboError;
use super::token::DownstreamToken;

const SHARDS: usize = 16;

/// One key's token, and the exchange that fetches it.
#[derive(Default)]
pub(crate) struct Slot {
    ready: Mutex<Option<Ready>>,
    /// Held by the caller that exchanges; the others wait on it.
    flight: tokio::sync::Mutex<()>,
    /// Counts finished exchanges, so that a waiter knows whether one finished while it waited.
    settled: AtomicU64,
    /// The error of the last exchange, handed to those who waited for it.
    failed: Mutex<Option<OboError>>,
}

struct Ready {
    token: DownstreamToken,
    /// Unix seconds from which the token is no longer handed out.
    until: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves a whole value (an `Option` or a map) behind.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Slot {
    /// The token, while it may still be handed out at `now`.
    fn ready(&self, now: u64) -> Option<DownstreamToken> {
        lock(&self.ready).as_ref().filter(|r| now < r.until).map(|r| r.token.clone())
    }

    fn idle(self: &Arc<Self>, now: u64) -> bool {
        Arc::strong_count(self) == 1 && lock(&self.ready).as_ref().is_none_or(|r| now >= r.until)
    }

    /// Runs `exchange` unless another caller's exchange, finished while this one waited for the
    /// flight lock, already answered: its token (still valid at `now()`), or its error.
    pub(crate) async fn single_flight<F>(
        &self,
        now: impl Fn() -> u64,
        exchange: F,
    ) -> Result<DownstreamToken, OboError>
    where
        F: Future<Output = Result<(DownstreamToken, u64), OboError>>,
    {
        let seen = self.settled.load(Ordering::Acquire);
        let _flight = self.flight.lock().await;
        if let Some(token) = self.ready(now()) {
            return Ok(token);
        }
        if self.settled.load(Ordering::Acquire) != seen
            && let Some(e) = lock(&self.failed).clone()
        {
            return Err(e);
        }
        let result = exchange.await;
        match &result {
            Ok((token, until)) => {
                *lock(&self.ready) = Some(Ready { token: token.clone(), until: *until });
                *lock(&self.failed) = None;
            }
            Err(e) => *lock(&self.failed) = Some(e.clone()),
        }
        self.settled.fetch_add(1, Ordering::Release);
        result.map(|(token, _)| token)
    }
}

type Shard = HashMap<String, Arc<Slot>>;

/// See the module documentation.
pub(crate) struct OboCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl OboCache {
    /// A cache of about `capacity` tokens, or `None` for 0 (off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
            hasher: RandomState::new(),
        })
    }

    fn shard(&self, key: &str) -> &Mutex<Shard> {
        // The low bits of SipHash are as good as any.
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// The token cached for `key`, while it may still be handed out at `now`.
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<DownstreamToken> {
        lock(self.shard(key)).get(key)?.ready(now)
    }

    /// The slot of `key`, made when there is none; a full shard first drops idle slots.
    pub(crate) fn slot(&self, key: &str, now: u64) -> Arc<Slot> {
        let mut shard = lock(self.shard(key));
        if let Some(slot) = shard.get(key) {
            return Arc::clone(slot);
        }
        if shard.len() >= self.per_shard {
            shard.retain(|_, slot| !slot.idle(now));
            if shard.len() >= self.per_shard {
                let victim = shard.iter().find(|(_, s)| Arc::strong_count(s) == 1).map(|(k, _)| k.clone());
                if let Some(victim) = victim {
                    shard.remove(&victim);
                }
            }
        }
        Arc::clone(shard.entry(key.to_owned()).or_default())
    }

    /// How many keys are held (tokens and exchanges in flight).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u64) -> DownstreamToken {
        DownstreamToken::new(format!("t{n}"), "s".into(), n)
    }

    #[tokio::test]
    async fn a_token_is_handed_out_until_its_time_and_then_fetched_again() {
        let cache = OboCache::new(10).expect("on");
        let slot = cache.slot("k", 100);
        let got = slot.single_flight(|| 100, async { Ok((token(1), 200)) }).await;
        assert_eq!(got.map(|t| t.access_token().to_owned()).ok().as_deref(), Some("t1"));
        assert_eq!(cache.get("k", 199).map(|t| t.expires_at()), Some(1));
        assert!(cache.get("k", 200).is_none(), "spent at `until`");
        assert!(cache.get("other", 100).is_none());
        let again = slot.single_flight(|| 200, async { Ok((token(2), 300)) }).await;
        assert_eq!(again.map(|t| t.expires_at()).ok(), Some(2));
    }

    #[tokio::test]
    async fn waiters_take_the_result_of_the_exchange_they_waited_for() {
        let cache = Arc::new(OboCache::new(10).expect("on"));
        let slot = cache.slot("k", 0);
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let exchanges = Arc::new(AtomicU64::new(0));
        let leader = {
            let (slot, n) = (Arc::clone(&slot), Arc::clone(&exchanges));
            tokio::spawn(async move {
                slot.single_flight(|| 0, async move {
                    n.fetch_add(1, Ordering::SeqCst);
                    let _ = hold.await;
                    Err(OboError::Unavailable("down".into()))
                })
                .await
            })
        };
        // The leader holds the flight lock once it counted its exchange.
        while exchanges.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let (slot, n) = (Arc::clone(&slot), Arc::clone(&exchanges));
                tokio::spawn(async move {
                    slot.single_flight(|| 0, async move {
                        n.fetch_add(1, Ordering::SeqCst);
                        Ok((token(9), 10))
                    })
                    .await
                })
            })
            .collect();
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let _ = release.send(());
        assert!(leader.await.expect("joined").is_err());
        for w in waiters {
            assert_eq!(w.await.expect("joined").err(), Some(OboError::Unavailable("down".into())));
        }
        assert_eq!(exchanges.load(Ordering::SeqCst), 1, "one exchange for six callers");
    }

    #[tokio::test]
    async fn a_full_cache_drops_spent_and_then_idle_slots_but_never_one_in_use() {
        let cache = OboCache::new(SHARDS).expect("one slot per shard");
        let mut held = Vec::new();
        for n in 0..200u64 {
            let slot = cache.slot(&format!("k{n}"), 0);
            let _ = slot.single_flight(|| 0, async move { Ok((token(n), 100)) }).await;
            if n < 3 {
                held.push(slot);
            }
        }
        assert!(cache.len() <= SHARDS + 3, "bounded: {}", cache.len());
        for (n, slot) in held.iter().enumerate() {
            assert!(slot.ready(0).is_some(), "slot {n} in use was kept");
            assert!(cache.get(&format!("k{n}"), 0).is_some());
        }
    }
}
