//! What the integration tests share, written once (as tokio's `tests/support`): serving a router
//! on 127.0.0.1, reading answers, the OAuth steps a client takes, log capture, and the example
//! server. Each test binary takes what it needs: `use support::serve::Port;`.
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`serve`] | a router on an ephemeral loopback port, stopped when its handle drops |
//! | [`http`] | the client that follows no redirects, [`http::Answer`], query parameters, the no-secret and error-page checks |
//! | [`offline`] | an enrol-mode configuration whose Entra and Graph are a closed port, and its constants |
//! | [`endpoints`] | `OAuthEndpoints::router()` served with such a configuration or the emulator's |
//! | [`app`] | a whole application: `AzureOAuth::router()` plus `/mcp` behind `AzureOAuth::layer()` |
//! | [`pkce`] | an RFC 7636 verifier and its S256 challenge |
//! | [`broker`] | the broker (the default mode) against the emulator, and its client's steps |
//! | [`browser`] | a headless Chromium (WebDriver), and an HTTP browser that keeps cookies and answers consent pages |
//! | [`flow`] | registration, the consent page, authorization and redemption, step by step, in enrol and broker modes |
//! | [`example`] | the weather example served against the emulator, and what rmcp's client does with it |
//! | [`node`] | the official MCP TypeScript SDK's client, run by Node.js, signing in through a Rust browser |
//! | [`logs`] | a `tracing` subscriber writing to memory, to search for what must never be logged |

use std::future::Future;
use std::time::Duration;

pub mod app;
pub mod broker;
pub mod browser;
pub mod credentials;
pub mod endpoints;
pub mod example;
pub mod flow;
pub mod http;
pub mod logs;
pub mod node;
pub mod offline;
pub mod pkce;
pub mod serve;

/// The public base URL of configurations no test serves (validators, Graph and on-behalf-of
/// clients built from the emulator's preset): the default mode, the broker, needs one.
pub const UNSERVED_BASE: &str = "https://mcp.example.com";

/// Runs `f`, failing the test if it takes longer than `bound`: a hang is a failure, not a wait.
pub async fn bounded<T>(bound: Duration, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(bound, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {bound:?}"),
    }
}
