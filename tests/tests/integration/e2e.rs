//! End to end with a real MCP client: rmcp's own client and its OAuth support (`AuthorizationManager`,
//! `AuthorizationSession`, `AuthClient`) against the weather example's router (`examples::app`,
//! served on 127.0.0.1) and the Entra ID emulator.
//!
//! Every test walks what a spec MCP client does: an unauthenticated `initialize` → 401 with a
//! `WWW-Authenticate` challenge → protected resource metadata → authorization server metadata →
//! dynamic registration → `/authorize` (walked as a browser would by [`HttpBrowser`]: each 302
//! read, not followed automatically, and the consent page answered Allow, until the redirect URI)
//! → `/token` → `initialize` → `tools/list` → `tools/call`. The OAuth steps are rmcp's; only the
//! browser is ours.
//!
//! The server runs in its default mode, the broker (Entra redirects to the server's own callback,
//! which sends the client a code of its own with RFC 9207 `iss`, which rmcp checks), with no
//! allow-list: any loopback port, any https redirect URI. A test whose point exists only in the
//! enrol mode (Entra redirects straight to the client) says so in its name.

use std::time::Duration;

use axum_mcp_azure_oauth::config::Mode;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Platform, RecordedRequest};
use oauth2::TokenResponse as _;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::auth::{AuthorizationMetadataSource, AuthorizationRequest};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{
    AuthClient, AuthorizationManager, AuthorizationSession, CredentialStore, InMemoryCredentialStore,
    StreamableHttpClientTransport,
};
use serde_json::json;
use support::browser::HttpBrowser;
use support::example::{Server, call, serve, serve_config, serve_on, unauthenticated_challenge, whoami};
use support::flow::jwt_payload;
use support::http::{param, unused_loopback_redirect};
use support::serve::Port;

/// Steps 2–6: discovery from the challenge, registration, authorization in the browser (through
/// the consent page), and the code exchange. Checks what the browser carried for the server's
/// mode: in broker mode Entra gets the server's callback and the client gets `iss`; in enrol mode
/// Entra gets the client's redirect URI and redirects there itself. Returns the signed-in manager;
/// its credentials live in `store`.
async fn sign_in(
    server: &Server,
    challenge: &str,
    redirect_uri: &str,
    store: &InMemoryCredentialStore,
) -> AuthorizationManager {
    sign_in_with(server, challenge, redirect_uri, store, |request| request).await
}

