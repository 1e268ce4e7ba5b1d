//! Nothing the validator logs, at any level, contains a token or an Authorization header: neither
//! tokens made up for the test nor one obtained through a whole sign-in at the broker (the default
//! mode), whose sealed values (consent request, `state`, code, refresh token) are not logged either.

use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault};
use axum_mcp_azure_oauth::{AuthLayer, AzureClaims, TokenValidator};
use support::UNSERVED_BASE;
use support::flow::run_broker_flow;
use support::http::param;
use support::logs::Captured;

/// A current-thread runtime, so that the thread's subscriber sees every task (server, validator,
/// emulator).
#[tokio::test]
async fn no_token_in_any_log_line() {
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.subscriber("trace"));

    let emu = Emulator::start().await.expect("the emulator starts");
    let config = Arc::new(emu.config().base_url(UNSERVED_BASE).build().expect("valid"));
    let validator = TokenValidator::new(config);
    let app = Router::new()
        .route("/mcp", post(|c: AzureClaims| async move { c.tid().to_owned() }))
        .route_layer(AuthLayer::new(validator));
    let served = support::serve::serve(app).await;
    let url = format!("{}/mcp", served.base);
    let http = reqwest::Client::new();

    // A whole sign-in through the broker, served in this runtime: every line it causes is captured.
    let broker = support::app::serve(emu.config().base_url(UNSERVED_BASE)).await;
    let flow = run_broker_flow(&emu, &broker.base, "http://127.0.0.1:4444/callback").await;
    let sealed = [
        flow.consent_request.clone(),
        param(&flow.to_entra, "state").expect("the sealed state"),
        param(&flow.callback, "code").expect("the broker's code"),
        flow.redemption.form_param("code").expect("Entra's code").to_owned(),
        flow.tokens["refresh_token"].as_str().expect("the sealed refresh token").to_owned(),
    ];
    let tokens = [
        flow.tokens["access_token"].as_str().expect("an access token").to_owned(),
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
    assert!(logs.contains("token brokered from Entra ID"), "the broker's lines were captured:\n{logs}");
    for value in &sealed {
        assert!(value.len() > 16, "long enough to search for: {value}");
        assert!(!logs.contains(value.as_str()), "a code or sealed value was logged:\n{logs}");
    }
}
