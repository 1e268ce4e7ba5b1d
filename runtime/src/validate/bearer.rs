//! Reading the bearer token of a request (RFC 6750 §2.1): exactly one `Authorization: Bearer`
//! header holding a `b64token`, and never a token in the query string (§2.3, which this resource
//! refuses).

use http::{HeaderMap, HeaderValue, Uri, header};

use super::error::{AuthError, InvalidRequest};

/// The bearer token of a request, its characters checked: see [`credentials`].
#[cfg(any(test, fuzzing))]
pub(crate) fn token<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<&'a str, AuthError> {
    let token = credentials(headers, uri)?;
    check_b64token(token)?;
    Ok(token)
}

/// The credentials of the request's one `Authorization: Bearer <token>` header (scheme matched
/// case-insensitively), without the check of the token's characters: the verified-token cache is
/// asked first, and a token found there was checked whole when it was verified. The characters of
/// a token not found there must then be checked with [`check_b64token`].
///
/// - No `Authorization` header, or one of another scheme (`Basic …`): [`AuthError::MissingToken`],
///   answered 401 with the full challenge, so that the client learns how to authenticate
///   (RFC 6750 §3.1, RFC 9728 §5.1).
/// - `access_token` in the query, several headers, a `Bearer` header without a well-formed token:
///   400 `invalid_request`.
pub(crate) fn credentials<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<&'a str, AuthError> {
    let bad = AuthError::InvalidRequest;
    if let Some(query) = uri.query()
        && url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "access_token")
    {
        return Err(bad(InvalidRequest::TokenInQuery));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Err(AuthError::MissingToken) };
    if values.next().is_some() {
        return Err(bad(InvalidRequest::SeveralHeaders));
    }
    bearer_value(value)
}

/// The credentials of one `Authorization` header value: `Bearer` (any case), a space, the token
/// (spaces around it dropped).
pub(crate) fn bearer_value(value: &HeaderValue) -> Result<&str, AuthError> {
    let bad = AuthError::InvalidRequest;
    let value = value.as_bytes();
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(space) => (&value[..space], Some(&value[space + 1..])),
        None => (value, None),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(AuthError::MissingToken);
    }
    // UTF-8 only (fast on ASCII); anything but `b64token` characters is refused by
    // `check_b64token`, control characters and non-ASCII included.
    let rest = rest.ok_or(bad(InvalidRequest::NotBearer))?;
    let rest = std::str::from_utf8(rest).map_err(|_| bad(InvalidRequest::NotBearer))?;
    Ok(rest.trim_matches(' '))
}

/// Refuses a token that is empty or not an RFC 6750 §2.1 `b64token` (400 `invalid_request`).
pub(crate) fn check_b64token(token: &str) -> Result<(), AuthError> {
    if token.is_empty() || !token.bytes().all(is_b64token) {
        return Err(AuthError::InvalidRequest(InvalidRequest::NotBearer));
    }
    Ok(())
}

/// RFC 6750 §2.1 `b64token`.
fn is_b64token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("header value"));
        }
        h
    }

    fn uri(s: &str) -> Uri {
        s.parse().expect("uri")
    }

    #[test]
    fn bearer_header_is_read_strictly() {
        let u = uri("/mcp");
        assert_eq!(token(&headers(&[("authorization", "Bearer abc.def.ghi")]), &u), Ok("abc.def.ghi"));
        assert_eq!(token(&headers(&[("authorization", "bEaReR  abc")]), &u), Ok("abc"));
        assert_eq!(token(&HeaderMap::new(), &u), Err(AuthError::MissingToken));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer a\"b"] {
            assert_eq!(
                token(&headers(&[("authorization", bad)]), &u),
                Err(AuthError::InvalidRequest(InvalidRequest::NotBearer)),
                "{bad}"
            );
        }
        for raw in [&b"Bearer \xc3\xa9"[..], b"Bearer \xff", b"Bearer a\tb"] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_bytes(raw).expect("obs-text is allowed"));
            assert_eq!(token(&h, &u), Err(AuthError::InvalidRequest(InvalidRequest::NotBearer)));
        }
        let two = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(token(&two, &u), Err(AuthError::InvalidRequest(InvalidRequest::SeveralHeaders)));
        let h = headers(&[("authorization", "Bearer a")]);
        assert_eq!(
            token(&h, &uri("/mcp?x=1&access_token=abc")),
            Err(AuthError::InvalidRequest(InvalidRequest::TokenInQuery))
        );
    }

    #[test]
    fn another_scheme_is_no_bearer_token_at_all() {
        let u = uri("/mcp");
        for other in ["Basic abc", "Bearerabc", "abc", "Negotiate x y", "Digest username=\"a\""] {
            assert_eq!(
                token(&headers(&[("authorization", other)]), &u),
                Err(AuthError::MissingToken),
                "{other}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_bytes(b"Basic \xff").expect("obs-text"));
        assert_eq!(token(&h, &u), Err(AuthError::MissingToken));
    }
}
