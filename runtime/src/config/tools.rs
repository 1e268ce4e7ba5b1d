//! [`ToolPolicy`]: what each MCP tool requires of its caller beyond the route's requirements
//! (least privilege per tool), checked by [`ToolPolicyLayer`](crate::validate::ToolPolicyLayer)
//! before the tool runs.

use std::collections::BTreeMap;

use super::ConfigError;
use super::rules::{self, RuleError};

/// The largest request body [`ToolPolicyLayer`](crate::validate::ToolPolicyLayer) reads to find
/// the tools a `POST` calls, unless [`ToolPolicy::max_body_bytes`] says otherwise: 1 MiB.
pub const DEFAULT_TOOL_CALL_MAX_BODY: usize = 1024 * 1024;

/// Which tools a `tools/list` answer shows the caller, when [`ToolPolicyLayer`](crate::validate::ToolPolicyLayer)
/// filters it (set with [`ToolPolicy::listing`]). Tools outside the policy are always listed, and
/// `tools/call` is enforced whatever the listing: hiding a tool is a courtesy to the client, not
/// the check.
///
/// The MCP specification lets a server list only the tools a client may use
/// (<https://modelcontextprotocol.io/specification/2025-11-25/server/tools#listing-tools>); what a
/// caller "may use" depends on whether signing in again can change it. A missing delegated scope
/// can be granted by a new authorization (the step-up of
/// <https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#scope-challenge-handling>);
/// an app role cannot: an administrator assigns it
/// (<https://learn.microsoft.com/entra/identity-platform/howto-add-app-roles-in-apps>).
///
/// ```
/// use axum_mcp_azure_oauth::config::{ToolListing, ToolPolicy, ToolRequirement};
///
/// let policy = ToolPolicy::new()
///     .tool("delete_file", ToolRequirement::new().all_scopes(["Files.ReadWrite"]))
///     .tool("purge", ToolRequirement::new().any_role(["Files.Admin"]));
/// // By default, a user without Files.Admin does not see `purge`, but sees `delete_file` (and
/// // is asked to sign in again for Files.ReadWrite when calling it).
/// assert_eq!(policy.tool_listing(), ToolListing::Reachable);
/// // Show only what the current token can call:
/// let strict = policy.listing(ToolListing::CallableNow);
/// assert_eq!(strict.tool_listing(), ToolListing::CallableNow);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ToolListing {
    /// The default: hide the tools the caller cannot reach by signing in again: those needing an
    /// app role it lacks, and, for an app-only caller, those acting for a signed-in user only
    /// (a requirement that names no role). A tool that needs a delegated scope the token lacks
    /// stays listed, so that the client can call it, get the step-up challenge and sign in again.
    #[default]
    Reachable,
    /// Hide every tool the caller cannot call with its current token, scope-gated ones included
    /// (a client then discovers them only after signing in with their scopes).
    CallableNow,
    /// List every tool: `tools/list` answers pass unchanged.
    All,
}

/// What one MCP tool requires of its caller, as Entra expresses permissions
/// (<https://learn.microsoft.com/entra/identity-platform/scenario-protected-web-api-verification-scope-app-roles>):
///
/// - A **delegated** caller (a signed-in user, the token carries `scp`) must hold every scope of
///   [`all_scopes`](Self::all_scopes) and one of [`any_scope`](Self::any_scope). A requirement that
///   names no scope checks a delegated caller's `roles` (app roles assigned to the user) instead.
/// - An **app-only** caller (client credentials, `roles` without `scp`) must hold one of
///   [`any_role`](Self::any_role); a requirement that names no role refuses app-only callers.
///
/// Scopes are the bare names the app exposes (`Files.ReadWrite`, not `api://…/Files.ReadWrite`);
/// [`AzureOAuthConfigBuilder::build`](super::AzureOAuthConfigBuilder::build) checks them.
///
/// ```
/// use axum_mcp_azure_oauth::config::ToolRequirement;
///
/// // Users need Files.ReadWrite (and Files.Read or Files.Manage); daemons need Files.Admin.
/// let delete = ToolRequirement::new()
///     .all_scopes(["Files.ReadWrite"])
///     .any_scope(["Files.Read", "Files.Manage"])
///     .any_role(["Files.Admin"]);
/// assert_eq!(delete.required_scopes().collect::<Vec<_>>(), ["Files.ReadWrite", "Files.Read", "Files.Manage"]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use = "a requirement does nothing until it is given to ToolPolicy::tool"]
pub struct ToolRequirement {
    all_scopes: Vec<String>,
    any_scopes: Vec<String>,
    any_roles: Vec<String>,
}

