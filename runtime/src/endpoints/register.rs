//! RFC 7591 dynamic client registration (`POST /register`, and the `GET /register` variant Copilot
//! Studio uses).
//!
//! In broker mode a client gets an id of its own that carries its registration (sealed), and
//! nothing is written anywhere. In enrol mode (below) Entra has no dynamic registration, so every
//! client gets the app's own id, and registration enrols the client's redirect URIs on the app
//! registration through Microsoft Graph — only URIs the operator allowed, and only if Entra's rules
//! admit them.
//!
//! Answer to a registration, per outcome of the enrolment:
//! - every URI enrolled (or already on the app registration): **201**, `redirect_uris` = all of them;
//! - some enrolled, some not: **201**, `redirect_uris` = the enrolled ones, and
//!   `enrolment_failures: [{redirect_uri, error}]` for the others (the client can use the enrolled
//!   ones; the operator reads why the others failed);
//! - none enrolled because Graph failed: **502** `{"error": "server_error", "error_description",
//!   "enrolment_failures"}`;
//! - none enrolled because registration's budget is spent (at most `enrol_max_per_prefix` URIs
//!   under one allowed prefix, at most `enrol_max_total` on the app registration; registration is
//!   unauthenticated, so these bound what strangers can write): **400** `invalid_redirect_uri`
//!   naming the budget and the setting that raises it;
//! - no client secret configured (enrolment by hand on the app registration): **201** with the
//!   allowed URIs, and a warning in the log.
//!
//! The client authentication method is always `none`: no secret is ever issued, and the bridge adds
//! the app's secret server-side when a code for a `web` redirect URI is redeemed (RFC 7591 §2: the
//! registered `token_endpoint_auth_method` must match what the client can do, and SDKs refuse a
//! secret-based method without an issued secret).

use std::sync::Arc;

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value, json};

use super::clients::Registration;
use super::params::body_or_error;
use super::redirect_policy::{client_redirect_uri, enrol_budget, operator_allows, refusal};
use super::state::EndpointState;
use crate::config::{AzureOAuthConfig, Mode};
use crate::graph::EnrolError;
use crate::oauth_error::{ErrorCode, OAuthError, json_response};

/// Client metadata of a registration request, checked.
#[derive(Debug)]
struct Metadata {
    redirect_uris: Vec<String>,
    echoed: Map<String, Value>,
}

fn invalid_metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request(ErrorCode::InvalidClientMetadata, description)
}

fn invalid_redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::bad_request(ErrorCode::InvalidRedirectUri, description)
}

/// An optional array of strings.
fn strings(body: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| invalid_metadata(format!("`{field}` must be an array of strings"))),
        Some(_) => Err(invalid_metadata(format!("`{field}` must be an array of strings"))),
    }
}

fn parse_metadata(body: &[u8]) -> Result<Metadata, OAuthError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        invalid_metadata(format!("the body must be a JSON object of RFC 7591 client metadata: {e}"))
    })?;
    let Value::Object(body) = value else {
        return Err(invalid_metadata("the body must be a JSON object of RFC 7591 client metadata"));
    };
    let redirect_uris = match body.get("redirect_uris") {
        None | Some(Value::Null) => {
            return Err(invalid_redirect("`redirect_uris` is required: list the client's redirect URIs"));
        }
        Some(Value::Array(items)) => {
            let uris = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid_redirect("`redirect_uris` must be an array of strings"))?;
            if uris.is_empty() {
                return Err(invalid_redirect("`redirect_uris` is empty: list the client's redirect URIs"));
            }
            let mut seen = HashSet::new();
            uris.into_iter().filter(|u| seen.insert(u.clone())).collect()
        }
        Some(_) => return Err(invalid_redirect("`redirect_uris` must be an array of strings")),
    };
    if let Some(grants) = strings(&body, "grant_types")?
        && let Some(g) = grants.iter().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
    {
        return Err(invalid_metadata(format!(
            "grant type {g:?} is not supported: this server offers authorization_code and refresh_token"
        )));
    }
    if let Some(types) = strings(&body, "response_types")?
        && let Some(t) = types.iter().find(|t| t.as_str() != "code")
    {
        return Err(invalid_metadata(format!("response type {t:?} is not supported: use \"code\"")));
    }
    let mut echoed = Map::new();
    for field in ["client_name", "application_type", "client_uri", "software_id", "software_version"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                echoed.insert(field.to_owned(), Value::String(s.clone()));
            }
            Some(_) => return Err(invalid_metadata(format!("`{field}` must be a string"))),
        }
    }
    if let Some(Value::String(t)) = echoed.get("application_type")
        && !matches!(t.as_str(), "web" | "native")
    {
        return Err(invalid_metadata(format!(
            "application_type {t:?} is not valid: use \"web\" or \"native\""
        )));
    }
    match body.get("token_endpoint_auth_method") {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(_) => return Err(invalid_metadata("`token_endpoint_auth_method` must be a string")),
    }
    Ok(Metadata { redirect_uris, echoed })
}

