//! The on-behalf-of cache: one downstream token per caller and scope set, until shortly before it
//! expires and never past the caller's own token; one exchange in flight per key.
//!
//! Sharded bounded maps behind `std` mutexes held for a few instructions: a hit locks one shard,
//! compares the key and clones an `Arc`, with no allocation beyond the key. A miss joins the
//! key's single flight, so that every caller of one key waits for the one exchange in flight and
//! takes its result, token or error. Bounded: a full shard drops spent tokens, then the oldest;
//! exchanges in flight are not in the maps, so none is ever dropped.

use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

use super::error::OboError;
use super::token::DownstreamToken;
use crate::primitives::bounded::BoundedMap;
use crate::primitives::lock::lock;
use crate::primitives::single_flight::SingleFlight;

const SHARDS: usize = 16;

/// A token and the Unix second from which it is no longer handed out.
#[derive(Clone)]
struct Ready {
    token: DownstreamToken,
    until: u64,
}

/// What one exchange gives: the token and until when it may be handed out, or the error.
pub(crate) type Exchanged = Result<(DownstreamToken, u64), OboError>;

/// See the module documentation.
pub(crate) struct OboCache {
    shards: Box<[Mutex<BoundedMap<String, Ready>>]>,
    hasher: RandomState,
    flights: SingleFlight<String, Exchanged>,
}

impl OboCache {
    /// A cache of about `capacity` tokens, or `None` for 0 (off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        let per_shard = capacity.div_ceil(SHARDS);
        (capacity > 0).then(|| Self {
            shards: (0..SHARDS).map(|_| Mutex::new(BoundedMap::new(per_shard))).collect(),
            hasher: RandomState::new(),
            flights: SingleFlight::default(),
        })
    }

    fn shard(&self, key: &str) -> &Mutex<BoundedMap<String, Ready>> {
        // The low bits of SipHash are as good as any.
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// The token cached for `key`, while it may still be handed out at `now`.
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<DownstreamToken> {
        self.ready(key, now).map(|r| r.token)
    }

    /// The entry for `key`, while its token may still be handed out at `now`.
    fn ready(&self, key: &str, now: u64) -> Option<Ready> {
        lock(self.shard(key)).get(key).filter(|r| now < r.until).cloned()
    }

    /// The token for `key`: cached at `now()`, or the result of the one `exchange` in flight for
    /// it (run now when there is none), which is cached when it is a token.
    pub(crate) async fn get_or_exchange(
        &self,
        key: &str,
        now: impl Fn() -> u64,
        exchange: impl Future<Output = Exchanged>,
    ) -> Result<DownstreamToken, OboError> {
        let exchanged = self
            .flights
            .run(&key.to_owned(), || async {
                // An exchange that finished between the caller's look-up and this flight's start.
                if let Some(ready) = self.ready(key, now()) {
                    return Ok((ready.token, ready.until));
                }
                let exchanged = exchange.await;
                if let Ok((token, until)) = &exchanged {
                    self.insert(key, Ready { token: token.clone(), until: *until }, now());
                }
                exchanged
            })
            .await;
        exchanged.map(|(token, _)| token)
    }

    /// Caches `ready`; a full shard first drops the tokens spent at `now`.
    fn insert(&self, key: &str, ready: Ready, now: u64) {
        let mut shard = lock(self.shard(key));
        if shard.len() >= shard.capacity() {
            shard.retain(|_, r| now < r.until);
        }
        shard.insert(key.to_owned(), ready);
    }

    /// How many tokens are held.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn token(n: u64) -> DownstreamToken {
        DownstreamToken::new(format!("t{n}"), "s".into(), n)
    }

    #[tokio::test]
    async fn a_token_is_handed_out_until_its_time_and_then_fetched_again() {
        let cache = OboCache::new(10).expect("on");
        let got = cache.get_or_exchange("k", || 100, async { Ok((token(1), 200)) }).await;
        assert_eq!(got.map(|t| t.access_token().to_owned()).ok().as_deref(), Some("t1"));
        assert_eq!(cache.get("k", 199).map(|t| t.expires_at()), Some(1));
        assert!(cache.get("k", 200).is_none(), "spent at `until`");
        assert!(cache.get("other", 100).is_none());
        let again = cache.get_or_exchange("k", || 200, async { Ok((token(2), 300)) }).await;
        assert_eq!(again.map(|t| t.expires_at()).ok(), Some(2));
    }

    #[tokio::test]
    async fn waiters_take_the_result_of_the_exchange_they_waited_for() {
        let cache = Arc::new(OboCache::new(10).expect("on"));
        let (release, hold) = tokio::sync::watch::channel(false);
        let exchanges = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..6)
            .map(|_| {
                let (cache, n, mut hold) = (Arc::clone(&cache), Arc::clone(&exchanges), hold.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_exchange("k", || 0, async move {
                            n.fetch_add(1, Ordering::SeqCst);
                            let _ = hold.wait_for(|go| *go).await;
                            Err(OboError::Unavailable("down".into()))
                        })
                        .await
                })
            })
            .collect();
        // On this single-threaded runtime, yielding lets every caller reach its wait: the first
        // runs its exchange and holds, the others wait on its flight.
        while exchanges.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        release.send_replace(true);
        for caller in callers {
            assert_eq!(caller.await.expect("joined").err(), Some(OboError::Unavailable("down".into())));
        }
        assert_eq!(exchanges.load(Ordering::SeqCst), 1, "one exchange for six callers");
        assert_eq!(cache.len(), 0, "an error is not cached");
    }

    #[tokio::test]
    async fn a_full_cache_drops_spent_and_then_the_oldest_tokens() {
        let cache = OboCache::new(SHARDS).expect("one token per shard");
        for n in 0..200u64 {
            let until = if n < 100 { 50 } else { 1000 };
            let _ =
                cache.get_or_exchange(&format!("k{n}"), || 60, async move { Ok((token(n), until)) }).await;
        }
        assert!(cache.len() <= SHARDS, "bounded: {}", cache.len());
        assert!((0..100).all(|n| cache.get(&format!("k{n}"), 60).is_none()), "spent ones went first");
        assert!((100..200).filter(|n| cache.get(&format!("k{n}"), 60).is_some()).count() >= 1);
    }
}
