//! What the macros' expansions call (`axum_mcp_azure_oauth::__private`). Not public API: names and
//! signatures change without notice. The expansions stay thin; the logic is here.
//!
//! - `Authorized` is the extractor `#[azure_mcp_auth]` puts first in a handler. Its marker type
//!   `R` (`Requirement`) carries the handler's app id and [`Requirements`] as `const`s.
//! - It finds the validator in the [`AzureOAuth`] installed for the app id
//!   ([`AzureOAuth::install`], which `azure_oauth_routes!` calls; [`AzureOAuth::installed`]), so
//!   layers and every handler share one validator and one key cache.
//! - [`azure_oauth_routes`] is what `azure_oauth_routes!` expands to, after its `const` checks.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::response::Response;
use http::request::Parts;

pub use crate::config::{AzureOAuthConfig, HttpsPlatform, Mode, rules};
pub use crate::validate::{AzureClaims, Requirements};
pub use axum::Router;

use crate::azure_oauth::AzureOAuth;
use crate::config::AzureOAuthConfigBuilder;

/// What one `#[azure_mcp_auth]` handler requires; implemented by the marker type
/// `__AzureMcpAuth_{handler}` the attribute generates.
pub trait Requirement: Send + Sync + 'static {
    /// `module::path::handler`, for logs.
    const HANDLER: &'static str;
    /// The app id whose installed `AzureOAuth` validates the token.
    const APP_ID: &'static str;
    /// Scopes (any of), roles and tenants.
    const REQUIREMENTS: Requirements;
}

/// Implemented by [`AzureClaims`] only: the attribute checks that the parameter it replaces by name
/// is the crate's claims type (and keeps the user's import in use).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `axum_mcp_azure_oauth::AzureClaims`",
    label = "`#[azure_mcp_auth]` gives this parameter the verified `axum_mcp_azure_oauth::AzureClaims`",
    note = "the attribute recognises the claims parameter by its type's name; import `axum_mcp_azure_oauth::AzureClaims` or rename your own type"
)]
pub trait IsAzureClaims {}

impl IsAzureClaims for AzureClaims {}

/// Compiles only for `T` = [`AzureClaims`].
pub const fn is_azure_claims<T: IsAzureClaims>() {}

/// The first parameter of an `#[azure_mcp_auth]` handler: the verified claims of a token that
/// meets `R`'s requirements. Rejections are the validator's RFC 6750 challenges (401, 403, 400,
/// 503), or a 500 when no `AzureOAuth` is installed for `R::APP_ID`.
///
/// A request an `AuthLayer` has already verified is checked again by the handler's validator, with
/// the handler's requirements: the verified-token cache makes that a lookup, and a layer of another
/// app (or with looser requirements) can never stand in for this handler's check.
pub struct Authorized<R> {
    /// The verified claims.
    pub claims: AzureClaims,
    marker: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for Authorized<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorized").field("claims", &self.claims).finish()
    }
}

impl<S: Send + Sync, R: Requirement> FromRequestParts<S> for Authorized<R> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(auth) = AzureOAuth::installed(R::APP_ID) else {
            return Err(not_installed(R::APP_ID, R::HANDLER));
        };
        let claims = auth.validator().authenticate(&parts.headers, &parts.uri, &R::REQUIREMENTS).await?;
        // Like the layer: later `AzureClaims` extractors of this request see the claims.
        parts.extensions.insert(claims.clone());
        Ok(Self { claims, marker: PhantomData })
    }
}

/// `azure_oauth_routes!`'s `env` key: the variables of [`AzureOAuthConfig::from_env`] read through
/// `lookup`, before the keys written in the macro (which win).
///
/// # Panics
/// When a variable holds a value its rule refuses, with the [`ConfigError`](crate::ConfigError)
/// message, at the macro's location.
#[track_caller]
pub fn env(
    builder: AzureOAuthConfigBuilder,
    lookup: impl Fn(&str) -> Option<String>,
) -> AzureOAuthConfigBuilder {
    match builder.env(lookup) {
        Ok(builder) => builder,
        Err(e) => panic!("azure_oauth_routes!: invalid configuration in the environment: {e}"),
    }
}

/// The 500 for a handler whose app has no `AzureOAuth` installed: it fails closed, and the
/// mistake is logged once per app id.
fn not_installed(app_id: &str, handler: &str) -> Response {
    let description = format!(
        "no AzureOAuth installed for app {app_id}: call azure_oauth_routes!{{…}} or AzureOAuth::install()"
    );
    crate::validate::not_set_up(app_id, &format!("{handler}: {description}"), description)
}

/// `azure_oauth_routes!`: builds the configuration and its [`AzureOAuth`], installs it for the
/// handlers and returns the endpoints' router.
///
/// # Panics
/// When a value computed at run time breaks its rule (the build already checked the others), with
/// the [`ConfigError`](crate::ConfigError) message, at the macro's location.
#[track_caller]
pub fn azure_oauth_routes<S: Clone + Send + Sync + 'static>(builder: AzureOAuthConfigBuilder) -> Router<S> {
    let config = match builder.build() {
        Ok(config) => config,
        Err(e) => panic!("azure_oauth_routes!: invalid configuration: {e}"),
    };
    AzureOAuth::new(config).install().router()
}

/// One tool of a `#[azure_mcp_auth]` tool `impl` block: (name, every scope of, one scope of, one
/// role of).
pub type ToolEntry<'a> = (&'a str, &'a [&'a str], &'a [&'a str], &'a [&'a str]);

/// `#[azure_mcp_auth]` on a tool `impl` block: the policy of its tools.
pub fn tool_policy(tools: &[ToolEntry<'_>]) -> crate::config::ToolPolicy {
    use crate::config::{ToolPolicy, ToolRequirement};
    tools.iter().fold(ToolPolicy::new(), |policy, (name, all, any, roles)| {
        let mut requirement = ToolRequirement::new().all_scopes(all.iter().copied());
        if !any.is_empty() {
            requirement = requirement.any_scope(any.iter().copied());
        }
        policy.tool(*name, requirement.any_role(roles.iter().copied()))
    })
}

#[cfg(test)]
mod tests {
    use http::StatusCode;

    use super::*;

    #[tokio::test]
    async fn not_installed_is_a_json_server_error() {
        let response = not_installed("c0ffee00-0000-4000-8000-00000000000c", "tests::handler");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 4096).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["error"], "server_error");
        assert_eq!(
            body["error_description"],
            "no AzureOAuth installed for app c0ffee00-0000-4000-8000-00000000000c: call azure_oauth_routes!{…} or AzureOAuth::install()"
        );
    }
}