/// [`sign_in`] with the authorization request changed by `configure` (its scope selection).
async fn sign_in_with(
    server: &Server,
    challenge: &str,
    redirect_uri: &str,
    store: &InMemoryCredentialStore,
    configure: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> AuthorizationManager {
    let mut manager = AuthorizationManager::new(server.mcp_url.as_str()).await.expect("manager");
    manager.set_credential_store(store.clone());
    let resolution = manager.resolve_metadata_from_challenge(Some(challenge)).await.expect("discovery");
    assert_eq!(resolution.source, AuthorizationMetadataSource::ProtectedResourceMetadata);
    let metadata = &resolution.metadata;
    assert_eq!(metadata.authorization_endpoint, format!("{}/authorize", server.base), "{metadata:?}");
    assert_eq!(metadata.token_endpoint, format!("{}/token", server.base), "{metadata:?}");
    assert_eq!(metadata.registration_endpoint.as_deref(), Some(format!("{}/register", server.base).as_str()));
    assert!(
        metadata.code_challenge_methods_supported.iter().flatten().any(|m| m == "S256"),
        "S256 must be advertised: {metadata:?}"
    );
    manager.set_metadata(resolution.metadata);

    let request = configure(
        AuthorizationRequest::new(redirect_uri)
            .with_client_name("rmcp end-to-end test")
            .with_challenge(challenge),
    );
    let session = AuthorizationSession::new(manager, request)
        .await
        .map_err(|(_, e)| e)
        .expect("registration and authorization URL");
    let auth_url = session.get_authorization_url().to_owned();
    assert!(
        auth_url.starts_with(&format!("{}/authorize?", server.base)),
        "the server's /authorize: {auth_url}"
    );

    let at_entra = server.emu.request_count(Endpoint::Authorize);
    let callback = HttpBrowser::new().sign_in(&auth_url, redirect_uri).await;
    assert_eq!(
        server.emu.request_count(Endpoint::Authorize),
        at_entra + 1,
        "the server sends the browser to Entra, once"
    );
    let entra = server.emu.requests().into_iter().rfind(|r| r.endpoint == Endpoint::Authorize);
    let entra = entra.expect("Entra's /authorize");
    match server.mode {
        Mode::Broker => {
            let callback_uri = format!("{}/oauth/callback", server.base);
            assert_eq!(entra.query_param("redirect_uri"), Some(callback_uri.as_str()), "{entra:?}");
            assert_eq!(param(&callback, "iss").as_deref(), Some(server.base.as_str()), "{callback}");
        }
        _ => {
            assert_eq!(entra.query_param("redirect_uri"), Some(redirect_uri), "{entra:?}");
            assert_eq!(param(&callback, "iss"), None, "{callback}");
        }
    }
    session.handle_callback_url(callback.as_str()).await.expect("code exchange at the server's /token");
    session.auth_manager
}

/// Steps 7–9: an MCP client whose transport carries the manager's token.
async fn connect(server: &Server, manager: AuthorizationManager) -> RunningService<RoleClient, ()> {
    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest::Client::default(), manager),
        StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()),
    );
    ().serve(transport).await.expect("initialize with the token")
}

/// The emulator with the example's app registration (`examples::demo::emulator`): it exposes
/// `Locations.ReadWrite` beside the API scope, as the example's protected resource metadata says.
/// rmcp's default scope selection asks for every scope that metadata lists, and Entra refuses a
/// scope the app does not expose.
fn example_emulator() -> axum_mcp_azure_oauth::emulator::EmulatorBuilder {
    examples::demo::emulator()
}

fn token_requests(emu: &Emulator, grant_type: &str) -> Vec<RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| {
            r.endpoint == Endpoint::Token && r.form.iter().any(|(k, v)| k == "grant_type" && v == grant_type)
        })
        .collect()
}

/// Every redirect URI on the app registration, of every platform.
fn app_registration(emu: &Emulator) -> Vec<String> {
    [Platform::Web, Platform::Spa, Platform::PublicClient]
        .into_iter()
        .flat_map(|p| emu.redirect_uris(p))
        .collect()
}

