//! What the token bridge remembers of refresh tokens: the redirect platform of the redemption they
//! came from (so that a refresh is sent as that platform needs), by digest, never the tokens.

use crate::graph::RedirectPlatform;
use crate::primitives::bounded::BoundedMap;
use crate::primitives::digest::sha256;

/// The platform of refresh tokens from `web` and `spa` redemptions, by SHA-256 digest (never the
/// tokens), the oldest forgotten first beyond the capacity.
#[derive(Debug)]
pub(crate) struct RefreshPlatforms(BoundedMap<[u8; 32], RedirectPlatform>);

impl RefreshPlatforms {
    pub(crate) fn new(capacity: usize) -> Self {
        Self(BoundedMap::new(capacity))
    }

    pub(crate) fn insert(&mut self, token: &str, platform: RedirectPlatform) {
        self.0.insert(sha256(token.as_bytes()), platform);
    }

    pub(crate) fn get(&self, token: &str) -> Option<RedirectPlatform> {
        self.0.get(&sha256(token.as_bytes())).copied()
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
