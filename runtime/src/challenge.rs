//! The answers to failed authentication (RFC 6750 §3, MCP authorization): 401 with a
//! `WWW-Authenticate: Bearer` challenge that names the protected resource metadata and the scopes,
//! 403 `insufficient_scope`, 400 `invalid_request`, 503 `temporarily_unavailable`; each with a JSON
//! body `{error, error_description}`. Also the strict reading of the `Authorization` header.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Uri, header};

use crate::validate::{AuthError, InvalidRequest, Requirements};
use crate::{AzureOAuthConfig, base};

/// The bearer token of a request: exactly one `Authorization: Bearer <token>` header (scheme
/// matched case-insensitively) holding an RFC 6750 `b64token`, no `access_token` in the query
/// string. (The validator reads the header with [`bearer_credentials`] and checks the characters
/// only of a token it has to verify.)
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn bearer_token<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<&'a str, AuthError> {
    let token = bearer_credentials(headers, uri)?;
    check_b64token(token)?;
    Ok(token)
}

/// [`bearer_token`] without the check of the token's characters, for the verified-token cache:
/// a token found there was checked whole when it was verified. The characters of a token not
/// found there must then be checked with [`check_b64token`].
pub(crate) fn bearer_credentials<'a>(headers: &'a HeaderMap, uri: &Uri) -> Result<&'a str, AuthError> {
    let bad = AuthError::InvalidRequest;
    if let Some(query) = uri.query()
        && form_urlencoded_has(query, "access_token")
    {
        return Err(bad(InvalidRequest::TokenInQuery));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Err(AuthError::MissingToken) };
    if values.next().is_some() {
        return Err(bad(InvalidRequest::SeveralHeaders));
    }
    // UTF-8 only (fast on ASCII); anything but `b64token` characters is refused by
    // `check_b64token`, control characters and non-ASCII included.
    let value = std::str::from_utf8(value.as_bytes()).map_err(|_| bad(InvalidRequest::NotBearer))?;
    let (scheme, rest) = value.split_once(' ').ok_or(bad(InvalidRequest::NotBearer))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(bad(InvalidRequest::NotBearer));
    }
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

fn form_urlencoded_has(query: &str, name: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == name)
}

/// `s` as the inside of an HTTP quoted-string: `\` and `"` escaped, control characters dropped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || !c.is_ascii() => {}
            c => out.push(c),
        }
    }
    out
}

/// `api://{app_id}/{scope}` for a bare scope name; already qualified scopes are kept.
fn qualify(config: &AzureOAuthConfig, scope: &str) -> String {
    if scope.contains("://") { scope.to_owned() } else { format!("api://{}/{scope}", config.app_id()) }
}

