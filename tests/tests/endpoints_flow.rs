//! Whole authorization-code + PKCE flows through the bridge against the emulator, as an MCP client
//! runs them: register → /authorize → follow Entra's redirect → code → /token → refresh. Every
//! response is scanned for the client secret; the emulator's request log shows what reached Entra.

mod endpoints_support;

use axum_mcp_azure_oauth::HttpsPlatform;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Platform, RecordedRequest};
use endpoints_support::*;
use serde_json::{Value, json};

const COPILOT: &str = "https://global.consent.azure-apim.net/redirect/";

/// One run of the flow; what the client got back.
struct Flow {
    tokens: Value,
    redemption: RecordedRequest,
}

async fn emulator() -> Emulator {
    Emulator::builder().access_token_version(2).start().await.expect("emulator starts")
}

/// Registers `redirect_uri`, authorizes with `resource` and a bare scope, follows the emulator's
/// redirect, and redeems the code through the bridge.
async fn run_flow(emu: &Emulator, base: &str, redirect_uri: &str, origin: Option<&str>) -> Flow {
    register(emu, base, redirect_uri).await;
    authorize_and_redeem(emu, base, redirect_uri, origin).await
}

async fn register(emu: &Emulator, base: &str, redirect_uri: &str) {
    let reg = Answer::read(
        client()
            .post(format!("{base}/register"))
            .json(&json!({ "redirect_uris": [redirect_uri], "client_name": "test", "token_endpoint_auth_method": "none" }))
            .send()
            .await
            .expect("POST /register"),
        emu.client_secret().expose(),
    )
    .await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    assert_eq!(reg.json()["client_id"], emu.app_id());
    assert_eq!(reg.json()["token_endpoint_auth_method"], "none");
}

/// The flow from `/authorize` on, for a redirect URI the app already has.
async fn authorize_and_redeem(emu: &Emulator, base: &str, redirect_uri: &str, origin: Option<&str>) -> Flow {
    let secret = emu.client_secret().expose().to_owned();
    let http = client();
    let resource = format!("{base}/mcp");

    let client_id = emu.app_id();

    let (verifier, challenge) = pkce();
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).expect("URL");
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", "access_as_user offline_access"),
        ("state", "st4te"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", resource.as_str()),
    ]);
    let to_entra = Answer::read(http.get(authorize).send().await.expect("GET /authorize"), &secret).await;
    assert_eq!(to_entra.status, 302, "{}", to_entra.text);
    let entra_url = to_entra.location();
    assert!(entra_url.as_str().starts_with(&emu.authority_host()), "{entra_url}");
    let back = Answer::read(http.get(entra_url).send().await.expect("GET Entra authorize"), &secret).await;
    assert_eq!(back.status, 302, "Entra answered {}: {}", back.status, back.text);
    let callback = back.location();
    assert!(callback.as_str().starts_with(redirect_uri), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some("st4te"));
    let code = param(&callback, "code").expect("a code");

    let mut request = http.post(format!("{base}/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.as_str()),
        ("client_id", client_id.as_str()),
        ("resource", resource.as_str()),
    ]);
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    let tokens = Answer::read(request.send().await.expect("POST /token"), &secret).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let redemption = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some("authorization_code"))
        .expect("the redemption reached Entra");
    Flow { tokens: tokens.json(), redemption }
}

/// Verifies the access token with the emulator's JWKS and checks the claims of a v2 user token.
async fn check_access_token(emu: &Emulator, token: &str) {
    let jwks: jsonwebtoken::jwk::JwkSet = client()
        .get(format!("{}/{}/discovery/v2.0/keys", emu.authority_host(), emu.home_tenant()))
        .send()
        .await
        .expect("GET JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    let kid = header.kid.expect("a kid");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).expect("key listed")).expect("RSA key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[emu.app_id()]);
    validation.set_issuer(&[emu.issuer_v2()]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid Entra token").claims;
    assert_eq!(claims["tid"], emu.home_tenant());
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["azp"], emu.app_id());
    let scp = claims["scp"].as_str().expect("a delegated token");
    assert!(scp.split(' ').any(|s| s == "access_as_user"), "{scp}");
    assert_eq!(claims["oid"], emu.user().oid);
}

/// `resource` never reached the emulator.
fn assert_no_resource(emu: &Emulator) {
    for r in emu.requests() {
        assert!(
            r.query_param("resource").is_none() && r.form_param("resource").is_none(),
            "resource reached Entra: {r:?}"
        );
    }
}

async fn refresh(emu: &Emulator, base: &str, refresh_token: &str) -> (Value, RecordedRequest) {
    let a = Answer::read(
        client()
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", emu.app_id().as_str()),
                ("scope", "access_as_user offline_access"),
                ("resource", &format!("{base}/mcp")),
            ])
            .send()
            .await
            .expect("POST /token"),
        emu.client_secret().expose(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let sent = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == Endpoint::Token)
        .expect("refresh reached Entra");
    (a.json(), sent)
}

#[tokio::test]
async fn public_loopback_client_flow_through_the_bridge() {
    let emu = emulator().await;
    let s = serve(emu.config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
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
    let s = serve(emu.config().allowed_redirect_uri_prefixes([COPILOT])).await;
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
    let s = serve(emu.config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    let a = Answer::read(
        client()
            .post(format!("{}/token", s.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "not-a-code"),
                ("redirect_uri", "http://127.0.0.1:5555/"),
                ("code_verifier", "v"),
                ("client_id", emu.app_id().as_str()),
            ])
            .send()
            .await
            .expect("POST /token"),
        emu.client_secret().expose(),
    )
    .await;
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
    let s = serve(emu.config().allowed_redirect_uris(["http://localhost:8080/cb"])).await;
    let _ = Answer::read(
        client()
            .post(format!("{}/token", s.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("redirect_uri", "http://localhost:8080/cb"),
            ])
            .send()
            .await
            .expect("POST /token"),
        emu.client_secret().expose(),
    )
    .await;
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
    let config = || emu.config().allowed_redirect_uri_prefixes([COPILOT]);
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
    let config = || emu.config().allowed_redirect_uris(["http://127.0.0.1:33418/"]);
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
    let s = serve(emu.config()).await;
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
    let s = serve(emu.config().allowed_redirect_uris([uri])).await;
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
