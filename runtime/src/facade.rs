//! The authorize/token bridge to Entra ID, the server's own `/oauth/callback`, and `/oauth/config`.
//!
//! MCP clients must send RFC 8707 `resource` and may send bare scope names; Entra's v2 endpoints
//! refuse `resource` (AADSTS9010010) and need app scopes fully qualified (entra.md). The bridge
//! removes `resource`, qualifies scopes, and otherwise passes requests through: tokens are Entra's
//! own, never minted or altered here.
//!
//! **How a token request is sent**, by the platform of its redirect URI (entra.md: `web` needs the
//! secret and refuses `Origin`, `spa` needs `Origin` and refuses a secret, `publicClient` refuses
//! both). The client secret is only ever sent to Entra, never in a response.
//! - `authorization_code`: the platform of the request's `redirect_uri` as Graph reports it (read
//!   at most once a minute), or, when Graph does not list it, the platform this server enrols an
//!   allowed URI on. `web` → with the secret, without `Origin`; `spa` → with the browser's
//!   `Origin`; `publicClient` or unknown → neither.
//! - `refresh_token`: the platform of the redemption the refresh token came from (this process
//!   remembers the SHA-256 digests of the last 10,000 `web`/`spa` refresh tokens, never the
//!   tokens). An unknown refresh token (e.g. issued before a restart) is sent with neither; if
//!   Entra answers AADSTS7000218 ("client_secret required": it is a `web` token) or AADSTS9002327
//!   (`spa` needs `Origin`, and the client sent one), it is sent once more as that platform needs.
//! - Any other grant type is refused (`unsupported_grant_type`): the secret can never be used
//!   through the bridge to obtain app-only tokens.

use std::collections::{HashMap, HashSet, VecDeque};
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
/// Entra's error code for "`spa` tokens may only be redeemed via cross-origin requests".
const SPA_NEEDS_ORIGIN: u64 = 9_002_327;

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

/// Checks PKCE parameters of an authorization request (RFC 7636 §4.2, §4.3): a
/// `code_challenge` of 43 to 128 unreserved characters with `code_challenge_method=S256` —
/// required unless [`AzureOAuthConfig::require_pkce`] is off. A method other than `S256`, a method
/// without a challenge, and a challenge without a method (Entra would take it as `plain`, which
/// this server does not advertise) are refused either way.
fn check_pkce(
    config: &AzureOAuthConfig,
    challenge: Option<&str>,
    method: Option<&str>,
) -> Result<(), &'static str> {
    match (challenge, method) {
        (None, None) if config.require_pkce() => Err(
            "PKCE is required: send code_challenge (the S256 hash of a code_verifier, RFC 7636) with code_challenge_method=S256",
        ),
        (None, None) => Ok(()),
        (_, Some(m)) if m != "S256" => Err("only code_challenge_method=S256 is supported"),
        (None, Some(_)) => Err("code_challenge_method was given without code_challenge"),
        (Some(_), None) => Err(
            "code_challenge_method=S256 is required with code_challenge (without it Entra ID would take the challenge as plain)",
        ),
        (Some(c), Some(_)) if is_pkce_string(c) => Ok(()),
        (Some(_), Some(_)) => {
            Err("code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)")
        }
    }
}

/// RFC 7636's shape of a `code_verifier` and an S256 `code_challenge`: 43 to 128 unreserved characters.
fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks the `code_verifier` of an `authorization_code` redemption (RFC 7636 §4.5): required unless
/// [`AzureOAuthConfig::require_pkce`] is off, so a code obtained without PKCE (a flow started at
/// Entra directly) is never redeemed through the bridge, which may add the secret.
fn check_code_verifier(config: &AzureOAuthConfig, verifier: Option<&str>) -> Result<(), &'static str> {
    match verifier {
        None if config.require_pkce() => Err(
            "PKCE is required: send the code_verifier whose S256 hash was the authorization request's code_challenge",
        ),
        None => Ok(()),
        Some(v) if is_pkce_string(v) => Ok(()),
        Some(_) => Err("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)"),
    }
}

