//! Incremental consent over real HTTP against the emulator whose app exposes the example's
//! `Locations.ReadWrite` beside the API scope (`examples::demo::emulator`): a client that signed in
//! with the API scope asks for more (the step-up a per-tool 403 `insufficient_scope` calls for), and
//! each mode passes the wider set on to Entra, qualified. In the broker, an approval remembered for
//! the narrower set does not cover the wider one: the consent page is shown again and names the
//! new permission, and once that is approved and remembered it is not shown for it again.

use axum_mcp_azure_oauth::config::Mode;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint};
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use support::broker;
use support::browser::HttpBrowser;
use support::example::{call, serve, unauthenticated_challenge};
use support::flow::jwt_payload;
use support::http::{client, param, unused_loopback_redirect};
use support::pkce::Pkce;

/// The emulator with the example's app: `access_as_user` and `Locations.ReadWrite` exposed.
async fn emulator() -> Emulator {
    examples::demo::emulator().access_token_version(2).start().await.expect("the emulator starts")
}

/// The scopes of an access token's `scp`.
fn scp(token: &str) -> Vec<String> {
    let payload = jwt_payload(token);
    let scp = payload["scp"].as_str().unwrap_or_else(|| panic!("no scp: {payload}"));
    scp.split(' ').map(str::to_owned).collect()
}

/// The `scope` Entra's `/authorize` last received, as a list.
fn scope_at_entra(emu: &Emulator) -> Vec<String> {
    let last = emu.requests().into_iter().rfind(|r| r.endpoint == Endpoint::Authorize);
    let scope = last.expect("a request to Entra's /authorize").query_param("scope").map(str::to_owned);
    scope.expect("a scope").split(' ').map(str::to_owned).collect()
}

