//! OpenID Connect discovery: the v1 and v2 metadata documents and the JWKS of each tenant.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use super::errors::error;
use super::faults::Endpoint;
use super::keys::SigningKey;
use super::request::Req;
use super::state::State;
use super::tenant::TenantRef;

/// Serves a metadata document or a JWKS of `tenant` (`req.endpoint` says which), honouring
/// `?appid=` (apps with custom signing keys).
pub(crate) fn serve(state: &State, req: &Req, tenant: &TenantRef) -> Response {
    let appid = req.query("appid").map(str::to_ascii_lowercase);
    match req.endpoint {
        Endpoint::OpenIdConfigurationV2 => metadata_v2(state, tenant, appid.as_deref()),
        Endpoint::OpenIdConfigurationV1 => metadata_v1(state, tenant, appid.as_deref()),
        Endpoint::JwksV2 => jwks(state, tenant, appid.as_deref(), true),
        _ => jwks(state, tenant, appid.as_deref(), false),
    }
}

/// Discovery documents are fetched with `GET` (or `HEAD`); anything else is refused.
pub(crate) fn method_not_allowed(state: &State) -> Response {
    error(
        state,
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        90_056,
        "The HTTP method is not supported on this endpoint; use GET.",
    )
}

fn appid_suffix(appid: Option<&str>) -> String {
    appid.map(|a| format!("?appid={a}")).unwrap_or_default()
}

fn host_of(url: &str) -> &str {
    url.split_once("://").map_or(url, |(_, rest)| rest)
}

fn metadata_v2(state: &State, tenant: &TenantRef, appid: Option<&str>) -> Response {
    let a = &state.authority;
    let t = tenant.segment();
    let doc = json!({
        "token_endpoint": format!("{a}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{a}/{t}/discovery/v2.0/keys{}", appid_suffix(appid)),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": state.v2_issuer(tenant.issuer_tenant()),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{}/oidc/userinfo", state.graph),
        "authorization_endpoint": format!("{a}/{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{a}/{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{a}/{t}/oauth2/v2.0/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username",
            "name", "tid", "ver", "at_hash", "c_hash", "email"
        ],
        "kerberos_endpoint": format!("{a}/{t}/kerberos"),
        "tenant_region_scope": if matches!(tenant, TenantRef::Id(_)) { json!("EU") } else { Value::Null },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host_of(&state.graph),
        "rbac_url": "https://pas.windows.net",
    });
    Json(doc).into_response()
}

fn metadata_v1(state: &State, tenant: &TenantRef, appid: Option<&str>) -> Response {
    let a = &state.authority;
    let t = tenant.segment();
    let doc = json!({
        "token_endpoint": format!("{a}/{t}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{a}/{t}/discovery/keys{}", appid_suffix(appid)),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": state.v1_issuer(tenant.issuer_tenant()),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{a}/{t}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{a}/{t}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{a}/{t}/oauth2/logout"),
        "claims_supported": [
            "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email",
            "given_name", "family_name", "nickname"
        ],
        "check_session_iframe": format!("{a}/{t}/oauth2/checksession"),
        "userinfo_endpoint": format!("{a}/{t}/openid/userinfo"),
        "kerberos_endpoint": format!("{a}/{t}/kerberos"),
        "tenant_region_scope": if matches!(tenant, TenantRef::Id(_)) { json!("EU") } else { Value::Null },
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": host_of(&state.graph),
        "rbac_url": "https://pas.windows.net",
    });
    Json(doc).into_response()
}

fn jwk(key: &SigningKey, issuer: Option<String>) -> Value {
    let mut k = json!({
        "kty": "RSA",
        "use": "sig",
        "kid": key.kid,
        "x5t": key.x5t,
        "n": key.n,
        "e": key.e,
        "x5c": [key.x5c],
    });
    if let (Some(issuer), Some(obj)) = (issuer, k.as_object_mut()) {
        obj.insert("cloud_instance_name".into(), json!("microsoftonline.com"));
        obj.insert("issuer".into(), json!(issuer));
    }
    k
}

/// The JWKS of a tenant: the app's custom keys first (only with `?appid=` of the app), then the
/// tenant's own keys (if any), then the shared keys.
fn jwks(state: &State, tenant: &TenantRef, appid: Option<&str>, v2: bool) -> Response {
    let template = state.v2_issuer("{tenantid}");
    let m = state.lock();
    let mut keys = Vec::new();
    if appid == Some(state.app.app_id.as_str())
        && let Some(app) = &m.app_keys
    {
        keys.extend(app.listed.iter().map(|k| jwk(k, v2.then(|| template.clone()))));
    }
    if let TenantRef::Id(tid) = tenant
        && let Some(Some(own)) = m.tenants.get(tid)
    {
        keys.extend(own.listed.iter().map(|k| jwk(k, v2.then(|| state.v2_issuer(tid)))));
    }
    keys.extend(m.shared.listed.iter().map(|k| jwk(k, v2.then(|| template.clone()))));
    Json(json!({ "keys": keys })).into_response()
}
