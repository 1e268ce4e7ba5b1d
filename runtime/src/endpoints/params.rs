//! Reading OAuth requests: query and form parameters (each at most once, RFC 6749 §3.1 and §3.2)
//! and request bodies within the size limit.

use std::collections::HashSet;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use http::StatusCode;

use super::MAX_BODY_BYTES;
use crate::oauth_error::{ErrorCode, OAuthError};

/// Query or form pairs; a parameter given twice is an error.
pub(crate) fn parse_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| format!("the parameters could not be decoded: {e}"))?;
    let mut seen = HashSet::new();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(format!("the parameter {k:?} is given more than once"));
    }
    Ok(pairs)
}

/// The value of `key`.
pub(crate) fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Sets `key` to `value`, replacing it if present.
pub(crate) fn set(pairs: &mut Vec<(String, String)>, key: &str, value: String) {
    pairs.retain(|(k, _)| k != key);
    pairs.push((key.to_owned(), value));
}

/// The request body, or the OAuth JSON error for one too large (413) or unreadable (400), with
/// `code` as the endpoint's RFC names it.
pub(crate) fn body_or_error(
    body: Result<Bytes, BytesRejection>,
    code: ErrorCode,
) -> Result<Bytes, OAuthError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                code,
                format!("the request body is larger than {} KiB", MAX_BODY_BYTES / 1024),
            )
        } else {
            OAuthError::bad_request(code, format!("the request body could not be read: {rejection}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_parameters_are_refused() {
        assert!(parse_pairs("a=1&b=2").is_ok());
        assert!(parse_pairs("a=1&a=2").expect_err("duplicate").contains("\"a\""));
    }
}
