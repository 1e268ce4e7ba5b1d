//! Sealing what the broker keeps nowhere: its `state` at Entra, its authorization codes and refresh
//! tokens, the client ids it issues and its consent cookies. Each is a value serialised to JSON with
//! an expiry, encrypted and authenticated with AES-256-GCM (a random 96-bit nonce per seal) and
//! sent as base64url; any replica holding the same keys opens what another sealed.
//!
//! Layout: `version (1) ‖ key id (4) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. The associated data
//! names the [`Purpose`] and the app id, so a blob sealed as one thing never opens as another (a
//! client id as a code, a state as a cookie), nor for another app registration whose deployment
//! shares the sealing key.
//!
//! Keys: each configured state key, or else the client secret, goes through HKDF-SHA256 (RFC 5869)
//! with a fixed salt into a 32-byte AES key and a 4-byte key id; the first key seals, every key
//! opens (rotation).

use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::SealingSource;

/// The format's version byte (2: the app id joined the associated data).
const VERSION: u8 = 2;
/// The HKDF salt: fixed, so that every replica derives the same keys from the same secret.
const SALT: &[u8] = b"axum-mcp-azure-oauth/seal/v1";
const KEY_ID_LEN: usize = 4;
const TAG_LEN: usize = 16;
/// Sealed blobs longer than this (base64) are not opened: the largest the broker seals, a refresh
/// token of Entra's, is a few kilobytes.
const MAX_SEALED_LEN: usize = 16 * 1024;

/// What a sealed blob is; part of the associated data, so that one never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// The broker's `state` at Entra (the client's authorization request, the broker's verifier).
    State,
    /// The broker's authorization code (Entra's code, bound to the client and its PKCE challenge).
    Code,
    /// A refresh token of Entra's, bound to the client it was issued to.
    Refresh,
    /// A client id issued by `POST /register` (the registration itself).
    Client,
    /// The authorization request waiting on the consent page.
    Consent,
    /// A browser's remembered approval of one client and redirect URI (a cookie).
    Approval,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::State => b"state",
            Self::Code => b"code",
            Self::Refresh => b"refresh",
            Self::Client => b"client",
            Self::Consent => b"consent",
            Self::Approval => b"approval",
        }
    }
}

/// Why a blob did not open. Deliberately coarse: the caller answers "invalid or expired" either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unsealed {
    /// Not a blob these keys sealed for this purpose (tampered, another purpose, an unknown key).
    Invalid,
    /// Sealed here, but past its expiry.
    Expired,
}

/// The envelope inside the ciphertext.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    /// Seconds since the Unix epoch after which the blob no longer opens; 0: never.
    #[serde(rename = "e")]
    exp: u64,
    #[serde(rename = "v")]
    value: T,
}

struct SealKey {
    id: [u8; KEY_ID_LEN],
    key: RandomizedNonceKey,
}

/// Seals and opens with the configured keys (the first seals, all open), for one app.
pub(crate) struct Sealer {
    keys: Vec<SealKey>,
    /// The app id, bound into every blob's associated data.
    app: Box<[u8]>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

/// `len` bytes of HKDF output.
struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

impl Sealer {
    /// The sealer of app `app_id` for `source`: `None` when it yields no key (it always does for a
    /// validated configuration).
    pub(crate) fn new(source: SealingSource<'_>, app_id: &str) -> Option<Self> {
        let keys: Vec<SealKey> = match source {
            SealingSource::StateKeys(keys) => keys.iter().filter_map(|k| derive(k, b"state key")).collect(),
            SealingSource::Credential(material, label) => derive(material, label).into_iter().collect(),
        };
        (!keys.is_empty()).then(|| Self { keys, app: app_id.as_bytes().into() })
    }

