//! What the token bridge remembers of refresh tokens: the redirect platform of the redemption they
//! came from (so that a refresh is sent as that platform needs), by digest, never the tokens.

use std::collections::{HashMap, VecDeque};

use crate::graph::RedirectPlatform;

/// The platform of refresh tokens from `web` and `spa` redemptions, by SHA-256 digest (never the
/// tokens), the oldest forgotten first beyond the capacity.
#[derive(Debug)]
pub(crate) struct RefreshPlatforms {
    capacity: usize,
    map: HashMap<[u8; 32], RedirectPlatform>,
    order: VecDeque<[u8; 32]>,
}

impl RefreshPlatforms {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), map: HashMap::new(), order: VecDeque::new() }
    }

    fn digest(token: &str) -> [u8; 32] {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    pub(crate) fn insert(&mut self, token: &str, platform: RedirectPlatform) {
        let d = Self::digest(token);
        if self.map.insert(d, platform).is_none() {
            self.order.push_back(d);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<RedirectPlatform> {
        self.map.get(&Self::digest(token)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_platforms_forget_the_oldest_beyond_capacity() {
        let mut memo = RefreshPlatforms::new(2);
        memo.insert("a", RedirectPlatform::Web);
        memo.insert("b", RedirectPlatform::Spa);
        memo.insert("a", RedirectPlatform::Web);
        memo.insert("c", RedirectPlatform::Web);
        assert_eq!(memo.get("a"), None);
        assert_eq!(memo.get("b"), Some(RedirectPlatform::Spa));
        assert_eq!(memo.get("c"), Some(RedirectPlatform::Web));
    }
}
