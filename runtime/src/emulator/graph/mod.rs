//! Microsoft Graph: the application object ([`applications`]) and the signed-in user's profile
//! ([`me`]). Bearer tokens are checked as Graph does: signature by a currently listed key of the
//! token's tenant, lifetime (5 minutes skew), Graph audience, issuer of the token's tenant; then
//! each resource checks the permission it needs. Errors are Graph's JSON
//! (<https://learn.microsoft.com/en-us/graph/errors>).

mod applications;
mod me;

use axum::response::Response;
use http::{Method, StatusCode};
use serde_json::{Map, Value};

use super::errors::graph_error as error;
use super::jws::{self, JwsError, str_claim};
use super::request::Req;
use super::state::State;
use super::{GRAPH_APP_ID, GRAPH_RESOURCE};

/// Dispatches a Graph request.
pub(crate) fn handle(state: &State, req: &Req) -> Response {
    if req.path == "/v1.0/me" {
        return me::handle(state, req);
    }
    applications::handle(state, req)
}

/// `401` `InvalidAuthenticationToken` with Graph's `WWW-Authenticate` challenge.
fn unauthenticated(message: &str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message);
    resp.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\""),
    );
    resp
}

/// `403` `Authorization_RequestDenied`: the token lacks the permission the request needs.
fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

/// `404` `Request_ResourceNotFound`.
fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

/// `400` `BadRequest`.
fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// `405` for a method a resource does not serve.
fn method_not_allowed(method: &Method, allowed: &str) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        &format!("The HTTP method '{method}' is not supported by the emulator here; use {allowed}."),
    )
}

/// Reads and checks the bearer token every Graph request needs; `Err` is the 401 to send.
/// Returns the token's claims for the resource's own permission check.
#[allow(clippy::result_large_err)] // cold error path; the response is sent at once
fn bearer(state: &State, req: &Req) -> Result<Map<String, Value>, Response> {
    let Some(auth) = req.header("authorization") else {
        return Err(unauthenticated("Access token is empty."));
    };
    let token = match auth.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => t.trim(),
        _ => return Err(unauthenticated("Access token is empty.")),
    };
    let claims = jws::verify(state, token).map_err(|e| match e {
        JwsError::Malformed => unauthenticated("CompactToken parsing failed with error code: 80049217"),
        JwsError::KeyNotFound | JwsError::BadSignature => {
            unauthenticated("Access token validation failure. Invalid signature.")
        }
    })?;
    if jws::expired(&claims) {
        return Err(unauthenticated("Lifetime validation failed, the token is expired."));
    }
    if jws::not_yet_valid(&claims) {
        return Err(unauthenticated("Lifetime validation failed, the token is not yet valid."));
    }
    let aud = str_claim(&claims, "aud");
    let graph_auds = [
        GRAPH_RESOURCE.to_owned(),
        format!("{GRAPH_RESOURCE}/"),
        GRAPH_APP_ID.to_owned(),
        state.graph.clone(),
        format!("{}/", state.graph),
    ];
    if !graph_auds.iter().any(|a| a == aud) {
        return Err(unauthenticated("Access token validation failure. Invalid audience."));
    }
    if !jws::issuer_matches_tenant(state, &claims) {
        return Err(unauthenticated("Access token validation failure. Invalid issuer."));
    }
    Ok(claims)
}
