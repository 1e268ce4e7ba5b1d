//! The routes merge into a router with state, and nest.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use axum_mcp_azure_oauth::azure_oauth_routes;

#[derive(Clone)]
struct AppState(u32);

async fn count(State(state): State<AppState>) -> String {
    state.0.to_string()
}

fn main() {
    let _: Router = Router::new()
        .route("/count", get(count))
        .merge(azure_oauth_routes! {
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            base_url: "http://localhost:8000",
            mode: direct,
        })
        .with_state(AppState(1));
}