/// The registration answer without `redirect_uris`: the app id, how to authenticate (`none`) and
/// the scope Copilot Studio builds its authorize request from. Never a secret.
fn registration(config: &AzureOAuthConfig) -> Map<String, Value> {
    let issued_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    registration_answer(config, issued_at)
}

/// [`registration`] issued at `issued_at`.
fn registration_answer(config: &AzureOAuthConfig, issued_at: u64) -> Map<String, Value> {
    let mut scope = config.app_scopes().join(" ");
    scope.push_str(" offline_access openid profile");
    let mut map = Map::new();
    map.insert("client_id".into(), json!(config.app_id()));
    map.insert("client_id_issued_at".into(), json!(issued_at));
    map.insert("grant_types".into(), json!(["authorization_code", "refresh_token"]));
    map.insert("response_types".into(), json!(["code"]));
    map.insert("token_endpoint_auth_method".into(), json!("none"));
    map.insert("scope".into(), json!(scope));
    map
}

/// `GET /register`: the app's client id and the redirect URIs this process has enrolled (200; no
/// enrolment).
pub(crate) async fn register_get(State(state): State<Arc<EndpointState>>) -> Response {
    let mut body = registration(&state.config);
    body.insert("redirect_uris".into(), json!(state.graph.enrolled()));
    json_response(StatusCode::OK, &Value::Object(body))
}

/// `POST /register`: checks the metadata and every redirect URI, enrols them (and the server's own
/// callback when the base URL is configured), and answers as the module documentation says.
pub(crate) async fn register_post(
    State(state): State<Arc<EndpointState>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let metadata =
        match body_or_error(body, ErrorCode::InvalidClientMetadata).and_then(|b| parse_metadata(&b)) {
            Ok(m) => m,
            Err(e) => return e.into_response(),
        };
    if state.config.mode() == Mode::Broker {
        return register_with_broker(&state, metadata);
    }
    if let Some(why) = metadata.redirect_uris.iter().find_map(|uri| refusal(&state.config, uri)) {
        tracing::warn!(reason = %why, "registration refused");
        return invalid_redirect(why).into_response();
    }
    let mut to_enrol = metadata.redirect_uris.clone();
    if let Some(callback) = state.config.callback_url() {
        to_enrol.push(callback);
    }
    let report = state.graph.enrol_within(to_enrol, |uri| enrol_budget(&state.config, uri)).await;
    let failed: Vec<&(String, EnrolError)> =
        report.failed.iter().filter(|(uri, _)| metadata.redirect_uris.contains(uri)).collect();
    let no_secret = failed.iter().all(|(_, e)| *e == EnrolError::NoCredential);
    let redirect_uris: Vec<&String> = if no_secret {
        if !failed.is_empty() {
            tracing::warn!(
                "no client secret configured: redirect URIs were not enrolled automatically; enrol them on the app registration by hand"
            );
        }
        metadata.redirect_uris.iter().collect()
    } else {
        metadata.redirect_uris.iter().filter(|u| report.enrolled.contains(u)).collect()
    };
    let failures: Vec<Value> = failed
        .iter()
        .filter(|_| !no_secret)
        .map(|(uri, e)| json!({ "redirect_uri": uri, "error": e.to_string() }))
        .collect();
    let mut answer = registration(&state.config);
    answer.extend(metadata.echoed);
    let budget_spent = |e: &EnrolError| matches!(e, EnrolError::BudgetSpent { .. });
    if redirect_uris.is_empty() && !failed.is_empty() && failed.iter().all(|(_, e)| budget_spent(e)) {
        let description = failed.first().map(|(uri, e)| format!("redirect URI {uri:?} is not enrolled: {e}"));
        tracing::warn!(
            reason = description.as_deref().unwrap_or(""),
            "registration refused: enrolment budget spent"
        );
        return invalid_redirect(description.unwrap_or_default()).into_response();
    }
    if redirect_uris.is_empty() {
        let description = format!(
            "no redirect URI could be enrolled on the Entra app registration: {}",
            failed.first().map(|(_, e)| e.to_string()).unwrap_or_default()
        );
        return OAuthError::new(StatusCode::BAD_GATEWAY, ErrorCode::ServerError, description)
            .with_field("enrolment_failures", failures)
            .into_response();
    }
    answer.insert("redirect_uris".into(), json!(redirect_uris));
    if !failures.is_empty() {
        answer.insert("enrolment_failures".into(), json!(failures));
    }
    tracing::info!(redirect_uris = ?redirect_uris, "client registered");
    json_response(StatusCode::CREATED, &Value::Object(answer))
}

