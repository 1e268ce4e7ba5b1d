//! [`StateKeys`]: the keys that seal what the broker keeps nowhere.

use std::fmt;

/// The keys that seal what the broker keeps nowhere (its `state`, its codes, the client ids it
/// issues, consent cookies): base64 (standard or URL-safe alphabet, padding optional) of at least 32
/// random bytes each, comma-separated. The first seals; every one opens, so a new key goes first
/// and the previous one stays until what it sealed has expired (client ids never expire: keep a key
/// as long as clients registered under it are in use). Its `Debug` and `Display` print
/// `[redacted]`.
///
/// ```
/// use axum_mcp_azure_oauth::config::StateKeys;
///
/// let keys = StateKeys::new("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
/// assert_eq!(format!("{keys:?}"), "StateKeys([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StateKeys(String);

impl StateKeys {
    /// Wraps keys read at run time (`openssl rand -base64 32` makes one).
    pub fn new(keys: impl Into<String>) -> Self {
        Self(keys.into())
    }

    /// The decoded keys, or `None` when one is not base64 or shorter than 32 bytes.
    pub(crate) fn decode(&self) -> Option<SealingSecrets> {
        use base64::Engine as _;
        use base64::alphabet;
        use base64::engine::DecodePaddingMode;
        use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
        let lenient = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let engines = [
            GeneralPurpose::new(&alphabet::STANDARD, lenient),
            GeneralPurpose::new(&alphabet::URL_SAFE, lenient),
        ];
        let keys: Option<Vec<Vec<u8>>> = self
            .0
            .split(',')
            .map(str::trim)
            .map(|k| engines.iter().find_map(|e| e.decode(k).ok()).filter(|bytes| bytes.len() >= 32))
            .collect();
        keys.filter(|k| !k.is_empty()).map(SealingSecrets)
    }
}

impl fmt::Debug for StateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKeys([redacted])")
    }
}

impl fmt::Display for StateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for StateKeys {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for StateKeys {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Decoded sealing keys, newest first (redacted in `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SealingSecrets(Vec<Vec<u8>>);

impl SealingSecrets {
    /// The keys, newest first.
    pub(crate) fn keys(&self) -> &[Vec<u8>] {
        &self.0
    }
}

impl fmt::Debug for SealingSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealingSecrets({} keys, [redacted])", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_keys_decode_either_alphabet_and_refuse_short_or_bad_keys() {
        let std = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let url = "_-_-AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        let both = StateKeys::new(format!("{std}, {url}")).decode().expect("two keys");
        assert_eq!(both.keys().len(), 2);
        assert_eq!(both.keys()[0], (0u8..32).collect::<Vec<_>>());
        for bad in ["", "c2hvcnQ=", "not base64!", &format!("{std},")] {
            assert!(StateKeys::new(bad).decode().is_none(), "{bad:?}");
        }
        assert!(!format!("{both:?}").contains("AAEC"));
    }
}
