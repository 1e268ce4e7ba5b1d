//! The on-behalf-of grant (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
//! `requested_token_use=on_behalf_of`): the app exchanges a user's access token for a token to
//! another API, as
//! <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow> describes.
//!
//! The assertion is checked as Entra checks it: signed by a key its tenant lists, within its
//! lifetime, `aud` the app (its id or `api://{id}`), a delegated token (`scp`), and sent to the
//! tenant of its `tid`. Then consent for the requested scopes and any step-up requirement of the
//! resource. Codes come from
//! <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>; those marked
//! *unverified* are the closest documented code for a case Microsoft does not document.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{access_token, required, response};
use crate::emulator::client::{Client, check_confidential};
use crate::emulator::errors::{EntraError, bad};
use crate::emulator::jws::{self, JwsError, str_claim};
use crate::emulator::request::Req;
use crate::emulator::scopes::{Resource, parse_scopes, qualify, single_resource};
use crate::emulator::state::State;
use crate::emulator::tenant::TenantRef;
use crate::emulator::time::unix_now;
use crate::emulator::{GRAPH_APP_ID, Platform, User};

/// The `grant_type` of the on-behalf-of flow (RFC 7523 section 2.1:
/// <https://www.rfc-editor.org/rfc/rfc7523#section-2.1>).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Exchanges the assertion; the body of the token response.
pub(super) fn grant(
    state: &Arc<State>,
    req: &Req,
    client: &Client,
    tenant: &TenantRef,
) -> Result<Map<String, Value>, EntraError> {
    // Only a confidential client may exchange a token.
    check_confidential(state, client)?;
    if matches!(tenant, TenantRef::Common | TenantRef::Consumers) {
        return Err(bad(
            "invalid_request",
            9_001_023,
            "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
        ));
    }
    let token_use = required(req, "requested_token_use")?;
    if token_use != "on_behalf_of" {
        // unverified code: AADSTS90100 is "the parameter is empty or not valid".
        return Err(bad(
            "invalid_request",
            90_100,
            format!(
                "The value '{token_use}' of the parameter 'requested_token_use' is not valid. Send requested_token_use=on_behalf_of for the on-behalf-of flow."
            ),
        ));
    }
    let assertion = required(req, "assertion")?;
    let scope = required(req, "scope")?;
    let claims = check_assertion(state, assertion, tenant)?;
    let requested = parse_scopes(state, scope).map_err(|(e, c, m)| bad(e, c, m))?;
    single_resource(state, &requested)?;
    let (resource, names) =
        requested.resources.first().cloned().unwrap_or((Resource::Graph, vec!["User.Read".into()]));
    let names = consented(state, &resource, &names)?;
    let key = resource.key(state);
    let challenge = state.lock().step_up.get(&key).cloned();
    if let Some(challenge) = challenge
        && !satisfies(&claims, &challenge)
    {
        return Err(interaction_required(Some(&resource_id(state, &resource)), &challenge));
    }
    let user = user_of(state, &claims);
    let access = access_token(state, &resource, &names, &user, &client.id, "1");
    let mut body = response(state, &resource, &names, access);
    if requested.has("offline_access") {
        let mut granted = vec!["offline_access".to_owned()];
        granted.extend(names.iter().map(|n| qualify(state, &resource, n)));
        let rt = super::issue_refresh_token(state, &client.id, Platform::Web, &granted, &user);
        body.insert("refresh_token".into(), json!(rt));
    }
    Ok(body)
}

/// `AADSTS50013`, the assertion is not a token Entra issued for this tenant.
fn invalid_assertion(message: impl Into<String>) -> EntraError {
    bad("invalid_grant", 50_013, message)
}

/// Checks the user's token as Entra does before exchanging it; returns its claims.
fn check_assertion(
    state: &State,
    assertion: &str,
    tenant: &TenantRef,
) -> Result<Map<String, Value>, EntraError> {
    let claims = jws::verify(state, assertion).map_err(|e| match e {
        JwsError::Malformed => invalid_assertion("Assertion is malformed: it is not a signed JWT."),
        JwsError::KeyNotFound => invalid_assertion(
            "Assertion failed signature validation. [Reason - The key was not found.] Send the access token Entra issued to the user for this app.",
        ),
        JwsError::BadSignature => invalid_assertion(
            "Assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]",
        ),
    })?;
    if jws::expired(&claims) || jws::not_yet_valid(&claims) {
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        return Err(bad(
            "invalid_grant",
            500_133,
            format!(
                "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: {}, expiry time of assertion {exp}.",
                unix_now()
            ),
        ));
    }
    if !jws::issuer_matches_tenant(state, &claims) {
        return Err(invalid_assertion(format!(
            "Assertion is invalid: the issuer '{}' is not the token issuer of its tenant.",
            str_claim(&claims, "iss")
        )));
    }
    let app = &state.app.app_id;
    let aud = str_claim(&claims, "aud");
    let aud_ok = [app.clone(), format!("api://{app}"), format!("api://{app}/")]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(aud));
    if !aud_ok {
        // Observed in public reports; the `error` value is unverified.
        return Err(bad(
            "invalid_grant",
            500_131,
            format!(
                "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{aud}' and the expected audience is '{app}' or one of the Application Uris of this application with App ID '{app}'. The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion."
            ),
        ));
    }
    let tid = str_claim(&claims, "tid");
    if let TenantRef::Id(t) = tenant
        && t != tid
    {
        // unverified code: Entra documents that the request goes to the user's tenant, not the
        // error for another tenant.
        return Err(invalid_assertion(format!(
            "Assertion is invalid: it was issued by tenant '{tid}', not by tenant '{t}'. Send the on-behalf-of request to the tenant of the user (the assertion's tid): /{tid}/oauth2/v2.0/token."
        )));
    }
    if claims.get("scp").and_then(Value::as_str).is_none_or(str::is_empty) {
        if str_claim(&claims, "idtyp") == "app"
            || claims.contains_key("roles") && !claims.contains_key("nonce")
        {
            // The flow "only works for user principals"; the `error` value is unverified.
            return Err(bad(
                "unauthorized_client",
                7_000_114,
                format!(
                    "Application '{app}' is not allowed to make application on-behalf-of calls. The assertion is an app-only token; use the client credentials flow instead."
                ),
            ));
        }
        return Err(bad(
            "invalid_grant",
            240_002,
            "The id_token can't be used as urn:ietf:params:oauth:grant-type:jwt-bearer grant. Send the user's access token for this app as the assertion.",
        ));
    }
    Ok(claims)
}

