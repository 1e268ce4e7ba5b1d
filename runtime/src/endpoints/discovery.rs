//! RFC 9728 protected resource metadata, RFC 8414 authorization server metadata and the OpenID
//! discovery document, as MCP clients look for them
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization>).
//!
//! In [`Mode::Broker`] and [`Mode::Enrol`] this server is the issuer clients see:
//! `authorization_servers` is `[{base}]` and the metadata's `issuer` is the same string, with the
//! server's own `/authorize`, `/token` and `/register`. The broker also advertises what it alone
//! does: `iss` on its authorization responses (RFC 9207 §3) and Client ID Metadata Documents. In
//! [`Mode::Direct`] both point at Entra's v2 endpoints (the Python original's behaviour) but keep
//! `registration_endpoint` and `S256` so clients that insist on them still work.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::scope::OPENID_SCOPES;
use super::state::EndpointState;
use crate::config::{AzureOAuthConfig, Mode};
use crate::oauth_error::json_response;

/// The RFC 9728 document for the resource `{base}{resource_path}`.
fn protected_resource_document(config: &AzureOAuthConfig, base: &str) -> Value {
    json!({
        "resource": format!("{base}{}", config.resource_path()),
        "authorization_servers": [config.issuer(base)],
        "scopes_supported": config.scopes_supported(),
        "bearer_methods_supported": ["header"],
    })
}

/// The RFC 8414 document, or with `openid` the OpenID discovery document (which adds `jwks_uri`,
/// `subject_types_supported` and `id_token_signing_alg_values_supported`).
fn authorization_server_document(config: &AzureOAuthConfig, base: &str, openid: bool) -> Value {
    let (authorize, token) = match config.mode() {
        Mode::Broker | Mode::Enrol => (format!("{base}/authorize"), format!("{base}/token")),
        Mode::Direct => {
            let entra = config.authority_url();
            (format!("{entra}/oauth2/v2.0/authorize"), format!("{entra}/oauth2/v2.0/token"))
        }
    };
    let mut scopes = config.scopes_supported();
    scopes.extend(OPENID_SCOPES.iter().map(|s| (*s).to_owned()));
    let mut doc = json!({
        "issuer": config.issuer(base),
        "authorization_endpoint": authorize,
        "token_endpoint": token,
        "registration_endpoint": format!("{base}/register"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
    });
    if config.mode() == Mode::Broker
        && let Value::Object(map) = &mut doc
    {
        map.insert("authorization_response_iss_parameter_supported".into(), json!(true));
        map.insert("client_id_metadata_document_supported".into(), json!(true));
    }
    if openid && let Value::Object(map) = &mut doc {
        map.insert("jwks_uri".into(), json!(format!("{}/discovery/v2.0/keys", config.authority_url())));
        map.insert("subject_types_supported".into(), json!(["pairwise"]));
        map.insert("id_token_signing_alg_values_supported".into(), json!(["RS256"]));
    }
    doc
}

/// `GET /.well-known/oauth-protected-resource[{resource_path}]`.
pub(crate) async fn protected_resource(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
) -> Response {
    let base = state.config.public_base_url(&headers);
    json_response(StatusCode::OK, &protected_resource_document(&state.config, &base))
}

/// `GET /.well-known/oauth-authorization-server[{resource_path}]`.
pub(crate) async fn authorization_server(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
) -> Response {
    let base = state.config.public_base_url(&headers);
    json_response(StatusCode::OK, &authorization_server_document(&state.config, &base, false))
}

/// `GET /.well-known/openid-configuration` and its path variants.
pub(crate) async fn openid_configuration(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
) -> Response {
    let base = state.config.public_base_url(&headers);
    json_response(StatusCode::OK, &authorization_server_document(&state.config, &base, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::{APP, TENANT};

    fn config(mode: Mode) -> AzureOAuthConfig {
        crate::fixtures::build(
            crate::fixtures::builder()
                .base_url("https://mcp.example.com")
                .required_scopes(["access_as_user", "read"])
                .mode(mode),
        )
    }

    #[test]
    fn bridge_issuer_is_the_authorization_server_clients_start_from() {
        let c = config(Mode::Enrol);
        let prm = protected_resource_document(&c, "https://mcp.example.com");
        let asm = authorization_server_document(&c, "https://mcp.example.com", false);
        assert_eq!(prm["authorization_servers"][0], asm["issuer"]);
        assert_eq!(asm["issuer"], "https://mcp.example.com");
        assert_eq!(prm["resource"], "https://mcp.example.com/mcp");
        assert_eq!(
            prm["scopes_supported"],
            json!([format!("api://{APP}/access_as_user"), format!("api://{APP}/read")])
        );
        assert!(asm.get("jwks_uri").is_none());
        assert!(
            asm.get("authorization_response_iss_parameter_supported").is_none(),
            "Entra adds no iss in enrol mode"
        );
    }

    #[test]
    fn metadata_lists_the_tool_policys_scopes_once_and_challenges_keep_the_route_scope() {
        use crate::config::{ToolPolicy, ToolRequirement};
        let policy = ToolPolicy::new()
            .tool("delete", ToolRequirement::new().all_scopes(["Files.ReadWrite", "read"]))
            .tool("search", ToolRequirement::new().any_scope(["Files.Read"]).any_role(["Files.Admin"]));
        let c = crate::fixtures::build(
            crate::fixtures::builder()
                .base_url("https://mcp.example.com")
                .required_scopes(["access_as_user", "read"])
                .mode(Mode::Direct)
                .tool_policy(policy),
        );
        let prm = protected_resource_document(&c, "https://mcp.example.com");
        let q = |s: &str| format!("api://{APP}/{s}");
        let expected = json!([q("access_as_user"), q("read"), q("Files.ReadWrite"), q("Files.Read")]);
        assert_eq!(prm["scopes_supported"], expected);
        let asm = authorization_server_document(&c, "https://mcp.example.com", false);
        assert_eq!(asm["scopes_supported"][3], q("Files.Read"));
        assert_eq!(
            c.app_scopes(),
            [q("access_as_user"), q("read")],
            "registration and /oauth/config stay as they were"
        );
    }

    #[test]
    fn the_broker_advertises_iss_and_client_metadata_documents() {
        let asm = authorization_server_document(&config(Mode::Broker), "https://mcp.example.com", false);
        assert_eq!(asm["issuer"], "https://mcp.example.com");
        assert_eq!(asm["authorization_response_iss_parameter_supported"], true);
        assert_eq!(asm["client_id_metadata_document_supported"], true);
        assert_eq!(asm["token_endpoint_auth_methods_supported"], json!(["none"]));
    }

    #[test]
    fn direct_mode_points_at_entra_but_keeps_registration_and_pkce() {
        let c = config(Mode::Direct);
        let asm = authorization_server_document(&c, "https://mcp.example.com", true);
        let entra = format!("https://login.microsoftonline.com/{TENANT}");
        assert_eq!(asm["issuer"], format!("{entra}/v2.0"));
        assert_eq!(asm["authorization_endpoint"], format!("{entra}/oauth2/v2.0/authorize"));
        assert_eq!(asm["token_endpoint"], format!("{entra}/oauth2/v2.0/token"));
        assert_eq!(asm["registration_endpoint"], "https://mcp.example.com/register");
        assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(asm["jwks_uri"], format!("{entra}/discovery/v2.0/keys"));
        let prm = protected_resource_document(&c, "https://mcp.example.com");
        assert_eq!(prm["authorization_servers"], json!([format!("{entra}/v2.0")]));
    }
}
