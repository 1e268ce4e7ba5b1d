//! The logs of whole flows at trace level hold no secret, code or token. (A test binary of its
//! own: its subscriber is the global one.)

mod endpoints_support;
mod log_support;

use endpoints_support::flow::*;
use endpoints_support::*;
use log_support::Captured;

#[tokio::test]
async fn logs_at_every_level_never_hold_the_secret_a_code_or_a_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("axum_mcp_azure_oauth=trace,axum_mcp_azure_oauth::emulator=off")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let emu = emulator().await;
    let s = serve(
        emu.config()
            .allowed_redirect_uri_prefixes([COPILOT])
            .allowed_redirect_uris(["http://127.0.0.1:33418/"]),
    )
    .await;
    let web = run_flow(&emu, &s.base, &format!("{COPILOT}logged"), None).await;
    let public = run_flow(&emu, &s.base, "http://127.0.0.1:4444/", None).await;
    let (refreshed, _) =
        refresh(&emu, &s.base, web.tokens["refresh_token"].as_str().expect("refresh_token")).await;
    let _ = Answer::read(
        client()
            .get(format!("{}/oauth/callback?code=callback-code-value&state=s", s.base))
            .send()
            .await
            .expect("GET /oauth/callback"),
        emu.client_secret().expose(),
    )
    .await;

    let logs = captured.text();
    assert!(logs.contains("redirect URI enrolled"), "the test captured the crate's logs: {logs}");
    let mut secrets = vec![emu.client_secret().expose().to_owned(), "callback-code-value".to_owned()];
    for flow in [&web, &public] {
        secrets.push(flow.redemption.form_param("code").expect("code").to_owned());
        for field in ["access_token", "refresh_token", "id_token"] {
            if let Some(t) = flow.tokens[field].as_str() {
                secrets.push(t.to_owned());
            }
        }
    }
    for field in ["access_token", "refresh_token"] {
        secrets.push(refreshed[field].as_str().expect("token").to_owned());
    }
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret, code or token was logged");
    }
}
