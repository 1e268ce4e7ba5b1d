//! The JWS compact serialization (RFC 7515 §7.1), parsed as strictly as Entra's RS256 access
//! tokens allow: three base64url parts without padding, a JSON object header whose `alg` is on our
//! allow-list (never the token's choice), and a JSON object payload.
//!
//! Header parameters that name keys (`jku`, `x5u`, `jwk`, `x5c`) are never read: keys come only from
//! the tenant's published JWKS. A `crit` header is refused (RFC 7515 §4.1.11: we understand no
//! extensions).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::InvalidToken;

/// Tokens longer than this are refused before any decoding (Entra's access tokens are 1–3 KiB;
/// group overage keeps them far below).
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The only signature algorithm accepted: Entra signs access tokens with RS256.
pub(crate) const ALLOWED_ALG: &str = "RS256";

/// The largest RSA signature accepted (8192-bit keys).
const MAX_SIGNATURE_LEN: usize = 1024;

/// A parsed, not yet verified token.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub(crate) signed: &'a [u8],
    /// The header's `kid`.
    pub(crate) kid: String,
    /// The claims, unverified until the signature has been checked.
    pub(crate) claims: Map<String, Value>,
    signature: [u8; MAX_SIGNATURE_LEN],
    signature_len: usize,
}

impl Parsed<'_> {
    /// The decoded signature.
    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_len]
    }
}

/// The header fields we read; everything else (`jku`, `x5u`, `jwk`, `x5c`, `x5t`, `typ`) is ignored.
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Splits, decodes and checks the shape of `token`. The signature is not checked here.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>, InvalidToken> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(InvalidToken::Oversized);
    }
    let bytes = token.as_bytes();
    let mut dots = bytes.iter().enumerate().filter(|(_, b)| **b == b'.').map(|(i, _)| i);
    let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(InvalidToken::Malformed);
    };
    let (header_b64, payload_b64, signature_b64) =
        (&bytes[..first], &bytes[first + 1..second], &bytes[second + 1..]);
    if header_b64.is_empty() || payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(InvalidToken::Malformed);
    }

    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| InvalidToken::Malformed)?;
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| InvalidToken::Malformed)?;
    if header.alg.as_deref() != Some(ALLOWED_ALG) {
        return Err(InvalidToken::Algorithm);
    }
    if header.crit.is_some() {
        return Err(InvalidToken::Malformed);
    }
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() && kid.len() <= 256 => kid,
        _ => return Err(InvalidToken::Malformed),
    };

    let mut signature = [0u8; MAX_SIGNATURE_LEN];
    if signature_b64.len() > base64::encoded_len(MAX_SIGNATURE_LEN, false).unwrap_or(usize::MAX) {
        return Err(InvalidToken::Malformed);
    }
    let signature_len =
        URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut signature).map_err(|_| InvalidToken::Malformed)?;

    let payload_json = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| InvalidToken::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&payload_json).map_err(|_| InvalidToken::Malformed)?;

    Ok(Parsed { signed: &bytes[..second], kid, claims, signature, signature_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), URL_SAFE_NO_PAD.encode([7u8; 256]))
    }

    #[test]
    fn parses_a_well_formed_token() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#, r#"{"tid":"x"}"#);
        let p = parse(&t).expect("parses");
        assert_eq!(p.kid, "k1");
        assert_eq!(p.claims["tid"], "x");
        assert_eq!(p.signature(), &[7u8; 256][..]);
        assert_eq!(p.signed, t.rsplit_once('.').map(|(s, _)| s.as_bytes()).expect("two dots"));
    }

    #[test]
    fn algorithm_comes_from_the_allow_list_only() {
        for alg in ["none", "HS256", "RS384", "PS256", "ES256", "rs256", ""] {
            let t = token(&format!(r#"{{"alg":"{alg}","kid":"k1"}}"#), "{}");
            assert_eq!(parse(&t).err(), Some(InvalidToken::Algorithm), "{alg}");
        }
        let t = token(r#"{"kid":"k1"}"#, "{}");
        assert_eq!(parse(&t).err(), Some(InvalidToken::Algorithm));
    }

    #[test]
    fn key_headers_are_ignored_and_crit_refused() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1","jku":"https://evil.example/keys","x5u":"https://evil.example/c","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}"#,
            "{}",
        );
        assert_eq!(parse(&t).expect("parses").kid, "k1");
        let t = token(r#"{"alg":"RS256","kid":"k1","crit":["exp"]}"#, "{}");
        assert_eq!(parse(&t).err(), Some(InvalidToken::Malformed));
    }

    #[test]
    fn malformed_shapes_are_refused() {
        let good = token(r#"{"alg":"RS256","kid":"k1"}"#, "{}");
        let (h, rest) = good.split_once('.').expect("dot");
        for bad in [
            String::new(),
            "abc".to_owned(),
            "a.b".to_owned(),
            format!("{good}.x"),
            format!(".{rest}"),
            format!("{h}..sig"),
            format!("{good}="),
            format!("{h}.{}.{}", b64("[1,2]"), "AQAB"),
            format!("{h}.{}.{}", b64("not json"), "AQAB"),
            token(r#"{"alg":"RS256"}"#, "{}"),
            token(r#"{"alg":"RS256","kid":""}"#, "{}"),
            format!("{h}.{}.{}", b64("{}"), "A".repeat(2000)),
            good.replace('.', "+"),
        ] {
            assert_eq!(parse(&bad).err(), Some(InvalidToken::Malformed), "{bad}");
        }
    }

    #[test]
    fn oversized_tokens_are_refused_before_decoding() {
        let huge = "x".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(parse(&huge).err(), Some(InvalidToken::Oversized));
    }
}
