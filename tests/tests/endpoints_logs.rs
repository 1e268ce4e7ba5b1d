//! The logs of whole flows at trace level, in the default broker mode and in the enrol mode, hold
//! no secret, code or token, and none of the broker's sealed values: the consent form's `request`,
//! the `state` it sends Entra, the code it sends the client, the refresh token it seals. (A test
//! binary of its own: its subscriber is the global one.)

use axum_mcp_azure_oauth::config::Mode;
use support::endpoints::serve;
use support::flow::{COPILOT, Flow, emulator, refresh, refresh_as, run_broker_flow, run_flow};
use support::http::{Answer, client, param};
use support::logs::Captured;

/// What a flow handed out that must never be logged: Entra's code, the tokens, the consent form's
/// sealed request.
fn handed_out(flow: &Flow, secrets: &mut Vec<String>) {
    secrets.push(flow.redemption.form_param("code").expect("code").to_owned());
    secrets.push(flow.consent_request.clone());
    for field in ["access_token", "refresh_token", "id_token"] {
        if let Some(t) = flow.tokens[field].as_str() {
            secrets.push(t.to_owned());
        }
    }
}

#[tokio::test]
async fn logs_at_every_level_never_hold_the_secret_a_code_or_a_token() {
    let captured = Captured::default();
    let subscriber = captured.subscriber("axum_mcp_azure_oauth=trace,axum_mcp_azure_oauth::emulator=off");
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");
    let mut secrets = vec!["callback-code-value".to_owned()];

    // The broker: any client, no allow-list.
    let emu = emulator().await;
    secrets.push(emu.client_secret().expose().to_owned());
    let s = serve(emu.config()).await;
    let web = run_broker_flow(&emu, &s.base, &format!("{COPILOT}logged")).await;
    let public = run_broker_flow(&emu, &s.base, "http://127.0.0.1:4444/").await;
    for flow in [&web, &public] {
        handed_out(flow, &mut secrets);
        secrets.push(param(&flow.to_entra, "state").expect("the sealed state"));
        secrets.push(param(&flow.callback, "code").expect("the broker's code"));
    }
    let sealed_refresh = web.tokens["refresh_token"].as_str().expect("refresh_token");
    let (refreshed, sent) = refresh_as(&emu, &s.base, &web.client_id, sealed_refresh).await;
    let entra_refresh = sent.form_param("refresh_token").expect("Entra's refresh token");
    assert_ne!(entra_refresh, sealed_refresh, "the client holds the refresh token sealed");
    secrets.push(entra_refresh.to_owned());
    for field in ["access_token", "refresh_token"] {
        secrets.push(refreshed[field].as_str().expect("token").to_owned());
    }
    // The broker's callback, with a code and a state it did not issue: an error page.
    let a = Answer::read(
        client()
            .get(format!("{}/oauth/callback?code=callback-code-value&state=s", s.base))
            .send()
            .await
            .expect("GET /oauth/callback"),
        emu.client_secret().expose(),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.text);

    // The enrol bridge.
    let emu = emulator().await;
    secrets.push(emu.client_secret().expose().to_owned());
    let s = serve(
        emu.config()
            .mode(Mode::Enrol)
            .allowed_redirect_uri_prefixes([COPILOT])
            .allowed_redirect_uris(["http://127.0.0.1:33418/"]),
    )
    .await;
    let web = run_flow(&emu, &s.base, &format!("{COPILOT}logged"), None).await;
    let public = run_flow(&emu, &s.base, "http://127.0.0.1:4444/", None).await;
    for flow in [&web, &public] {
        handed_out(flow, &mut secrets);
    }
    let (refreshed, _) =
        refresh(&emu, &s.base, web.tokens["refresh_token"].as_str().expect("refresh_token")).await;
    for field in ["access_token", "refresh_token"] {
        secrets.push(refreshed[field].as_str().expect("token").to_owned());
    }
    // The enrol mode's callback echoes the code; it does not log it.
    let a = Answer::read(
        client()
            .get(format!("{}/oauth/callback?code=callback-code-value&state=s", s.base))
            .send()
            .await
            .expect("GET /oauth/callback"),
        emu.client_secret().expose(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);

    let logs = captured.text();
    assert!(logs.contains("client registered with the broker"), "the broker's logs were captured: {logs}");
    assert!(logs.contains("token brokered from Entra ID"), "the broker's logs were captured: {logs}");
    assert!(logs.contains("redirect URI enrolled"), "the enrol bridge's logs were captured: {logs}");
    for secret in &secrets {
        assert!(secret.len() >= 16, "long enough to search for: {secret}");
        assert!(!logs.contains(secret.as_str()), "a secret, code, token or sealed value was logged");
    }
}
