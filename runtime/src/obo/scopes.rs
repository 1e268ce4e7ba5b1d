//! [`ScopeSet`]: the downstream scopes of one exchange, checked and put in one order so that the
//! same permissions asked in any order or case share one cache entry.

use super::error::OboError;

/// OpenID Connect scopes that name no resource and may go with any resource's scopes.
const OIDC: [&str; 5] = ["openid", "profile", "email", "offline_access", "address"];

/// The resource Entra reads a bare scope name (`User.Read`) as.
const GRAPH: &str = "https://graph.microsoft.com";

/// Scopes of one downstream resource: what is sent (`scope`, in the caller's spelling) and the
/// cache key (lower case, sorted, without duplicates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScopeSet {
    /// Space-separated, as sent to Entra.
    pub(crate) sent: String,
    /// Lower case, sorted, space-separated: equal for equal permissions.
    pub(crate) key: String,
}

impl ScopeSet {
    /// Checks and orders `scopes` (each may itself hold several, space-separated).
    pub(crate) fn new<I, S>(scopes: I) -> Result<Self, OboError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut all: Vec<(String, String)> = Vec::new();
        for s in scopes {
            for word in s.as_ref().split_ascii_whitespace() {
                let lower = word.to_ascii_lowercase();
                if !all.iter().any(|(l, _)| *l == lower) {
                    all.push((lower, word.to_owned()));
                }
            }
        }
        all.sort();
        let invalid = |reason| OboError::InvalidScopes {
            scopes: all.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>().join(" "),
            reason,
        };
        let mut resource: Option<&str> = None;
        let mut default = false;
        let mut named = false;
        for (lower, _) in &all {
            if OIDC.contains(&lower.as_str()) {
                continue;
            }
            let (res, name) = split(lower);
            if resource.is_some_and(|r| r != res) {
                return Err(invalid(
                    "they name several resources, and Entra issues a token for one resource at a time: ask once per resource",
                ));
            }
            resource = Some(res);
            if name == ".default" { default = true } else { named = true }
        }
        if resource.is_none() {
            return Err(invalid(
                "no permission of a downstream API is named: ask for scopes such as https://graph.microsoft.com/User.Read or api://{app-id}/.default",
            ));
        }
        if default && named {
            return Err(invalid(
                "`.default` asks for every permission consented to its resource and cannot be combined with named scopes of it",
            ));
        }
        let sent = all.iter().map(|(_, w)| w.as_str()).collect::<Vec<_>>().join(" ");
        let key = all.into_iter().map(|(l, _)| l).collect::<Vec<_>>().join(" ");
        Ok(Self { sent, key })
    }
}

/// The resource and the scope name of a lower-case scope: `https://graph.microsoft.com/user.read`
/// is Graph's `user.read`; a bare name is Graph's.
fn split(scope: &str) -> (&str, &str) {
    match scope.rfind('/') {
        Some(slash) if scope.contains("://") || scope.starts_with("api:") => {
            (scope[..slash].trim_end_matches('/'), &scope[slash + 1..])
        }
        // A GUID resource (`00000003-0000-0000-c000-000000000000/User.Read`).
        Some(slash) => (&scope[..slash], &scope[slash + 1..]),
        None => (GRAPH, scope),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_permissions_in_any_order_or_case_share_a_key() {
        let a =
            ScopeSet::new(["https://graph.microsoft.com/User.Read", "https://graph.microsoft.com/Mail.Read"])
                .expect("one resource");
        let b = ScopeSet::new([
            "https://graph.microsoft.com/mail.read https://graph.microsoft.com/USER.READ",
            "https://graph.microsoft.com/User.Read",
        ])
        .expect("one resource");
        assert_eq!(a.key, b.key);
        assert_eq!(a.sent, "https://graph.microsoft.com/Mail.Read https://graph.microsoft.com/User.Read");
        let oidc = ScopeSet::new(["offline_access", "api://app/.default"]).expect("oidc goes anywhere");
        assert_eq!(oidc.sent, "api://app/.default offline_access");
        assert!(
            ScopeSet::new(["User.Read", "https://graph.microsoft.com/Mail.Read"]).is_ok(),
            "bare is Graph"
        );
    }

    #[test]
    fn one_resource_and_no_default_with_named_scopes() {
        let reason = |scopes: &[&str]| match ScopeSet::new(scopes) {
            Err(OboError::InvalidScopes { reason, .. }) => reason,
            other => panic!("{scopes:?}: {other:?}"),
        };
        assert!(
            reason(&["https://graph.microsoft.com/User.Read", "api://other/.default"]).contains("several")
        );
        assert!(reason(&[]).contains("no permission"));
        assert!(reason(&["openid", " "]).contains("no permission"));
        assert!(reason(&["api://x/.default", "api://x/read"]).contains(".default"));
    }
}