impl ToolRequirement {
    /// Requires nothing yet: add scopes and roles with the methods below.
    pub fn new() -> Self {
        Self::default()
    }
    /// A delegated caller must hold every one of `scopes` (added to those set before).
    pub fn all_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.all_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }
    /// A delegated caller must hold at least one of `scopes` (added to those set before).
    pub fn any_scope<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.any_scopes.extend(scopes.into_iter().map(Into::into));
        self
    }
    /// The caller must hold at least one of the app roles `roles` (added to those set before):
    /// an app-only caller always, a delegated caller when no scope is named.
    pub fn any_role<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.any_roles.extend(roles.into_iter().map(Into::into));
        self
    }
    /// The scopes of which a delegated caller must hold every one.
    pub fn scopes_all(&self) -> &[String] {
        &self.all_scopes
    }
    /// The scopes of which a delegated caller must hold one (empty: no such condition).
    pub fn scopes_any(&self) -> &[String] {
        &self.any_scopes
    }
    /// The app roles of which the caller must hold one (empty: no app-only caller passes).
    pub fn roles_any(&self) -> &[String] {
        &self.any_roles
    }
    /// Every scope named, all-of first, without duplicates.
    pub fn required_scopes(&self) -> impl Iterator<Item = &str> + '_ {
        let all = self.all_scopes.iter().map(String::as_str);
        let any = self.any_scopes.iter().filter(|s| !self.all_scopes.contains(s)).map(String::as_str);
        all.chain(any)
    }

    fn check(&self, tool: &str) -> Result<(), ConfigError> {
        let invalid = |value: &str, problem: &'static str| ConfigError::ToolPolicy {
            tool: tool.to_owned(),
            value: value.to_owned(),
            problem,
        };
        if self.all_scopes.is_empty() && self.any_scopes.is_empty() && self.any_roles.is_empty() {
            return Err(invalid(
                "",
                "a tool requirement names no scope and no role; give it at least one, or leave the tool out of the policy",
            ));
        }
        for s in self.all_scopes.iter().chain(&self.any_scopes) {
            // The OpenID scopes are not permissions of this API (and `offline_access` never
            // appears in metadata or challenges).
            if matches!(s.as_str(), "offline_access" | "openid" | "profile" | "email") {
                return Err(invalid(
                    s,
                    "an OpenID scope is not a permission of this API; name a scope the app exposes, such as Files.Read",
                ));
            }
            rules::scope_name(s).map_err(|e| invalid(s, e.message()))?;
        }
        for r in &self.any_roles {
            rules::scope_token(r).map_err(|e| match e {
                RuleError::Empty => {
                    invalid(r, "an app role is empty; give the role's value, such as Files.Admin")
                }
                e => invalid(r, e.message()),
            })?;
        }
        Ok(())
    }
}

/// The requirements of the MCP tools that need more than the protected route: a map from the
/// tool's name (as `tools/call` sends it in `params.name`) to its [`ToolRequirement`]. Tools not
/// in the policy need only what the route needs. Give it to the configuration with
/// [`AzureOAuthConfigBuilder::tool_policy`](super::AzureOAuthConfigBuilder::tool_policy): the
/// protected resource metadata then lists its scopes, and
/// [`ToolPolicyLayer`](crate::validate::ToolPolicyLayer) enforces it.
///
/// ```
/// use axum_mcp_azure_oauth::AzureOAuthConfig;
/// use axum_mcp_azure_oauth::config::{Mode, ToolPolicy, ToolRequirement};
///
/// let policy = ToolPolicy::new()
///     .tool("delete_file", ToolRequirement::new().all_scopes(["Files.ReadWrite"]))
///     .tool("purge", ToolRequirement::new().any_role(["Files.Admin"]));
/// let config = AzureOAuthConfig::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
///     .mode(Mode::Direct)
///     .tool_policy(policy)
///     .build()?;
/// assert!(config.tool_policy().requirement("delete_file").is_some());
/// assert_eq!(
///     config.scopes_supported(),
///     [
///         "api://11111111-2222-3333-4444-555555555555/access_as_user",
///         "api://11111111-2222-3333-4444-555555555555/Files.ReadWrite",
///     ]
/// );
/// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "give the policy to AzureOAuthConfigBuilder::tool_policy"]
pub struct ToolPolicy {
    tools: BTreeMap<String, ToolRequirement>,
    max_body_bytes: usize,
    listing: ToolListing,
}

