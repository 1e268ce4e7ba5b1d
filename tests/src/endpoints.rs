//! `OAuthEndpoints::router()` alone, served on 127.0.0.1: what the endpoint and Graph tests call.

use std::sync::Arc;
use std::time::Duration;

use axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder;
use axum_mcp_azure_oauth::endpoints::OAuthEndpoints;
use axum_mcp_azure_oauth::graph::GraphClient;

use crate::serve::{Port, Served};

/// The endpoints being served.
#[derive(Debug)]
pub struct Endpoints {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub endpoints: OAuthEndpoints,
    _served: Served,
}

/// Serves the endpoints of `builder` with its base URL set to the port, and the default Graph
/// client.
pub async fn serve(builder: AzureOAuthConfigBuilder) -> Endpoints {
    serve_with(builder, true, None).await
}

/// Serves the endpoints of `builder`, with its base URL set to the port when `with_base`, and a
/// Graph client whose retry budget is `graph_retry_budget` when one is given.
pub async fn serve_with(
    builder: AzureOAuthConfigBuilder,
    with_base: bool,
    graph_retry_budget: Option<Duration>,
) -> Endpoints {
    let port = Port::bind().await;
    let builder = if with_base { builder.base_url(port.base()) } else { builder };
    let config = Arc::new(builder.build().expect("a valid test configuration"));
    let endpoints = match graph_retry_budget {
        Some(budget) => {
            let graph = GraphClient::with_retry_budget(Arc::clone(&config), budget);
            OAuthEndpoints::with_graph_client(config, graph)
        }
        None => OAuthEndpoints::new(config),
    };
    let served = port.serve(endpoints.router());
    Endpoints { base: served.base.clone(), endpoints, _served: served }
}