/// `GET /authorize`: validates the request and redirects (302) to Entra's v2 authorize endpoint
/// without `resource` and with scopes qualified. An unknown or missing `redirect_uri` or
/// `client_id` is answered with a 400 JSON error, never a redirect; once the redirect URI is
/// validated, other errors (no PKCE, an unsupported `response_type`, a foreign scope) go back to it
/// with `error` and `state` (RFC 6749 §4.1.2.1).
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
    if let Err(why) =
        check_pkce(&state.config, get(&pairs, "code_challenge"), get(&pairs, "code_challenge_method"))
    {
        return fail("invalid_request", why);
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

/// The platform the redirect URI is enrolled on: as Graph reports it (read at most once a
/// minute), else as this server enrols URIs the configuration allows; `None` when unknown.
async fn redirect_platform(state: &Shared, uri: &str) -> Option<RedirectPlatform> {
    if rules::redirect_uri(uri).is_err() {
        return None;
    }
    if let Ok(uris) = state.graph.redirect_uris().await
        && let Some(platform) = uris.platform_of(uri)
    {
        return Some(platform);
    }
    allowed_by_config(&state.config, uri).then(|| RedirectPlatform::for_uri(&state.config, uri))
}

/// The platform of refresh tokens from `web` and `spa` redemptions, by SHA-256 digest (never the
/// tokens), the oldest forgotten first beyond the capacity.
#[derive(Debug)]
pub(crate) struct RefreshPlatforms {
    capacity: usize,
    map: HashMap<[u8; 32], RedirectPlatform>,
    order: VecDeque<[u8; 32]>,
}

impl RefreshPlatforms {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), map: HashMap::new(), order: VecDeque::new() }
    }

    fn digest(token: &str) -> [u8; 32] {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    fn insert(&mut self, token: &str, platform: RedirectPlatform) {
        let d = Self::digest(token);
        if self.map.insert(d, platform).is_none() {
            self.order.push_back(d);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }

    fn get(&self, token: &str) -> Option<RedirectPlatform> {
        self.map.get(&Self::digest(token)).copied()
    }
}

/// What Entra answered.
struct EntraAnswer {
    status: StatusCode,
    body: Bytes,
    json: Value,
}

impl EntraAnswer {
    /// Whether Entra's `error_codes` hold `code`.
    fn has_error_code(&self, code: u64) -> bool {
        self.json
            .get("error_codes")
            .and_then(Value::as_array)
            .is_some_and(|codes| codes.iter().any(|c| c.as_u64() == Some(code)))
    }
}

/// How a token request is sent to Entra for a redirect platform: `web` with the secret and
/// without `Origin` (this server redeems, server to server); `spa` with the browser's `Origin`
/// and no secret; `publicClient` (and unknown) with neither.
async fn send_as(
    state: &Shared,
    pairs: &[(String, String)],
    platform: Option<RedirectPlatform>,
    origin: Option<&HeaderValue>,
) -> Result<EntraAnswer, OAuthError> {
    let mut form = pairs.to_vec();
    if platform == Some(RedirectPlatform::Web)
        && let Some(secret) = state.config.client_secret()
    {
        form.push(("client_secret".into(), secret.expose().to_owned()));
    }
    let origin = origin.filter(|_| platform == Some(RedirectPlatform::Spa));
    let url = format!("{}/oauth2/v2.0/token", entra_tenant_url(&state.config));
    let mut request = state.http.post(&url).form(&form);
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
    match bridge_token(&state, &headers, body).await {
        Ok(answer) => {
            let content_type = HeaderValue::from_static("application/json");
            let mut response =
                (answer.status, [(header::CONTENT_TYPE, content_type)], answer.body).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => e.into_response(),
    }
}

async fn bridge_token(
    state: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<EntraAnswer, OAuthError> {
    let body = body_or_error(body, "invalid_request")?;
    let bad = |error: &'static str, description: String| OAuthError::bad_request(error, description);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(bad("invalid_request", "the body must be application/x-www-form-urlencoded".into()));
    }
    let raw =
        std::str::from_utf8(&body).map_err(|_| bad("invalid_request", "the body is not UTF-8".into()))?;
    let mut pairs = parse_pairs(raw).map_err(|e| bad("invalid_request", e))?;
    let grant = get(&pairs, "grant_type").map(str::to_owned);
    match grant.as_deref() {
        Some("authorization_code" | "refresh_token") => {}
        Some(other) => {
            return Err(bad(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported: use authorization_code or refresh_token"),
            ));
        }
        None => return Err(bad("invalid_request", "grant_type is required".into())),
    }
    match get(&pairs, "client_id") {
        Some(id) if !id.eq_ignore_ascii_case(state.config.app_id()) => {
            return Err(bad(
                "invalid_client",
                format!(
                    "client_id {id:?} is not this server's client: use the client_id POST /register returned"
                ),
            ));
        }
        _ => set(&mut pairs, "client_id", state.config.app_id().to_owned()),
    }
    if grant.as_deref() == Some("authorization_code") {
        check_code_verifier(&state.config, get(&pairs, "code_verifier"))
            .map_err(|e| bad("invalid_request", e.into()))?;
    }
    let scope = qualify_scopes(&state.config, get(&pairs, "scope")).map_err(|e| bad("invalid_scope", e))?;
    // The client's own credentials are never passed on: the bridge decides about the secret.
    pairs.retain(|(k, _)| {
        !matches!(k.as_str(), "resource" | "client_secret" | "client_assertion" | "client_assertion_type")
    });
    set(&mut pairs, "scope", scope);
    let origin = headers.get(header::ORIGIN);

    let refresh_token = get(&pairs, "refresh_token").map(str::to_owned);
    let known =
        |token: &str| state.refresh_platforms.lock().unwrap_or_else(PoisonError::into_inner).get(token);
    let mut platform = match (grant.as_deref(), &refresh_token) {
        (Some("refresh_token"), Some(token)) => known(token),
        _ => match get(&pairs, "redirect_uri") {
            Some(uri) => redirect_platform(state, uri).await,
            None => None,
        },
    };
    let mut answer = send_as(state, &pairs, platform, origin).await?;
    // A refresh token this process does not know (issued before a restart): Entra says which
    // platform it belongs to, and the request is sent once more as that platform needs.
    if grant.as_deref() == Some("refresh_token") && platform.is_none() {
        let retry_as = if answer.has_error_code(SECRET_REQUIRED) && state.config.client_secret().is_some() {
            Some(RedirectPlatform::Web)
        } else if answer.has_error_code(SPA_NEEDS_ORIGIN) && origin.is_some() {
            Some(RedirectPlatform::Spa)
        } else {
            None
        };
        if retry_as.is_some() {
            platform = retry_as;
            answer = send_as(state, &pairs, platform, origin).await?;
        }
    }
    if answer.status.is_success()
        && let Some(platform @ (RedirectPlatform::Web | RedirectPlatform::Spa)) = platform
        && let Some(new_refresh) = answer.json.get("refresh_token").and_then(Value::as_str)
    {
        state.refresh_platforms.lock().unwrap_or_else(PoisonError::into_inner).insert(new_refresh, platform);
    }
    tracing::debug!(
        grant_type = grant.as_deref().unwrap_or(""),
        status = answer.status.as_u16(),
        platform = platform.map_or("unknown", RedirectPlatform::graph_name),
        "token request bridged to Entra ID"
    );
    Ok(answer)
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
    fn refresh_platforms_forget_the_oldest_beyond_capacity() {
        let mut memo = RefreshPlatforms::new(2);
        memo.insert("a", RedirectPlatform::Web);
        memo.insert("b", RedirectPlatform::Spa);
        memo.insert("a", RedirectPlatform::Web);
        memo.insert("c", RedirectPlatform::Web);
        assert_eq!(memo.get("a"), None);
        assert_eq!(memo.get("b"), Some(RedirectPlatform::Spa));
        assert_eq!(memo.get("c"), Some(RedirectPlatform::Web));
    }

    #[test]
    fn duplicate_parameters_are_refused() {
        assert!(parse_pairs("a=1&b=2").is_ok());
        assert!(parse_pairs("a=1&a=2").expect_err("duplicate").contains("\"a\""));
    }
}
