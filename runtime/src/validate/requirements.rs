//! [`Requirements`]: what a protected route or handler requires of a token beyond validity.

use crate::config::AzureOAuthConfig;

/// What a protected handler requires of a token, beyond validity. Each empty list means "the
/// configuration's": `required_scopes`, `required_roles` and the tenant policy. Built in `const`
/// items (the macros do):
///
/// ```
/// use axum_mcp_azure_oauth::Requirements;
///
/// const ADMIN: Requirements = Requirements::new(&["admin"])
///     .roles(&["Tasks.Admin"])
///     .tenants(&["11111111-2222-3333-4444-555555555555"]);
/// assert_eq!(ADMIN.required_scopes(), ["admin"]);
/// assert_eq!(Requirements::default().required_scopes(), [] as [&str; 0]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Requirements {
    scopes: &'static [&'static str],
    roles: &'static [&'static str],
    tenants: &'static [&'static str],
}

impl Requirements {
    /// The configuration's scopes, roles and tenants.
    pub const CONFIG: Self = Self { scopes: &[], roles: &[], tenants: &[] };

    /// Delegated tokens must hold one of `scopes` (bare names such as `access_as_user`).
    pub const fn new(scopes: &'static [&'static str]) -> Self {
        Self { scopes, roles: &[], tenants: &[] }
    }
    /// App-only tokens are accepted when they hold one of `roles`.
    pub const fn roles(self, roles: &'static [&'static str]) -> Self {
        Self { roles, ..self }
    }
    /// Only tokens of these tenants (GUIDs) are accepted, instead of the configured policy.
    pub const fn tenants(self, tenants: &'static [&'static str]) -> Self {
        Self { tenants, ..self }
    }
    /// The scopes set here (empty: the configuration's).
    pub const fn required_scopes(&self) -> &'static [&'static str] {
        self.scopes
    }
    /// The roles set here (empty: the configuration's).
    pub const fn required_roles(&self) -> &'static [&'static str] {
        self.roles
    }
    /// The tenants set here (empty: the configuration's policy).
    pub const fn allowed_tenants(&self) -> &'static [&'static str] {
        self.tenants
    }

    /// The scopes in force under `config`.
    pub(crate) fn scopes_in<'a>(&'a self, config: &'a AzureOAuthConfig) -> Vec<&'a str> {
        if self.scopes.is_empty() {
            config.required_scopes().iter().map(String::as_str).collect()
        } else {
            self.scopes.to_vec()
        }
    }

    pub(super) fn tenant_allowed(&self, config: &AzureOAuthConfig, tenant: &str) -> bool {
        if self.tenants.is_empty() {
            config.tenant_allowed(tenant)
        } else {
            self.tenants.iter().any(|t| t.eq_ignore_ascii_case(tenant))
        }
    }
}
