//! What the macros' expansions call (`axum_mcp_azure_oauth::__private`). Not public API: names and
//! signatures change without notice. The expansions stay thin; the logic is here.
//!
//! - [`Authorized`] is the extractor `#[azure_mcp_auth]` puts first in a handler. Its marker type
//!   `R` ([`Requirement`]) carries the handler's app id and [`Requirements`] as `const`s.
//! - The process-wide registry maps an app id to the [`AzureOAuth`] installed for it
//!   ([`install`], called by [`AzureOAuth::install`] and so by `azure_oauth_routes!`; read back
//!   with [`AzureOAuth::installed`]), so layers and every handler share one validator and one key
//!   cache.
//! - [`azure_oauth_routes`] is what `azure_oauth_routes!` expands to, after its `const` checks.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Mutex, PoisonError, RwLock};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

pub use crate::config::rules;
pub use crate::{AzureClaims, AzureOAuthConfig, HttpsPlatform, Mode, Requirements};
pub use axum::Router;

use crate::{AzureOAuth, AzureOAuthConfigBuilder};

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
        let Some(auth) = installed(R::APP_ID) else {
            return Err(not_installed(R::APP_ID, R::HANDLER));
        };
        let claims = auth.validator().authenticate(&parts.headers, &parts.uri, &R::REQUIREMENTS).await?;
        // Like the layer: later `AzureClaims` extractors of this request see the claims.
        parts.extensions.insert(claims.clone());
        Ok(Self { claims, marker: PhantomData })
    }
}

/// The installed apps, by lower-case app id (a handful at most: a linear scan).
static INSTALLED: RwLock<Vec<(String, AzureOAuth)>> = RwLock::new(Vec::new());

/// Makes `auth` the one `#[azure_mcp_auth]` handlers with its app id use, replacing any
/// installed before for that app id (so a test or a reload can install a fresh one).
pub fn install(auth: &AzureOAuth) {
    let app_id = auth.config().app_id().to_ascii_lowercase();
    let mut installed = INSTALLED.write().unwrap_or_else(PoisonError::into_inner);
    match installed.iter_mut().find(|(id, _)| *id == app_id) {
        Some(entry) => {
            tracing::debug!(app_id = %app_id, "replacing the installed AzureOAuth");
            entry.1 = auth.clone();
        }
        None => {
            tracing::debug!(app_id = %app_id, "AzureOAuth installed");
            installed.push((app_id, auth.clone()));
        }
    }
}

/// The app installed for `app_id` (compared case-insensitively), if any.
pub fn installed(app_id: &str) -> Option<AzureOAuth> {
    let installed = INSTALLED.read().unwrap_or_else(PoisonError::into_inner);
    installed.iter().find(|(id, _)| id.eq_ignore_ascii_case(app_id)).map(|(_, v)| v.clone())
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
    static LOGGED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let description = format!(
        "no AzureOAuth installed for app {app_id}: call azure_oauth_routes!{{…}} or AzureOAuth::install()"
    );
    let first = LOGGED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(app_id.to_ascii_lowercase());
    if first {
        tracing::error!(handler, "{description}; every request to this handler gets a 500 until then");
    }
    let body = serde_json::json!({ "error": "server_error", "error_description": description });
    let mut response = (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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

#[cfg(test)]
mod tests {

    use super::*;

    fn oauth(app_id: &str) -> AzureOAuth {
        let config = AzureOAuthConfig::builder()
            .app_id(app_id)
            .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
            .build()
            .expect("valid configuration");
        AzureOAuth::new(config)
    }

    #[test]
    fn installed_validators_are_found_by_app_id_in_any_case_and_replaced() {
        let app = "c0ffee00-0000-4000-8000-00000000000a";
        assert!(installed(app).is_none());
        install(&oauth(&app.to_ascii_uppercase()));
        let first = installed(app).expect("installed");
        assert_eq!(first.config().app_id(), app);
        assert!(installed(&app.to_ascii_uppercase()).is_some());
        install(&oauth(app));
        let count = INSTALLED.read().expect("lock").iter().filter(|(id, _)| id == app).count();
        assert_eq!(count, 1, "installing again replaces");
        assert!(installed("c0ffee00-0000-4000-8000-00000000000b").is_none());
    }

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