/// The whole flow with a loopback redirect URI on a port no allow-list names (a native client
/// such as Claude Code or VS Code), in broker mode: nothing of the client's is written to the app
/// registration, which holds only the broker's callback (on `web`), where Entra's code is redeemed
/// with the secret; then every tool.
#[tokio::test]
async fn loopback_public_client_signs_in_and_calls_tools() {
    let redirect = unused_loopback_redirect();
    let redirect = redirect.as_str();
    let server = serve(example_emulator().start().await.expect("emulator"), |c| c).await;
    assert_eq!(server.mode, Mode::Broker, "the default");

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            server.base
        )),
        "{challenge}"
    );

    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;
    let callback = format!("{}/oauth/callback", server.base);
    assert_eq!(
        server.emu.redirect_uris(Platform::Web),
        [callback.as_str()],
        "the broker's callback, on web, is all the app registration needs"
    );
    assert_eq!(app_registration(&server.emu), [callback.as_str()], "the client's URI was written nowhere");
    let stored = store.load().await.expect("store").expect("credentials");
    assert!(stored.client_id.starts_with("mcp-client."), "an id of the broker's own: {}", stored.client_id);
    let redeem = token_requests(&server.emu, "authorization_code");
    assert_eq!(redeem.len(), 1, "one code redeemed at Entra");
    assert!(redeem[0].client_secret_sent, "the broker redeems at its web callback, with the secret");
    assert_eq!(redeem[0].form_param("redirect_uri"), Some(callback.as_str()));
    assert!(
        redeem[0].query_param("resource").is_none() && !redeem[0].form.iter().any(|(k, _)| k == "resource"),
        "Entra refuses `resource`"
    );

    let client = connect(&server, manager).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    // `clear_locations` needs the app role Weather.Admin, which the user lacks: not listed (signing
    // in again cannot grant a role); `save_location` needs a scope the user holds: listed.
    assert_eq!(names, ["get_alerts", "get_forecast", "graph_me", "heat_index", "save_location", "whoami"]);

    let me = whoami(&client).await;
    let user = server.emu.user();
    assert_eq!(me["oid"], user.oid.as_str(), "{me}");
    assert_eq!(me["tid"], server.emu.home_tenant().as_str(), "{me}");
    assert_eq!(me["upn"], user.preferred_username.as_str(), "{me}");
    assert_eq!(me["app_id"], server.emu.app_id().as_str(), "{me}");
    assert!(me["scopes"].as_array().expect("scopes").iter().any(|s| s == "access_as_user"), "{me}");

    let hi = call(&client, "heat_index", json!({"temperature_f": 90, "relative_humidity": 60})).await;
    assert_eq!(hi.structured_content.expect("structured")["heat_index_f"], 99.7);

    let forecast = call(&client, "get_forecast", json!({"latitude": 38.8894, "longitude": -77.0352})).await;
    assert_eq!(forecast.is_error, Some(true), "the NWS API is unreachable in this test: {forecast:?}");
    assert!(format!("{:?}", forecast.content).contains("could not be reached"), "{forecast:?}");
    client.cancel().await.expect("close");
}

/// An `https` redirect URI (a hosted client such as claude.ai or Copilot Studio) that no
/// allow-list names, in broker mode: the client's URI never reaches Entra, neither at `/authorize`
/// nor at the redemption, and is written nowhere; the broker redeems Entra's code at its own `web`
/// callback with the secret, which the client (registered with `token_endpoint_auth_method:
/// none`) never sees.
#[tokio::test]
async fn https_redirect_is_never_sent_to_entra_and_redeemed_at_the_brokers_callback_with_the_secret() {
    let redirect = "https://client.example.com/oauth/callback";
    let server = serve(example_emulator().start().await.expect("emulator"), |c| c).await;

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;
    let callback = format!("{}/oauth/callback", server.base);
    for r in server.emu.requests() {
        let sent = format!("{:?} {:?} {:?}", r.query, r.form, r.json);
        assert!(!sent.contains("client.example.com"), "the client's redirect URI reached Entra: {r:?}");
    }
    assert_eq!(app_registration(&server.emu), [callback.as_str()], "the client's URI was written nowhere");
    let redeem = token_requests(&server.emu, "authorization_code");
    assert_eq!(redeem.len(), 1);
    assert!(redeem[0].client_secret_sent, "the broker adds the secret");
    assert_eq!(redeem[0].form_param("redirect_uri"), Some(callback.as_str()));

    let stored = store.load().await.expect("store").expect("credentials");
    let secret = server.emu.client_secret();
    assert!(stored.client_id.starts_with("mcp-client."), "an id of the broker's own: {}", stored.client_id);
    assert!(
        !format!("{:?}", stored.token_response.as_ref().map(|t| serde_json::to_string(t).ok()))
            .contains(secret.expose())
    );

    let client = connect(&server, manager).await;
    let me = whoami(&client).await;
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    client.cancel().await.expect("close");
}

