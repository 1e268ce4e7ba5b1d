//! `GET /oauth/config`: what a browser client needs to configure MSAL for this app.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::state::EndpointState;
use crate::oauth_error::json_response;

/// The app id, the tenant and authority to sign in with, the scopes, and the server's callback.
pub(crate) async fn oauth_config(State(state): State<Arc<EndpointState>>, headers: HeaderMap) -> Response {
    let config = &state.config;
    let base = config.public_base_url(&headers);
    json_response(
        StatusCode::OK,
        &json!({
            "client_id": config.app_id(),
            "tenant_id": config.authority_tenant(),
            "authority": config.authority_url(),
            "scopes": config.app_scopes(),
            "redirect_uri": format!("{base}{}", config.callback_path()),
        }),
    )
}
