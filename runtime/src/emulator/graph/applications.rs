//! Microsoft Graph's application object of the emulated app registration.
//!
//! `GET /v1.0/applications(appId='{id}')`, `GET /v1.0/applications?$filter=appId eq '{id}'`,
//! `GET /v1.0/applications/{object-id}`, and `PATCH` on both single-object forms, which needs an
//! application permission of the home tenant (`Application.ReadWrite.OwnedBy` for the app itself,
//! or `Application.ReadWrite.All`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::{bad_request, bearer, forbidden, method_not_allowed, not_found, unauthenticated};
use crate::emulator::Platform;
use crate::emulator::errors::graph_error as error;
use crate::emulator::jws::str_claim;
use crate::emulator::request::{Req, percent_decode};
use crate::emulator::state::State;

/// Most redirect URIs an app for work or school accounts may have, over all platforms.
pub(crate) const MAX_REDIRECT_URIS: usize = 256;

/// Graph's check of an application permission on the application object: the token is of the
/// home tenant and has `Application.ReadWrite.OwnedBy` (the app itself) or
/// `Application.ReadWrite.All` (<https://learn.microsoft.com/en-us/graph/api/application-update>).
#[allow(clippy::result_large_err)] // cold error path; the response is sent at once
fn authorize(state: &State, claims: &Map<String, Value>) -> Result<(), Response> {
    if str_claim(claims, "tid") != state.home {
        return Err(unauthenticated("Access token validation failure. Invalid issuer."));
    }
    let roles: Vec<&str> = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let scp = str_claim(claims, "scp");
    let client =
        claims.get("appid").or_else(|| claims.get("azp")).and_then(Value::as_str).unwrap_or_default();
    let all = roles.contains(&"Application.ReadWrite.All")
        || scp.split(' ').any(|s| s == "Application.ReadWrite.All");
    let owned =
        roles.contains(&"Application.ReadWrite.OwnedBy") && client.eq_ignore_ascii_case(&state.app.app_id);
    if !all && !owned {
        return Err(forbidden());
    }
    Ok(())
}

/// Which application a path names.
enum Target {
    /// `applications?$filter=…` or `applications`.
    Collection,
    /// `applications(appId='…')`.
    AppId(String),
    /// `applications/{object-id}`.
    ObjectId(String),
}

fn target(path: &str) -> Option<Target> {
    let rest = percent_decode(path.strip_prefix("/v1.0/applications")?);
    if rest.is_empty() || rest == "/" {
        return Some(Target::Collection);
    }
    if let Some(inner) = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        let (key, value) = inner.split_once('=')?;
        let value = value.strip_prefix('\'')?.strip_suffix('\'')?;
        return key.trim().eq_ignore_ascii_case("appId").then(|| Target::AppId(value.to_ascii_lowercase()));
    }
    let id = rest.strip_prefix('/')?;
    (!id.is_empty() && !id.contains('/')).then(|| Target::ObjectId(id.to_ascii_lowercase()))
}

/// Serves `…/v1.0/applications…`.
pub(crate) fn handle(state: &State, req: &Req) -> Response {
    let Some(target) = target(&req.path) else {
        let segment = req.path.trim_start_matches('/').split('/').nth(1).unwrap_or_default();
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("Resource not found for the segment '{segment}'."),
        );
    };
    if req.method != Method::GET && req.method != Method::PATCH {
        return method_not_allowed(&req.method, "GET or PATCH");
    }
    let claims = match bearer(state, req) {
        Ok(claims) => claims,
        Err(resp) => return resp,
    };
    if let Err(resp) = authorize(state, &claims) {
        return resp;
    }
    let app = &state.app;
    match (&req.method, target) {
        (&Method::GET, Target::Collection) => {
            let filter = req.query("$filter");
            let matches = match filter {
                None => true,
                Some(f) => match parse_app_id_filter(f) {
                    Some(id) => id.eq_ignore_ascii_case(&app.app_id),
                    None => {
                        return error(
                            StatusCode::BAD_REQUEST,
                            "Request_UnsupportedQuery",
                            &format!(
                                "Unsupported or invalid query filter clause specified for property 'appId' of resource 'Application': {f}"
                            ),
                        );
                    }
                },
            };
            let value: Vec<Value> =
                if matches { vec![application(state, req.query("$select"), false)] } else { Vec::new() };
            Json(json!({
                "@odata.context": format!("{}/v1.0/$metadata#applications", state.graph),
                "value": value,
            }))
            .into_response()
        }
        (_, Target::Collection) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "Request_BadRequest", "PATCH needs a single application.")
        }
        (method, target) => {
            // An app id used as object id (or the reverse) is not found, as in Graph.
            let (found, id) = match target {
                Target::AppId(id) => (id == app.app_id, id),
                Target::ObjectId(id) => (id == app.object_id, id),
                Target::Collection => (false, String::new()),
            };
            if !found {
                return not_found(&id);
            }
            if method == Method::GET {
                Json(application(state, req.query("$select"), true)).into_response()
            } else {
                patch(state, req)
            }
        }
    }
}

/// `appId eq '…'` → the id.
fn parse_app_id_filter(filter: &str) -> Option<String> {
    let mut words = filter.split_whitespace();
    let (Some(prop), Some(op), Some(value), None) = (words.next(), words.next(), words.next(), words.next())
    else {
        return None;
    };
    if !prop.eq_ignore_ascii_case("appId") || !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    Some(value.strip_prefix('\'')?.strip_suffix('\'')?.to_owned())
}