/// In enrol mode, an `https` redirect URI (a hosted client such as claude.ai or Copilot Studio):
/// enrolled on the `web` platform, so Entra demands the client secret, which the bridge adds
/// server-side — the client registered with `token_endpoint_auth_method: none` and never sees it.
#[tokio::test]
async fn enrol_mode_https_redirect_is_redeemed_with_the_secret_added_by_the_bridge() {
    let redirect = "https://client.example.com/oauth/callback";
    let server = serve(example_emulator().start().await.expect("emulator"), |c| {
        c.mode(Mode::Enrol).allowed_redirect_uris([redirect])
    })
    .await;

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;
    assert!(server.emu.redirect_uris(Platform::Web).iter().any(|u| u == redirect), "enrolled as web");
    let redeem = token_requests(&server.emu, "authorization_code");
    assert_eq!(redeem.len(), 1);
    assert!(redeem[0].client_secret_sent, "the bridge adds the secret for a web redirect");

    let stored = store.load().await.expect("store").expect("credentials");
    let secret = server.emu.client_secret();
    // In enrol mode registration is virtual: every client gets the Entra app id, and no secret.
    assert_eq!(stored.client_id, server.emu.app_id());
    assert!(
        !format!("{:?}", stored.token_response.as_ref().map(|t| serde_json::to_string(t).ok()))
            .contains(secret.expose())
    );

    let client = connect(&server, manager).await;
    let me = whoami(&client).await;
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    client.cancel().await.expect("close");
}

/// An app whose manifest asks for v1 access tokens (`requestedAccessTokenVersion` unset: Entra's
/// default): the same flow yields a v1 token (`sts.windows.net` issuer, `api://` audience) that
/// the server accepts.
#[tokio::test]
async fn v1_token_app_signs_in() {
    let redirect = unused_loopback_redirect();
    let redirect = redirect.as_str();
    let emu = example_emulator().access_token_version(1).start().await.expect("emulator");
    let server = serve(emu, |c| c).await;

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;
    let token = manager.get_access_token().await.expect("token");
    let claims = jwt_payload(&token);
    assert_eq!(claims["ver"], "1.0", "{claims}");

    let client = connect(&server, manager).await;
    let me = whoami(&client).await;
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    assert_eq!(me["tid"], server.emu.home_tenant().as_str(), "{me}");
    client.cancel().await.expect("close");
}

/// A valid token without the API's scope gets 403 with an RFC 6750 `insufficient_scope` challenge
/// naming the scope; rmcp's client steps up from that challenge and then succeeds.
#[tokio::test]
async fn token_without_the_scope_gets_a_step_up_challenge() {
    let redirect = unused_loopback_redirect();
    let redirect = redirect.as_str();
    let server = serve(example_emulator().start().await.expect("emulator"), |c| c).await;

    let narrow = server.emu.token().scopes("User.Read").sign();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()).auth_header(narrow),
    );
    let error = ().serve(transport).await.expect_err("403 for a token without access_as_user");
    let challenge = error.auth_challenge().expect("the 403 carries WWW-Authenticate").to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    let scope = format!("api://{}/access_as_user", server.emu.app_id());
    assert!(challenge.contains(&scope), "the challenge names the scope to ask for: {challenge}");

    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;
    let granted = jwt_payload(&manager.get_access_token().await.expect("token"));
    assert!(granted["scp"].as_str().expect("scp").split(' ').any(|s| s == "access_as_user"), "{granted}");
    let client = connect(&server, manager).await;
    whoami(&client).await;
    client.cancel().await.expect("close");
}

