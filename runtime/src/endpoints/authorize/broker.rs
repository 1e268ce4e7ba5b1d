//! The broker: one redirect URI of this server's own (`{base_url}/oauth/callback`, `web` platform)
//! is on the app registration; Entra redirects there; this server sends the client on to the
//! client's own redirect URI with a code of its own, and clients get Entra's own tokens. Nothing is
//! stored: what is in flight is sealed ([`Sealer`](crate::endpoints::seal::Sealer)), so any replica
//! holding the same key serves any step.
//!
//! 1. `/authorize` (after the consent page): `state` at Entra is the sealed request (client id
//!    digest, client redirect URI, client `state`, client `code_challenge`, this server's own PKCE
//!    verifier, scopes; 10 minutes), bound to the browser by a cookie; `redirect_uri` is this
//!    server's callback; `code_challenge` is of this server's verifier.
//! 2. The callback opens the state (tampered, expired or from another browser: an error page, no
//!    redirect) and sends the client its code: Entra's code and this server's verifier sealed with
//!    the client id, redirect URI and the client's challenge (5 minutes), with `state` and `iss`
//!    (RFC 9207). An Entra error goes back as `error` + `error_description` + `state` + `iss`.
//! 3. `/token` opens the code, checks `client_id`, `redirect_uri` and the client's PKCE verifier,
//!    and redeems Entra's code with the secret, this server's verifier and the callback URI. Entra's
//!    codes are single-use, so a code of this server's is too. The refresh token Entra returns is
//!    sealed to the client it was issued to: only that client can refresh with it, and only while
//!    it has gone unused for less than `refresh_lifetime` (each refresh hands out a new one).

use std::sync::Arc;

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::consent::Pending;
use super::{Reply, ResolvedClient, check_code_verifier, credential_failed, found, issuer};
use crate::config::canonical_uri;
use crate::credential::CredentialError;
use crate::endpoints::clients::{self, Origin};
use crate::endpoints::cookies::CookieJar;
use crate::endpoints::html;
use crate::endpoints::params::{get, parse_pairs};
use crate::endpoints::seal::{Purpose, Sealer, Unsealed, random};
use crate::endpoints::state::EndpointState;
use crate::graph::RedirectPlatform;
use crate::oauth_error::{ErrorCode, OAuthError, json_response};
use crate::primitives::digest::{same_digest, sha256_base64url as digest};

/// How long a sign-in may take at Entra.
const STATE_TTL: Duration = Duration::from_secs(600);
/// How long the client has to redeem this server's code.
const CODE_TTL: Duration = Duration::from_secs(300);
/// The cookie that binds a sign-in to the browser that started it (suffixed per sign-in).
const BIND_COOKIE: &str = "mcp-signin-";
/// What Entra's `/authorize` may be passed on from the client's request.
const FORWARDED: [&str; 3] = ["prompt", "login_hint", "domain_hint"];

/// The sealed `state` at Entra.
#[derive(Serialize, Deserialize)]
struct BrokerState {
    /// The digest of the client id.
    #[serde(rename = "c")]
    client: String,
    #[serde(rename = "r")]
    redirect_uri: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    challenge: Option<String>,
    /// This server's PKCE verifier for Entra.
    #[serde(rename = "v")]
    verifier: String,
    #[serde(rename = "p")]
    scope: String,
    /// The callback URI Entra was given.
    #[serde(rename = "k")]
    callback: String,
    /// The digest of the browser-binding cookie.
    #[serde(rename = "b")]
    bind: String,
}

/// This server's authorization code.
#[derive(Serialize, Deserialize)]
struct BrokerCode {
    /// Entra's code.
    #[serde(rename = "e")]
    code: String,
    #[serde(rename = "v")]
    verifier: String,
    #[serde(rename = "c")]
    client: String,
    #[serde(rename = "r")]
    redirect_uri: String,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    challenge: Option<String>,
    #[serde(rename = "p")]
    scope: String,
    #[serde(rename = "k")]
    callback: String,
}

/// Entra's refresh token, sealed to its client.
#[derive(Serialize, Deserialize)]
struct BrokerRefresh {
    #[serde(rename = "t")]
    token: String,
    #[serde(rename = "c")]
    client: String,
    #[serde(rename = "p")]
    scope: String,
}

