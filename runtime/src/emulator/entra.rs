//! The login authority: tenants, OpenID metadata (v1 and v2), JWKS, and Entra's error format.
//! The authorize and token endpoints are in `oauth.rs`.

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::faults::Endpoint;
use super::keys::SigningKey;
use super::server::Req;
use super::{CONSUMERS_TENANT, State, new_guid, oauth, time};

/// A tenant segment of a login path, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TenantRef {
    /// A tenant the emulator knows, by GUID.
    Id(String),
    /// `common`: any work/school tenant or personal accounts.
    Common,
    /// `organizations`: any work/school tenant.
    Organizations,
    /// `consumers`: personal Microsoft accounts.
    Consumers,
}

impl TenantRef {
    /// The segment to put in endpoint URLs.
    pub(crate) fn segment(&self) -> &str {
        match self {
            TenantRef::Id(t) => t,
            TenantRef::Common => "common",
            TenantRef::Organizations => "organizations",
            TenantRef::Consumers => "consumers",
        }
    }

    /// The tenant id in issuers: a GUID, or the `{tenantid}` template for multi-tenant aliases.
    pub(crate) fn issuer_tenant(&self) -> &str {
        match self {
            TenantRef::Id(t) => t,
            TenantRef::Consumers => CONSUMERS_TENANT,
            TenantRef::Common | TenantRef::Organizations => "{tenantid}",
        }
    }
}

/// Why a tenant segment was refused: `(error, AADSTS code, message)`.
pub(crate) type TenantError = (&'static str, u32, String);

/// Resolves a tenant segment as Entra does: `common`/`organizations`/`consumers`, or a known
/// tenant GUID; anything else is refused (`AADSTS90002` unknown tenant, `AADSTS900023` not a
/// tenant identifier at all).
pub(crate) fn resolve_tenant(state: &State, segment: &str) -> Result<TenantRef, TenantError> {
    let lower = segment.to_ascii_lowercase();
    match lower.as_str() {
        "common" => return Ok(TenantRef::Common),
        "organizations" => return Ok(TenantRef::Organizations),
        "consumers" => return Ok(TenantRef::Consumers),
        _ => {}
    }
    let not_found = || {
        (
            "invalid_tenant",
            90_002,
            format!(
                "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    };
    if crate::rules::guid(&lower).is_ok() {
        if lower == CONSUMERS_TENANT || state.lock().tenants.contains_key(&lower) {
            return Ok(TenantRef::Id(lower));
        }
        return Err(not_found());
    }
    let dns_like = !lower.is_empty()
        && lower.contains('.')
        && lower.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if dns_like {
        return Err(not_found());
    }
    Err((
        "invalid_request",
        900_023,
        format!(
            "Specified tenant identifier '{segment}' is neither a valid DNS name, nor a valid external domain."
        ),
    ))
}

/// Entra's JSON error: `{error, error_description: "AADSTS…: … Trace ID: … Correlation ID: …
/// Timestamp: …", error_codes, timestamp, trace_id, correlation_id, error_uri}`.
pub(crate) fn error(state: &State, status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store, no-cache")], Json(error_body(state, error, code, message)))
        .into_response()
}

/// The body of [`error`], also used for error redirects (`error`, `error_description`).
pub(crate) fn error_body(state: &State, error: &str, code: u32, message: &str) -> Value {
    let trace = new_guid();
    let correlation = new_guid();
    let timestamp = time::entra_timestamp();
    json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("{}/error?code={code}", state.authority),
    })
}

/// Dispatches a login request.
pub(crate) fn handle(state: &Arc<State>, req: &Req) -> Response {
    let tenant_segment = req.tenant.clone().unwrap_or_default();
    match req.endpoint {
        Endpoint::OpenIdConfigurationV2
        | Endpoint::OpenIdConfigurationV1
        | Endpoint::JwksV2
        | Endpoint::JwksV1 => {
            if req.method != Method::GET && req.method != Method::HEAD {
                return method_not_allowed(state);
            }
            let tenant = match resolve_tenant(state, &tenant_segment) {
                Ok(t) => t,
                Err((e, code, message)) => return error(state, StatusCode::BAD_REQUEST, e, code, &message),
            };
            let appid = req.query("appid").map(str::to_ascii_lowercase);
            match req.endpoint {
                Endpoint::OpenIdConfigurationV2 => metadata_v2(state, &tenant, appid.as_deref()),
                Endpoint::OpenIdConfigurationV1 => metadata_v1(state, &tenant, appid.as_deref()),
                Endpoint::JwksV2 => jwks(state, &tenant, appid.as_deref(), true),
                _ => jwks(state, &tenant, appid.as_deref(), false),
            }
        }
        // The browser sees Entra's error page; a token client its JSON error.
        Endpoint::Authorize => match resolve_tenant(state, &tenant_segment) {
            Ok(tenant) => oauth::authorize(state, req, &tenant),
            Err((_, code, message)) => oauth::error_page(state, code, &message),
        },
        Endpoint::Token => match resolve_tenant(state, &tenant_segment) {
            Ok(tenant) => oauth::token(state, req, &tenant),
            Err((e, code, message)) => error(state, StatusCode::BAD_REQUEST, e, code, &message),
        },
        _ => error(
            state,
            StatusCode::NOT_FOUND,
            "invalid_request",
            90_010,
            &format!("The request path {} is not served by this authority.", req.path),
        ),
    }
}

fn method_not_allowed(state: &State) -> Response {
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
