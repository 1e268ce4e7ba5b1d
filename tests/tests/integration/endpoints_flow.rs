//! Whole authorization-code + PKCE flows through the enrol bridge (`Mode::Enrol`, where
//! registration writes the client's redirect URI to the app registration and Entra redirects
//! straight to the client) against the emulator, as an MCP client runs them: register →
//! /authorize → the consent page → follow Entra's redirect → code → /token → refresh. Every
//! response is scanned for the client secret; the emulator's request log shows what reached Entra.

use axum_mcp_azure_oauth::config::{HttpsPlatform, Mode};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Platform, RecordedRequest};
use serde_json::Value;
use support::endpoints::serve;
use support::flow::{
    COPILOT, assert_no_resource, authorize_and_redeem, check_access_token, emulator, jwt_payload, refresh,
    run_flow, token,
};

#[tokio::test]
async fn public_loopback_client_flow_through_the_bridge() {
    let emu = emulator().await;
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    let flow = run_flow(&emu, &s.base, "http://127.0.0.1:5555/", None).await;
    assert!(emu.redirect_uris(Platform::PublicClient).contains(&"http://127.0.0.1:5555/".to_owned()));
    assert!(!flow.redemption.client_secret_sent, "a public client's redemption never carries the secret");
    assert_eq!(
        flow.redemption.form_param("scope"),
        Some(format!("api://{}/access_as_user offline_access", emu.app_id()).as_str())
    );
    check_access_token(&emu, flow.tokens["access_token"].as_str().expect("access_token")).await;
    let (refreshed, sent) =
        refresh(&emu, &s.base, flow.tokens["refresh_token"].as_str().expect("refresh_token")).await;
    assert!(!sent.client_secret_sent);
    check_access_token(&emu, refreshed["access_token"].as_str().expect("access_token")).await;
    assert_no_resource(&emu);
}

#[tokio::test]
async fn confidential_web_client_flow_gets_the_secret_added_server_side() {
    let emu = emulator().await;
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT])).await;
    let uri = format!("{COPILOT}my-connector");
    let flow = run_flow(&emu, &s.base, &uri, None).await;
    assert_eq!(emu.redirect_uris(Platform::Web), [uri]);
    assert!(flow.redemption.client_secret_sent, "a web redemption needs the secret");
    check_access_token(&emu, flow.tokens["access_token"].as_str().expect("access_token")).await;
    let (refreshed, sent) =
        refresh(&emu, &s.base, flow.tokens["refresh_token"].as_str().expect("refresh_token")).await;
    assert!(sent.client_secret_sent, "the refresh of a web redemption carries the secret");
    // And the refresh token from that refresh is remembered as well.
    let (_, sent) = refresh(&emu, &s.base, refreshed["refresh_token"].as_str().expect("refresh_token")).await;
    assert!(sent.client_secret_sent);
    assert_no_resource(&emu);
}

#[tokio::test]
async fn spa_redirects_are_redeemed_with_the_origin_and_without_the_secret() {
    let emu = emulator().await;
    let s = serve(
        emu.config()
            .mode(Mode::Enrol)
            .https_redirect_platform(HttpsPlatform::Spa)
            .allowed_redirect_uris(["https://app.example/cb"]),
    )
    .await;
    let flow = run_flow(&emu, &s.base, "https://app.example/cb", Some("https://app.example")).await;
    assert_eq!(emu.redirect_uris(Platform::Spa), ["https://app.example/cb"]);
    assert!(!flow.redemption.client_secret_sent);
    assert_eq!(flow.redemption.origin.as_deref(), Some("https://app.example"));
    check_access_token(&emu, flow.tokens["access_token"].as_str().expect("access_token")).await;
}

#[tokio::test]
async fn entra_errors_come_back_with_their_status_and_body() {
    let emu = emulator().await;
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    let client_id = emu.app_id();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "not-a-code"),
        ("redirect_uri", "http://127.0.0.1:5555/"),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        ("client_id", client_id.as_str()),
    ];
    let a = token(&s.base, &form, emu.client_secret().expose()).await;
    assert_eq!(a.status, 400, "{}", a.text);
    let j = a.json();
    assert_eq!(j["error"], "invalid_grant");
    assert!(j["error_description"].as_str().is_some_and(|d| d.starts_with("AADSTS")), "{j}");
    assert!(j["error_codes"].is_array(), "Entra's body is passed on unchanged: {j}");
    assert_eq!(a.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_redemption_for_an_allowed_loopback_redirect_never_carries_the_secret() {
    // A loopback redirect allowed by configuration but not enrolled: it would be a publicClient
    // URI, so no secret is added whatever Entra answers.
    let emu = emulator().await;
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uris(["http://localhost:8080/cb"])).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "c"),
        ("redirect_uri", "http://localhost:8080/cb"),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ];
    token(&s.base, &form, emu.client_secret().expose()).await;
    let sent = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some("authorization_code"))
        .expect("forwarded");
    assert!(!sent.client_secret_sent);
}

#[tokio::test]
async fn a_browser_origin_is_not_passed_on_for_web_or_public_redemptions() {
    // The MCP Inspector redeems from the browser: Entra refuses Origin on web and publicClient
    // (AADSTS9002326), and the bridge redeems those server to server.
    let emu = emulator().await;
    let s = serve(
        emu.config()
            .mode(Mode::Enrol)
            .allowed_redirect_uri_prefixes([COPILOT])
            .allowed_redirect_uris(["http://localhost:6274/oauth/callback"]),
    )
    .await;
    let web = run_flow(&emu, &s.base, &format!("{COPILOT}inspector"), Some("http://localhost:6274")).await;
    assert!(web.redemption.client_secret_sent);
    assert_eq!(web.redemption.origin, None);
    let public =
        run_flow(&emu, &s.base, "http://localhost:6274/oauth/callback", Some("http://localhost:6274")).await;
    assert!(!public.redemption.client_secret_sent);
    assert_eq!(public.redemption.origin, None);
}

