//! The `authorization_code` grant: single-use codes, the redirect URI and PKCE checks.

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
    let code = required(req, "code")?;
    let redirect_uri = required(req, "redirect_uri")?;
    let scope = required(req, "scope")?;
    let grant = {
        let m = state.lock();
        if m.redeemed.contains(code) {
            return Err(already_redeemed());
        }
        m.codes.get(code).cloned()
    };
    let Some(grant) = grant else {
        return Err(bad("invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid."));
    };
    if tokio::time::Instant::now() >= grant.expires {
        state.lock().codes.remove(code);
        return Err(bad(
            "invalid_grant",
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !client.id.eq_ignore_ascii_case(&grant.client_id) {
        // unverified code
        return Err(bad(
            "invalid_grant",
            70_000,
            "The provided authorization code was issued to another client.",
        ));
    }
    if redirect_uri != grant.redirect_uri {
        return Err(bad(
            "invalid_grant",
            500_112,
            format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                grant.redirect_uri
            ),
        ));
    }
    check_platform(state, grant.platform, client)?;
    if let Some((challenge, method)) = &grant.challenge {
        let Some(verifier) = req.form("code_verifier") else {
            return Err(bad(
                "invalid_grant",
                501_481,
                "The Code_Verifier is missing: the authorization request had a code_challenge.",
            ));
        };
        let computed = if method == "S256" {
            crate::primitives::digest::sha256_base64url(verifier)
        } else {
            verifier.to_owned()
        };
        if computed != *challenge {
            return Err(bad(
                "invalid_grant",
                501_481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    let requested = parse_scopes(state, scope).map_err(|(e, c, m)| bad(e, c, m))?;
    single_resource(state, &requested)?;
    // Every check passed: consume the code atomically, so that of two concurrent redemptions
    // only one succeeds.
    {
        let mut m = state.lock();
        if m.codes.remove(code).is_none() {
            return Err(already_redeemed());
        }
        m.redeemed.insert(code.to_owned());
    }
    issue(state, client, &requested, &grant.scopes, &grant.user, grant.platform, grant.nonce.as_deref())
}

fn already_redeemed() -> EntraError {
    bad(
        "invalid_grant",
        54_005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    )
}