/// After expiry: the server refuses the expired access token with 401 `invalid_token`, and rmcp's
/// client refreshes through the broker's `/token` (the refresh token it holds is Entra's, sealed to
/// this client; the broker opens it and sends Entra's own with the secret) and retries.
#[tokio::test]
async fn expired_token_is_refreshed_through_the_broker() {
    let redirect = unused_loopback_redirect();
    let redirect = redirect.as_str();
    let server = serve(example_emulator().start().await.expect("emulator"), |c| c).await;
    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;

    // The access token expires: an expired token of the same user, app and scope takes its place.
    let mut stored = store.load().await.expect("store").expect("credentials");
    let tokens = stored.token_response.as_mut().expect("token response");
    let sealed_refresh =
        tokens.refresh_token().expect("the broker passes a refresh token on").secret().clone();
    let expired = server.emu.token().scopes("access_as_user").expired().sign();
    let refused = ().serve(StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()).auth_header(expired.clone()),
    ));
    let challenge = refused.await.expect_err("an expired token gets 401").auth_challenge().map(str::to_owned);
    let challenge = challenge.expect("the 401 carries WWW-Authenticate");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    tokens.set_access_token(oauth2::AccessToken::new(expired.clone()));
    store.save(stored).await.expect("save");
    assert!(token_requests(&server.emu, "refresh_token").is_empty());

    let client = connect(&server, manager).await;
    let me = whoami(&client).await;
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    let refreshes = token_requests(&server.emu, "refresh_token");
    assert_eq!(refreshes.len(), 1, "one refresh at Entra");
    assert!(refreshes[0].client_secret_sent, "the broker refreshes with the secret");
    let entra_refresh = refreshes[0].form_param("refresh_token").expect("Entra's refresh token");
    assert_ne!(entra_refresh, sealed_refresh, "the client held the refresh token sealed, not Entra's own");
    let fresh = store.load().await.expect("store").expect("credentials");
    let fresh = fresh.token_response.expect("tokens");
    assert_ne!(fresh.access_token().secret(), &expired, "a new access token");
    let exp = jwt_payload(fresh.access_token().secret())["exp"].as_u64().expect("exp");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    assert!(exp > now + Duration::from_secs(60).as_secs(), "the refreshed token is current");
    client.cancel().await.expect("close");
}

/// Configured as the example's `main` configures itself, from environment variables (the same
/// `AzureOAuthConfigBuilder::env` that `AzureOAuthConfig::from_env` reads), with the authority
/// and Graph at `http://127.0.0.1:…` and two allowed tenants; then a token of the second tenant is
/// accepted and one of a third refused.
#[tokio::test]
async fn configured_from_environment_variables() {
    // Two tenants need a multi-tenant app: Entra refuses `/organizations` for a single-tenant one.
    let emu = examples::demo::emulator().multi_tenant(true).start().await.expect("emulator");
    let other = emu.add_tenant();
    let redirect = "http://127.0.0.1:33418/callback";
    let vars = emu.clone();
    let tenants = format!("{},{other}", emu.home_tenant());
    let server = serve_config(emu, move |base| {
        let env = [
            ("AZURE_CLIENT_ID", vars.app_id()),
            ("AZURE_TENANT_ID", vars.home_tenant()),
            ("AZURE_CLIENT_SECRET", vars.client_secret().expose().to_owned()),
            ("AZURE_AUTHORITY_HOST", vars.authority_host()),
            ("MICROSOFT_GRAPH_ENDPOINT", vars.graph_endpoint()),
            ("PUBLIC_BASE_URL", base.to_owned()),
            ("ALLOWED_REDIRECT_URIS", redirect.to_owned()),
            ("AZURE_ALLOWED_TENANT_IDS", tenants),
        ];
        let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        axum_mcp_azure_oauth::AzureOAuthConfig::builder()
            .env(lookup)
            .and_then(|b| b.build())
            .expect("valid environment")
    })
    .await;
    assert!(server.emu.authority_host().starts_with("http://127.0.0.1:"));

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let store = InMemoryCredentialStore::new();
    let manager = sign_in(&server, &challenge, redirect, &store).await;
    let client = connect(&server, manager).await;
    assert_eq!(whoami(&client).await["tid"], server.emu.home_tenant().as_str());
    client.cancel().await.expect("close");

    let of_tenant = |tenant: &str| {
        let token = server.emu.token().scopes("access_as_user").tenant(tenant).sign();
        StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()).auth_header(token),
        )
    };
    let client = ().serve(of_tenant(&other)).await.expect("the second allowed tenant");
    assert_eq!(whoami(&client).await["tid"], other.as_str());
    client.cancel().await.expect("close");
    let third = server.emu.add_tenant();
    let error = ().serve(of_tenant(&third)).await.expect_err("a tenant that is not allowed");
    assert!(error.auth_challenge().is_some(), "refused with a challenge: {error:?}");
}

