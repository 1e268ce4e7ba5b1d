//! `GET /v1.0/me`: the profile of the token's user
//! (<https://learn.microsoft.com/en-us/graph/api/user-get>). Only a delegated token can call it,
//! with a permission that reads the signed-in user's profile.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::Method;
use serde_json::{Value, json};

use super::{bad_request, bearer, forbidden, method_not_allowed, not_found};
use crate::emulator::jws::str_claim;
use crate::emulator::request::Req;
use crate::emulator::state::State;

/// Delegated permissions that let an app read the signed-in user's profile, least privileged
/// first (<https://learn.microsoft.com/en-us/graph/api/user-get#permissions>).
const PROFILE_SCOPES: [&str; 8] = [
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
];

/// Serves `/v1.0/me`.
pub(crate) fn handle(state: &State, req: &Req) -> Response {
    if req.method != Method::GET {
        return method_not_allowed(&req.method, "GET");
    }
    let claims = match bearer(state, req) {
        Ok(claims) => claims,
        Err(resp) => return resp,
    };
    // An app-only token has no signed-in user: "Application permissions are not supported when
    // using the `/me` endpoint."
    let Some(scp) = claims.get("scp").and_then(Value::as_str) else {
        return bad_request("/me request is only valid with delegated authentication flow.");
    };
    if !scp.split(' ').any(|s| PROFILE_SCOPES.iter().any(|p| p.eq_ignore_ascii_case(s))) {
        return forbidden();
    }
    let oid = str_claim(&claims, "oid");
    let Some((user, profile)) = state.lock().users.get(oid).cloned() else {
        return not_found(oid);
    };
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#users/$entity", state.graph),
        "businessPhones": profile.business_phones,
        "displayName": user.name,
        "givenName": profile.given_name,
        "jobTitle": profile.job_title,
        "mail": profile.mail,
        "mobilePhone": profile.mobile_phone,
        "officeLocation": profile.office_location,
        "preferredLanguage": profile.preferred_language,
        "surname": profile.surname,
        "userPrincipalName": user.preferred_username,
        "id": user.oid,
    });
    if let (Some(select), Some(o)) = (req.query("$select"), body.as_object_mut()) {
        let wanted: Vec<&str> = select.split(',').map(str::trim).collect();
        o.retain(|k, _| k == "@odata.context" || wanted.iter().any(|w| w.eq_ignore_ascii_case(k)));
    }
    Json(body).into_response()
}
