//! The claims parameter anywhere among State, Path, Query, HeaderMap and Json, with concrete and
//! generic router state.
#![deny(unused, nonstandard_style, warnings)]
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};
use serde_json::Value;

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn greet(
    State(state): State<AppState>,
    Path(name): Path<String>,
    claims: AzureClaims,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> String {
    format!("{} {name} from {} ({} params, {} headers)", state.greeting, claims.tid(), query.len(), headers.len())
}

#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn echo(State(_state): State<AppState>, claims: AzureClaims, Json(body): Json<Value>) -> Json<Value> {
    let _ = claims;
    Json(body)
}

/// Generic router state: the auth extractor works for any `S: Send + Sync`.
#[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
async fn generic<S: Clone + Send + Sync + 'static>(State(_state): State<S>, body: String) -> String {
    body
}

fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/generic", post(generic::<S>))
}

fn main() {
    let _: Router = Router::new()
        .route("/greet/{name}", get(greet))
        .route("/echo", post(echo))
        .merge(routes())
        .with_state(AppState { greeting: "hello" });
}
