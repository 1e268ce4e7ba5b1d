//! `GET /oauth/callback`: the server's own redirect URI, as the Python original serves it.

use axum::extract::RawQuery;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::params::{get, parse_pairs};
use crate::oauth_error::{ErrorCode, OAuthError, json_response};

/// Echoes `code` and `state` (or Entra's `error` and `error_description`) as JSON, not cached; the
/// code is never logged.
pub(crate) async fn callback(RawQuery(query): RawQuery) -> Response {
    let pairs = match parse_pairs(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return OAuthError::bad_request(ErrorCode::InvalidRequest, e).into_response(),
    };
    if let Some(error) = get(&pairs, "error") {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({
                "error": error,
                "error_description": get(&pairs, "error_description"),
                "state": get(&pairs, "state"),
                "status": "error",
            }),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({ "code": get(&pairs, "code"), "state": get(&pairs, "state"), "status": "success" }),
    )
}
