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
    AuthError, AuthFuture, AuthLayer, AuthService, AzureClaims, Clock, InsufficientScope, InvalidRequest,
    InvalidToken, NEW_TENANT_BURST, NEW_TENANT_REFILL_PER_SEC, Requirements, TokenKind, TokenValidator,
    TokenVersion, ValidatorStats,
};

#[cfg(feature = "emulator")]
pub mod emulator;

#[doc(inline)]
pub use axum_mcp_azure_oauth_macros::{azure_mcp_auth, azure_oauth_routes};

/// Not public API: entry points into private parsing for the cargo-fuzz targets in `fuzz/`
/// (feature `fuzzing`). Thin wrappers; no logic of their own.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz {
    use serde_json::{Map, Value};

    pub use crate::validate::InvalidToken;

    /// A token parsed up to (not including) the signature check.
    #[derive(Debug)]
    pub struct ParsedToken {
        /// The bytes the signature covers.
        pub signed_len: usize,
        /// The header's `kid`.
        pub kid: String,
        /// The unverified claims.
        pub claims: Map<String, Value>,
        /// The decoded signature's length.
        pub signature_len: usize,
    }

    /// The strict `Authorization: Bearer` reading the layer and the extractor use.
    pub fn bearer_token<'a>(
        headers: &'a http::HeaderMap,
        uri: &http::Uri,
    ) -> Result<&'a str, crate::AuthError> {
        crate::challenge::bearer_token(headers, uri)
    }

    /// The JWS compact parsing the validator does before it looks up the key.
    pub fn parse_token(token: &str) -> Result<ParsedToken, InvalidToken> {
        crate::validate::fuzz_parse(token).map(|p| ParsedToken {
            signed_len: p.signed.len(),
            kid: p.kid.clone(),
            signature_len: p.signature().len(),
            claims: p.claims,
        })
    }

    /// What the validator reads from unverified claims to pick the tenant's keys: the lower-case
    /// `tid` (a GUID) and the token version.
    pub fn tenant_and_version(claims: &Map<String, Value>) -> (Option<String>, Option<crate::TokenVersion>) {
        crate::validate::fuzz_tenant_and_version(claims)
    }

    /// The 401/403/400/503 answer for `error` (status, `WWW-Authenticate`, JSON body).
    pub fn challenge(
        config: &crate::AzureOAuthConfig,
        headers: &http::HeaderMap,
        error: &crate::AuthError,
    ) -> axum::response::Response {
        crate::challenge::response(config, headers, error, &crate::Requirements::CONFIG)
    }
}

/// Not public API: what the macros' expansions call.
#[doc(hidden)]
pub mod __private {
    pub use crate::private::*;
}
