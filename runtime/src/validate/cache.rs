//! The verified-token cache: tokens that passed every check but the per-handler permissions,
//! keyed by the SHA-256 digest of the token, so that a repeated request skips parsing and RSA.
//!
//! Sharded `Mutex<HashMap>`s keep contention low; a hit hashes the token on the stack, takes one
//! shard lock and clones an `Arc`: no allocation. Entries never outlive the token's `exp`.
//! Bounded: each shard holds at most `capacity / SHARDS` (rounded up) entries; a full shard first
//! drops expired entries, then an arbitrary one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use aws_lc_rs::digest;

use super::AzureClaims;

const SHARDS: usize = 32;

/// The SHA-256 digest of a token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub(crate) fn of(token: &str) -> Self {
        let d = digest::digest(&digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    fn shard(&self) -> usize {
        self.0[0] as usize % SHARDS
    }
}

impl Hash for TokenDigest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Already uniformly distributed: eight of its bytes are the hash.
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[8..16]);
        state.write_u64(u64::from_le_bytes(word));
    }
}

/// Passes the digest's bytes through as the hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Entry {
    /// Unix seconds after which the entry is dead (the token's `exp`).
    expires_at: u64,
    claims: AzureClaims,
}

type Shard = HashMap<TokenDigest, Entry, BuildHasherDefault<DigestHasher>>;

/// See the module documentation.
pub(crate) struct TokenCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while holding the lock cannot leave a map half-updated in a way that matters here.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TokenCache {
    /// A cache of about `capacity` tokens, or `None` for 0 (off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let per_shard = capacity.div_ceil(SHARDS);
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        Some(Self { shards, per_shard })
    }

    /// The claims of a cached token still valid at `now` (Unix seconds).
    pub(crate) fn get(&self, key: &TokenDigest, now: u64) -> Option<AzureClaims> {
        let mut shard = lock(&self.shards[key.shard()]);
        match shard.get(key) {
            Some(e) if now < e.expires_at => Some(e.claims.clone()),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers verified claims until `expires_at` (Unix seconds).
    pub(crate) fn insert(&self, key: TokenDigest, expires_at: u64, claims: AzureClaims, now: u64) {
        if expires_at <= now {
            return;
        }
        let mut shard = lock(&self.shards[key.shard()]);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, e| now < e.expires_at);
            if shard.len() >= self.per_shard
                && let Some(victim) = shard.keys().next().copied()
            {
                shard.remove(&victim);
            }
        }
        shard.insert(key, Entry { expires_at, claims });
    }

    /// How many tokens are cached (expired ones not yet dropped included).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// The most tokens the cache holds.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::claims::{TokenKind, TokenVersion};

    fn claims() -> AzureClaims {
        AzureClaims::new(serde_json::Map::new(), TokenVersion::V2, TokenKind::Delegated, "t".to_owned(), 0)
    }

    #[test]
    fn hit_until_exp_then_gone() {
        let cache = TokenCache::new(10).expect("on");
        let k = TokenDigest::of("a.b.c");
        assert!(cache.get(&k, 100).is_none());
        cache.insert(k, 200, claims(), 100);
        assert!(cache.get(&k, 199).is_some());
        assert!(cache.get(&TokenDigest::of("a.b.d"), 150).is_none());
        assert!(cache.get(&k, 200).is_none());
        assert_eq!(cache.len(), 0);
        cache.insert(k, 100, claims(), 100);
        assert_eq!(cache.len(), 0, "already expired tokens are not stored");
    }

    #[test]
    fn bounded_under_a_flood() {
        let cache = TokenCache::new(100).expect("on");
        for i in 0..10_000 {
            cache.insert(TokenDigest::of(&format!("token-{i}")), 1_000, claims(), 10);
        }
        assert!(cache.len() <= cache.capacity(), "{} > {}", cache.len(), cache.capacity());
        assert!(cache.capacity() < 200);
        assert!(TokenCache::new(0).is_none());
    }
}
