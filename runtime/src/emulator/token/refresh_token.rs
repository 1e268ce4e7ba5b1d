//! The `refresh_token` grant.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{issue, required};
use crate::emulator::client::{Client, check_platform};
use crate::emulator::errors::{EntraError, bad};
use crate::emulator::request::Req;
use crate::emulator::scopes::{parse_scopes, single_resource};
use crate::emulator::state::State;

/// Redeems the grant; the body of the token response.
pub(super) fn grant(
    state: &Arc<State>,
    req: &Req,
    client: &Client,
) -> Result<Map<String, Value>, EntraError> {
    let token = required(req, "refresh_token")?;
    let scope = required(req, "scope")?;
    let Some(grant) = state.lock().refresh.get(token).cloned() else {
        return Err(bad("invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid."));
    };
    if !client.id.eq_ignore_ascii_case(&grant.client_id) {
        return Err(bad("invalid_grant", 700_003, "The refresh token was issued to another client."));
    }
    check_platform(state, grant.platform, client)?;
    let requested = parse_scopes(state, scope).map_err(|(e, c, m)| bad(e, c, m))?;
    single_resource(state, &requested)?;
    issue(state, client, &requested, &grant.scopes, &grant.user, grant.platform, None)
}