impl Default for ToolPolicy {
    fn default() -> Self {
        Self {
            tools: BTreeMap::new(),
            max_body_bytes: DEFAULT_TOOL_CALL_MAX_BODY,
            listing: ToolListing::default(),
        }
    }
}

impl ToolPolicy {
    /// No tool needs more than the route.
    pub fn new() -> Self {
        Self::default()
    }
    /// The tool `name` requires `requirement` (replacing one set before for that name).
    pub fn tool(mut self, name: impl Into<String>, requirement: ToolRequirement) -> Self {
        self.tools.insert(name.into(), requirement);
        self
    }
    /// The largest request body read to find the tools a request calls (default
    /// [`DEFAULT_TOOL_CALL_MAX_BODY`]); a larger `POST` is refused with 413.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
    /// The body limit in force.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
    }
    /// Which of the policy's tools `tools/list` answers show each caller (default
    /// [`ToolListing::Reachable`]).
    ///
    /// ```
    /// use axum_mcp_azure_oauth::config::{ToolListing, ToolPolicy, ToolRequirement};
    ///
    /// let policy = ToolPolicy::new()
    ///     .tool("purge", ToolRequirement::new().any_role(["Files.Admin"]))
    ///     .listing(ToolListing::All);
    /// assert_eq!(policy.tool_listing(), ToolListing::All);
    /// ```
    pub fn listing(mut self, listing: ToolListing) -> Self {
        self.listing = listing;
        self
    }
    /// The listing in force.
    pub fn tool_listing(&self) -> ToolListing {
        self.listing
    }
    /// What the tool `name` requires beyond the route, if anything.
    pub fn requirement(&self, name: &str) -> Option<&ToolRequirement> {
        self.tools.get(name)
    }
    /// The tool `name` as the policy holds it, and its requirement.
    pub(crate) fn entry(&self, name: &str) -> Option<(&str, &ToolRequirement)> {
        self.tools.get_key_value(name).map(|(k, v)| (k.as_str(), v))
    }
    /// Whether no tool has a requirement (the layer then reads no body).
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }
    /// The tools and their requirements, by name.
    pub fn tools(&self) -> impl Iterator<Item = (&str, &ToolRequirement)> + '_ {
        self.tools.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Every tool name is non-empty and every requirement valid.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes == 0 {
            return Err(ConfigError::ToolPolicy {
                tool: String::new(),
                value: "0".into(),
                problem: "max_body_bytes must be at least 1; the default is 1 MiB",
            });
        }
        for (tool, requirement) in &self.tools {
            if tool.is_empty() {
                return Err(ConfigError::ToolPolicy {
                    tool: String::new(),
                    value: String::new(),
                    problem: "a tool name is empty; use the name the tool is listed under in tools/list",
                });
            }
            requirement.check(tool)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(policy: ToolPolicy) -> String {
        policy.check().expect_err("refused").to_string()
    }

    #[test]
    fn requirements_are_checked_by_the_scope_and_role_rules() {
        let ok = ToolPolicy::new()
            .tool("a", ToolRequirement::new().all_scopes(["Files.Read"]))
            .tool("b", ToolRequirement::new().any_role(["Files.Admin"]));
        assert_eq!(ok.check(), Ok(()));
        let e =
            problem(ToolPolicy::new().tool("a", ToolRequirement::new().all_scopes(["api://x/Files.Read"])));
        assert!(e.contains("tool \"a\"") && e.contains("bare scope name"), "{e}");
        let e = problem(ToolPolicy::new().tool("a", ToolRequirement::new().any_scope(["offline_access"])));
        assert!(e.contains("OpenID scope"), "{e}");
        let e = problem(ToolPolicy::new().tool("a", ToolRequirement::new().any_role([""])));
        assert!(e.contains("app role is empty"), "{e}");
        let e = problem(ToolPolicy::new().tool("a", ToolRequirement::new().any_role(["two words"])));
        assert!(e.contains("scope token"), "{e}");
        let e = problem(ToolPolicy::new().tool("a", ToolRequirement::new()));
        assert!(e.contains("names no scope and no role"), "{e}");
        let e = problem(ToolPolicy::new().tool("", ToolRequirement::new().any_role(["R"])));
        assert!(e.contains("tool name is empty"), "{e}");
        let e = problem(ToolPolicy::new().max_body_bytes(0));
        assert!(e.contains("max_body_bytes"), "{e}");
    }
}