/// Who asks: a client this server registered, a metadata document, or the app itself; and whether
/// `redirect_uri` is one of its.
pub(super) async fn asker(
    state: &EndpointState,
    pairs: &[(String, String)],
) -> Result<ResolvedClient, String> {
    let sealer = state.sealer.as_ref().ok_or("this server has no sealing key")?;
    let client =
        clients::resolve(&state.config, sealer, &state.documents, get(pairs, "client_id"), state.now())
            .await
            .map_err(|e| e.to_string())?;
    let Some(redirect_uri) = get(pairs, "redirect_uri") else {
        return Err("redirect_uri is required".into());
    };
    if let Err(why) = canonical_uri(redirect_uri) {
        return Err(format!("redirect_uri {redirect_uri:?} is not in canonical form: {why}"));
    }
    if !client.accepts_redirect(&state.config, redirect_uri) {
        return Err(format!(
            "redirect_uri {redirect_uri:?} is not one of this client's redirect URIs, or this server's operator \
             does not allow it (ALLOWED_REDIRECT_URIS, ALLOWED_REDIRECT_URI_PREFIXES): register it (POST /register) \
             or list it in the client's metadata document"
        ));
    }
    let origin = match &client.origin {
        Origin::Registered => "It registered itself with this server; its name is its own claim.".to_owned(),
        Origin::MetadataDocument { host } => format!("Its description is published by {host}."),
        Origin::App => "It uses a redirect address this server's operator allowed.".to_owned(),
    };
    Ok(ResolvedClient {
        name: client.display_name().to_owned(),
        client_id: client.id,
        redirect_uri: redirect_uri.to_owned(),
        origin,
    })
}

/// What the broker passes on to Entra's `/authorize` from the client's request.
pub(super) fn forwarded(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs.iter().filter(|(k, _)| FORWARDED.contains(&k.as_str())).cloned().collect()
}

/// The approved request on to Entra, with this server's callback, sealed state and PKCE.
pub(super) async fn to_entra(state: &EndpointState, base: &str, pending: Pending) -> Response {
    let Some(sealer) = &state.sealer else {
        return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "this server has no sealing key");
    };
    let callback = format!("{base}{}", state.config.callback_path());
    ensure_callback(state, &callback).await;
    let verifier = random(32);
    let bind = random(32);
    let sealed = sealer.seal(
        Purpose::State,
        &BrokerState {
            client: digest(&pending.client_id),
            redirect_uri: pending.redirect_uri,
            state: pending.state,
            challenge: pending.code_challenge,
            verifier: verifier.clone(),
            scope: pending.scope.clone(),
            callback: callback.clone(),
            bind: digest(&bind),
        },
        state.now(),
        Some(STATE_TTL),
    );
    let Ok(mut target) = url::Url::parse(&format!("{}/oauth2/v2.0/authorize", state.config.authority_url()))
    else {
        return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "the authority URL is not valid");
    };
    target
        .query_pairs_mut()
        .append_pair("client_id", state.config.app_id())
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &callback)
        .append_pair("response_mode", "query")
        .append_pair("scope", &pending.scope)
        .append_pair("state", &sealed)
        .append_pair("code_challenge", &digest(&verifier)) // S256 (RFC 7636 §4.2)
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(pending.forward.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut response = found(target.as_str());
    CookieJar::for_base(base).set(response.headers_mut(), &bind_cookie(&digest(&bind)), &bind, STATE_TTL);
    tracing::debug!(client_id = %pending.client_id, "authorization brokered to Entra ID");
    response
}

/// The bind cookie's name for a bind digest.
fn bind_cookie(bind_digest: &str) -> String {
    format!("{BIND_COOKIE}{}", bind_digest.get(..16).unwrap_or(bind_digest))
}

