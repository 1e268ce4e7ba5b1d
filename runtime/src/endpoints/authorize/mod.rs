//! The bridge to Entra ID: this server's `/authorize` and `/token`, in one of two modes.
//!
//! - **Broker** ([`broker`], the default): Entra redirects to this server's own callback; the
//!   client gets a sealed code of this server's and, at `/token`, Entra's tokens.
//! - **Enrol** ([`enrol`]): Entra redirects straight to the client's redirect URI, which
//!   registration wrote to the app registration; `/token` forwards the redemption.
//!
//! Either way `GET /authorize` first settles who asks and where the answer goes — an unknown client
//! or redirect URI gets an error page and never a redirect (RFC 6749 §4.1.2.1, no open redirector)
//! — then checks the rest of the request (errors go back to the client), then asks the user on the
//! consent page ([`consent`]) unless this browser approved this client and redirect URI before:
//! every client reaches Entra under this app's one client id, and Entra remembers the user's
//! consent to that app, so without this page a crafted link would send a signed-in user's code to
//! any accepted redirect URI without the user seeing who asked (the MCP specification's confused
//! deputy: "MCP proxy servers using static client IDs MUST obtain user consent for each dynamically
//! registered client", <https://modelcontextprotocol.io/specification/2025-11-25/basic/security_best_practices>).

pub(crate) mod broker;
mod consent;
pub(crate) mod enrol;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::html;
use super::params::{body_or_error, get, parse_pairs};
use super::scope::qualify_scopes;
use super::state::EndpointState;
use crate::config::{AzureOAuthConfig, Mode};
use crate::oauth_error::{ErrorCode, OAuthError, no_store};
use consent::Pending;

/// Who asks and where the answer goes: settled before anything can go back to the client.
pub(crate) struct ResolvedClient {
    /// The client id as the client sent it.
    pub(crate) client_id: String,
    /// The validated redirect URI.
    pub(crate) redirect_uri: String,
    /// The name the consent page shows.
    pub(crate) name: String,
    /// Where the client's description comes from, in words, for the consent page.
    pub(crate) origin: String,
}

/// Where errors and codes go back to: the client's redirect URI, its `state`, and this server's
/// issuer (`iss`, RFC 9207) when it advertises one.
pub(crate) struct Reply<'a> {
    pub(crate) redirect_uri: &'a str,
    pub(crate) state: Option<&'a str>,
    pub(crate) iss: Option<&'a str>,
}

impl Reply<'_> {
    /// Redirects with `params`, then `state` and `iss`.
    pub(crate) fn redirect(&self, params: &[(&str, &str)]) -> Response {
        let Ok(mut url) = url::Url::parse(self.redirect_uri) else {
            return html::error_page(StatusCode::BAD_REQUEST, "the redirect URI is not a URL");
        };
        {
            let mut q = url.query_pairs_mut();
            q.extend_pairs(params);
            if let Some(s) = self.state {
                q.append_pair("state", s);
            }
            if let Some(iss) = self.iss {
                q.append_pair("iss", iss);
            }
        }
        found(url.as_str())
    }

    /// Redirects with an OAuth error (RFC 6749 §4.1.2.1).
    pub(crate) fn error(&self, error: ErrorCode, description: &str) -> Response {
        self.redirect(&[("error", error.as_str()), ("error_description", description)])
    }
}

/// 302 to `location`, not cached.
pub(crate) fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = (StatusCode::FOUND, [(header::LOCATION, value)]).into_response();
            no_store(&mut response);
            response
        }
        Err(_) => {
            OAuthError::bad_request(ErrorCode::InvalidRequest, "the redirect URL is not a valid header")
                .into_response()
        }
    }
}

/// `GET /authorize`.
pub(crate) async fn authorize(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let base = state.config.public_base_url(&headers);
    let pairs = match parse_pairs(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return html::error_page(StatusCode::BAD_REQUEST, &e),
    };
    let asker = match state.config.mode() {
        Mode::Broker => broker::asker(&state, &pairs).await,
        _ => enrol::asker(&state, &pairs).await,
    };
    let asker = match asker {
        Ok(asker) => asker,
        Err(why) => {
            tracing::info!(reason = %why, "authorization request refused: unknown client or redirect URI");
            return html::error_page(StatusCode::BAD_REQUEST, &why);
        }
    };
    let iss = issuer(&state.config, &base);
    let reply = Reply { redirect_uri: &asker.redirect_uri, state: get(&pairs, "state"), iss: iss.as_deref() };
    let pending = match check_request(&state.config, &base, &pairs, &asker) {
        Ok(pending) => pending,
        Err((error, why)) => return reply.error(error, &why),
    };
    consent::ask(&state, &headers, &base, &asker, pending).await
}

