//! The answers to failed authentication (RFC 6750 §3, RFC 9728 §5.1, MCP authorization): 401 with a
//! `WWW-Authenticate: Bearer` challenge that names the protected resource metadata and the scopes,
//! 403 `insufficient_scope`, 400 `invalid_request` (still naming the metadata), 503
//! `temporarily_unavailable`; each with the crate's one OAuth JSON error body.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::error::{AuthError, InsufficientScope};
use super::requirements::Requirements;
use crate::config::AzureOAuthConfig;
use crate::oauth_error::{ErrorCode, OAuthError};

/// How long a client should wait before retrying when no signing keys can be had.
const KEYS_RETRY_AFTER: HeaderValue = HeaderValue::from_static("10");

/// The answer for `error`.
pub(crate) fn response(
    config: &AzureOAuthConfig,
    headers: &HeaderMap,
    error: &AuthError,
    requirements: &Requirements,
) -> Response {
    let description = error.to_string();
    let code = error.error_code();
    if matches!(error, AuthError::KeysUnavailable) {
        let mut response =
            OAuthError::new(error.status(), code.unwrap_or(ErrorCode::TemporarilyUnavailable), description)
                .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, KEYS_RETRY_AFTER);
        return response;
    }
    // RFC 6750 §3: the scope needed, for a request without a usable token or without permission
    // (an app-only token where a user's is needed included); a malformed request (400) is told
    // what is wrong with it, and a missing app role is not something a new sign-in with more
    // scopes can fix (naming a scope would loop a client that steps up).
    let names_scope = !matches!(
        error,
        AuthError::InvalidRequest(_)
            | AuthError::InsufficientScope(InsufficientScope::Role | InsufficientScope::NoAppRole)
    );
    let scope = names_scope.then(|| {
        requirements.scopes_in(config).iter().map(|s| config.qualify_scope(s)).collect::<Vec<_>>().join(" ")
    });
    challenge(config, headers, error.status(), code, &description, scope.as_deref())
}

/// A `WWW-Authenticate: Bearer` answer with `status`, naming the protected resource metadata, the
/// error `code` (none: a request without credentials, RFC 6750 §3.1), `scope` when given and not
/// empty, and `description`; the body is the OAuth JSON error. The one place the challenge's
/// format is written: [`response`] and the per-tool refusals
/// ([`ToolPolicyLayer`](super::ToolPolicyLayer)) both build theirs here.
pub(crate) fn challenge(
    config: &AzureOAuthConfig,
    headers: &HeaderMap,
    status: StatusCode,
    code: Option<ErrorCode>,
    description: &str,
    scope: Option<&str>,
) -> Response {
    let mut response =
        OAuthError::new(status, code.unwrap_or(ErrorCode::InvalidToken), description).into_response();
    let base = config.public_base_url(headers);
    let metadata = format!("{base}/.well-known/oauth-protected-resource{}", config.resource_path());
    let mut challenge = format!("Bearer resource_metadata=\"{}\"", quote(&metadata));
    if let Some(code) = code {
        challenge.push_str(&format!(", error=\"{code}\""));
    }
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        challenge.push_str(&format!(", scope=\"{}\"", quote(scope)));
    }
    if code.is_some() {
        challenge.push_str(&format!(", error_description=\"{}\"", quote(description)));
    }
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{InvalidRequest, InvalidToken};

    fn config() -> AzureOAuthConfig {
        crate::fixtures::build(crate::fixtures::builder().base_url("https://mcp.example.com"))
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
        assert!(
            www.starts_with(&format!("Bearer resource_metadata=\"{meta}\", error=\"invalid_request\"")),
            "a 400 still names the metadata: {www}"
        );
        assert!(!www.contains("scope="), "{www}");
        let (s, www, _) = challenge(AuthError::InsufficientScope(InsufficientScope::Role), &R);
        assert_eq!(s, 403);
        assert!(www.contains("error=\"insufficient_scope\""), "{www}");
        assert!(!www.contains("scope=\"api:"), "a missing role names no scope to step up to: {www}");
        let (s, www, _) = challenge(AuthError::KeysUnavailable, &R);
        assert_eq!((s, www.as_str()), (503, ""));
    }

    #[test]
    fn every_answer_is_an_uncached_oauth_json_error() {
        for e in [
            AuthError::MissingToken,
            AuthError::InvalidRequest(InvalidRequest::TokenInQuery),
            AuthError::KeysUnavailable,
        ] {
            let r = response(&config(), &HeaderMap::new(), &e, &Requirements::CONFIG);
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
            assert_eq!(r.headers()[header::PRAGMA], "no-cache");
        }
    }

    #[test]
    fn quoting_escapes_and_drops_controls() {
        assert_eq!(quote(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(quote("a\r\nb\u{e9}"), "ab");
    }
}