/// `POST /register` in broker mode: no Graph write. The redirect URIs follow RFC 8252 and the
/// client's `application_type` ([`client_redirect_uri`]), and the operator's allow-list when one is
/// configured; the client id carries the registration itself, sealed, so every replica accepts it
/// with nothing stored.
fn register_with_broker(state: &EndpointState, metadata: Metadata) -> Response {
    let application_type = metadata.echoed.get("application_type").and_then(Value::as_str).map(str::to_owned);
    for uri in &metadata.redirect_uris {
        if let Err(why) = client_redirect_uri(uri, application_type.as_deref()) {
            return invalid_redirect(why).into_response();
        }
        if !operator_allows(&state.config, uri) {
            return invalid_redirect(format!(
                "redirect URI {uri:?} is not allowed on this server: the operator must add it to ALLOWED_REDIRECT_URIS or a prefix of it to ALLOWED_REDIRECT_URI_PREFIXES"
            ))
            .into_response();
        }
    }
    let Some(sealer) = &state.sealer else {
        return OAuthError::server_error("this server has no sealing key").into_response();
    };
    let now = state.now();
    let client_name = metadata
        .echoed
        .get("client_name")
        .and_then(Value::as_str)
        .map(|n| n.trim().chars().take(100).collect());
    let registration = Registration {
        redirect_uris: metadata.redirect_uris.clone(),
        client_name,
        application_type,
        issued_at: now,
    };
    let mut answer = registration_answer(&state.config, now);
    answer.extend(metadata.echoed);
    answer.insert("client_id".into(), json!(registration.client_id(sealer, now)));
    answer.insert("redirect_uris".into(), json!(metadata.redirect_uris));
    tracing::info!(redirect_uris = ?registration.redirect_uris, "client registered with the broker");
    json_response(StatusCode::CREATED, &Value::Object(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AzureOAuthConfig {
        crate::fixtures::with_allow_lists()
    }

    #[test]
    fn metadata_is_checked_field_by_field() {
        let ok = parse_metadata(br#"{"redirect_uris":["https://a/b","https://a/b"],"client_name":"X"}"#)
            .expect("valid metadata");
        assert_eq!(ok.redirect_uris, ["https://a/b"]);
        assert_eq!(ok.echoed["client_name"], "X");
        for bad in [
            &b"not json"[..],
            br#"[]"#,
            br#"{"redirect_uris":["https://a/b"],"grant_types":["client_credentials"]}"#,
            br#"{"redirect_uris":["https://a/b"],"response_types":["token"]}"#,
            br#"{"redirect_uris":["https://a/b"],"client_name":5}"#,
            br#"{"redirect_uris":["https://a/b"],"application_type":"desktop"}"#,
        ] {
            assert!(parse_metadata(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        for bad in [&br#"{}"#[..], br#"{"redirect_uris":[]}"#, br#"{"redirect_uris":"https://a/b"}"#] {
            assert!(parse_metadata(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn registration_never_carries_a_secret_and_says_none() {
        let r = registration(&config());
        assert_eq!(r["token_endpoint_auth_method"], "none");
        assert!(!r.contains_key("client_secret"));
        assert_eq!(
            r["scope"],
            "api://11111111-2222-3333-4444-555555555555/access_as_user offline_access openid profile"
        );
    }
}