/// The zero-configuration run (`cargo run -p examples --example weather_server` without
/// `AZURE_CLIENT_ID`), in broker mode with no allow-list: MCP Inspector's OAuth flow, with its
/// fixed redirect URI, signs in, and so do native clients on any loopback port (the printed
/// instructions hold).
#[tokio::test]
async fn zero_configuration_run_serves_mcp_inspector_and_loopback_clients() {
    let port = Port::bind().await;
    let demo = examples::demo::Demo::start(port.addr(), |_| None).await.expect("the demo configuration");
    let config = demo.config().expect("the demo configuration");
    assert_eq!(config.mode(), Mode::Broker);
    assert!(config.allowed_redirect_uris().is_empty(), "{:?}", config.allowed_redirect_uris());
    assert!(
        config.allowed_redirect_uri_prefixes().is_empty(),
        "{:?}",
        config.allowed_redirect_uri_prefixes()
    );
    let server = serve_on(port, demo.emulator, config);
    let loopback = [unused_loopback_redirect(), unused_loopback_redirect()];
    for redirect in [examples::demo::INSPECTOR_REDIRECT_URI, &loopback[0], &loopback[1]] {
        let challenge = unauthenticated_challenge(&server.mcp_url).await;
        let store = InMemoryCredentialStore::new();
        let manager = sign_in(&server, &challenge, redirect, &store).await;
        let client = connect(&server, manager).await;
        assert_eq!(whoami(&client).await["oid"], server.emu.user().oid.as_str(), "{redirect}");
        client.cancel().await.expect("close");
    }
}

/// The scopes of an access token's `scp`.
fn scp_of(token: &str) -> Vec<String> {
    jwt_payload(token)["scp"].as_str().expect("scp").split(' ').map(str::to_owned).collect()
}

/// The `scope` parameter of a `WWW-Authenticate` challenge, if it has one.
fn challenge_scope(challenge: &str) -> Option<&str> {
    let start = challenge.find(" scope=\"")? + " scope=\"".len();
    let end = challenge[start..].find('"')? + start;
    Some(&challenge[start..end])
}

