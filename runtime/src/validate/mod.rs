//! Everything a protected route needs, and nothing that calls back up: the [`TokenValidator`]
//! (Entra ID access token validation, its key and token caches), [`Requirements`], the bearer
//! header reading and the RFC 6750 challenges, [`AuthError`], [`AzureClaims`] (also an axum
//! extractor), the tower [`AuthLayer`] and the per-tool [`ToolPolicyLayer`].
//!
//! The rules a token must pass are listed on [`TokenValidator`].

mod bearer;
mod cache;
mod challenge;
mod claims;
mod clock;
mod error;
mod extractor;
mod jsonrpc;
mod jwks;
mod jwt;
mod layer;
mod requirements;
mod sse;
mod tool_list;
mod tool_policy;
mod validator;
mod verify;

pub(crate) use claims::CallerToken;
pub use claims::{AzureClaims, TokenKind, TokenVersion};
pub use clock::Clock;
pub use error::{AuthError, InsufficientScope, InvalidRequest, InvalidToken};
pub(crate) use extractor::not_set_up;
pub use layer::{AuthFuture, AuthLayer, AuthService};
pub use requirements::Requirements;
pub use tool_policy::{ToolPolicyFuture, ToolPolicyLayer, ToolPolicyService};
pub use validator::{TokenValidator, ValidatorStats};

/// Not public API: entry points for the cargo-fuzz targets (`cfg(fuzzing)`, which cargo-fuzz sets).
#[cfg(fuzzing)]
pub(crate) mod fuzzing {
    pub(crate) use super::bearer::token as bearer_token;
    pub(crate) use super::challenge::response as challenge;
    pub(crate) use super::verify::{fuzz_parse, fuzz_tenant_and_version};
}
