//! End to end, second run: the weather example with `AZURE_OAUTH_MODE=direct` (`Mode::Direct`,
//! what fastapi-mcp-azure-oauth does), against rmcp's client and the Entra ID emulator.
//!
//! What the tests establish, and what the README says about the mode:
//!
//! - The protected resource metadata names **Entra itself** as the authorization server
//!   (`{authority}/{tenant}/v2.0`), so a spec MCP client reads Entra's OpenID document, which has
//!   no `registration_endpoint`: rmcp (like the TypeScript SDK) cannot register and stops.
//! - A spec client with a pre-registered client id gets further, but sends the RFC 8707
//!   `resource` parameter the spec requires, which Entra's v2 endpoints refuse (AADSTS9010010).
//! - Clients that sign in to Microsoft on their own — VS Code's Microsoft authentication
//!   provider, MSAL-based apps, Azure CLI — ask Entra for `api://{app}/access_as_user` directly
//!   (their client id pre-authorized on the app) and only need this server to accept the token,
//!   which it does. Direct mode is for them; spec MCP clients (Claude, MCP Inspector, Copilot
//!   Studio's dynamic discovery, rmcp) need the default broker mode (or the enrol mode).

use axum_mcp_azure_oauth::config::Mode;
use axum_mcp_azure_oauth::emulator::{Emulator, Platform};
use rmcp::ServiceExt as _;
use rmcp::transport::auth::{AuthorizationMetadataSource, AuthorizationRequest};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{AuthError, AuthorizationManager, AuthorizationSession, StreamableHttpClientTransport};
use serde_json::{Value, json};
use support::browser::HttpBrowser;
use support::example::{Server, serve, unauthenticated_challenge, whoami};
use support::http::param;

/// VS Code's own client id, which signs in to Microsoft with its Microsoft authentication provider.
const VSCODE_CLIENT_ID: &str = "aebc6443-996d-45c2-90f0-388ff96faa56";

async fn direct_server() -> Server {
    let emu = Emulator::start().await.expect("emulator");
    serve(emu, |c| c.mode(Mode::Direct)).await
}

/// The metadata of direct mode, as rmcp discovers it from the 401 challenge.
#[tokio::test]
async fn direct_mode_metadata_points_clients_at_entra() {
    let server = direct_server().await;
    let emu = &server.emu;
    let entra = format!("{}/{}", emu.authority_host(), emu.home_tenant());

    let prm: Value = reqwest::get(format!("{}/.well-known/oauth-protected-resource/mcp", server.base))
        .await
        .expect("GET protected resource metadata")
        .json()
        .await
        .expect("JSON");
    assert_eq!(prm["resource"], server.mcp_url.as_str(), "{prm}");
    assert_eq!(prm["authorization_servers"], json!([format!("{entra}/v2.0")]), "{prm}");
    assert!(
        prm["scopes_supported"]
            .as_array()
            .expect("scopes_supported")
            .contains(&json!(format!("api://{}/access_as_user", emu.app_id()))),
        "{prm}"
    );

    let challenge = unauthenticated_challenge(&server.mcp_url).await;
    let manager = AuthorizationManager::new(server.mcp_url.as_str()).await.expect("manager");
    let resolution = manager.resolve_metadata_from_challenge(Some(&challenge)).await.expect("discovery");
    assert_eq!(resolution.source, AuthorizationMetadataSource::ProtectedResourceMetadata);
    let metadata = resolution.metadata;
    assert_eq!(
        metadata.issuer.as_deref(),
        Some(emu.issuer_v2().as_str()),
        "Entra's own document: {metadata:?}"
    );
    assert_eq!(metadata.authorization_endpoint, format!("{entra}/oauth2/v2.0/authorize"));
    assert_eq!(metadata.token_endpoint, format!("{entra}/oauth2/v2.0/token"));
    assert_eq!(metadata.registration_endpoint, None, "Entra offers no dynamic client registration");
}

/// A spec MCP client cannot sign in through direct mode: no registration endpoint at Entra, and
/// with a pre-registered client id the `resource` parameter is refused.
#[tokio::test]
async fn spec_clients_cannot_sign_in_in_direct_mode() {
    let server = direct_server().await;
    let challenge = unauthenticated_challenge(&server.mcp_url).await;

    let mut manager = AuthorizationManager::new(server.mcp_url.as_str()).await.expect("manager");
    let resolution = manager.resolve_metadata_from_challenge(Some(&challenge)).await.expect("discovery");
    manager.set_metadata(resolution.metadata);
    let redirect = "http://127.0.0.1:33418/callback";
    let request = AuthorizationRequest::new(redirect).with_challenge(challenge.clone());
    let (manager, error) = match AuthorizationSession::new(manager, request).await {
        Ok(_) => panic!("dynamic registration cannot succeed against Entra"),
        Err(e) => e,
    };
    assert!(matches!(error, AuthError::RegistrationFailed(_)), "{error:?}");

    // Pre-registered as the app itself, with the loopback redirect enrolled: Entra refuses the
    // `resource` parameter that MCP clients must send.
    server.emu.set_redirect_uris(Platform::PublicClient, vec![redirect.to_owned()]);
    let request = AuthorizationRequest::new(redirect)
        .with_preregistered_client(server.emu.app_id())
        .with_challenge(challenge);
    let session = AuthorizationSession::new(manager, request).await.map_err(|(_, e)| e).expect("session");
    let auth_url = session.get_authorization_url().to_owned();
    assert!(auth_url.starts_with(&server.emu.authority_host()), "straight to Entra: {auth_url}");
    assert!(auth_url.contains("resource="), "rmcp sends RFC 8707 resource: {auth_url}");
    let callback = HttpBrowser::new().sign_in(&auth_url, redirect).await;
    assert_eq!(param(&callback, "code"), None, "{callback}");
    assert_eq!(param(&callback, "error").as_deref(), Some("invalid_target"), "{callback}");
    assert!(
        param(&callback, "error_description").unwrap_or_default().starts_with("AADSTS9010010"),
        "{callback}"
    );
}

/// What direct mode serves: a client that got its token from Entra itself (here with VS Code's
/// client id, pre-authorized on the app) calls the tools with it.
#[tokio::test]
async fn clients_with_their_own_microsoft_sign_in_are_served() {
    let server = direct_server().await;
    let token = server.emu.token().scopes("access_as_user").client_id(VSCODE_CLIENT_ID).sign();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.mcp_url.as_str()).auth_header(token),
    );
    let client = ().serve(transport).await.expect("initialize with the token");
    let me = whoami(&client).await;
    assert_eq!(me["app_id"], VSCODE_CLIENT_ID, "{me}");
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    client.cancel().await.expect("close");
}
