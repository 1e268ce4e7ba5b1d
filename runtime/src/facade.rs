//! The authorize/token bridge to Entra ID, the server's own `/oauth/callback`, and `/oauth/config`.
//!
//! MCP clients must send RFC 8707 `resource` and may send bare scope names; Entra's v2 endpoints
//! refuse `resource` (AADSTS9010010) and need app scopes fully qualified (entra.md). The bridge
//! removes `resource`, qualifies scopes, and otherwise passes requests through: tokens are Entra's
//! own, never minted or altered here.
//!
//! **When the client secret is added** to a token request (and only then; it never appears in a
//! response):
//! - `authorization_code`: when the request's `redirect_uri` is enrolled on the `web` platform —
//!   as Graph reports it (read at most once a minute), or, when Graph cannot be read, when the
//!   configuration allows the URI and enrols `https` URIs on `web`. Loopback, custom-scheme and
//!   `spa` redirects never get it (Entra refuses a secret for them: AADSTS700025).
//! - `refresh_token`: when the refresh token came from a redemption the secret was added to (this
//!   process remembers the SHA-256 digests of the last 10,000 such refresh tokens, never the tokens),
//!   or when Entra answers a refresh without the secret with AADSTS7000218 ("a client secret is
//!   required": the token belongs to a confidential redemption, e.g. from before a restart) — then
//!   the request is sent once more with the secret.
//! - Any other grant type is refused (`unsupported_grant_type`): the secret can never be used
//!   through the bridge to obtain app-only tokens.

use std::collections::HashSet;
use std::sync::PoisonError;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use crate::discovery::{OPENID_SCOPES, entra_tenant_url};
use crate::endpoints::{AppState, OAuthError, Shared, body_or_error, json_response, no_store, oauth_error};
use crate::graph::RedirectPlatform;
use crate::register::allowed_by_config;
use crate::{AzureOAuthConfig, rules};

/// Entra's error code for "a client secret or assertion is required" on a token request.
const SECRET_REQUIRED: u64 = 7_000_218;

/// Rewrites a `scope` parameter for Entra: OpenID scopes kept, this app's qualified scopes kept
/// (`api://{app_id}/x`, `{app_id}/x`, or under a configured App ID URI), bare names qualified as
/// `api://{app_id}/{name}`, anything else refused with a message for `error_description`. Without
/// an app scope the API scope is added (and `offline_access` when no scope was given at all:
/// Copilot Studio sometimes omits `scope`).
///
/// ```text
/// "access_as_user offline_access"  →  "api://{app_id}/access_as_user offline_access"
/// (none)                           →  "api://{app_id}/access_as_user offline_access"
/// "https://graph.microsoft.com/User.Read"  →  error (not this API's scope)
/// ```
pub(crate) fn qualify_scopes(config: &AzureOAuthConfig, scope: Option<&str>) -> Result<String, String> {
    let given: Vec<&str> = scope.unwrap_or("").split_ascii_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut has_app_scope = false;
    for s in &given {
        let q = if OPENID_SCOPES.contains(s) {
            (*s).to_owned()
        } else if is_own_qualified(config, s) {
            has_app_scope = true;
            (*s).to_owned()
        } else if !s.contains('/') && !s.contains(':') && rules::scope_token(s).is_ok() {
            has_app_scope = true;
            format!("api://{}/{s}", config.app_id())
        } else {
            return Err(format!(
                "scope {s:?} is not a scope of this API: request {} (or its bare name {}), optionally with openid, profile, email and offline_access",
                config.qualified_scope(),
                config.api_scope()
            ));
        };
        if !out.contains(&q) {
            out.push(q);
        }
    }
    if !has_app_scope {
        out.insert(0, config.qualified_scope());
        if given.is_empty() {
            out.push("offline_access".to_owned());
        }
    }
    Ok(out.join(" "))
}

/// `api://{app_id}/x`, `{app_id}/x` or `{app id uri}/x` with a single-segment `x`.
fn is_own_qualified(config: &AzureOAuthConfig, s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let app = config.app_id();
    let mut prefixes = vec![format!("api://{app}/"), format!("{app}/")];
    prefixes.extend(config.app_id_uris().iter().map(|u| format!("{}/", u.to_ascii_lowercase())));
    prefixes
        .iter()
        .any(|p| lower.strip_prefix(p.as_str()).is_some_and(|rest| !rest.is_empty() && !rest.contains('/')))
}

