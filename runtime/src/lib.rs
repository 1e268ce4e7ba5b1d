//! Make an [axum] MCP server an OAuth 2.0 protected resource backed by Microsoft Entra ID.
//!
//! - [`AzureOAuth`]: one handle on the configuration, the validator and the endpoints.
//! - [`AzureOAuthConfig`]: the one configuration model, checked by the `const fn` [`rules`].
//! - [`OAuthEndpoints`]: discovery, registration, the authorize/token bridge to Entra, callback and
//!   config; [`GraphClient`] enrols redirect URIs on the app registration.
//! - `emulator` (feature `emulator`): an in-process Entra ID + Microsoft Graph for tests and local runs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod base;
mod challenge;
mod config;
mod discovery;
mod endpoints;
mod facade;
mod graph;
mod http;
mod oauth;
mod private;
mod register;
mod validate;

pub use config::{
    AzureOAuthConfig, AzureOAuthConfigBuilder, ClientSecret, ConfigError, DEFAULT_API_SCOPE,
    DEFAULT_AUTHORITY_HOST, DEFAULT_CALLBACK_PATH, DEFAULT_CLOCK_SKEW, DEFAULT_GRAPH_ENDPOINT,
    DEFAULT_HTTP_TIMEOUT, DEFAULT_KEY_CACHE_TENANTS, DEFAULT_KEY_REFRESH_INTERVAL, DEFAULT_RESOURCE_PATH,
    DEFAULT_TOKEN_CACHE_CAPACITY, HttpsPlatform, Mode, TenantPolicy, rules,
};

pub use endpoints::{MAX_BODY_BYTES, OAuthEndpoints};
pub use graph::{
    AppRedirectUris, EnrolError, EnrolReport, GRAPH_RETRY_BUDGET, GraphClient, REDIRECT_URI_LIMIT,
    RedirectPlatform,
};
pub use oauth::AzureOAuth;

pub use validate::{
    AuthError, AuthLayer, AuthService, AzureClaims, Clock, InsufficientScope, InvalidRequest, InvalidToken,
    NEW_TENANT_BURST, NEW_TENANT_REFILL_PER_SEC, Requirements, TokenKind, TokenValidator, TokenVersion,
    ValidatorStats,
};

#[cfg(feature = "emulator")]
pub mod emulator;

#[doc(inline)]
pub use axum_mcp_azure_oauth_macros::{azure_mcp_auth, azure_oauth_routes};

/// Not public API: what the macros' expansions call.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