    /// Seals `value` for `purpose`, to open until `now + ttl` (`None`: forever).
    pub(crate) fn seal<T: Serialize>(
        &self,
        purpose: Purpose,
        value: &T,
        now: u64,
        ttl: Option<Duration>,
    ) -> String {
        let exp = ttl.map_or(0, |ttl| now.saturating_add(ttl.as_secs()).max(1));
        // Serialising plain data (strings, numbers, byte arrays) into a Vec cannot fail.
        let mut data = serde_json::to_vec(&Envelope { exp, value }).unwrap_or_default();
        let key = &self.keys[0];
        let aad = aad(purpose, &key.id, &self.app);
        let Ok(nonce) = key.key.seal_in_place_append_tag(Aad::from(aad), &mut data) else {
            // AES-GCM sealing fails only for inputs of gigabytes.
            return String::new();
        };
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + data.len());
        out.push(VERSION);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&data);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens `sealed` as `purpose` at time `now`.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        purpose: Purpose,
        sealed: &str,
        now: u64,
    ) -> Result<T, Unsealed> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(Unsealed::Invalid);
        }
        let mut raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| Unsealed::Invalid)?;
        if raw.len() < 1 + KEY_ID_LEN + NONCE_LEN + TAG_LEN || raw[0] != VERSION {
            return Err(Unsealed::Invalid);
        }
        let id: [u8; KEY_ID_LEN] = raw[1..1 + KEY_ID_LEN].try_into().map_err(|_| Unsealed::Invalid)?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or(Unsealed::Invalid)?;
        let nonce_start = 1 + KEY_ID_LEN;
        let nonce = Nonce::try_assume_unique_for_key(&raw[nonce_start..nonce_start + NONCE_LEN])
            .map_err(|_| Unsealed::Invalid)?;
        let body = &mut raw[nonce_start + NONCE_LEN..];
        let plain = key
            .key
            .open_in_place(nonce, Aad::from(aad(purpose, &id, &self.app)), body)
            .map_err(|_| Unsealed::Invalid)?;
        let envelope: Envelope<T> = serde_json::from_slice(plain).map_err(|_| Unsealed::Invalid)?;
        if envelope.exp != 0 && now > envelope.exp {
            return Err(Unsealed::Expired);
        }
        Ok(envelope.value)
    }
}

