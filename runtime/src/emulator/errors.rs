//! The error bodies of both services: Entra's OAuth JSON with an `AADSTS` code, and Microsoft
//! Graph's `{"error":{"code","message","innerError"}}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

use super::new_guid;
use super::state::State;
use super::time;

/// Entra's JSON error: `{error, error_description: "AADSTS…: … Trace ID: … Correlation ID: …
/// Timestamp: …", error_codes, timestamp, trace_id, correlation_id, error_uri}`.
pub(crate) fn error(state: &State, status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store, no-cache")], Json(error_body(state, error, code, message)))
        .into_response()
}

/// The body of [`error`], also used for error redirects (`error`, `error_description`).
pub(crate) fn error_body(state: &State, error: &str, code: u32, message: &str) -> Value {
    let trace = new_guid();
    let correlation = new_guid();
    let timestamp = time::entra_timestamp();
    json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("{}/error?code={code}", state.authority),
    })
}

/// An error answer of Entra's token endpoint; [`into_response`](Self::into_response) sends it.
pub(crate) struct EntraError {
    pub(crate) status: StatusCode,
    /// The OAuth `error` (RFC 6749 section 5.2: <https://www.rfc-editor.org/rfc/rfc6749#section-5.2>).
    pub(crate) error: &'static str,
    /// The `AADSTS` number.
    pub(crate) code: u32,
    pub(crate) message: String,
    /// A Conditional Access claims challenge, sent as `claims` (with `interaction_required`).
    pub(crate) claims: Option<String>,
}

impl EntraError {
    /// The response: status and Entra's JSON body (as [`error`] builds it), with `claims` when set.
    pub(crate) fn into_response(self, state: &State) -> Response {
        let mut body = error_body(state, self.error, self.code, &self.message);
        if let (Some(claims), Some(o)) = (self.claims, body.as_object_mut()) {
            o.insert("claims".into(), Value::String(claims));
        }
        (self.status, [(header::CACHE_CONTROL, "no-store, no-cache")], Json(body)).into_response()
    }
}

/// A `400 Bad Request` with this `error`, code and message.
pub(crate) fn bad(error: &'static str, code: u32, message: impl Into<String>) -> EntraError {
    EntraError { status: StatusCode::BAD_REQUEST, error, code, message: message.into(), claims: None }
}

/// A `401 Unauthorized` `invalid_client`: the client failed to authenticate.
pub(crate) fn unauthorized(code: u32, message: impl Into<String>) -> EntraError {
    EntraError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        code,
        message: message.into(),
        claims: None,
    }
}

/// The message of `AADSTS900144`, a required parameter missing.
pub(crate) fn missing(name: &str) -> String {
    format!("The request body must contain the following parameter: '{name}'.")
}

/// Graph's JSON error: `{"error":{"code","message","innerError":{…}}}`.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = new_guid();
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": time::graph_date(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    });
    (status, Json(body)).into_response()
}