/// Query or form pairs; a parameter given twice is an error (RFC 6749 §3.1, §3.2).
fn parse_pairs(raw: &str) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|e| format!("the parameters could not be decoded: {e}"))?;
    let mut seen = HashSet::new();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(format!("the parameter {k:?} is given more than once"));
    }
    Ok(pairs)
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn set(pairs: &mut Vec<(String, String)>, key: &str, value: String) {
    pairs.retain(|(k, _)| k != key);
    pairs.push((key.to_owned(), value));
}

/// Whether the redirect URI may be used with this app: allowed by the configuration, or enrolled
/// on the app registration (as Graph reports it).
async fn redirect_known(state: &Shared, uri: &str) -> bool {
    if allowed_by_config(&state.config, uri) {
        return true;
    }
    match state.graph.redirect_uris().await {
        Ok(uris) => uris.platform_of(uri).is_some(),
        Err(_) => false,
    }
}

/// Redirects to the client's (validated) redirect URI with an OAuth error (RFC 6749 §4.1.2.1).
fn redirect_error(redirect_uri: &str, state: Option<&str>, error: &str, description: &str) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return oauth_error(StatusCode::BAD_REQUEST, error, description);
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error).append_pair("error_description", description);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    found(url.as_str())
}

/// 302 to `location`, not cached.
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
            no_store(&mut response);
            response
        }
        Err(_) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "the redirect URL is not a valid header")
        }
    }
}

/// `GET /authorize`: validates the request and redirects (302) to Entra's v2 authorize endpoint
/// without `resource` and with scopes qualified. An unknown or missing `redirect_uri` or
/// `client_id` is answered with a 400 JSON error, never a redirect.
pub(crate) async fn authorize(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let bad = |description: String| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description);
    let mut pairs = match parse_pairs(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    let Some(redirect_uri) = get(&pairs, "redirect_uri").map(str::to_owned) else {
        return bad("redirect_uri is required".into());
    };
    if let Err(rule) = rules::redirect_uri(&redirect_uri) {
        return bad(format!("redirect_uri {redirect_uri:?} would be refused by Entra ID: {rule}"));
    }
    if !redirect_known(&state, &redirect_uri).await {
        return bad(format!(
            "redirect_uri {redirect_uri:?} is not registered for this app: register the client first (POST /register), or ask the operator to allow it (ALLOWED_REDIRECT_URIS)"
        ));
    }
    match get(&pairs, "client_id") {
        None => return bad("client_id is required: use the client_id POST /register returned".into()),
        Some(id) if !id.eq_ignore_ascii_case(state.config.app_id()) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                format!(
                    "client_id {id:?} is not this server's client: use the client_id POST /register returned"
                ),
            );
        }
        Some(_) => {}
    }
    let client_state = get(&pairs, "state").map(str::to_owned);
    let fail = |error: &str, description: &str| {
        redirect_error(&redirect_uri, client_state.as_deref(), error, description)
    };
    if get(&pairs, "response_type") != Some("code") {
        return fail("unsupported_response_type", "only response_type=code is supported");
    }
    match (get(&pairs, "code_challenge"), get(&pairs, "code_challenge_method")) {
        (_, Some(m)) if m != "S256" => {
            return fail("invalid_request", "only code_challenge_method=S256 is supported");
        }
        (None, Some(_)) => {
            return fail("invalid_request", "code_challenge_method was given without code_challenge");
        }
        _ => {}
    }
    let scope = match qualify_scopes(&state.config, get(&pairs, "scope")) {
        Ok(s) => s,
        Err(e) => return fail("invalid_scope", &e),
    };
    pairs.retain(|(k, _)| k != "resource");
    set(&mut pairs, "scope", scope);
    set(&mut pairs, "client_id", state.config.app_id().to_owned());
    let Ok(mut target) =
        url::Url::parse(&format!("{}/oauth2/v2.0/authorize", entra_tenant_url(&state.config)))
    else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the authority URL is not valid",
        );
    };
    target.query_pairs_mut().extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    tracing::debug!(redirect_uri = %redirect_uri, "authorize request bridged to Entra ID");
    found(target.as_str())
}