/// The application object, optionally reduced to `$select`.
fn application(state: &State, select: Option<&str>, entity: bool) -> Value {
    let app = &state.app;
    let m = state.lock();
    let uris = |p: Platform| m.redirect_uris.get(&p).cloned().unwrap_or_default();
    let web = uris(Platform::Web);
    let mut obj = json!({
        "id": app.object_id,
        "appId": app.app_id,
        "displayName": m.display_name,
        "signInAudience": if app.multi_tenant { "AzureADMultipleOrgs" } else { "AzureADMyOrg" },
        "identifierUris": [format!("api://{}", app.app_id)],
        "api": {
            "requestedAccessTokenVersion": if app.token_version == 2 { json!(2) } else { Value::Null },
            "oauth2PermissionScopes": app.exposed_scopes.iter().map(|s| json!({
                "adminConsentDescription": s, "adminConsentDisplayName": s, "isEnabled": true,
                "type": "User", "value": s,
            })).collect::<Vec<_>>(),
        },
        "web": {
            "homePageUrl": null,
            "logoutUrl": null,
            "redirectUris": web,
            "implicitGrantSettings": { "enableAccessTokenIssuance": false, "enableIdTokenIssuance": false },
            "redirectUriSettings": web.iter().map(|u| json!({ "uri": u, "index": null })).collect::<Vec<_>>(),
        },
        "spa": { "redirectUris": uris(Platform::Spa) },
        "publicClient": { "redirectUris": uris(Platform::PublicClient) },
    });
    if let (Some(select), Some(o)) = (select, obj.as_object_mut()) {
        let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
        o.retain(|k, _| wanted.iter().any(|w| w.eq_ignore_ascii_case(k)));
    }
    if entity && let Some(o) = obj.as_object_mut() {
        o.insert(
            "@odata.context".into(),
            json!(format!("{}/v1.0/$metadata#applications/$entity", state.graph)),
        );
    }
    obj
}

/// `PATCH`: replaces whole `redirectUris` arrays (and `displayName`); 204.
fn patch(state: &State, req: &Req) -> Response {
    let json_body = req
        .header("content-type")
        .and_then(|c| c.split(';').next())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("application/json"));
    if !json_body {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BadRequest",
            "The Content-Type of a PATCH must be application/json.",
        );
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&req.body) else {
        return bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        );
    };
    let mut updates: Vec<(Platform, Vec<String>)> = Vec::new();
    let mut display_name = None;
    for (key, value) in &body {
        let platform = match key.as_str() {
            "web" => Platform::Web,
            "spa" => Platform::Spa,
            "publicClient" => Platform::PublicClient,
            "displayName" => {
                let Some(name) = value.as_str().filter(|n| !n.trim().is_empty()) else {
                    return bad_request(
                        "Invalid value specified for property 'displayName' of resource 'Application'.",
                    );
                };
                display_name = Some(name.to_owned());
                continue;
            }
            other => {
                return bad_request(&format!(
                    "Property '{other}' is not supported by the emulator (only web, spa, publicClient redirectUris and displayName)."
                ));
            }
        };
        let Some(obj) = value.as_object() else {
            return bad_request(&format!(
                "Invalid value specified for property '{key}' of resource 'Application'."
            ));
        };
        for k in obj.keys() {
            if k != "redirectUris" {
                return bad_request(&format!(
                    "Property '{key}.{k}' is not supported by the emulator (only {key}.redirectUris)."
                ));
            }
        }
        let Some(list) = obj.get("redirectUris") else { continue };
        let Some(list) = list.as_array() else {
            return bad_request(&format!(
                "Invalid value specified for property '{key}.redirectUris' of resource 'Application'."
            ));
        };
        let mut uris = Vec::with_capacity(list.len());
        for uri in list {
            let Some(uri) = uri.as_str() else {
                return bad_request(&format!(
                    "Invalid value specified for property '{key}.redirectUris' of resource 'Application'."
                ));
            };
            let web_like = platform != Platform::PublicClient;
            let http_scheme = uri.starts_with("https://") || uri.starts_with("http://");
            if crate::config::rules::redirect_uri(uri).is_err() || (web_like && !http_scheme) {
                return bad_request(&format!(
                    "Invalid value specified for property '{key}.redirectUris' of resource 'Application': '{uri}'."
                ));
            }
            uris.push(uri.to_owned());
        }
        updates.push((platform, uris));
    }
    let mut m = state.lock();
    let total: usize = Platform::ALL
        .into_iter()
        .map(|p| match updates.iter().find(|(u, _)| *u == p) {
            Some((_, list)) => list.len(),
            None => m.redirect_uris.get(&p).map_or(0, Vec::len),
        })
        .sum();
    if total > MAX_REDIRECT_URIS {
        drop(m);
        return bad_request(&format!(
            "The number of redirect URIs ({total}) exceeds the maximum of {MAX_REDIRECT_URIS} for the application."
        ));
    }
    for (platform, uris) in updates {
        m.redirect_uris.insert(platform, uris);
    }
    if let Some(name) = display_name {
        m.display_name = name;
    }
    StatusCode::NO_CONTENT.into_response()
}
