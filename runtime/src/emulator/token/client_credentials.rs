//! The `client_credentials` grant: app-only tokens for Microsoft Graph or the app's own API.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::required;
use crate::emulator::client::{Client, check_confidential};
use crate::emulator::errors::{EntraError, bad};
use crate::emulator::mint::TokenBuilder;
use crate::emulator::request::Req;
use crate::emulator::state::State;
use crate::emulator::tenant::TenantRef;
use crate::emulator::{GRAPH_APP_ID, GRAPH_RESOURCE};

/// Redeems the grant; the body of the token response.
pub(super) fn grant(
    state: &Arc<State>,
    req: &Req,
    client: &Client,
    tenant: &TenantRef,
) -> Result<Map<String, Value>, EntraError> {
    check_confidential(state, client)?;
    let TenantRef::Id(tid) = tenant else {
        return Err(bad(
            "invalid_request",
            50_059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        ));
    };
    let scope = required(req, "scope")?.trim();
    let resource = scope.strip_suffix("/.default").filter(|_| !scope.contains(' ')).ok_or_else(|| {
        bad(
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    })?;
    let app = &state.app.app_id;
    let builder = TokenBuilder::new(Arc::clone(state)).client_id(&client.id).tenant(tid);
    let access = if [GRAPH_RESOURCE, state.graph.as_str(), GRAPH_APP_ID].contains(&resource) {
        builder.graph().signed_with_tenant_keys(tid)
    } else if resource == format!("api://{app}") || resource == app.as_str() {
        builder.app_only().roles(state.app.app_roles.clone())
    } else {
        return Err(bad(
            "invalid_resource",
            500_011,
            format!("The resource principal named {resource} was not found in the tenant named {tid}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
        ));
    }
    .expires_in(state.token_lifetime)
    .sign();
    let expires = state.token_lifetime.as_secs();
    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(expires));
    body.insert("ext_expires_in".into(), json!(expires));
    body.insert("access_token".into(), json!(access));
    Ok(body)
}