/// The answer for `error`.
pub(crate) fn response(
    config: &AzureOAuthConfig,
    headers: &HeaderMap,
    error: &AuthError,
    requirements: &Requirements,
) -> Response {
    let status = error.status();
    let description = error.to_string();
    let body = serde_json::json!({
        "error": error.error_code().unwrap_or("invalid_token"),
        "error_description": description,
    });
    let mut response = (status, axum::Json(body)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match error {
        AuthError::KeysUnavailable => {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        }
        AuthError::InvalidRequest(_) => {
            // RFC 6750 §3: a challenge with the error, no scope.
            let challenge =
                format!("Bearer error=\"invalid_request\", error_description=\"{}\"", quote(&description));
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                h.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        _ => {
            let base = base::public_base_url(config, headers);
            let metadata = format!("{base}/.well-known/oauth-protected-resource{}", config.resource_path());
            let scope = requirements
                .scopes_in(config)
                .iter()
                .map(|s| qualify(config, s))
                .collect::<Vec<_>>()
                .join(" ");
            let mut challenge = format!("Bearer resource_metadata=\"{}\"", quote(&metadata));
            if let Some(code) = error.error_code() {
                challenge.push_str(&format!(", error=\"{code}\""));
            }
            if !scope.is_empty() {
                challenge.push_str(&format!(", scope=\"{}\"", quote(&scope)));
            }
            if error.error_code().is_some() {
                challenge.push_str(&format!(", error_description=\"{}\"", quote(&description)));
            }
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                h.insert(header::WWW_AUTHENTICATE, v);
            }
        }
    }
    response
}

/// The answer when a handler takes `AzureClaims` but nothing validates tokens: a 500 that says
/// how to fix the server (logged at error level once).
pub(crate) fn not_installed() -> Response {
    static LOGGED: std::sync::Once = std::sync::Once::new();
    LOGGED.call_once(|| {
        tracing::error!(
            "a handler extracts AzureClaims but the request carries neither claims nor a TokenValidator: \
             add `.layer(AuthLayer::new(validator))` or `.layer(Extension(validator))` to the router"
        );
    });
    let body = serde_json::json!({
        "error": "server_error",
        "error_description": "authentication is not set up on this server: add AuthLayer::new(validator) \
            or Extension(validator) to the router",
    });
    (http::StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{InsufficientScope, InvalidToken};

    fn config() -> AzureOAuthConfig {
        AzureOAuthConfig::builder()
            .app_id("11111111-2222-3333-4444-555555555555")
            .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
            .base_url("https://mcp.example.com")
            .build()
            .expect("valid")
    }

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
        assert_eq!(bearer_token(&headers(&[("authorization", "Bearer abc.def.ghi")]), &u), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(&headers(&[("authorization", "bEaReR  abc")]), &u), Ok("abc"));
        assert_eq!(bearer_token(&HeaderMap::new(), &u), Err(AuthError::MissingToken));
        for bad in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "Bearer a b", "Bearer a\"b", "abc"] {
            assert_eq!(
                bearer_token(&headers(&[("authorization", bad)]), &u),
                Err(AuthError::InvalidRequest(InvalidRequest::NotBearer)),
                "{bad}"
            );
        }
        for raw in [&b"Bearer \xc3\xa9"[..], b"Bearer \xff", b"Bearer a\tb"] {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_bytes(raw).expect("obs-text is allowed"));
            assert_eq!(bearer_token(&h, &u), Err(AuthError::InvalidRequest(InvalidRequest::NotBearer)));
        }
        let two = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]);
        assert_eq!(bearer_token(&two, &u), Err(AuthError::InvalidRequest(InvalidRequest::SeveralHeaders)));
        let h = headers(&[("authorization", "Bearer a")]);
        assert_eq!(
            bearer_token(&h, &uri("/mcp?x=1&access_token=abc")),
            Err(AuthError::InvalidRequest(InvalidRequest::TokenInQuery))
        );
    }

    fn challenge(e: AuthError, req: &Requirements) -> (u16, String, serde_json::Value) {
        let r = response(&config(), &HeaderMap::new(), &e, req);
        let status = r.status().as_u16();
        let www = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default();
        (status, www, serde_json::Value::Null)
    }

    #[test]
    fn challenges_follow_rfc_6750_and_mcp() {
        let meta = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
        let scope = "api://11111111-2222-3333-4444-555555555555/access_as_user";
        let (s, www, _) = challenge(AuthError::MissingToken, &Requirements::CONFIG);
        assert_eq!(s, 401);
        assert_eq!(www, format!("Bearer resource_metadata=\"{meta}\", scope=\"{scope}\""));
        let (s, www, _) = challenge(AuthError::InvalidToken(InvalidToken::Expired), &Requirements::CONFIG);
        assert_eq!(s, 401);
        assert!(www.starts_with(&format!("Bearer resource_metadata=\"{meta}\", error=\"invalid_token\"")));
        assert!(www.contains("error_description=\"the access token expired"));
        const R: Requirements = Requirements::new(&["read", "write"]);
        let (s, www, _) = challenge(AuthError::InsufficientScope(InsufficientScope::Scope), &R);
        assert_eq!(s, 403);
        assert!(www.contains("error=\"insufficient_scope\""), "{www}");
        assert!(
            www.contains(
                "scope=\"api://11111111-2222-3333-4444-555555555555/read api://11111111-2222-3333-4444-555555555555/write\""
            ),
            "{www}"
        );
        let (s, www, _) = challenge(AuthError::InvalidRequest(InvalidRequest::NotBearer), &R);
        assert_eq!(s, 400);
        assert!(www.starts_with("Bearer error=\"invalid_request\""));
        let (s, www, _) = challenge(AuthError::KeysUnavailable, &R);
        assert_eq!((s, www.as_str()), (503, ""));
    }

    #[test]
    fn quoting_escapes_and_drops_controls() {
        assert_eq!(quote(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(quote("a\r\nb\u{e9}"), "ab");
    }
}
