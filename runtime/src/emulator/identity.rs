//! A managed identity endpoint: App Service's `IDENTITY_ENDPOINT`
//! (<https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>)
//! and a VM's instance metadata service
//! (<https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>),
//! issuing tokens of the user-assigned identities the emulator knows.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use super::mint::TokenBuilder;
use super::request::Req;
use super::state::State;
use super::time::unix_now;

/// App Service's endpoint path (the emulator's `IDENTITY_ENDPOINT`).
pub(crate) const APP_SERVICE_PATH: &str = "/msi/token";
/// The instance metadata service's token path.
pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// How long a managed identity's token lives (Azure's are about a day).
const LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Answers a token request for a user-assigned identity.
pub(crate) fn serve(state: &Arc<State>, req: &Req) -> Response {
    let refuse = |status: StatusCode, error: &str, description: &str| {
        (status, Json(json!({ "error": error, "error_description": description }))).into_response()
    };
    let app_service = req.path == APP_SERVICE_PATH;
    if app_service {
        let sent = req.header("x-identity-header").unwrap_or_default();
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            sent.as_bytes(),
            state.identity_header.as_bytes(),
        )
        .is_err()
        {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "The X-IDENTITY-HEADER is missing or wrong.",
            );
        }
    } else if req.header("metadata") != Some("true") {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Required metadata header not specified");
    }
    let expected_version = if app_service { "2019-08-01" } else { "2018-02-01" };
    if req.query("api-version") != Some(expected_version) {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Invalid or missing api-version.");
    }
    let Some(resource) = req.query("resource").filter(|r| !r.is_empty()) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let client_id = req.query("client_id").unwrap_or_default().to_ascii_lowercase();
    let Some(principal) = state.lock().identities.get(&client_id).cloned() else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "Identity not found");
    };
    let token = TokenBuilder::new(Arc::clone(state))
        .app_only()
        .v2()
        .client_id(&client_id)
        .audience(resource)
        .issuer(&state.v2_issuer(&state.home))
        .claim("sub", json!(principal))
        .claim("oid", json!(principal))
        .without_claim("roles")
        .expires_in(LIFETIME)
        .sign();
    let now = unix_now();
    Json(json!({
        "access_token": token,
        "client_id": client_id,
        "expires_in": LIFETIME.as_secs().to_string(),
        "expires_on": (now + LIFETIME.as_secs()).to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    }))
    .into_response()
}