/// Broker: sign in with the API scope and remember the approval; then ask for `Locations.ReadWrite`
/// too — the page again, naming it in words; Entra gets both qualified scopes and the token holds
/// both; then the same wider request skips the page (remembered), and so does the narrower one.
#[tokio::test]
async fn the_broker_asks_again_for_a_wider_scope_then_remembers_it() {
    let b = broker::serve(emulator().await, |c| c).await;
    let app = b.emu.app_id();
    let api = format!("api://{app}/access_as_user");
    let locations = format!("api://{app}/Locations.ReadWrite");
    let wide = format!("{locations} {api}");
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();

    // The sign-in with the API scope, approved and remembered.
    let pkce = Pkce::generate();
    let first = browser.walk(b.authorize_url(&client_id, &redirect, &pkce).as_str(), &redirect, true).await;
    assert_eq!(first.consent_pages.len(), 1, "a client nobody approved: the page");
    assert!(!first.consent_pages[0].body.contains("Locations.ReadWrite"), "{}", first.consent_pages[0].body);
    assert!(browser.cookies.keys().any(|k| k.starts_with("mcp-approved-")), "remembered");
    let code = param(&first.landing, "code").expect("a code");
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let narrow = scp(tokens.json()["access_token"].as_str().expect("an access token"));
    assert!(narrow.contains(&"access_as_user".to_owned()), "{narrow:?}");
    assert!(!narrow.contains(&"Locations.ReadWrite".to_owned()), "{narrow:?}");

    // The step-up: the remembered approval does not cover the new scope.
    let pkce = Pkce::generate();
    let url = b.authorize_url_for(&client_id, &redirect, &pkce, &wide);
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "the consent page again, not skipped: {:?}", page.location());
    assert!(
        page.body.contains("Use 127.0.0.1 as you, with the permission Locations.ReadWrite"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Use 127.0.0.1 and its tools as you (access_as_user)"), "{}", page.body);
    let at_entra = b.emu.request_count(Endpoint::Authorize);
    let second = browser.walk(url.as_str(), &redirect, true).await;
    assert_eq!(second.consent_pages.len(), 1, "answered on the page");
    assert_eq!(b.emu.request_count(Endpoint::Authorize), at_entra + 1);
    let entra = scope_at_entra(&b.emu);
    assert!(entra.contains(&locations) && entra.contains(&api), "both, qualified: {entra:?}");
    let code = param(&second.landing, "code").expect("a code");
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let granted = scp(tokens.json()["access_token"].as_str().expect("an access token"));
    assert!(granted.contains(&"access_as_user".to_owned()), "{granted:?}");
    assert!(granted.contains(&"Locations.ReadWrite".to_owned()), "{granted:?}");

    // The same wider set again, then the API scope alone: both covered by what was remembered (the
    // wider approval replaced the first one, so `offline_access`, never asked for here, is not).
    for scope in [wide.as_str(), "access_as_user"] {
        let pkce = Pkce::generate();
        let page = browser.get(&b.authorize_url_for(&client_id, &redirect, &pkce, scope)).await;
        assert_eq!(page.status, 302, "{scope}: remembered, no page: {}", page.body);
        let entra = page.location().expect("Location");
        assert!(entra.as_str().starts_with(&b.emu.authority_host()), "{scope}: on to Entra: {entra}");
        let asked = param(&entra, "scope").expect("a scope");
        assert!(asked.split(' ').any(|s| s == api), "{scope}: {asked}");
        assert_eq!(asked.split(' ').any(|s| s == locations), scope == wide, "{scope}: {asked}");
    }
}

/// Enrol: the client's authorization request goes on to Entra with the wider scope qualified (the
/// client sent bare names), and the code Entra sends the client, redeemed through the bridge for
/// those scopes, gives a token with both.
#[tokio::test]
async fn enrol_mode_passes_the_wider_scope_to_entra_qualified() {
    let redirect = unused_loopback_redirect();
    let allowed = redirect.clone();
    let server = serve(emulator().await, move |c| c.mode(Mode::Enrol).allowed_redirect_uris([allowed])).await;
    let app = server.emu.app_id();
    // Registration writes the redirect URI to the app registration, where Entra checks it.
    let secret = server.emu.client_secret();
    let registered =
        support::flow::register(&server.base, &support::flow::metadata(&redirect), secret.expose()).await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    let pkce = Pkce::generate();
    let mut url = url::Url::parse(&format!("{}/authorize", server.base)).expect("a URL");
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", app.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("scope", "Locations.ReadWrite access_as_user"),
        ("state", "st4te"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let walk = HttpBrowser::new().walk(url.as_str(), &redirect, false).await;
    let entra = scope_at_entra(&server.emu);
    assert!(entra.contains(&format!("api://{app}/Locations.ReadWrite")), "qualified: {entra:?}");
    assert!(entra.contains(&format!("api://{app}/access_as_user")), "qualified: {entra:?}");
    assert_eq!(param(&walk.landing, "state").as_deref(), Some("st4te"), "{}", walk.landing);
    let code = param(&walk.landing, "code").unwrap_or_else(|| panic!("no code: {}", walk.landing));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", app.as_str()),
        // Entra issues the token for the scopes of the redemption (a subset of the sign-in's); the
        // bridge, which never sees the sign-in's answer, asks for the API scope alone when the
        // client names none.
        ("scope", "Locations.ReadWrite access_as_user"),
    ];
    let tokens = support::flow::token(&server.base, &form, secret.expose()).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let granted = scp(tokens.json()["access_token"].as_str().expect("an access token"));
    assert!(granted.contains(&"Locations.ReadWrite".to_owned()), "{granted:?}");
    assert!(granted.contains(&"access_as_user".to_owned()), "{granted:?}");
}

/// Direct: clients sign in at Entra on their own, so what the server can do is say what to ask for.
/// Its protected resource metadata lists `Locations.ReadWrite` (qualified), the 401 names only the
/// route's scope, the 403 of `save_location` names both; a token Entra issued with both is served.
#[tokio::test]
async fn direct_mode_advertises_the_per_tool_scope_and_serves_a_token_that_has_it() {
    let server = serve(emulator().await, |c| c.mode(Mode::Direct)).await;
    let app = server.emu.app_id();
    let api = format!("api://{app}/access_as_user");
    let locations = format!("api://{app}/Locations.ReadWrite");

    let prm: Value = client()
        .get(format!("{}/.well-known/oauth-protected-resource/mcp", server.base))
        .send()
        .await
        .expect("GET protected resource metadata")
        .json()
        .await
        .expect("JSON");
    let supported = prm["scopes_supported"].as_array().expect("scopes_supported");
    assert!(supported.contains(&json!(api)) && supported.contains(&json!(locations)), "{prm}");
    let issuer = format!("{}/{}/v2.0", server.emu.authority_host(), server.emu.home_tenant());
    assert_eq!(prm["authorization_servers"], json!([issuer]), "Entra itself: {prm}");
    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    assert!(challenge.contains(&format!("scope=\"{api}\"")), "the route's scope only: {challenge}");

    let connect = |token: String| {
        let config =
            StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()).auth_header(token);
        ().serve(StreamableHttpClientTransport::from_config(config))
    };
    let args = json!({"name": "home", "latitude": 47.64, "longitude": -122.13});
    let narrow = connect(server.emu.token().scopes("access_as_user").sign()).await.expect("initialize");
    let Value::Object(object) = args.clone() else { unreachable!("an object") };
    let error = narrow
        .call_tool(CallToolRequestParams::new("save_location").with_arguments(object))
        .await
        .expect_err("403 without Locations.ReadWrite");
    let challenge = error.auth_challenge().expect("the 403's challenge");
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert!(challenge.contains(&format!("scope=\"{locations} {api}\"")), "{challenge}");
    narrow.cancel().await.expect("close");

    let wide = server.emu.token().scopes("access_as_user Locations.ReadWrite").sign();
    let wide = connect(wide).await.expect("initialize");
    let saved = call(&wide, "save_location", args).await;
    assert_eq!(saved.is_error, Some(false), "{saved:?}");
    assert_eq!(saved.structured_content.expect("structured")["saved"][0]["name"], "home");
    wide.cancel().await.expect("close");
}
