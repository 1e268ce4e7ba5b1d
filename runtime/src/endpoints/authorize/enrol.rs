//! The enrol mode's bridge: Entra redirects straight to each client's redirect URI, which
//! registration wrote to the app registration (the Python original's way).
//!
//! MCP clients must send RFC 8707 `resource` and may send bare scope names; Entra's v2 endpoints
//! refuse `resource` (AADSTS9010010) and need app scopes fully qualified
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>). The bridge
//! removes `resource`, qualifies scopes, and otherwise passes requests through: tokens are Entra's
//! own, never minted or altered here.
//!
//! **How a token request is sent**, by the platform of its redirect URI (`web` needs the app's
//! credential — its secret or a client assertion — and refuses `Origin`, `spa` needs `Origin` and
//! refuses a credential, `publicClient` refuses both:
//! <https://learn.microsoft.com/entra/identity-platform/reply-url>). The credential is only ever
//! sent to Entra, never in a response.
//! - `authorization_code`: the platform of the request's `redirect_uri` as Graph reports it (read
//!   at most once a minute), or, when Graph does not list it, the platform this server enrols an
//!   allowed URI on. `web` → with the app's credential, without `Origin`; `spa` → with the browser's
//!   `Origin`; `publicClient` or unknown → neither.
//! - `refresh_token`: the platform of the redemption the refresh token came from (this process
//!   remembers the SHA-256 digests of the last 10,000 `web`/`spa` refresh tokens, never the
//!   tokens). An unknown refresh token (e.g. issued before a restart) is sent with neither; if
//!   Entra answers AADSTS7000218 ("client_secret required": it is a `web` token) or AADSTS9002327
//!   (`spa` needs `Origin`, and the client sent one), it is sent once more as that platform needs.
//! - Any other grant type is refused (`unsupported_grant_type`): the credential can never be used
//!   through the bridge to obtain app-only tokens.

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::consent::Pending;
use super::{ResolvedClient, check_code_verifier, credential_failed, found};
use crate::config::{AzureOAuthConfig, rules};
use crate::endpoints::html;
use crate::endpoints::params::{get, set};
use crate::endpoints::redirect_policy::{redirect_known, redirect_platform};
use crate::endpoints::scope::qualify_scopes;
use crate::endpoints::state::EndpointState;
use crate::graph::RedirectPlatform;
use crate::oauth_error::{ErrorCode, OAuthError, no_store};
use crate::primitives::lock::lock;

/// Entra's error code for "a client secret or assertion is required" on a token request.
const SECRET_REQUIRED: u64 = 7_000_218;
/// Entra's error code for "`spa` tokens may only be redeemed via cross-origin requests".
const SPA_NEEDS_ORIGIN: u64 = 9_002_327;

/// Who asks: in enrol mode every client uses the app's own client id, and its redirect URI must be
/// one the operator allows or the app registration lists.
pub(super) async fn asker(
    state: &EndpointState,
    pairs: &[(String, String)],
) -> Result<ResolvedClient, String> {
    let Some(redirect_uri) = get(pairs, "redirect_uri") else {
        return Err("redirect_uri is required".into());
    };
    if let Err(rule) = rules::redirect_uri(redirect_uri) {
        return Err(format!("redirect_uri {redirect_uri:?} would be refused by Entra ID: {rule}"));
    }
    if !redirect_known(&state.config, &state.graph, redirect_uri).await {
        return Err(format!(
            "redirect_uri {redirect_uri:?} is not registered for this app: register the client first (POST /register), or ask the operator to allow it (ALLOWED_REDIRECT_URIS)"
        ));
    }
    match get(pairs, "client_id") {
        None => Err("client_id is required: use the client_id POST /register returned".into()),
        Some(id) if !id.eq_ignore_ascii_case(state.config.app_id()) => Err(format!(
            "client_id {id:?} is not this server's client: use the client_id POST /register returned"
        )),
        Some(id) => Ok(ResolvedClient {
            client_id: id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            name: "An application".to_owned(),
            origin:
                "It uses this server's shared client id; the address below tells you where your sign-in goes."
                    .to_owned(),
        }),
    }
}

/// The request as Entra gets it: without `resource` (which Entra's v2 endpoints refuse), with the
/// scopes qualified and the app's client id.
pub(super) fn forwarded(
    config: &AzureOAuthConfig,
    pairs: &[(String, String)],
    scope: &str,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "resource").cloned().collect();
    set(&mut pairs, "scope", scope.to_owned());
    set(&mut pairs, "client_id", config.app_id().to_owned());
    pairs
}