/// Per-tool step-up with rmcp's client, which does not step up by itself: its transport turns the
/// 403 into `StreamableHttpError::InsufficientScope` (the challenge and its `scope`) and the call
/// fails with it; `AuthClient` does not re-authorize. The application steps up by hand with rmcp's
/// own API: `AuthorizationManager::request_scope_upgrade` with the challenge's scope (the union
/// with the scopes it holds), the browser through the broker's consent page (shown again: the new
/// permission was never approved), the code exchanged on the same manager, and the call, sent
/// again on the same session, saves the location. `clear_locations` then fails the same way for
/// the missing app role, with a challenge that names no scope: nothing to step up to.
#[tokio::test]
async fn rmcp_reports_a_per_tool_403_and_the_application_steps_up_by_hand() {
    let redirect = unused_loopback_redirect();
    let redirect = redirect.as_str();
    let emu = examples::demo::emulator().access_token_version(2).start().await.expect("emulator");
    let server = serve(emu, |c| c).await;
    let app = server.emu.app_id();
    let locations = format!("api://{app}/Locations.ReadWrite");
    let api = format!("api://{app}/access_as_user");

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let store = InMemoryCredentialStore::new();
    // rmcp's default scope selection adds the protected resource metadata's `scopes_supported`
    // (which lists Locations.ReadWrite) to the challenge's: sign in with the challenge's only.
    let manager =
        sign_in_with(&server, &challenge, redirect, &store, |r| r.with_initial_scope_selection()).await;
    let first = manager.get_access_token().await.expect("a token");
    assert!(!scp_of(&first).contains(&"Locations.ReadWrite".to_owned()), "{:?}", scp_of(&first));
    let auth = AuthClient::new(reqwest::Client::default(), manager);
    let manager = std::sync::Arc::clone(&auth.auth_manager);
    let transport = StreamableHttpClientTransport::with_client(
        auth,
        StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()),
    );
    let client = ().serve(transport).await.expect("initialize with the token");
    whoami(&client).await;

    let save = || {
        let args = json!({"name": "home", "latitude": 47.64, "longitude": -122.13});
        let serde_json::Value::Object(args) = args else { unreachable!("an object") };
        CallToolRequestParams::new("save_location").with_arguments(args)
    };
    let error = client.call_tool(save()).await.expect_err("403: the token lacks Locations.ReadWrite");
    assert!(!error.is_authorization_required(), "a 403, not a 401: {error:?}");
    let challenge = error.auth_challenge().expect("the error carries the 403's challenge").to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    let required = challenge_scope(&challenge).expect("the challenge names the scopes").to_owned();
    assert_eq!(required, format!("{locations} {api}"), "{challenge}");
    assert_eq!(server.emu.request_count(Endpoint::Authorize), 1, "rmcp did not sign in again by itself");
    assert_eq!(manager.lock().await.get_scope_upgrade_attempts().await, 0, "nor started a step-up");

    // By hand: rmcp's step-up URL, through the broker's consent page, exchanged on the same manager.
    let url = manager.lock().await.request_scope_upgrade(&required).await.expect("a step-up URL");
    let url = url::Url::parse(&url).expect("a URL");
    let asked = param(&url, "scope").expect("a scope");
    let asked: Vec<&str> = asked.split(' ').collect();
    assert!(asked.contains(&locations.as_str()) && asked.contains(&api.as_str()), "the union: {asked:?}");
    let walk = HttpBrowser::new().walk(url.as_str(), redirect, false).await;
    assert_eq!(walk.consent_pages.len(), 1, "the consent page again");
    let page = &walk.consent_pages[0].body;
    assert!(page.contains("with the permission Locations.ReadWrite"), "{page}");
    let entra = server.emu.requests().into_iter().rfind(|r| r.endpoint == Endpoint::Authorize);
    let entra_scope = entra.expect("Entra's /authorize").query_param("scope").unwrap_or_default().to_owned();
    assert!(entra_scope.contains(&locations) && entra_scope.contains(&api), "{entra_scope}");
    let code = param(&walk.landing, "code").expect("a code");
    let state = param(&walk.landing, "state").expect("a state");
    let iss = param(&walk.landing, "iss");
    manager
        .lock()
        .await
        .exchange_code_for_token_with_issuer(&code, &state, iss.as_deref())
        .await
        .expect("the code exchanged");
    let token = manager.lock().await.get_access_token().await.expect("a token");
    let scp = scp_of(&token);
    assert!(
        scp.contains(&"Locations.ReadWrite".to_owned()) && scp.contains(&"access_as_user".to_owned()),
        "{scp:?}"
    );

    let saved = client.call_tool(save()).await.expect("the retried call goes through");
    assert_eq!(saved.is_error, Some(false), "{saved:?}");
    assert_eq!(
        saved.structured_content,
        Some(json!({"saved": [{"name": "home", "latitude": 47.64, "longitude": -122.13}]}))
    );

    // A missing app role: the same kind of error, with no scope to step up to.
    let error = client
        .call_tool(CallToolRequestParams::new("clear_locations"))
        .await
        .expect_err("403: the user has no app role");
    let challenge = error.auth_challenge().expect("the 403's challenge").to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert_eq!(challenge_scope(&challenge), None, "no scope: {challenge}");
    assert!(challenge.contains("Weather.Admin"), "the role is named: {challenge}");
    assert_eq!(server.emu.request_count(Endpoint::Authorize), 2, "no sign-in of rmcp's own");
    client.cancel().await.expect("close");
}
