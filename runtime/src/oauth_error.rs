//! The one OAuth error answer of this crate: an [`ErrorCode`] (the codes of RFC 6749 §4.1.2.1 and
//! §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2 and RFC 8707 §2), a description, and one body shape with
//! one set of headers, whichever endpoint or protected route answers.
//!
//! ```
//! use axum::response::IntoResponse;
//! use axum_mcp_azure_oauth::oauth_error::{ErrorCode, OAuthError};
//!
//! let response = OAuthError::bad_request(ErrorCode::InvalidScope, "ask for api://…/access_as_user")
//!     .into_response();
//! assert_eq!(response.status(), 400);
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! assert_eq!(response.headers()["pragma"], "no-cache");
//! assert_eq!(ErrorCode::InvalidScope.as_str(), "invalid_scope");
//! ```

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An OAuth 2.0 error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1: the request is malformed.
    InvalidRequest,
    /// RFC 6749 §4.1.2.1: the client may not use this grant or redirect.
    UnauthorizedClient,
    /// RFC 6749 §4.1.2.1: the user or the server refused.
    AccessDenied,
    /// OpenID Connect Core §3.1.2.6: `prompt=none`, but the user must approve first.
    ConsentRequired,
    /// RFC 6749 §4.1.2.1: only `response_type=code` is supported.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1, §5.2: a scope this server does not offer.
    InvalidScope,
    /// RFC 6749 §4.1.2.1: something went wrong on this server (or one it depends on).
    ServerError,
    /// RFC 6749 §4.1.2.1: try again later.
    TemporarilyUnavailable,
    /// RFC 6749 §5.2: the client could not be authenticated or is unknown.
    InvalidClient,
    /// RFC 6749 §5.2: the code or refresh token is invalid, expired, spent or not this client's.
    InvalidGrant,
    /// RFC 6749 §5.2: a grant type this server does not offer.
    UnsupportedGrantType,
    /// RFC 6750 §3.1: the access token is not valid for this resource.
    InvalidToken,
    /// RFC 6750 §3.1: the access token lacks the permission the resource requires.
    InsufficientScope,
    /// RFC 7591 §3.2.2: a registered redirect URI is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: registration metadata is not acceptable.
    InvalidClientMetadata,
    /// RFC 8707 §2: the `resource` is not this server's.
    InvalidTarget,
}

impl ErrorCode {
    /// The code as sent (`invalid_request`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::ConsentRequired => "consent_required",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidTarget => "invalid_target",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth error answer: `{"error", "error_description", …}` as JSON with its status,
/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1, §5.2).
#[derive(Clone, Debug, PartialEq)]
pub struct OAuthError {
    status: StatusCode,
    code: ErrorCode,
    description: String,
    fields: Map<String, Value>,
}

impl OAuthError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        Self { status, code, description: description.into(), fields: Map::new() }
    }

    /// A 400 error.
    pub fn bad_request(code: ErrorCode, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    /// A 500 `server_error`: this server is misconfigured (the description says how to fix it).
    pub fn server_error(description: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::ServerError, description)
    }

    /// Adds a field to the body beside `error` and `error_description`.
    #[must_use]
    pub fn with_field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut body = Map::with_capacity(2 + self.fields.len());
        body.insert("error".into(), Value::String(self.code.as_str().to_owned()));
        body.insert("error_description".into(), Value::String(self.description.clone()));
        body.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(body)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body())
    }
}

/// A JSON answer that is never cached: `Cache-Control: no-store`, `Pragma: no-cache` (OAuth
/// answers carry credentials or say why there are none).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    no_store(&mut response);
    response
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
pub(crate) fn no_store(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_rfc_names() {
        for code in
            [ErrorCode::InvalidRedirectUri, ErrorCode::TemporarilyUnavailable, ErrorCode::InvalidTarget]
        {
            assert_eq!(serde_json::to_value(code).expect("serializes"), Value::String(code.as_str().into()));
            assert_eq!(serde_json::from_value::<ErrorCode>(code.as_str().into()).expect("parses"), code);
        }
    }

    #[test]
    fn the_body_has_the_code_the_description_and_extra_fields() {
        let e = OAuthError::new(StatusCode::BAD_GATEWAY, ErrorCode::ServerError, "Graph failed")
            .with_field("enrolment_failures", Value::Array(vec![]));
        assert_eq!(
            e.body(),
            serde_json::json!({"error": "server_error", "error_description": "Graph failed", "enrolment_failures": []})
        );
    }
}