/// Makes sure, once per process, that the callback is on the app registration's `web` platform:
/// through Graph when the app may write its registration, else a warning with the exact URI an
/// administrator must add. Entra refuses the sign-in with AADSTS50011 until it is there.
async fn ensure_callback(state: &EndpointState, callback: &str) {
    state
        .callback_checked
        .get_or_init(|| async {
            // Bounded: a slow Graph delays one sign-in by at most the HTTP timeout (the write goes
            // on in the background).
            let enrol = state.graph.enrol_on(RedirectPlatform::Web, [callback]);
            let report = match tokio::time::timeout(state.config.http_timeout(), enrol).await {
                Ok(report) => report,
                Err(_) => {
                    tracing::warn!(
                        redirect_uri = %callback,
                        "Microsoft Graph did not confirm the broker's callback on the app registration in time; if \
                         sign-ins fail with AADSTS50011, an administrator must add this redirect URI (platform Web)"
                    );
                    return;
                }
            };
            if let Some((_, why)) = report.failed.first() {
                tracing::warn!(
                    redirect_uri = %callback,
                    reason = %why,
                    "the broker's callback could not be written to the app registration: an administrator must add \
                     this redirect URI on the app's Authentication page, platform Web"
                );
                return;
            }
            if let Ok(uris) = state.graph.redirect_uris().await
                && let Some(platform) = uris.platform_of(callback).filter(|p| *p != RedirectPlatform::Web)
            {
                tracing::warn!(
                    redirect_uri = %callback,
                    platform = platform.graph_name(),
                    "the broker's callback is on the app registration, but not on the Web platform, where the broker \
                     redeems codes with the client secret: move it to Web on the app's Authentication page"
                );
            }
        })
        .await;
}

/// `GET /oauth/callback` in broker mode: Entra's answer, on to the client.
pub(crate) async fn callback(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let bad = |why: &str| html::error_page(StatusCode::BAD_REQUEST, why);
    let Ok(pairs) = parse_pairs(query.as_deref().unwrap_or("")) else {
        return bad("the sign-in answer could not be read");
    };
    let Some(sealer) = &state.sealer else {
        return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "this server has no sealing key");
    };
    let now = state.now();
    let signin: BrokerState = match get(&pairs, "state").map(|s| sealer.open(Purpose::State, s, now)) {
        Some(Ok(signin)) => signin,
        Some(Err(Unsealed::Expired)) => {
            return bad("this sign-in took too long: start it again from the application");
        }
        _ => return bad("this sign-in answer was not started by this server, or was altered"),
    };
    let base = state.config.public_base_url(&headers);
    let jar = CookieJar::for_base(&base);
    let cookie = bind_cookie(&signin.bind);
    if !jar.get(&headers, &cookie).is_some_and(|b| same_digest(&digest(b), &signin.bind)) {
        return bad("this sign-in was started in another browser: start it again from the application");
    }
    let iss = issuer(&state.config, &base);
    let reply =
        Reply { redirect_uri: &signin.redirect_uri, state: signin.state.as_deref(), iss: iss.as_deref() };
    let mut response = match (get(&pairs, "code"), get(&pairs, "error")) {
        (_, Some(error)) => {
            let description = get(&pairs, "error_description").unwrap_or("Entra ID refused the sign-in");
            tracing::info!(error, "Entra ID answered the brokered sign-in with an error");
            reply.redirect(&[("error", authorization_error(error)), ("error_description", description)])
        }
        (Some(code), None) => {
            let sealed = sealer.seal(
                Purpose::Code,
                &BrokerCode {
                    code: code.to_owned(),
                    verifier: signin.verifier,
                    client: signin.client,
                    redirect_uri: signin.redirect_uri.clone(),
                    challenge: signin.challenge,
                    scope: signin.scope,
                    callback: signin.callback,
                },
                now,
                Some(CODE_TTL),
            );
            reply.redirect(&[("code", &sealed)])
        }
        (None, None) => {
            reply.error(ErrorCode::ServerError, "Entra ID answered with neither a code nor an error")
        }
    };
    jar.remove(response.headers_mut(), &cookie);
    response
}

/// Entra's `error` on an authorization response, as an RFC 6749 §4.1.2.1 code (an unknown one is
/// `server_error`).
fn authorization_error(error: &str) -> &str {
    match error {
        "invalid_request"
        | "unauthorized_client"
        | "access_denied"
        | "unsupported_response_type"
        | "invalid_scope"
        | "server_error"
        | "temporarily_unavailable"
        | "interaction_required"
        | "login_required"
        | "consent_required" => error,
        _ => ErrorCode::ServerError.as_str(),
    }
}

/// `POST /token` in broker mode.
pub(super) async fn token(
    state: &EndpointState,
    headers: &HeaderMap,
    pairs: Vec<(String, String)>,
) -> Response {
    match redeem(state, headers, &pairs).await {
        Ok(body) => json_response(StatusCode::OK, &Value::Object(body)),
        Err(e) => e.into_response(),
    }
}

/// `400` with `error` and `why`.
fn bad(error: ErrorCode, why: &str) -> OAuthError {
    OAuthError::bad_request(error, why)
}