/// `POST /authorize`: the consent page's answer.
pub(crate) async fn decide(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    consent::decide(&state, &headers, body).await
}

/// Sends the approved request on to Entra, as the mode does.
async fn proceed(state: &EndpointState, base: &str, pending: Pending) -> Response {
    match state.config.mode() {
        Mode::Broker => broker::to_entra(state, base, pending).await,
        _ => enrol::to_entra(state, pending),
    }
}

/// The app's credential could not be made, or Entra ID refused it: the operator's problem, not the
/// client's, so it is logged in full (what to fix) and answered briefly, naming nothing of the
/// credential.
pub(crate) fn credential_failed(error: &crate::credential::CredentialError) -> OAuthError {
    tracing::error!(%error, "this server could not prove the app to Entra ID");
    OAuthError::server_error(
        "this server could not authenticate to Entra ID: its operator must check its credential",
    )
}

/// The issuer this server sends as `iss` in its authorization responses: in broker mode only, where
/// this server itself sends every redirect to the client (Entra adds none to the redirects it sends
/// straight to clients in enrol mode, so this server does not advertise it there).
pub(crate) fn issuer(config: &AzureOAuthConfig, base: &str) -> Option<String> {
    (config.mode() == Mode::Broker).then(|| config.issuer(base))
}

/// Checks what the authorization request asks for (RFC 6749 §4.1.1, RFC 7636, RFC 8707): the
/// response type, PKCE, the scopes (qualified for Entra), and in broker mode the response mode and
/// `resource`. An error here goes back to the client.
fn check_request(
    config: &AzureOAuthConfig,
    base: &str,
    pairs: &[(String, String)],
    asker: &ResolvedClient,
) -> Result<Pending, (ErrorCode, String)> {
    if get(pairs, "response_type") != Some("code") {
        return Err((ErrorCode::UnsupportedResponseType, "only response_type=code is supported".into()));
    }
    check_pkce(config, get(pairs, "code_challenge"), get(pairs, "code_challenge_method"))
        .map_err(|why| (ErrorCode::InvalidRequest, why.to_owned()))?;
    let scope = qualify_scopes(config, get(pairs, "scope")).map_err(|e| (ErrorCode::InvalidScope, e))?;
    let forward = match config.mode() {
        Mode::Broker => {
            if get(pairs, "response_mode").is_some_and(|m| m != "query") {
                return Err((ErrorCode::InvalidRequest, "only response_mode=query is supported".into()));
            }
            if let Some(resource) = get(pairs, "resource") {
                let ours = format!("{base}{}", config.resource_path());
                if resource.trim_end_matches('/') != ours {
                    return Err((
                        ErrorCode::InvalidTarget,
                        format!("resource {resource:?} is not served here: this server's resource is {ours}"),
                    ));
                }
            }
            broker::forwarded(pairs)
        }
        _ => enrol::forwarded(config, pairs, &scope),
    };
    Ok(Pending {
        client_id: asker.client_id.clone(),
        redirect_uri: asker.redirect_uri.clone(),
        state: get(pairs, "state").map(str::to_owned),
        scope,
        code_challenge: get(pairs, "code_challenge").map(str::to_owned),
        forward,
        csrf: String::new(),
    })
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

/// `POST /token`.
pub(crate) async fn token(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let pairs = match token_form(&headers, body) {
        Ok(pairs) => pairs,
        Err(e) => return e.into_response(),
    };
    match state.config.mode() {
        Mode::Broker => broker::token(&state, &headers, pairs).await,
        _ => enrol::token(&state, &headers, pairs).await,
    }
}

/// The token request's form (RFC 6749 §3.2: `application/x-www-form-urlencoded`, each parameter
/// once), with a `grant_type` this server offers.
fn token_form(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, OAuthError> {
    let body = body_or_error(body, ErrorCode::InvalidRequest)?;
    let bad = |error: ErrorCode, description: String| OAuthError::bad_request(error, description);
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(bad(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    let raw = std::str::from_utf8(&body)
        .map_err(|_| bad(ErrorCode::InvalidRequest, "the body is not UTF-8".into()))?;
    let pairs = parse_pairs(raw).map_err(|e| bad(ErrorCode::InvalidRequest, e))?;
    match get(&pairs, "grant_type") {
        Some("authorization_code" | "refresh_token") => Ok(pairs),
        Some(other) => Err(bad(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type {other:?} is not supported: use authorization_code or refresh_token"),
        )),
        None => Err(bad(ErrorCode::InvalidRequest, "grant_type is required".into())),
    }
}