#[tokio::test]
async fn a_web_refresh_token_from_before_a_restart_is_sent_again_with_the_secret_when_entra_asks() {
    let emu = emulator().await;
    let config = || emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT]);
    let first = serve(config()).await;
    let flow = run_flow(&emu, &first.base, &format!("{COPILOT}connector"), None).await;
    let refresh_token = flow.tokens["refresh_token"].as_str().expect("refresh_token").to_owned();
    // A new server process: it has not seen this refresh token.
    let restarted = serve(config()).await;
    let before = emu.request_count(Endpoint::Token);
    let (refreshed, sent) = refresh(&emu, &restarted.base, &refresh_token).await;
    check_access_token(&emu, refreshed["access_token"].as_str().expect("access_token")).await;
    let refreshes: Vec<RecordedRequest> = emu
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some("refresh_token"))
        .collect();
    assert_eq!(emu.request_count(Endpoint::Token) - before, 2, "one refusal (AADSTS7000218), one retry");
    assert!(!refreshes[0].client_secret_sent);
    assert!(sent.client_secret_sent);
    // From now on the new refresh token is known: one request, with the secret.
    let before = emu.request_count(Endpoint::Token);
    let (_, sent) =
        refresh(&emu, &restarted.base, refreshed["refresh_token"].as_str().expect("refresh_token")).await;
    assert_eq!(emu.request_count(Endpoint::Token) - before, 1);
    assert!(sent.client_secret_sent);
}

#[tokio::test]
async fn a_public_refresh_token_is_never_sent_with_the_secret() {
    let emu = emulator().await;
    let config = || emu.config().mode(Mode::Enrol).allowed_redirect_uris(["http://127.0.0.1:33418/"]);
    let first = serve(config()).await;
    let flow = run_flow(&emu, &first.base, "http://127.0.0.1:40000/", None).await;
    let restarted = serve(config()).await;
    let before = emu.request_count(Endpoint::Token);
    let (_, sent) =
        refresh(&emu, &restarted.base, flow.tokens["refresh_token"].as_str().expect("refresh_token")).await;
    assert_eq!(emu.request_count(Endpoint::Token) - before, 1);
    assert!(!sent.client_secret_sent);
    for r in emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") != Some("client_credentials"))
    {
        assert!(!r.client_secret_sent, "a public grant carried the secret: {r:?}");
    }
}

#[tokio::test]
async fn a_redirect_uri_enrolled_by_hand_is_accepted_and_redeemed_by_its_graph_platform() {
    let emu = emulator().await;
    let uri = "https://claude.ai/api/mcp/auth_callback";
    emu.set_redirect_uris(Platform::Web, vec![uri.into()]);
    // Not in the allow-list: only the app registration knows it.
    let s = serve(emu.config().mode(Mode::Enrol)).await;
    let flow = authorize_and_redeem(&emu, &s.base, uri, None).await;
    assert!(flow.redemption.client_secret_sent, "Graph lists it on web");
    check_access_token(&emu, flow.tokens["access_token"].as_str().expect("access_token")).await;
}

#[tokio::test]
async fn an_allowed_uri_already_on_spa_stays_there_and_is_redeemed_as_spa() {
    // fastapi-mcp-azure-oauth enrolled https URIs on spa; this server enrols them on web, but
    // Graph's word decides how a code is redeemed.
    let emu = emulator().await;
    let uri = "https://app.example/cb";
    emu.set_redirect_uris(Platform::Spa, vec![uri.into()]);
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uris([uri])).await;
    let flow = run_flow(&emu, &s.base, uri, Some("https://app.example")).await;
    assert_eq!(
        emu.request_count(Endpoint::GraphPatchApplication),
        1,
        "only the server's own callback was written"
    );
    assert!(emu.redirect_uris(Platform::Web).is_empty());
    assert!(!flow.redemption.client_secret_sent);
    assert_eq!(flow.redemption.origin.as_deref(), Some("https://app.example"));
    check_access_token(&emu, flow.tokens["access_token"].as_str().expect("access_token")).await;
}

#[tokio::test]
async fn a_multi_tenant_app_bridges_through_organizations_for_a_user_of_another_tenant() {
    let emu = Emulator::builder()
        .access_token_version(2)
        .multi_tenant(true)
        .start()
        .await
        .expect("emulator starts");
    let guest_tenant = emu.add_tenant();
    emu.set_user(axum_mcp_azure_oauth::emulator::User { tenant: guest_tenant.clone(), ..Default::default() });
    let s = serve(
        emu.config()
            .mode(Mode::Enrol)
            .allowed_tenant_ids(["*"])
            .allowed_redirect_uris(["http://127.0.0.1:33418/"]),
    )
    .await;
    let flow = run_flow(&emu, &s.base, "http://127.0.0.1:33418/", None).await;
    assert_eq!(flow.redemption.tenant.as_deref(), Some("organizations"));
    let authorize = emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Endpoint::Authorize)
        .expect("authorize reached Entra");
    assert_eq!(authorize.tenant.as_deref(), Some("organizations"));
    let token = flow.tokens["access_token"].as_str().expect("access_token");
    let claims: Value = jwt_payload(token);
    assert_eq!(claims["tid"], guest_tenant);
    assert_eq!(claims["iss"], format!("{}/{guest_tenant}/v2.0", emu.authority_host()));
    assert_eq!(claims["aud"], emu.app_id());
}
