//! Signing keys: RSA 2048 pairs generated with aws-lc-rs, each wrapped in a real self-signed X.509
//! certificate (for `x5c` and `x5t`), and a process-wide pool so that starting an emulator takes
//! milliseconds although generating a key does not.

use std::fmt;
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// One RSA signing key as Entra publishes it: `kid` = `x5t` = base64url(SHA-1 of the certificate).
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) x5t: String,
    /// base64url big-endian modulus.
    pub(crate) n: String,
    /// base64url big-endian public exponent.
    pub(crate) e: String,
    /// Standard base64 DER of the self-signed certificate.
    pub(crate) x5c: String,
    /// PKCS#1 `RSAPublicKey` DER, for verifying (the emulated Graph checks its bearer tokens).
    pub(crate) public_pkcs1: Vec<u8>,
    pair: KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// JWS algorithms [`SigningKey::sign`] can produce (`none` gives an empty signature).
pub(crate) fn sign(key: &SigningKey, alg: &str, message: &[u8]) -> Result<Vec<u8>, String> {
    use aws_lc_rs::hmac;
    let rsa: &'static dyn signature::RsaEncoding = match alg {
        "RS256" => &signature::RSA_PKCS1_SHA256,
        "RS384" => &signature::RSA_PKCS1_SHA384,
        "RS512" => &signature::RSA_PKCS1_SHA512,
        "PS256" => &signature::RSA_PSS_SHA256,
        "PS384" => &signature::RSA_PSS_SHA384,
        "PS512" => &signature::RSA_PSS_SHA512,
        "none" => return Ok(Vec::new()),
        // The classic algorithm-confusion attack: HMAC keyed with the public key.
        "HS256" => {
            return Ok(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key.public_pkcs1), message)
                .as_ref()
                .to_vec());
        }
        other => return Err(format!("the emulator cannot sign with alg {other:?}")),
    };
    let mut sig = vec![0; key.pair.public_modulus_len()];
    key.pair
        .sign(rsa, &aws_lc_rs::rand::SystemRandom::new(), message, &mut sig)
        .map_err(|_| "RSA signing failed".to_owned())?;
    Ok(sig)
}

/// Checks an RS256 signature made by `key`.
pub(crate) fn verify_rs256(key: &SigningKey, message: &[u8], sig: &[u8]) -> bool {
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &key.public_pkcs1)
        .verify(message, sig)
        .is_ok()
}

impl SigningKey {
    fn generate() -> Self {
        #[allow(clippy::expect_used)]
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("aws-lc-rs generates an RSA 2048 key");
        Self::from_pair(pair)
    }

    fn from_pair(pair: KeyPair) -> Self {
        let public_pkcs1 = pair.public_key().as_ref().to_vec();
        let (n, e) = parse_rsa_public_key(&public_pkcs1).unwrap_or_default();
        #[allow(clippy::expect_used)]
        let spki = pair.public_key().as_der().expect("aws-lc-rs encodes an RSA public key");
        let cert = self_signed_certificate(&pair, spki.as_ref());
        let thumb = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        let x5t = URL_SAFE_NO_PAD.encode(thumb.as_ref());
        Self {
            kid: x5t.clone(),
            x5t,
            n: URL_SAFE_NO_PAD.encode(n),
            e: URL_SAFE_NO_PAD.encode(e),
            x5c: STANDARD.encode(&cert),
            public_pkcs1,
            pair,
        }
    }
}

/// Pre-generated keys shared by every emulator in the process: each key is handed out once.
struct Pool {
    keys: Mutex<Vec<SigningKey>>,
    wanted: Condvar,
}

/// How many keys the background thread keeps ready.
const POOL_TARGET: usize = 4;

static POOL: LazyLock<Arc<Pool>> = LazyLock::new(|| {
    let pool = Arc::new(Pool { keys: Mutex::new(Vec::new()), wanted: Condvar::new() });
    let filler = Arc::clone(&pool);
    let spawned = std::thread::Builder::new().name("entra-emulator-keygen".into()).spawn(move || {
        loop {
            let need = filler.keys.lock().map(|k| k.len() < POOL_TARGET).unwrap_or(false);
            if need {
                let key = SigningKey::generate();
                if let Ok(mut keys) = filler.keys.lock() {
                    keys.push(key);
                }
                continue;
            }
            let Ok(guard) = filler.keys.lock() else { return };
            // Sleep until someone takes a key.
            let _unused = filler.wanted.wait_while(guard, |k| k.len() >= POOL_TARGET);
        }
    });
    // Without the thread every key is generated on demand, which is slower but still right.
    drop(spawned);
    pool
});

/// A fresh key nobody else holds: from the pool when one is ready, else generated here. Blocking
/// (up to about a tenth of a second): call from `spawn_blocking` in async code.
pub(crate) fn fresh_key() -> Arc<SigningKey> {
    let pool = &*POOL;
    let pooled = pool.keys.lock().ok().and_then(|mut k| k.pop());
    pool.wanted.notify_all();
    Arc::new(pooled.unwrap_or_else(SigningKey::generate))
}

/// The key every emulator of the process starts with, as every real tenant shares Microsoft's
/// keys. Generated once.
pub(crate) fn common_key() -> Arc<SigningKey> {
    static COMMON: LazyLock<Arc<SigningKey>> = LazyLock::new(fresh_key);
    Arc::clone(&COMMON)
}