/// `n` random bytes as base64url: nonces, PKCE verifiers, cookie values.
pub(crate) fn random(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The system's random source failing is not survivable; an all-zero value would be caught by
    // nothing, so refuse to go on without randomness.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        panic!("axum-mcp-azure-oauth: the system random number generator failed");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The associated data: the format version, the key id, the purpose and the app id.
fn aad(purpose: Purpose, id: &[u8; KEY_ID_LEN], app: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(1 + KEY_ID_LEN + 10 + 1 + app.len());
    aad.push(VERSION);
    aad.extend_from_slice(id);
    aad.extend_from_slice(purpose.label());
    aad.push(0);
    aad.extend_from_slice(app);
    aad
}

/// The AES key and key id HKDF derives from `secret` (labelled by its `source`).
fn derive(secret: &[u8], source: &[u8]) -> Option<SealKey> {
    let prk = Salt::new(HKDF_SHA256, SALT).extract(secret);
    let mut key = [0u8; 32];
    prk.expand(&[source, b" aes-256-gcm"], Len(32)).ok()?.fill(&mut key).ok()?;
    let mut id = [0u8; KEY_ID_LEN];
    prk.expand(&[source, b" key id"], Len(KEY_ID_LEN)).ok()?.fill(&mut id).ok()?;
    let key = RandomizedNonceKey::new(&AES_256_GCM, &key).ok()?;
    Some(SealKey { id, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(keys: &[&[u8]]) -> Sealer {
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        Sealer::new(SealingSource::StateKeys(&keys), APP).expect("keys")
    }

    const APP: &str = "11111111-2222-3333-4444-555555555555";

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_sealed_value_opens_for_its_purpose_until_it_expires() {
        let s = sealer(&[&[7; 32]]);
        let blob = s.seal(Purpose::Code, &("entra-code", 42u32), NOW, Some(Duration::from_secs(300)));
        assert!(!blob.contains("entra-code"), "sealed, not just signed: {blob}");
        assert_eq!(s.open::<(String, u32)>(Purpose::Code, &blob, NOW + 300), Ok(("entra-code".into(), 42)));
        assert_eq!(s.open::<(String, u32)>(Purpose::Code, &blob, NOW + 301), Err(Unsealed::Expired));
        assert_eq!(
            s.open::<(String, u32)>(Purpose::State, &blob, NOW),
            Err(Unsealed::Invalid),
            "another purpose"
        );
        let forever = s.seal(Purpose::Client, &"c", NOW, None);
        assert_eq!(s.open::<String>(Purpose::Client, &forever, u64::MAX), Ok("c".into()));
    }

    #[test]
    fn every_change_to_a_sealed_blob_is_refused() {
        let s = sealer(&[&[7; 32]]);
        let blob = s.seal(Purpose::State, &"payload", NOW, None);
        let raw = URL_SAFE_NO_PAD.decode(&blob).expect("base64url");
        for i in 0..raw.len() {
            let mut tampered = raw.clone();
            tampered[i] ^= 0x01;
            let tampered = URL_SAFE_NO_PAD.encode(&tampered);
            assert_eq!(s.open::<String>(Purpose::State, &tampered, NOW), Err(Unsealed::Invalid), "byte {i}");
        }
        for bad in ["", "AAAA", "not base64!", &blob[..blob.len() - 1], &"A".repeat(MAX_SEALED_LEN + 1)] {
            assert_eq!(s.open::<String>(Purpose::State, bad, NOW), Err(Unsealed::Invalid), "{bad}");
        }
    }

    #[test]
    fn the_first_key_seals_and_every_key_opens() {
        let old = sealer(&[&[1; 32]]);
        let rotated = sealer(&[&[2; 32], &[1; 32]]);
        let sealed_before = old.seal(Purpose::Client, &"client", NOW, None);
        assert_eq!(rotated.open::<String>(Purpose::Client, &sealed_before, NOW), Ok("client".into()));
        let sealed_after = rotated.seal(Purpose::Client, &"client", NOW, None);
        assert_eq!(old.open::<String>(Purpose::Client, &sealed_after, NOW), Err(Unsealed::Invalid));
        let other = sealer(&[&[3; 32]]);
        assert_eq!(other.open::<String>(Purpose::Client, &sealed_before, NOW), Err(Unsealed::Invalid));
    }

    #[test]
    fn replicas_sharing_the_secret_agree_and_two_seals_differ() {
        let a = Sealer::new(SealingSource::Credential(b"shared~secret", b"client secret"), APP).expect("key");
        let b = Sealer::new(SealingSource::Credential(b"shared~secret", b"client secret"), APP).expect("key");
        let one = a.seal(Purpose::State, &"x", NOW, None);
        let two = a.seal(Purpose::State, &"x", NOW, None);
        assert_ne!(one, two, "a fresh nonce each time");
        assert_eq!(b.open::<String>(Purpose::State, &one, NOW), Ok("x".into()));
        let from_key = sealer(&[b"shared~secret"]);
        assert_eq!(
            from_key.open::<String>(Purpose::State, &one, NOW),
            Err(Unsealed::Invalid),
            "labelled by source"
        );
    }

    #[test]
    fn two_apps_sharing_a_state_key_do_not_open_each_others_blobs() {
        let keys = vec![vec![9u8; 32]];
        let ours = Sealer::new(SealingSource::StateKeys(&keys), APP).expect("key");
        let theirs = Sealer::new(SealingSource::StateKeys(&keys), "99999999-2222-3333-4444-555555555555")
            .expect("key");
        let client_id = ours.seal(Purpose::Client, &"registration", NOW, None);
        assert_eq!(ours.open::<String>(Purpose::Client, &client_id, NOW), Ok("registration".into()));
        assert_eq!(theirs.open::<String>(Purpose::Client, &client_id, NOW), Err(Unsealed::Invalid));
    }
}
