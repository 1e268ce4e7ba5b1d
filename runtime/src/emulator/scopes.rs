//! The `scope` parameter of authorize and token requests: OpenID scopes, and the scopes of one
//! resource (the app's own API, Microsoft Graph, or another API registered in the tenant), and
//! the key a resource's consent and step-up requirement are held under.

use super::errors::{EntraError, bad};
use super::state::State;
use super::{GRAPH_APP_ID, GRAPH_RESOURCE};
use crate::config::rules;

/// The OpenID Connect scopes, which name no resource.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The resource a scope belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// The app's own API (`api://{app_id}/…`).
    Api,
    /// Microsoft Graph.
    Graph,
    /// Another web API registered with `Emulator::add_api`, by app id (lower case).
    Other(String),
}

impl Resource {
    /// The key its consent and step-up requirement are held under (see [`resource_key`]).
    pub(crate) fn key(&self, state: &State) -> String {
        match self {
            Resource::Api => format!("api://{}", state.app.app_id),
            Resource::Graph => GRAPH_RESOURCE.to_owned(),
            Resource::Other(id) => format!("api://{id}"),
        }
    }
}

/// The key a resource identifier is held under: `https://graph.microsoft.com` for any of Graph's
/// identifiers, `api://{app id}` for an API named by its App ID URI or app id, else the
/// identifier in lower case without a trailing slash.
pub(crate) fn resource_key(state: &State, resource: &str) -> String {
    let r = resource.trim().trim_end_matches('/').to_ascii_lowercase();
    let graph = [GRAPH_RESOURCE.to_owned(), state.graph.to_ascii_lowercase(), GRAPH_APP_ID.to_owned()];
    if graph.contains(&r) {
        return GRAPH_RESOURCE.to_owned();
    }
    if rules::guid(&r).is_ok() { format!("api://{r}") } else { r }
}

/// A scope's name without its resource (`https://graph.microsoft.com/User.Read` → `User.Read`).
pub(crate) fn scope_name(scope: &str) -> &str {
    scope.rsplit('/').next().unwrap_or(scope).trim()
}

/// A `scope` parameter, understood.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scopes {
    /// `openid`, `profile`, `email`, `offline_access` as requested.
    pub(crate) oidc: Vec<String>,
    /// Per resource, the scope names (`.default` included) in request order.
    pub(crate) resources: Vec<(Resource, Vec<String>)>,
}

impl Scopes {
    pub(crate) fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }
}

/// Why a scope parameter was refused: `(error, AADSTS code, message)`.
pub(crate) type ScopeError = (&'static str, u32, String);

/// Parses a `scope` parameter: OpenID scopes, the app's own scopes, Graph permissions;
/// anything else is refused as Entra refuses it.
pub(crate) fn parse_scopes(state: &State, raw: &str) -> Result<Scopes, ScopeError> {
    let app = &state.app.app_id;
    let api_prefixes = [format!("api://{app}/"), format!("{app}/")];
    let graph_prefixes =
        [format!("{GRAPH_RESOURCE}/"), format!("{}/", state.graph), format!("{GRAPH_APP_ID}/")];
    let apis: Vec<(String, Vec<String>)> =
        state.lock().apis.iter().map(|(id, api)| (id.clone(), api.scopes.clone())).collect();
    let mut out = Scopes::default();
    let invalid = |s: &str| {
        (
            "invalid_scope",
            70_011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{s}' is not valid."
            ),
        )
    };
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if OIDC_SCOPES.contains(&s) {
            if !out.has(s) {
                out.oidc.push(s.to_owned());
            }
            continue;
        }
        // Resource identifiers (GUIDs, hosts) match case-insensitively; scope names exactly.
        let strip = |prefixes: &[String]| {
            prefixes.iter().find_map(|p| {
                let head = s.get(..p.len())?;
                head.eq_ignore_ascii_case(p).then(|| &s[p.len()..])
            })
        };
        let (resource, name) = if let Some(name) = strip(&api_prefixes) {
            if name != ".default" && !state.app.exposed_scopes.iter().any(|e| e == name) {
                return Err(invalid(s));
            }
            (Resource::Api, name)
        } else if let Some((id, exposed, name)) = apis.iter().find_map(|(id, exposed)| {
            strip(&[format!("api://{id}/"), format!("{id}/")]).map(|name| (id, exposed, name))
        }) {
            if name != ".default" && !exposed.iter().any(|e| e == name) {
                return Err(invalid(s));
            }
            (Resource::Other(id.clone()), name)
        } else if let Some(name) = strip(&graph_prefixes) {
            if !is_graph_permission(name) {
                return Err(invalid(s));
            }
            (Resource::Graph, name)
        } else if !s.contains('/') && is_graph_permission(s) && s != ".default" {
            // Entra reads an unqualified scope as a Microsoft Graph permission.
            (Resource::Graph, s)
        } else if s.contains("://") || s.contains('/') {
            let resource = s.rsplit_once('/').map_or(s, |(r, _)| r);
            return Err((
                "invalid_resource",
                500_011,
                format!(
                    "The resource principal named {resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
                ),
            ));
        } else {
            return Err(invalid(s));
        };
        match out.resources.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, names)) => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            None => out.resources.push((resource, vec![name.to_owned()])),
        }
    }
    for (_, names) in &out.resources {
        if names.len() > 1 && names.iter().any(|n| n == ".default") {
            return Err((
                "invalid_scope",
                70_011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope '{}' is not valid. .default scope can't be combined with resource-specific scopes.",
                    raw
                ),
            ));
        }
    }
    Ok(out)
}

/// Graph permission names look like `User.Read` or `Application.ReadWrite.OwnedBy`.
fn is_graph_permission(name: &str) -> bool {
    name == ".default"
        || (name.contains('.')
            && !name.starts_with('.')
            && !name.ends_with('.')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
}

/// A scope qualified: `api://{app}/access_as_user`, `https://graph.microsoft.com/User.Read`.
pub(crate) fn qualify(state: &State, resource: &Resource, name: &str) -> String {
    format!("{}/{name}", resource.key(state))
}

/// A token is for one resource: scopes of two (Graph and the app's API) are refused.
pub(crate) fn single_resource(state: &State, requested: &Scopes) -> Result<(), EntraError> {
    if requested.resources.len() > 1 {
        let all: Vec<String> = requested
            .resources
            .iter()
            .flat_map(|(r, names)| names.iter().map(move |n| (r, n)))
            .map(|(r, n)| qualify(state, r, n))
            .collect();
        return Err(bad(
            "invalid_scope",
            28_000,
            format!(
                "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope {} is not valid.",
                all.join(" ")
            ),
        ));
    }
    Ok(())
}
