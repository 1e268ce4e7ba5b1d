//! Thin wrappers for the cargo-fuzz targets in `fuzz/`; no logic of their own.

use serde_json::{Map, Value};

pub use crate::validate::InvalidToken;

/// A token parsed up to (not including) the signature check.
#[derive(Debug)]
pub struct ParsedToken {
    /// The bytes the signature covers.
    pub signed_len: usize,
    /// The header's `kid`.
    pub kid: String,
    /// The unverified claims.
    pub claims: Map<String, Value>,
    /// The decoded signature's length.
    pub signature_len: usize,
}

/// The strict `Authorization: Bearer` reading the layer and the extractor use.
pub fn bearer_token<'a>(
    headers: &'a http::HeaderMap,
    uri: &http::Uri,
) -> Result<&'a str, crate::validate::AuthError> {
    crate::validate::fuzzing::bearer_token(headers, uri)
}

/// The JWS compact parsing the validator does before it looks up the key.
pub fn parse_token(token: &str) -> Result<ParsedToken, InvalidToken> {
    crate::validate::fuzzing::fuzz_parse(token).map(|p| ParsedToken {
        signed_len: p.signed.len(),
        kid: p.kid.clone(),
        signature_len: p.signature().len(),
        claims: p.claims,
    })
}

/// What the validator reads from unverified claims to pick the tenant's keys: the lower-case
/// `tid` (a GUID) and the token version.
pub fn tenant_and_version(
    claims: &Map<String, Value>,
) -> (Option<String>, Option<crate::validate::TokenVersion>) {
    crate::validate::fuzzing::fuzz_tenant_and_version(claims)
}

/// The 401/403/400/503 answer for `error` (status, `WWW-Authenticate`, JSON body).
pub fn challenge(
    config: &crate::config::AzureOAuthConfig,
    headers: &http::HeaderMap,
    error: &crate::validate::AuthError,
) -> axum::response::Response {
    crate::validate::fuzzing::challenge(config, headers, error, &crate::validate::Requirements::CONFIG)
}

/// The broker's sealing (`state`, codes, client ids, cookies), for the fuzz target `seal` and the
/// benchmark `seal`.
#[derive(Debug)]
pub struct Sealing(crate::endpoints::fuzzing::Sealer);

/// What a sealed blob carries in the fuzz target and the benchmark: a broker state's shape.
pub type Payload = (String, String, Option<String>, String, String);

impl Sealing {
    /// Keys derived from `secret` as the broker derives them from the client secret.
    pub fn from_client_secret(secret: &str) -> Self {
        Self(crate::endpoints::fuzzing::sealer(secret))
    }

    /// Seals `payload` as a broker `state` valid for ten minutes from `now`.
    pub fn seal(&self, payload: &Payload, now: u64) -> String {
        crate::endpoints::fuzzing::seal(&self.0, payload, now)
    }

    /// Opens `sealed` as a broker `state` at `now`; `None` when it does not open.
    pub fn open(&self, sealed: &str, now: u64) -> Option<Payload> {
        crate::endpoints::fuzzing::open(&self.0, sealed, now)
    }

    /// Tries `sealed` as every kind of blob the broker opens (state, code, refresh token, client
    /// id, consent request, approval): whether any opened.
    pub fn open_any(&self, sealed: &str, now: u64) -> bool {
        crate::endpoints::fuzzing::open_any(&self.0, sealed, now)
    }
}