/// The scope names to grant: each requested one must be consented (for the app's own API the
/// exposed scopes are); `.default` means every consented scope. Else `AADSTS65001`.
fn consented(state: &State, resource: &Resource, names: &[String]) -> Result<Vec<String>, EntraError> {
    let held: Vec<String> = match resource {
        Resource::Api => state.app.exposed_scopes.clone(),
        _ => state.lock().consent.get(&resource.key(state)).cloned().unwrap_or_default(),
    };
    if names.iter().any(|n| n == ".default") {
        return if held.is_empty() { Err(consent_required(state)) } else { Ok(held) };
    }
    names
        .iter()
        .map(|n| {
            held.iter().find(|h| h.eq_ignore_ascii_case(n)).cloned().ok_or_else(|| consent_required(state))
        })
        .collect()
}

/// `AADSTS65001`: the user or an admin has not consented to a permission of the request.
pub(crate) fn consent_required(state: &State) -> EntraError {
    let name = state.lock().display_name.clone();
    bad(
        "invalid_grant",
        65_001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{name}'. Send an interactive authorization request for this user and resource.",
            state.app.app_id
        ),
    )
}

/// `interaction_required` with `AADSTS50079` and the claims challenge, as in
/// <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow#error-response-example>.
/// The status is unverified (400, as for other grant errors).
pub(crate) fn interaction_required(resource: Option<&str>, claims: &str) -> EntraError {
    let target = resource.map_or_else(|| "the requested resource".to_owned(), |r| format!("'{r}'"));
    EntraError {
        claims: Some(claims.to_owned()),
        ..bad(
            "interaction_required",
            50_079,
            format!(
                "Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multifactor authentication to access {target}. Pass the claims challenge to the client so that the user signs in again with it."
            ),
        )
    }
}

/// The id Entra names a resource by in messages: its app id.
fn resource_id(state: &State, resource: &Resource) -> String {
    match resource {
        Resource::Api => state.app.app_id.clone(),
        Resource::Graph => GRAPH_APP_ID.to_owned(),
        Resource::Other(id) => id.clone(),
    }
}

/// Whether the assertion carries every claim the challenge's `access_token` member asks for, with
/// its `value` (or one of its `values`); a challenge that is not such JSON is never satisfied.
fn satisfies(claims: &Map<String, Value>, challenge: &str) -> bool {
    let Ok(Value::Object(request)) = serde_json::from_str::<Value>(challenge) else { return false };
    let Some(Value::Object(wanted)) = request.get("access_token") else { return false };
    wanted.iter().all(|(name, spec)| {
        let Some(have) = claims.get(name) else { return false };
        let values: Vec<&Value> = match (spec.get("value"), spec.get("values")) {
            (Some(v), _) => vec![v],
            (None, Some(Value::Array(vs))) => vs.iter().collect(),
            _ => return true,
        };
        values.iter().any(|v| have == *v || have.as_array().is_some_and(|a| a.contains(v)))
    })
}

/// The user of the assertion: from the directory by `oid`, else from its claims; in its tenant.
fn user_of(state: &State, claims: &Map<String, Value>) -> User {
    let oid = str_claim(claims, "oid");
    let tid = str_claim(claims, "tid").to_owned();
    let known = state.lock().users.get(oid).map(|(u, _)| u.clone());
    let user = known.unwrap_or_else(|| {
        let name = |n: &str| str_claim(claims, n).to_owned();
        let username = [name("preferred_username"), name("upn"), name("unique_name")]
            .into_iter()
            .find(|n| !n.is_empty());
        User {
            oid: oid.to_owned(),
            name: name("name"),
            preferred_username: username.unwrap_or_default(),
            tenant: tid.clone(),
            roles: Vec::new(),
        }
    });
    // Roles stay with the user for the API they were assigned on, never travel downstream.
    User { tenant: tid, roles: Vec::new(), ..user }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::satisfies;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_challenge_is_satisfied_by_the_claims_it_asks_for_and_nothing_less() {
        let acrs = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
        assert!(satisfies(&claims(json!({"acrs": ["c2", "c1"]})), acrs));
        assert!(!satisfies(&claims(json!({"acrs": ["c2"]})), acrs));
        assert!(!satisfies(&claims(json!({})), acrs));
        // The shape of the on-behalf-of error example: `values`, a policy id.
        let polids = r#"{"access_token":{"polids":{"essential":true,"values":["9ab03e19-ed42-4168-b6b7-7001fb3e933a"]}}}"#;
        assert!(satisfies(&claims(json!({"polids": ["9ab03e19-ed42-4168-b6b7-7001fb3e933a"]})), polids));
        assert!(!satisfies(&claims(json!({"polids": ["another"]})), polids));
        assert!(!satisfies(&claims(json!({"acrs": ["c1"]})), "not json"), "only clear_step_up lifts it");
    }
}