/// A key that no emulator's JWKS ever lists, for tokens "signed by someone else".
pub(crate) fn stranger_key() -> Arc<SigningKey> {
    static STRANGER: LazyLock<Arc<SigningKey>> = LazyLock::new(fresh_key);
    Arc::clone(&STRANGER)
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` → (n, e) without
/// leading zero bytes.
fn parse_rsa_public_key(der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = input.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            let mut len = 0usize;
            for _ in 0..count {
                let (&b, r) = rest.split_first()?;
                len = (len << 8) | usize::from(b);
                rest = r;
            }
            len
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }
    let (seq, _) = tlv(der, 0x30)?;
    let (n, rest) = tlv(seq, 0x02)?;
    let (e, _) = tlv(rest, 0x02)?;
    let strip = |v: &[u8]| {
        let start = v.iter().position(|&b| b != 0).unwrap_or(v.len().saturating_sub(1));
        v[start..].to_vec()
    };
    Some((strip(n), strip(e)))
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

/// `CN=accounts.accesscontrol.windows.net`, the subject of Entra's signing certificates.
fn name() -> Vec<u8> {
    let cn_oid = der(0x06, &[0x55, 0x04, 0x03]);
    let value = der(0x0c, b"accounts.accesscontrol.windows.net");
    seq(&[&der(0x31, &seq(&[&cn_oid, &value]))])
}

fn utc_time(unix: u64) -> Vec<u8> {
    let t = super::time::Civil::from_unix(unix);
    let s =
        format!("{:02}{:02}{:02}{:02}{:02}{:02}Z", t.year % 100, t.month, t.day, t.hour, t.minute, t.second);
    der(0x17, s.as_bytes())
}

/// A self-signed X.509 v3 certificate for `spki`, signed with sha256WithRSAEncryption.
fn self_signed_certificate(pair: &KeyPair, spki: &[u8]) -> Vec<u8> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let version = der(0xa0, &der(0x02, &[2]));
    let mut serial = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut serial);
    serial[0] &= 0x7f;
    serial[0] |= 0x01;
    let serial = der(0x02, &serial);
    let sha256_rsa =
        seq(&[&der(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]), &[0x05, 0x00]]);
    let validity = seq(&[&utc_time(now.saturating_sub(86_400)), &utc_time(now + 5 * 365 * 86_400)]);
    let tbs = seq(&[&version, &serial, &sha256_rsa, &name(), &validity, &name(), spki]);
    let mut sig = vec![0; pair.public_modulus_len()];
    let signed =
        pair.sign(&signature::RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), &tbs, &mut sig);
    if signed.is_err() {
        sig.clear();
    }
    let mut bits = vec![0u8];
    bits.extend(sig);
    seq(&[&tbs, &sha256_rsa, &der(0x03, &bits)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_components_round_trip_through_a_jwk() {
        let key = fresh_key();
        assert_eq!(key.kid, key.x5t);
        assert_eq!(key.e, "AQAB");
        let n = URL_SAFE_NO_PAD.decode(&key.n).unwrap_or_default();
        assert_eq!(n.len(), 256, "RSA 2048 modulus");
        let sig = sign(&key, "RS256", b"hello").unwrap_or_default();
        assert!(verify_rs256(&key, b"hello", &sig));
        assert!(!verify_rs256(&key, b"hellO", &sig));
        let cert = STANDARD.decode(&key.x5c).unwrap_or_default();
        assert_eq!(cert[0], 0x30, "a DER certificate");
    }

    /// Splits one DER TLV off `input`: (whole TLV, content, rest).
    fn tlv(input: &[u8]) -> (&[u8], &[u8], &[u8]) {
        let first = usize::from(input[1]);
        let (len, header) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            (input[2..2 + n].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), 2 + n)
        };
        (&input[..header + len], &input[header..header + len], &input[header + len..])
    }

    #[test]
    fn x5c_is_a_certificate_self_signed_by_the_key() {
        let key = fresh_key();
        let cert = STANDARD.decode(&key.x5c).unwrap_or_default();
        let (_, body, rest) = tlv(&cert);
        assert!(rest.is_empty());
        let (tbs, _, rest) = tlv(body);
        let (_alg, _, rest) = tlv(rest);
        let (_, bits, rest) = tlv(rest);
        assert!(rest.is_empty());
        assert_eq!(bits[0], 0, "no unused bits");
        assert!(verify_rs256(&key, tbs, &bits[1..]), "the certificate is signed by its own key");
        let mut tampered = tbs.to_vec();
        tampered[10] ^= 1;
        assert!(!verify_rs256(&key, &tampered, &bits[1..]));
        // The SubjectPublicKeyInfo in the certificate is the key's.
        let n = URL_SAFE_NO_PAD.decode(&key.n).unwrap_or_default();
        assert!(tbs.windows(n.len()).any(|w| w == n.as_slice()));
    }

    #[test]
    fn pooled_keys_are_distinct() {
        let a = fresh_key();
        let b = fresh_key();
        assert_ne!(a.kid, b.kid);
        assert_ne!(a.n, b.n);
    }
}