/// The approved request on to Entra's v2 authorize endpoint, which redirects straight to the client.
pub(super) fn to_entra(state: &EndpointState, pending: Pending) -> Response {
    let Ok(mut target) = url::Url::parse(&format!("{}/oauth2/v2.0/authorize", state.config.authority_url()))
    else {
        return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "the authority URL is not valid");
    };
    target.query_pairs_mut().extend_pairs(pending.forward.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    tracing::debug!(redirect_uri = %pending.redirect_uri, "authorize request bridged to Entra ID");
    found(target.as_str())
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

/// How a token request is sent to Entra for a redirect platform: `web` with the app's credential
/// and without `Origin` (this server redeems, server to server); `spa` with the browser's `Origin`
/// and no credential; `publicClient` (and unknown) with neither.
async fn send_as(
    state: &EndpointState,
    pairs: &[(String, String)],
    platform: Option<RedirectPlatform>,
    origin: Option<&HeaderValue>,
) -> Result<EntraAnswer, OAuthError> {
    let mut form = pairs.to_vec();
    let url = format!("{}/oauth2/v2.0/token", state.config.authority_url());
    if platform == Some(RedirectPlatform::Web)
        && let Some(credential) = state.config.credential()
    {
        let proof = credential.form(state.config.app_id(), &url).await.map_err(|e| credential_failed(&e))?;
        form.extend(proof.into_iter().map(|(k, v)| (k.to_owned(), v)));
    }
    let origin = origin.filter(|_| platform == Some(RedirectPlatform::Spa));
    let mut request = state.http.post(&url).form(&form);
    if let Some(origin) = origin {
        request = request.header(header::ORIGIN, origin.clone());
    }
    let unavailable = |what: String| OAuthError::new(StatusCode::BAD_GATEWAY, ErrorCode::ServerError, what);
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
    // Entra's answer goes to the client unchanged; a refusal of the app's own credential is also
    // the operator's to fix, so it is logged with what to do.
    if let Some(refused) = crate::credential::CredentialError::refused_in(&body) {
        tracing::error!(error = %refused, "Entra ID refused the app's credential");
    }
    Ok(EntraAnswer { status, body, json })
}

/// `POST /token`: forwards `authorization_code` and `refresh_token` grants to Entra's v2 token
/// endpoint without `resource`, with scopes qualified and the secret added only as the module
/// documentation says; answers with Entra's status and JSON body unchanged, `Cache-Control: no-store`.
pub(super) async fn token(
    state: &EndpointState,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Response {
    match bridge_token(state, headers, pairs).await {
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
    state: &EndpointState,
    headers: &HeaderMap,
    mut pairs: Vec<(String, String)>,
) -> Result<EntraAnswer, OAuthError> {
    let bad = |error: ErrorCode, description: String| OAuthError::bad_request(error, description);
    let grant = get(&pairs, "grant_type").map(str::to_owned);
    match get(&pairs, "client_id") {
        Some(id) if !id.eq_ignore_ascii_case(state.config.app_id()) => {
            return Err(bad(
                ErrorCode::InvalidClient,
                format!(
                    "client_id {id:?} is not this server's client: use the client_id POST /register returned"
                ),
            ));
        }
        _ => set(&mut pairs, "client_id", state.config.app_id().to_owned()),
    }
    if grant.as_deref() == Some("authorization_code") {
        check_code_verifier(&state.config, get(&pairs, "code_verifier"))
            .map_err(|e| bad(ErrorCode::InvalidRequest, e.into()))?;
    }
    let scope =
        qualify_scopes(&state.config, get(&pairs, "scope")).map_err(|e| bad(ErrorCode::InvalidScope, e))?;
    // The client's own credentials are never passed on: the bridge decides about the secret.
    pairs.retain(|(k, _)| {
        !matches!(k.as_str(), "resource" | "client_secret" | "client_assertion" | "client_assertion_type")
    });
    set(&mut pairs, "scope", scope);
    let origin = headers.get(header::ORIGIN);

    let refresh_token = get(&pairs, "refresh_token").map(str::to_owned);
    let known = |token: &str| lock(&state.refresh_platforms).get(token);
    let mut platform = match (grant.as_deref(), &refresh_token) {
        (Some("refresh_token"), Some(token)) => known(token),
        _ => match get(&pairs, "redirect_uri") {
            Some(uri) => redirect_platform(&state.config, &state.graph, uri).await,
            None => None,
        },
    };
    let mut answer = send_as(state, &pairs, platform, origin).await?;
    // A refresh token this process does not know (issued before a restart): Entra says which
    // platform it belongs to, and the request is sent once more as that platform needs.
    if grant.as_deref() == Some("refresh_token") && platform.is_none() {
        let retry_as = if answer.has_error_code(SECRET_REQUIRED) && state.config.credential().is_some() {
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
        lock(&state.refresh_platforms).insert(new_refresh, platform);
    }
    tracing::debug!(
        grant_type = grant.as_deref().unwrap_or(""),
        status = answer.status.as_u16(),
        platform = platform.map_or("unknown", RedirectPlatform::graph_name),
        "token request bridged to Entra ID"
    );
    Ok(answer)
}
