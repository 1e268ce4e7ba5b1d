//! Scopes in requests: MCP clients may send bare scope names, Entra needs this app's scopes fully
//! qualified (<https://learn.microsoft.com/entra/identity-platform/scopes-oidc>), and the bridge
//! never forwards a scope of another API.

use crate::config::{AzureOAuthConfig, rules};

/// The OpenID scopes the bridge passes through to Entra unchanged.
pub(crate) const OPENID_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Rewrites a `scope` parameter for Entra: OpenID scopes kept, this app's qualified scopes kept
/// (`api://{app_id}/x`, `{app_id}/x`, or under a configured App ID URI), bare names qualified as
/// `api://{app_id}/{name}`, anything else refused with a message for `error_description`. Without
/// an app scope the API scope is added (and `offline_access` when no scope was given at all:
/// Copilot Studio sometimes omits `scope`).
///
/// ```text
/// "access_as_user offline_access"  →  "api://{app_id}/access_as_user offline_access"
/// (none)                           →  "api://{app_id}/access_as_user offline_access"
/// "https://graph.microsoft.com/User.Read"  →  error (not this API's scope)
/// ```
pub(crate) fn qualify_scopes(config: &AzureOAuthConfig, scope: Option<&str>) -> Result<String, String> {
    let given: Vec<&str> = scope.unwrap_or("").split_ascii_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut has_app_scope = false;
    for s in &given {
        let q = if OPENID_SCOPES.contains(s) {
            (*s).to_owned()
        } else if is_own_qualified(config, s) {
            has_app_scope = true;
            (*s).to_owned()
        } else if !s.contains('/') && !s.contains(':') && rules::scope_token(s).is_ok() {
            has_app_scope = true;
            config.qualify_scope(s)
        } else {
            return Err(format!(
                "scope {s:?} is not a scope of this API: request {} (or its bare name {}), optionally with openid, profile, email and offline_access",
                config.qualified_scope(),
                config.api_scope()
            ));
        };
        if !out.contains(&q) {
            out.push(q);
        }
    }
    if !has_app_scope {
        out.insert(0, config.qualified_scope());
        if given.is_empty() {
            out.push("offline_access".to_owned());
        }
    }
    Ok(out.join(" "))
}

/// `api://{app_id}/x`, `{app_id}/x` or `{app id uri}/x` with a single-segment `x`.
fn is_own_qualified(config: &AzureOAuthConfig, s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let app = config.app_id();
    let mut prefixes = vec![format!("api://{app}/"), format!("{app}/")];
    prefixes.extend(config.app_id_uris().iter().map(|u| format!("{}/", u.to_ascii_lowercase())));
    prefixes
        .iter()
        .any(|p| lower.strip_prefix(p.as_str()).is_some_and(|rest| !rest.is_empty() && !rest.contains('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fixtures::APP;

    fn config() -> AzureOAuthConfig {
        crate::fixtures::build(crate::fixtures::builder().app_id_uris(["api://my-api"]))
    }

    #[test]
    fn scopes_are_qualified_and_foreign_ones_refused() {
        let c = config();
        let q = |s: Option<&str>| qualify_scopes(&c, s);
        let api = format!("api://{APP}/access_as_user");
        assert_eq!(q(Some("access_as_user")), Ok(api.clone()));
        assert_eq!(
            q(Some("access_as_user offline_access openid")),
            Ok(format!("{api} offline_access openid"))
        );
        assert_eq!(q(Some(&format!("{api} {api}"))), Ok(api.clone()));
        assert_eq!(q(None), Ok(format!("{api} offline_access")));
        assert_eq!(q(Some("")), Ok(format!("{api} offline_access")));
        assert_eq!(q(Some("openid profile")), Ok(format!("{api} openid profile")));
        assert_eq!(q(Some(&format!("{APP}/.default"))), Ok(format!("{APP}/.default")));
        assert_eq!(q(Some(".default")), Ok(format!("api://{APP}/.default")));
        assert_eq!(q(Some("api://my-api/read")), Ok("api://my-api/read".into()));
        assert_eq!(q(Some("read")), Ok(format!("api://{APP}/read")));
        for foreign in [
            "https://graph.microsoft.com/User.Read",
            "api://99999999-2222-3333-4444-555555555555/access_as_user",
            &format!("api://{APP}/a/b"),
            "urn:x",
        ] {
            let e = q(Some(foreign)).expect_err(foreign);
            assert!(e.contains(&api), "{e}");
        }
    }
}
