//! Nothing the validator logs, at any level, contains a token or an Authorization header.

mod log_support;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault};
use axum_mcp_azure_oauth::{AuthLayer, AzureClaims, TokenValidator};
use log_support::Captured;

/// A current-thread runtime, so that the thread's subscriber sees every task (server, validator,
/// emulator).
#[tokio::test]
async fn no_token_in_any_log_line() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emu = Emulator::start().await.expect("the emulator starts");
    let config = Arc::new(emu.config().build().expect("valid"));
    let validator = TokenValidator::new(config);
    let app = Router::new()
        .route("/mcp", post(|c: AzureClaims| async move { c.tid().to_owned() }))
        .route_layer(AuthLayer::new(validator));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/mcp", listener.local_addr().expect("an address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();

    let tokens = [
        emu.token().sign(),
        emu.token().expired().sign(),
        emu.token().signed_with_unknown_key().sign(),
        emu.token().scopes("other").sign(),
        emu.token().algorithm("HS256").sign(),
        emu.token().tenant(&emu.add_tenant()).sign(),
    ];
    for token in &tokens {
        http.post(&url).bearer_auth(token).send().await.expect("an answer");
        http.post(&url).header("authorization", format!("Basic {token}")).send().await.expect("an answer");
    }
    emu.set_fault(Endpoint::JwksV2, Fault::outage());
    let rotated = {
        emu.rotate_keys(None);
        emu.token().sign()
    };
    http.post(&url).bearer_auth(&rotated).send().await.expect("an answer");

    let logs = captured.text();
    assert!(logs.contains("access token accepted"), "the outcome is logged at debug:\n{logs}");
    assert!(logs.contains("access token refused"), "refusals are logged at debug:\n{logs}");
    let home = emu.home_tenant();
    assert!(
        logs.lines().any(|l| l.contains("access token refused")
            && l.contains(&format!("tenant=\"{home}\""))
            && l.contains("reason=\"expired\"")),
        "a refusal names the tenant and the reason:\n{logs}"
    );
    for token in tokens.iter().chain([&rotated]) {
        for part in token.split('.') {
            if part.len() > 16 {
                assert!(!logs.contains(part), "a token part was logged:\n{logs}");
            }
        }
    }
}
