//! Reading a token the emulator is handed (a Graph bearer token, an on-behalf-of assertion):
//! compact JWS parsing and the RS256 signature check against the keys a tenant's JWKS lists
//! (RFC 7515: <https://www.rfc-editor.org/rfc/rfc7515#section-7.1>).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::keys::verify_rs256;
use super::state::State;
use super::time::unix_now;

/// How far `exp` and `nbf` may be off, as Graph and Entra allow (Microsoft.IdentityModel's
/// default clock skew, five minutes).
pub(crate) const CLOCK_SKEW_SECS: u64 = 300;

/// Why a token could not be read or its signature not verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JwsError {
    /// Not three base64url parts of which the first two are JSON objects.
    Malformed,
    /// `alg` is not `RS256`, or no key the tenant's JWKS lists has the `kid`.
    KeyNotFound,
    /// The signature does not verify with the key of the `kid`.
    BadSignature,
}

/// A compact JWS taken apart, nothing verified.
pub(crate) struct Parsed {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

/// Three base64url parts, the first two JSON objects; `None` otherwise.
pub(crate) fn parse(token: &str) -> Option<Parsed> {
    let mut parts = token.split('.');
    let (h, p, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let object = |part: &str| -> Option<Map<String, Value>> {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()?.as_object().cloned()
    };
    Some(Parsed {
        header: object(h)?,
        claims: object(p)?,
        signing_input: format!("{h}.{p}"),
        signature: URL_SAFE_NO_PAD.decode(sig).ok()?,
    })
}

/// Parses `token` and checks its signature with a key listed for its `tid`: the shared keys or the
/// tenant's own (never an app's custom keys, nor retired keys). Returns the claims.
pub(crate) fn verify(state: &State, token: &str) -> Result<Map<String, Value>, JwsError> {
    let Parsed { header, claims, signing_input, signature: sig } = parse(token).ok_or(JwsError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(JwsError::KeyNotFound);
    }
    let tid = str_claim(&claims, "tid");
    let kid = header.get("kid").and_then(Value::as_str).unwrap_or_default();
    let key = {
        let m = state.lock();
        let own = match m.tenants.get(tid) {
            Some(Some(own)) => own.listed.as_slice(),
            _ => &[],
        };
        m.shared.listed.iter().chain(own).find(|k| k.kid == kid).cloned()
    };
    let Some(key) = key else { return Err(JwsError::KeyNotFound) };
    if !verify_rs256(&key, signing_input.as_bytes(), &sig) {
        return Err(JwsError::BadSignature);
    }
    Ok(claims)
}

/// A string claim, or `""`.
pub(crate) fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> &'a str {
    claims.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// Whether `exp` (with the skew) has passed; a token without `exp` has expired.
pub(crate) fn expired(claims: &Map<String, Value>) -> bool {
    claims.get("exp").and_then(Value::as_u64).unwrap_or(0) + CLOCK_SKEW_SECS < unix_now()
}

/// Whether `nbf` (with the skew) is still to come.
pub(crate) fn not_yet_valid(claims: &Map<String, Value>) -> bool {
    claims.get("nbf").and_then(Value::as_u64).is_some_and(|nbf| nbf > unix_now() + CLOCK_SKEW_SECS)
}

/// Whether `iss` is the v1 or v2 issuer of the token's own `tid`, a tenant the emulator knows.
pub(crate) fn issuer_matches_tenant(state: &State, claims: &Map<String, Value>) -> bool {
    let tid = str_claim(claims, "tid");
    let iss = str_claim(claims, "iss");
    state.lock().tenants.contains_key(tid) && (iss == state.v1_issuer(tid) || iss == state.v2_issuer(tid))
}
