//! `POST /{tenant}/oauth2/v2.0/token`: the checks every grant shares, then one file per grant.
//! Codes marked *unverified* are Entra's closest documented error for the case; the `error`
//! values follow RFC 6749 (<https://www.rfc-editor.org/rfc/rfc6749#section-5.2>).

mod authorization_code;
mod client_credentials;
mod on_behalf_of;
mod refresh_token;

use std::sync::Arc;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use serde_json::{Map, Value, json};

use super::client::{Client, check_client, client_of};
use super::errors::{EntraError, bad, missing};
use super::mint::TokenBuilder;
use super::request::Req;
use super::scopes::{Resource, Scopes, qualify};
use super::state::{RefreshGrant, State};
use super::tenant::TenantRef;
use super::{GRAPH_RESOURCE, Platform, User, random_token};

pub(crate) use on_behalf_of::{JWT_BEARER, consent_required, interaction_required};

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(state: &Arc<State>, req: &Req, tenant: &TenantRef) -> Response {
    match token_inner(state, req, tenant) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store, no-cache"), (header::PRAGMA, "no-cache")],
            Json(Value::Object(body)),
        )
            .into_response(),
        Err(e) => e.into_response(state),
    }
}

fn token_inner(state: &Arc<State>, req: &Req, tenant: &TenantRef) -> Result<Map<String, Value>, EntraError> {
    if req.method != Method::POST {
        return Err(EntraError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            error: "invalid_request",
            code: 900_561,
            message: format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                req.method
            ),
            claims: None,
        });
    }
    if !req.is_form() {
        return Err(bad(
            "invalid_request",
            900_144,
            "The request body must be application/x-www-form-urlencoded and contain the parameter 'grant_type'.",
        ));
    }
    let grant_type = req
        .form("grant_type")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| bad("invalid_request", 900_144, missing("grant_type")))?;
    let client = client_of(req)?;
    check_client(state, &client.id, tenant).map_err(|(status, error, code, message)| EntraError {
        status,
        error,
        code,
        message,
        claims: None,
    })?;
    if req.form("resource").is_some() {
        return Err(bad(
            "invalid_target",
            9_010_010,
            "The resource parameter provided in the request doesn't match with the requested scopes.",
        ));
    }
    match grant_type {
        "authorization_code" => authorization_code::grant(state, req, &client),
        "refresh_token" => refresh_token::grant(state, req, &client),
        "client_credentials" => client_credentials::grant(state, req, &client, tenant),
        JWT_BEARER => on_behalf_of::grant(state, req, &client, tenant),
        other => Err(bad(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

/// A form parameter that must be present and not blank (else `AADSTS900144`).
fn required<'a>(req: &'a Req, name: &str) -> Result<&'a str, EntraError> {
    req.form(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| bad("invalid_request", 900_144, missing(name)))
}

/// Builds the token response of a delegated grant: an access token for the one resource of the
/// requested scopes, a refresh token when `offline_access` was granted, an ID token for `openid`.
fn issue(
    state: &Arc<State>,
    client: &Client,
    requested: &Scopes,
    granted: &[String],
    user: &User,
    platform: Platform,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, EntraError> {
    let (resource, names) =
        requested.resources.first().cloned().unwrap_or((Resource::Graph, vec!["User.Read".into()]));
    // Scopes of the resource: `.default` means every consented scope; the user consents to what
    // the sign-in asked for, so here: every exposed scope, and `User.Read` of Graph.
    let names: Vec<String> = if names.iter().any(|n| n == ".default") {
        match &resource {
            Resource::Api => state.app.exposed_scopes.clone(),
            Resource::Graph => vec!["User.Read".into()],
            Resource::Other(id) => state.lock().apis.get(id).map(|a| a.scopes.clone()).unwrap_or_default(),
        }
    } else {
        names
    };
    let acr = if platform == Platform::Web { "1" } else { "0" };
    let access = access_token(state, &resource, &names, user, &client.id, acr);
    let mut body = response(state, &resource, &names, access);
    if granted.iter().any(|s| s == "offline_access") {
        body.insert(
            "refresh_token".into(),
            json!(issue_refresh_token(state, &client.id, platform, granted, user)),
        );
    }
    if granted.iter().any(|s| s == "openid") {
        let mut id = TokenBuilder::new(Arc::clone(state))
            .id_token()
            .user(user.clone())
            .client_id(&client.id)
            .tenant(&user.tenant);
        if let Some(n) = nonce {
            id = id.nonce(n);
        } else {
            id = id.without_claim("nonce");
        }
        body.insert("id_token".into(), json!(id.sign()));
    }
    Ok(body)
}

/// An access token for `resource` with `scp` = `names`, about `user` (of `user.tenant`), issued
/// to `client_id`. The resource decides the format
/// (<https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#token-formats>): Graph
/// gets v1 tokens with `aud` `https://graph.microsoft.com`, another API the version of its
/// registration, the app's own API the app's version.
fn access_token(
    state: &Arc<State>,
    resource: &Resource,
    names: &[String],
    user: &User,
    client_id: &str,
    acr: &'static str,
) -> String {
    let tid = &user.tenant;
    let builder = TokenBuilder::new(Arc::clone(state)).user(user.clone()).client_id(client_id).tenant(tid);
    let builder = match resource {
        Resource::Api => builder,
        Resource::Graph => builder.v1().audience(GRAPH_RESOURCE).signed_with_tenant_keys(tid),
        Resource::Other(id) => {
            let v1 = state.lock().apis.get(id).is_some_and(|a| a.token_version == 1);
            // Another app's tokens are signed with the tenant's keys, never this app's custom keys.
            let builder = builder.signed_with_tenant_keys(tid);
            if v1 { builder.v1().audience(&format!("api://{id}")) } else { builder.v2().audience(id) }
        }
    };
    builder.scopes(&names.join(" ")).client_acr(acr).expires_in(state.token_lifetime).sign()
}

/// The body of a successful token response: `token_type`, `scope` (qualified), `expires_in`,
/// `ext_expires_in`, `access_token`.
fn response(state: &State, resource: &Resource, names: &[String], access: String) -> Map<String, Value> {
    let expires = state.token_lifetime.as_secs();
    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert(
        "scope".into(),
        json!(names.iter().map(|n| qualify(state, resource, n)).collect::<Vec<_>>().join(" ")),
    );
    body.insert("expires_in".into(), json!(expires));
    body.insert("ext_expires_in".into(), json!(expires));
    body.insert("access_token".into(), json!(access));
    body
}

/// Issues a refresh token that [`refresh_token::grant`] redeems for `client_id`.
fn issue_refresh_token(
    state: &State,
    client_id: &str,
    platform: Platform,
    granted: &[String],
    user: &User,
) -> String {
    let rt = format!("1.A{}", random_token(160));
    let grant = RefreshGrant {
        client_id: client_id.to_ascii_lowercase(),
        platform,
        scopes: granted.to_vec(),
        user: user.clone(),
    };
    state.lock().refresh.insert(rt.clone(), grant);
    rt
}