/// Whether the code for this redirect URI is redeemed confidentially (the `web` platform).
async fn web_redirect(state: &Shared, uri: &str) -> bool {
    if state.config.client_secret().is_none() || rules::redirect_uri(uri).is_err() {
        return false;
    }
    match state.graph.redirect_uris().await {
        Ok(uris) if uris.platform_of(uri).is_some() => uris.platform_of(uri) == Some(RedirectPlatform::Web),
        _ => {
            allowed_by_config(&state.config, uri)
                && RedirectPlatform::for_uri(&state.config, uri) == RedirectPlatform::Web
        }
    }
}

/// What Entra answered.
struct EntraAnswer {
    status: StatusCode,
    body: Bytes,
    json: Value,
}

impl EntraAnswer {
    fn needs_secret(&self) -> bool {
        self.json
            .get("error_codes")
            .and_then(Value::as_array)
            .is_some_and(|codes| codes.iter().any(|c| c.as_u64() == Some(SECRET_REQUIRED)))
    }
}

async fn forward(
    state: &Shared,
    pairs: &[(String, String)],
    origin: Option<&HeaderValue>,
) -> Result<EntraAnswer, OAuthError> {
    let url = format!("{}/oauth2/v2.0/token", entra_tenant_url(&state.config));
    let mut request = state.http.post(&url).form(pairs);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin.clone());
    }
    let unavailable = |what: String| OAuthError::new(StatusCode::BAD_GATEWAY, "server_error", what);
    let response = request
        .send()
        .await
        .map_err(|e| unavailable(format!("Entra ID's token endpoint could not be reached: {e}")))?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = response
        .bytes()
        .await
        .map_err(|e| unavailable(format!("Entra ID's token endpoint answer could not be read: {e}")))?;
    let json = serde_json::from_slice::<Value>(&body).ok().filter(Value::is_object).ok_or_else(|| {
        unavailable(format!(
            "Entra ID's token endpoint answered HTTP {} without a JSON object",
            status.as_u16()
        ))
    })?;
    Ok(EntraAnswer { status, body, json })
}

/// `POST /token`: forwards `authorization_code` and `refresh_token` grants to Entra's v2 token
/// endpoint without `resource`, with scopes qualified and the secret added only as the module
/// documentation says; answers with Entra's status and JSON body unchanged, `Cache-Control: no-store`.
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body_or_error(body, "invalid_request") {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let bad = |error: &str, description: String| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return bad("invalid_request", "the body must be application/x-www-form-urlencoded".into());
    }
    let Ok(raw) = std::str::from_utf8(&body) else {
        return bad("invalid_request", "the body is not UTF-8".into());
    };
    let mut pairs = match parse_pairs(raw) {
        Ok(p) => p,
        Err(e) => return bad("invalid_request", e),
    };
    let grant = get(&pairs, "grant_type").map(str::to_owned);
    match grant.as_deref() {
        Some("authorization_code" | "refresh_token") => {}
        Some(other) => {
            return bad(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported: use authorization_code or refresh_token"),
            );
        }
        None => return bad("invalid_request", "grant_type is required".into()),
    }
    match get(&pairs, "client_id") {
        Some(id) if !id.eq_ignore_ascii_case(state.config.app_id()) => {
            return bad(
                "invalid_client",
                format!(
                    "client_id {id:?} is not this server's client: use the client_id POST /register returned"
                ),
            );
        }
        _ => set(&mut pairs, "client_id", state.config.app_id().to_owned()),
    }
    let scope = match qualify_scopes(&state.config, get(&pairs, "scope")) {
        Ok(s) => s,
        Err(e) => return bad("invalid_scope", e),
    };
    // The client's own credentials are never passed on: the bridge decides about the secret.
    pairs.retain(|(k, _)| {
        !matches!(k.as_str(), "resource" | "client_secret" | "client_assertion" | "client_assertion_type")
    });
    set(&mut pairs, "scope", scope);

    let refresh = get(&pairs, "refresh_token").map(str::to_owned);
    let with_secret = match grant.as_deref() {
        Some("authorization_code") => match get(&pairs, "redirect_uri") {
            Some(uri) => web_redirect(&state, uri).await,
            None => false,
        },
        _ => refresh.as_deref().is_some_and(|r| {
            state.web_refresh_tokens.lock().unwrap_or_else(PoisonError::into_inner).contains(r)
        }),
    };
    let secret = state.config.client_secret();
    let mut request = pairs.clone();
    if with_secret && let Some(secret) = secret {
        request.push(("client_secret".into(), secret.expose().to_owned()));
    }
    let origin = headers.get(header::ORIGIN);
    let mut answer = match forward(&state, &request, origin).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let mut secret_sent = with_secret && secret.is_some();
    if !secret_sent
        && grant.as_deref() == Some("refresh_token")
        && answer.needs_secret()
        && let Some(secret) = secret
    {
        let mut retry = pairs;
        retry.push(("client_secret".into(), secret.expose().to_owned()));
        answer = match forward(&state, &retry, origin).await {
            Ok(a) => a,
            Err(e) => return e.into_response(),
        };
        secret_sent = true;
    }
    if secret_sent
        && answer.status.is_success()
        && let Some(new_refresh) = answer.json.get("refresh_token").and_then(Value::as_str)
    {
        state.web_refresh_tokens.lock().unwrap_or_else(PoisonError::into_inner).insert(new_refresh);
    }
    tracing::debug!(
        grant_type = grant.as_deref().unwrap_or(""),
        status = answer.status.as_u16(),
        confidential = secret_sent,
        "token request bridged to Entra ID"
    );
    let mut response =
        (answer.status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], answer.body)
            .into_response();
    no_store(&mut response);
    response
}

