//! RFC 9728 protected resource metadata, RFC 8414 authorization server metadata and the OpenID
//! discovery document (mcp-auth.md, "Protected resource metadata" and "Authorization server
//! metadata discovery").
//!
//! In [`Mode::Bridge`] this server is the issuer clients see: `authorization_servers` is
//! `[{base}]` and the metadata's `issuer` is the same string, with the server's own `/authorize`,
//! `/token` and `/register`. In [`Mode::Direct`] both point at Entra's v2 endpoints (the Python
//! original's behaviour) but keep `registration_endpoint` and `S256` so clients that insist on
//! them still work.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::endpoints::{AppState, json_response};
use crate::{AzureOAuthConfig, Mode};

/// The OpenID scopes the bridge passes through to Entra unchanged.
pub(crate) const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The issuer clients are told about: `{base}` (bridge) or Entra's `{authority}/{tenant}/v2.0`.
pub(crate) fn issuer(config: &AzureOAuthConfig, base: &str) -> String {
    match config.mode() {
        Mode::Bridge => base.to_owned(),
        Mode::Direct => format!("{}/v2.0", entra_tenant_url(config)),
    }
}

/// `{authority}/{authority_tenant}`.
pub(crate) fn entra_tenant_url(config: &AzureOAuthConfig) -> String {
    format!("{}/{}", config.authority_host(), config.authority_tenant())
}

/// The app's delegated scopes, fully qualified: the API scope and the required scopes.
pub(crate) fn app_scopes(config: &AzureOAuthConfig) -> Vec<String> {
    let mut scopes = vec![config.qualified_scope()];
    for s in config.required_scopes() {
        let q = format!("api://{}/{s}", config.app_id());
        if !scopes.contains(&q) {
            scopes.push(q);
        }
    }
    scopes
}

/// The RFC 9728 document for the resource `{base}{resource_path}`.
pub(crate) fn protected_resource_document(config: &AzureOAuthConfig, base: &str) -> Value {
    json!({
        "resource": format!("{base}{}", config.resource_path()),
        "authorization_servers": [issuer(config, base)],
        "scopes_supported": app_scopes(config),
        "bearer_methods_supported": ["header"],
    })
}

/// The RFC 8414 document, or with `openid` the OpenID discovery document (which adds `jwks_uri`,
/// `subject_types_supported` and `id_token_signing_alg_values_supported`).
pub(crate) fn authorization_server_document(config: &AzureOAuthConfig, base: &str, openid: bool) -> Value {
    let (authorize, token) = match config.mode() {
        Mode::Bridge => (format!("{base}/authorize"), format!("{base}/token")),
        Mode::Direct => {
            let entra = entra_tenant_url(config);
            (format!("{entra}/oauth2/v2.0/authorize"), format!("{entra}/oauth2/v2.0/token"))
        }
    };
    let mut scopes = app_scopes(config);
    scopes.extend(OPENID_SCOPES.iter().map(|s| (*s).to_owned()));
    let mut doc = json!({
        "issuer": issuer(config, base),
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
    if openid && let Value::Object(map) = &mut doc {
        map.insert("jwks_uri".into(), json!(format!("{}/discovery/v2.0/keys", entra_tenant_url(config))));
        map.insert("subject_types_supported".into(), json!(["pairwise"]));
        map.insert("id_token_signing_alg_values_supported".into(), json!(["RS256"]));
    }
    doc
}

/// `GET /.well-known/oauth-protected-resource[{resource_path}]`.
pub(crate) async fn protected_resource(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = crate::base::public_base_url(&state.config, &headers);
    json_response(StatusCode::OK, &protected_resource_document(&state.config, &base))
}

/// `GET /.well-known/oauth-authorization-server[{resource_path}]`.
pub(crate) async fn authorization_server(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = crate::base::public_base_url(&state.config, &headers);
    json_response(StatusCode::OK, &authorization_server_document(&state.config, &base, false))
}

/// `GET /.well-known/openid-configuration` and its path variants.
pub(crate) async fn openid_configuration(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = crate::base::public_base_url(&state.config, &headers);
    json_response(StatusCode::OK, &authorization_server_document(&state.config, &base, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "11111111-2222-3333-4444-555555555555";
    const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

    fn config(mode: Mode) -> AzureOAuthConfig {
        AzureOAuthConfig::builder()
            .app_id(APP)
            .tenant_id(TENANT)
            .base_url("https://mcp.example.com")
            .required_scopes(["access_as_user", "read"])
            .mode(mode)
            .build()
            .expect("valid test configuration")
    }

    #[test]
    fn bridge_issuer_is_the_authorization_server_clients_start_from() {
        let c = config(Mode::Bridge);
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
