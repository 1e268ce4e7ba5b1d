//! Make an [axum] MCP server an OAuth 2.0 protected resource backed by Microsoft Entra ID.
//!
//! The core types are at the root; the rest is reached through its module:
//!
//! - [`AzureOAuth`]: one handle on an app's configuration, validator and endpoints.
//! - [`config`]: [`AzureOAuthConfig`], its builder, environment variables, defaults and the
//!   `const fn` [`rules`](config::rules) the macros check values with.
//! - [`validate`]: [`TokenValidator`], [`Requirements`], [`AuthError`], [`AzureClaims`] (an axum
//!   extractor) and the tower [`AuthLayer`]: everything a protected route needs.
//! - [`endpoints`]: discovery, registration, the authorize/token bridge to Entra, the callback.
//! - [`graph`]: the Microsoft Graph client that enrols redirect URIs on the app registration.
//! - [`obo`]: [`OnBehalfOf`](obo::OnBehalfOf), tokens for Microsoft Graph and other APIs on behalf
//!   of the signed-in user, for tools that act as that user.
//! - [`oauth_error`]: the one OAuth error answer every endpoint and challenge uses.
//! - [`emulator`] (feature `emulator`): an in-process Entra ID + Microsoft Graph for tests and
//!   local runs.
//! - The macros [`azure_mcp_auth`] and [`azure_oauth_routes!`].
//!
//! A module uses only what is below it: `azure_oauth` → `endpoints` → `graph`, `obo` →
//! `validate` → `oauth_error`, `http` → `config`.
#![cfg_attr(docsrs, feature(doc_cfg))]
// The library crates' own lints (the workspace's apply to every member, tests and examples too).
#![warn(missing_docs, unreachable_pub)]

mod azure_oauth;
pub mod config;
mod credential;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod endpoints;
pub mod graph;
pub mod oauth_error;
pub mod obo;
mod primitives;
mod upstream;
pub mod validate;

pub use azure_oauth::AzureOAuth;
pub use config::{AzureOAuthConfig, ConfigError};
pub use validate::{AuthError, AuthLayer, AzureClaims, Requirements, TokenValidator};

#[doc(inline)]
pub use axum_mcp_azure_oauth_macros::{azure_mcp_auth, azure_oauth_routes};

/// Not public API: what the macros' expansions call.
#[doc(hidden)]
pub mod __private;

/// Not public API: entry points into private parsing for the cargo-fuzz targets in `fuzz/`
/// (`cfg(fuzzing)`, which cargo-fuzz sets).
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz;

#[cfg(test)]
mod fixtures;