/// `GET /oauth/callback`: the server's own redirect URI. Echoes `code` and `state` (or `error`
/// and `error_description`) as JSON, not cached; the code is never logged.
pub(crate) async fn callback(RawQuery(query): RawQuery) -> Response {
    let pairs = match parse_pairs(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", e),
    };
    if let Some(error) = get(&pairs, "error") {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({
                "error": error,
                "error_description": get(&pairs, "error_description"),
                "state": get(&pairs, "state"),
                "status": "error",
            }),
        );
    }
    json_response(
        StatusCode::OK,
        &json!({ "code": get(&pairs, "code"), "state": get(&pairs, "state"), "status": "success" }),
    )
}

/// `GET /oauth/config`: what a browser client needs to configure MSAL.
pub(crate) async fn oauth_config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = &state.config;
    let base = crate::base::public_base_url(config, &headers);
    json_response(
        StatusCode::OK,
        &json!({
            "client_id": config.app_id(),
            "tenant_id": config.authority_tenant(),
            "authority": entra_tenant_url(config),
            "scopes": crate::discovery::app_scopes(config),
            "redirect_uri": format!("{base}{}", config.callback_path()),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "11111111-2222-3333-4444-555555555555";

    fn config() -> AzureOAuthConfig {
        AzureOAuthConfig::builder()
            .app_id(APP)
            .tenant_id(APP)
            .app_id_uris(["api://my-api"])
            .build()
            .expect("valid test configuration")
    }

    #[test]
    fn scopes_are_qualified_and_foreign_ones_refused() {
        let c = config();
        let q = |s: Option<&str>| qualify_scopes(&c, s);
        let api = format!("api://{APP}/access_as_user");
        assert_eq!(q(Some("access_as_user")), Ok(api.clone()));
        assert_eq!(
            q(Some("access_as_user offline_access openid")),
            Ok(format!("{api} offline_access openid"))
        );
        assert_eq!(q(Some(&format!("{api} {api}"))), Ok(api.clone()));
        assert_eq!(q(None), Ok(format!("{api} offline_access")));
        assert_eq!(q(Some("")), Ok(format!("{api} offline_access")));
        assert_eq!(q(Some("openid profile")), Ok(format!("{api} openid profile")));
        assert_eq!(q(Some(&format!("{APP}/.default"))), Ok(format!("{APP}/.default")));
        assert_eq!(q(Some(".default")), Ok(format!("api://{APP}/.default")));
        assert_eq!(q(Some("api://my-api/read")), Ok("api://my-api/read".into()));
        assert_eq!(q(Some("read")), Ok(format!("api://{APP}/read")));
        for foreign in [
            "https://graph.microsoft.com/User.Read",
            "api://99999999-2222-3333-4444-555555555555/access_as_user",
            &format!("api://{APP}/a/b"),
            "urn:x",
        ] {
            let e = q(Some(foreign)).expect_err(foreign);
            assert!(e.contains(&api), "{e}");
        }
    }

    #[test]
    fn duplicate_parameters_are_refused() {
        assert!(parse_pairs("a=1&b=2").is_ok());
        assert!(parse_pairs("a=1&a=2").expect_err("duplicate").contains("\"a\""));
    }
}
