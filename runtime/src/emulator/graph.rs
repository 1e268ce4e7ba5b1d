//! Microsoft Graph: the application object.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::server::Req;
use super::{State, new_guid, time};

/// Graph's JSON error: `{"error":{"code","message","innerError":{…}}}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response {
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

pub(crate) fn handle(_state: &State, _req: &Req) -> Response {
    error(StatusCode::NOT_IMPLEMENTED, "notImplemented", "Not implemented yet.")
}
