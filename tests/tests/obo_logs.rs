//! The on-behalf-of flow's logs at TRACE, of everything but the emulator (the crate, the example,
//! rmcp, reqwest, hyper, tower-http): a tool call that exchanges the caller's token and calls
//! Graph, then the exchanges Entra refuses, and never the caller's token, the downstream token,
//! the client secret or an `Authorization` header in any line.
//!
//! Its own binary: the subscriber is the process's global one, so every callsite sees it.

use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuth;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, GRAPH_RESOURCE};
use examples::ServerOptions;
use examples::demo::MCP_ACCEPT;
use examples::tools::GRAPH_USER_READ;
use serde_json::Value;
use support::logs::Captured;
use support::offline::CLOSED;
use support::serve::Port;

const GRAPH_ME_CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"graph_me","arguments":{}}}"#;

#[tokio::test]
async fn a_whole_on_behalf_of_flow_logs_no_token_and_no_secret() {
    let buffer = Captured::default();
    tracing::subscriber::set_global_default(buffer.subscriber("trace,axum_mcp_azure_oauth::emulator=off"))
        .expect("first subscriber");

    let emu = Emulator::start().await.expect("emulator");
    let port = Port::bind().await;
    let config = emu.config().base_url(port.base()).build().expect("valid configuration");
    let auth = AzureOAuth::new(config);
    let mut options = ServerOptions::new(auth.config().base_url()).with_nws_api_base(CLOSED);
    options.shutdown = port.shutdown();
    let mcp_url = auth.config().resource_url().expect("base URL");
    let served = port.serve(examples::app(&auth, &options));
    let call = |token: &str| {
        reqwest::Client::new()
            .post(&mcp_url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", MCP_ACCEPT)
            .body(GRAPH_ME_CALL)
            .send()
    };
    let token = emu.token().sign();
    let answer: Value = call(&token).await.expect("sent").json().await.expect("json");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 1);
    // The downstream token the tool used, from the same app's cache.
    let caller = auth.validator().validate(&token).await.expect("valid");
    let downstream = auth.on_behalf_of().token(&caller, [GRAPH_USER_READ]).await.expect("cached");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 1, "the tool's own token");

    // Refusals: consent missing, then a caller token Entra no longer takes.
    emu.revoke_consent(GRAPH_RESOURCE, ["User.Read"]);
    let second = emu.token().expires_in(Duration::from_secs(3000)).sign();
    let answer: Value = call(&second).await.expect("sent").json().await.expect("json");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    drop(served);

    let logs = buffer.text();
    assert!(logs.contains("on-behalf-of exchange"), "the exchange is logged: {logs}");
    assert!(logs.contains(&format!("oid=\"{}\"", emu.user().oid)), "with its caller: {logs}");
    assert!(logs.contains("graph_me failed"), "{logs}");
    let secret = emu.client_secret().expose().to_owned();
    for (what, value) in [
        ("the caller's token", token.as_str()),
        ("the second caller's token", second.as_str()),
        ("the downstream token", downstream.access_token()),
        ("the client secret", secret.as_str()),
        ("an Authorization header", "Bearer "),
        ("an assertion", "assertion="),
    ] {
        assert!(!logs.contains(value), "{what} is in the logs: {logs}");
    }
    for (n, token) in [&token, &second, &downstream.access_token().to_owned()].into_iter().enumerate() {
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(signature.len() > 40 && !logs.contains(signature), "a token's signature ({n}) is logged");
    }
}