/// What a client's token request becomes at Entra: the grant's own fields (this app's client id
/// and secret are added by [`redeem`]), and the scopes of the sign-in, sealed into the refresh token
/// handed back.
struct ToEntra {
    form: Vec<(&'static str, String)>,
    scope: String,
}

/// The broker's `/token`: checks the request, turns the client's grant into Entra's, redeems it
/// with this app's secret, and hands back Entra's tokens with the refresh token sealed to the client.
async fn redeem(
    state: &EndpointState,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Map<String, Value>, OAuthError> {
    let sealer =
        state.sealer.as_ref().ok_or_else(|| OAuthError::server_error("this server has no sealing key"))?;
    let now = state.now();
    // RFC 8707 §2.2: a `resource` at the token endpoint must be this server's too.
    if let Some(resource) = get(pairs, "resource") {
        let ours = format!("{}{}", state.config.public_base_url(headers), state.config.resource_path());
        if resource.trim_end_matches('/') != ours {
            return Err(bad(ErrorCode::InvalidTarget, "resource is not served here"));
        }
    }
    // Public clients identify themselves with client_id (RFC 6749 §4.1.3, §6).
    let client_id =
        get(pairs, "client_id").ok_or_else(|| bad(ErrorCode::InvalidRequest, "client_id is required"))?;
    let client = digest(client_id);
    let ToEntra { form: grant, scope } = match get(pairs, "grant_type") {
        Some("authorization_code") => authorization_code(state, sealer, pairs, &client, now)?,
        _ => refresh_token(sealer, pairs, &client, now)?,
    };
    let mut form: Vec<(&str, String)> = vec![("client_id", state.config.app_id().to_owned())];
    form.extend(grant);
    let answer = entra_token(state, form).await?;
    let mut body = Map::new();
    for field in ["access_token", "token_type", "expires_in", "scope", "id_token"] {
        if let Some(v) = answer.get(field) {
            body.insert(field.to_owned(), v.clone());
        }
    }
    if let Some(entra_refresh) = answer.get("refresh_token").and_then(Value::as_str) {
        let sealed = sealer.seal(
            Purpose::Refresh,
            &BrokerRefresh { token: entra_refresh.to_owned(), client, scope },
            now,
            Some(state.config.refresh_lifetime()),
        );
        body.insert("refresh_token".into(), Value::String(sealed));
    }
    tracing::debug!(grant_type = get(pairs, "grant_type").unwrap_or(""), "token brokered from Entra ID");
    Ok(body)
}

/// The `authorization_code` grant: this server's code opens only for the client (`client`, the
/// digest of its id) and redirect URI it was issued to, with the verifier of the client's PKCE
/// challenge (RFC 7636 §4.6); Entra gets its own code with this server's callback and verifier.
fn authorization_code(
    state: &EndpointState,
    sealer: &Sealer,
    pairs: &[(String, String)],
    client: &str,
    now: u64,
) -> Result<ToEntra, OAuthError> {
    let sealed = get(pairs, "code").ok_or_else(|| bad(ErrorCode::InvalidRequest, "code is required"))?;
    let code: BrokerCode = sealer
        .open(Purpose::Code, sealed, now)
        .map_err(|_| bad(ErrorCode::InvalidGrant, "the code is invalid or expired: sign in again"))?;
    if !same_digest(&code.client, client) {
        return Err(bad(ErrorCode::InvalidGrant, "the code was issued to another client"));
    }
    if get(pairs, "redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(bad(ErrorCode::InvalidGrant, "redirect_uri is not the one the code was issued for"));
    }
    let verifier = get(pairs, "code_verifier");
    check_code_verifier(&state.config, verifier).map_err(|why| bad(ErrorCode::InvalidRequest, why))?;
    match (&code.challenge, verifier) {
        (Some(challenge), Some(verifier)) if same_digest(&digest(verifier), challenge) => {}
        (Some(_), _) => {
            return Err(bad(ErrorCode::InvalidGrant, "the code_verifier does not match the code_challenge"));
        }
        (None, Some(_)) => {
            return Err(bad(
                ErrorCode::InvalidGrant,
                "a code_verifier was sent for a code issued without PKCE",
            ));
        }
        (None, None) => {}
    }
    Ok(ToEntra {
        form: vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.code),
            ("redirect_uri", code.callback),
            ("code_verifier", code.verifier),
            ("scope", code.scope.clone()),
        ],
        scope: code.scope,
    })
}

