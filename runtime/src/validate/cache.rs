//! The verified-token cache: tokens that passed every check but the per-handler permissions, so
//! that a repeated request skips parsing and RSA.
//!
//! A token is found by the SHA-256 digest of its signature (the only part of a JWS that is a
//! credential: header and claims are readable by anyone holding the token) and matched by
//! comparing its signed part (`header.claims.`) with the one remembered. A hit therefore needs the
//! very same token, while the cache never holds one: only the digest of the signature and the
//! signed part, which the verified claims reveal anyway. Hashing the ~340-character signature
//! rather than the whole token makes a hit about three times cheaper.
//!
//! Sharded `RwLock<HashMap>`s keep contention low; a hit hashes the signature on the stack, takes
//! one shard's read lock (requests with the same token never wait for each other), compares the
//! signed part and clones an `Arc`: no allocation. Entries never outlive the token's `exp`.
//! Bounded: each shard holds at most `capacity / SHARDS` (rounded up) entries; a full shard first
//! drops expired entries, then an arbitrary one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::RwLock;

use super::claims::AzureClaims;
use crate::primitives::digest::sha256;
use crate::primitives::lock::{read, write};

const SHARDS: usize = 32;

/// The SHA-256 digest of a token's signature.
#[derive(Clone, Copy, PartialEq, Eq)]
struct TokenDigest([u8; 32]);

impl TokenDigest {
    fn shard(&self) -> usize {
        self.0[0] as usize % SHARDS
    }
}

/// How a token is looked up: the digest of its signature and its signed part.
#[derive(Clone, Copy)]
pub(crate) struct TokenKey<'t> {
    digest: TokenDigest,
    /// Everything up to and including the last `.` (empty for a token without one).
    signed: &'t str,
}

impl<'t> TokenKey<'t> {
    pub(crate) fn of(token: &'t str) -> Self {
        let split = token.rfind('.').map_or(0, |dot| dot + 1);
        let (signed, signature) = token.split_at(split);
        Self { digest: TokenDigest(sha256(signature.as_bytes())), signed }
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
    /// The token's signed part: a hit must match it.
    signed: Box<str>,
    /// Unix seconds after which the entry is dead (the token's `exp`).
    expires_at: u64,
    claims: AzureClaims,
}

type Shard = HashMap<TokenDigest, Entry, BuildHasherDefault<DigestHasher>>;

/// See the module documentation.
pub(crate) struct TokenCache {
    shards: Box<[RwLock<Shard>]>,
    per_shard: usize,
}

impl TokenCache {
    /// A cache of about `capacity` tokens, or `None` for 0 (off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let per_shard = capacity.div_ceil(SHARDS);
        let shards = (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect();
        Some(Self { shards, per_shard })
    }

    /// The claims of a cached token still valid at `now` (Unix seconds).
    pub(crate) fn get(&self, key: &TokenKey<'_>, now: u64) -> Option<AzureClaims> {
        let lock = &self.shards[key.digest.shard()];
        match read(lock).get(&key.digest) {
            Some(e) if *e.signed != *key.signed => return None,
            Some(e) if now < e.expires_at => return Some(e.claims.clone()),
            Some(_) => {}
            None => return None,
        }
        // Expired: dropped (unless a fresh verification of the same token replaced it meanwhile).
        let mut shard = write(lock);
        if shard.get(&key.digest).is_some_and(|e| e.expires_at <= now) {
            shard.remove(&key.digest);
        }
        None
    }

    /// Remembers verified claims until `expires_at` (Unix seconds).
    pub(crate) fn insert(&self, key: &TokenKey<'_>, expires_at: u64, claims: AzureClaims, now: u64) {
        if expires_at <= now {
            return;
        }
        let digest = key.digest;
        let mut shard = write(&self.shards[digest.shard()]);
        if shard.len() >= self.per_shard && !shard.contains_key(&digest) {
            shard.retain(|_, e| now < e.expires_at);
            if shard.len() >= self.per_shard
                && let Some(victim) = shard.keys().next().copied()
            {
                shard.remove(&victim);
            }
        }
        shard.insert(digest, Entry { signed: key.signed.into(), expires_at, claims });
    }

    /// How many tokens are cached (expired ones not yet dropped included).
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).len()).sum()
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
        let k = TokenKey::of("a.b.c");
        assert!(cache.get(&k, 100).is_none());
        cache.insert(&k, 200, claims(), 100);
        assert!(cache.get(&k, 199).is_some());
        assert!(cache.get(&TokenKey::of("a.b.d"), 150).is_none());
        assert!(cache.get(&k, 200).is_none());
        assert_eq!(cache.len(), 0);
        cache.insert(&k, 100, claims(), 100);
        assert_eq!(cache.len(), 0, "already expired tokens are not stored");
    }

    #[test]
    fn only_the_very_same_token_hits() {
        let cache = TokenCache::new(10).expect("on");
        cache.insert(&TokenKey::of("h.claims.sig"), 200, claims(), 100);
        assert!(cache.get(&TokenKey::of("h.claims.sig"), 150).is_some());
        // The same signature over other claims, or none: a miss (never the cached claims).
        for other in ["h.forged.sig", "h.claims..sig", "x.h.claims.sig", "sig", ".sig", "h.claimssig"] {
            assert!(cache.get(&TokenKey::of(other), 150).is_none(), "{other}");
        }
        // The cached token is still there after the misses.
        assert!(cache.get(&TokenKey::of("h.claims.sig"), 150).is_some());
    }

    #[test]
    fn bounded_under_a_flood() {
        let cache = TokenCache::new(100).expect("on");
        for i in 0..10_000 {
            cache.insert(&TokenKey::of(&format!("h.c.token-{i}")), 1_000, claims(), 10);
        }
        assert!(cache.len() <= cache.capacity(), "{} > {}", cache.len(), cache.capacity());
        assert!(cache.capacity() < 200);
        assert!(TokenCache::new(0).is_none());
    }
}
