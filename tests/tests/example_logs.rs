//! The example's logging policy, checked on what it really writes: request spans and
//! authentication outcomes, never a token, an `Authorization` header, an authorization code or a
//! sealed value of the broker.

use axum_mcp_azure_oauth::config::Mode;
use examples::demo::{Demo, MCP_ACCEPT, WHOAMI_CALL, mcp_url};
use support::example::serve_on;
use support::flow::{refresh_as, run_broker_flow};
use support::http::param;
use support::logs::Captured;
use support::serve::Port;

/// The example's request spans and authentication logs, at every level, name the path and the
/// caller but never the token, the `Authorization` header or a query string's code — through a
/// whole sign-in of the zero-configuration run (the broker), whose URLs carry the consent form's
/// sealed request, the sealed `state`, Entra's code and the broker's, and whose tokens include the
/// sealed refresh token.
#[tokio::test]
async fn logs_never_hold_the_token_or_a_code() {
    let buffer = Captured::default();
    // The only test of this binary: the subscriber can be the global one, so every callsite sees it.
    tracing::subscriber::set_global_default(buffer.subscriber("examples=trace,tower_http=trace"))
        .expect("first subscriber");

    let port = Port::bind().await;
    let demo = Demo::start(port.addr(), |_| None).await.expect("demo");
    let config = demo.config().expect("demo configuration");
    let token = demo.token(&config);
    let server = serve_on(port, demo.emulator, config.clone());
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
    // A whole sign-in through the broker, then a call and a refresh with what it handed out.
    assert_eq!(config.mode(), Mode::Broker);
    let flow = run_broker_flow(&server.emu, &base, "http://127.0.0.1:4444/callback").await;
    let access = flow.tokens["access_token"].as_str().expect("access_token").to_owned();
    assert_eq!(post().bearer_auth(&access).send().await.expect("send").status(), 200);
    let sealed_refresh = flow.tokens["refresh_token"].as_str().expect("refresh_token").to_owned();
    let (refreshed, sent) = refresh_as(&server.emu, &base, &flow.client_id, &sealed_refresh).await;
    let mut handed_out = vec![
        flow.consent_request.clone(),
        param(&flow.to_entra, "state").expect("the sealed state"),
        flow.redemption.form_param("code").expect("Entra's code").to_owned(),
        param(&flow.callback, "code").expect("the broker's code"),
        access,
        sealed_refresh,
        sent.form_param("refresh_token").expect("Entra's refresh token").to_owned(),
    ];
    for field in ["access_token", "refresh_token"] {
        handed_out.push(refreshed[field].as_str().expect("a token").to_owned());
    }
    let oid = server.emu.user().oid;
    drop(server);

    let logs = buffer.text();
    assert!(logs.contains("path=/mcp"), "{logs}");
    assert!(logs.contains(&format!("oid=\"{oid}\"")), "the caller is logged: {logs}");
    assert!(logs.contains("authentication refused"), "{logs}");
    assert!(logs.contains("path=/oauth/callback"), "{logs}");
    assert!(
        logs.contains("path=/authorize") && logs.contains("path=/token"),
        "the sign-in was logged: {logs}"
    );
    for secret in [token.as_str(), "not-a-jwt-SECRETISH", code, "Bearer", "authorization"] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs: {logs}");
    }
    for secret in &handed_out {
        assert!(secret.len() >= 16, "long enough to search for: {secret}");
        assert!(!logs.contains(secret.as_str()), "a code, token or sealed value is in the logs: {logs}");
    }
}
