//! The example's logging policy, checked on what it really writes: request spans and
//! authentication outcomes, never a token, an `Authorization` header or an authorization code.

mod log_support;

use axum_mcp_azure_oauth::AzureOAuth;
use examples::demo::{Demo, MCP_ACCEPT, WHOAMI_CALL, mcp_url};
use examples::{ServerOptions, app};
use log_support::Captured;

/// The example's request spans and authentication logs, at every level, name the path and the
/// caller but never the token, the `Authorization` header or a query string's code.
#[tokio::test]
async fn logs_never_hold_the_token_or_a_code() {
    let buffer = Captured::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("examples=trace,tower_http=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The only test of this binary: the subscriber can be the global one, so every callsite sees it.
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let demo = Demo::start(listener.local_addr().expect("addr"), |_| None).await.expect("demo");
    let config = demo.config().expect("demo configuration");
    let token = demo.token(&config);
    let options = ServerOptions::new(config.base_url());
    let shutdown = options.shutdown.clone();
    let router = app(&AzureOAuth::new(config.clone()), &options);
    tokio::spawn(
        axum::serve(listener, router).with_graceful_shutdown(shutdown.cancelled_owned()).into_future(),
    );
    let http = reqwest::Client::new();
    let post = || {
        http.post(mcp_url(&config))
            .header("content-type", "application/json")
            .header("accept", MCP_ACCEPT)
            .body(WHOAMI_CALL)
    };
    assert_eq!(post().bearer_auth(&token).send().await.expect("send").status(), 200);
    assert_eq!(post().bearer_auth("not-a-jwt-SECRETISH").send().await.expect("send").status(), 401);
    let base = config.base_url().unwrap_or_default().to_owned();
    let code = "CODE-THAT-MUST-NOT-BE-LOGGED";
    http.get(format!("{base}/oauth/callback?code={code}&state=s")).send().await.expect("send");
    options.shutdown.cancel();

    let logs = buffer.text();
    assert!(logs.contains("path=/mcp"), "{logs}");
    assert!(logs.contains(&format!("oid=\"{}\"", demo.emulator.user().oid)), "the caller is logged: {logs}");
    assert!(logs.contains("authentication refused"), "{logs}");
    assert!(logs.contains("path=/oauth/callback"), "{logs}");
    for secret in [token.as_str(), "not-a-jwt-SECRETISH", code, "Bearer", "authorization"] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs: {logs}");
    }
}