/// The `refresh_token` grant: the sealed refresh token opens only for the client it was issued to,
/// and only while it has gone unused for less than `refresh_lifetime`.
fn refresh_token(
    sealer: &Sealer,
    pairs: &[(String, String)],
    client: &str,
    now: u64,
) -> Result<ToEntra, OAuthError> {
    let sealed = get(pairs, "refresh_token")
        .ok_or_else(|| bad(ErrorCode::InvalidRequest, "refresh_token is required"))?;
    let refresh: BrokerRefresh = sealer.open(Purpose::Refresh, sealed, now).map_err(|e| match e {
        Unsealed::Expired => bad(
            ErrorCode::InvalidGrant,
            "the refresh token went unused for longer than this server allows (AZURE_OAUTH_REFRESH_LIFETIME_SECS): \
             sign in again",
        ),
        Unsealed::Invalid => {
            bad(ErrorCode::InvalidGrant, "the refresh token is not one this server issued: sign in again")
        }
    })?;
    if !same_digest(&refresh.client, client) {
        return Err(bad(ErrorCode::InvalidGrant, "the refresh token was issued to another client"));
    }
    Ok(ToEntra {
        form: vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", refresh.token),
            ("scope", refresh.scope.clone()),
        ],
        scope: refresh.scope,
    })
}

/// Sends a token request to Entra and reads its answer; an Entra error becomes the RFC 6749 error
/// the client can act on.
async fn entra_token(
    state: &EndpointState,
    mut form: Vec<(&str, String)>,
) -> Result<Map<String, Value>, OAuthError> {
    let url = format!("{}/oauth2/v2.0/token", state.config.authority_url());
    let unavailable = |why: String| OAuthError::new(StatusCode::BAD_GATEWAY, ErrorCode::ServerError, why);
    let credential = state.config.credential().ok_or_else(|| {
        OAuthError::server_error("the broker has no app credential (AZURE_CLIENT_SECRET or another kind)")
    })?;
    form.extend(credential.form(state.config.app_id(), &url).await.map_err(|e| credential_failed(&e))?);
    let response = state
        .http
        .post(&url)
        .form(&form)
        .send()
        .await
        .map_err(|e| unavailable(format!("Entra ID's token endpoint could not be reached: {e}")))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| unavailable(format!("Entra ID's token endpoint answer could not be read: {e}")))?;
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(&body) else {
        return Err(unavailable(format!(
            "Entra ID's token endpoint answered HTTP {} without a JSON object",
            status.as_u16()
        )));
    };
    if status.is_success() && answer.get("access_token").is_some_and(Value::is_string) {
        return Ok(answer);
    }
    let error = answer.get("error").and_then(Value::as_str).unwrap_or("");
    let description =
        answer.get("error_description").and_then(Value::as_str).unwrap_or("").lines().next().unwrap_or("");
    tracing::info!(status = status.as_u16(), error, "Entra ID refused a brokered token request");
    if let Some(refused) = CredentialError::refused_in(&body) {
        return Err(credential_failed(&refused));
    }
    Err(match error {
        // This server's own credentials: the operator's problem, not the client's.
        "invalid_client" | "unauthorized_client" => unavailable(format!(
            "Entra ID refused this server's credentials ({description}): the operator must check the app's credential"
        )),
        "invalid_scope" => {
            OAuthError::bad_request(ErrorCode::InvalidScope, format!("Entra ID: {description}"))
        }
        _ if status.is_server_error() => {
            unavailable(format!("Entra ID's token endpoint failed (HTTP {})", status.as_u16()))
        }
        // Spent, expired or revoked codes and refresh tokens, Conditional Access: sign in again.
        _ => OAuthError::bad_request(ErrorCode::InvalidGrant, format!("Entra ID: {description}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_errors_that_are_not_rfc_6749s_become_server_error() {
        assert_eq!(authorization_error("access_denied"), "access_denied");
        assert_eq!(authorization_error("interaction_required"), "interaction_required");
        assert_eq!(authorization_error("<script>"), "server_error");
    }

    #[test]
    fn only_sign_in_hints_are_passed_on() {
        let pairs: Vec<(String, String)> =
            [("prompt", "login"), ("resource", "x"), ("login_hint", "a@b"), ("nonce", "n")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
        assert_eq!(
            forwarded(&pairs),
            [("prompt".to_owned(), "login".to_owned()), ("login_hint".to_owned(), "a@b".to_owned())]
        );
    }
}
