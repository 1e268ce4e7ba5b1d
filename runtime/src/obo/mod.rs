//! On behalf of the user: tools call Microsoft Graph and other Entra-protected APIs as the
//! signed-in user, with the OAuth 2.0 on-behalf-of flow
//! (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow>).
//!
//! The MCP specification forbids passing the client's token on ("The MCP server MUST NOT pass
//! through the token it received from the MCP client",
//! <https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#access-token-privilege-restriction>);
//! [`OnBehalfOf`] exchanges it for a token of the downstream API instead, cached per caller and
//! scope set, one exchange in flight per key, with errors a tool can act on ([`OboError`]).
//!
//! An rmcp tool, with `auth: AzureOAuth` in its server:
//!
//! ```no_run
//! # use axum_mcp_azure_oauth::AzureOAuth;
//! # async fn graph_me(auth: &AzureOAuth, parts: &http::request::Parts) -> Result<String, Box<dyn std::error::Error>> {
//! // let parts = ctx.extensions.get::<http::request::Parts>().ok_or("not over HTTP")?;
//! let token = auth.on_behalf_of().token_for_request(parts, ["https://graph.microsoft.com/User.Read"]).await?;
//! let me = reqwest::Client::new()
//!     .get("https://graph.microsoft.com/v1.0/me")
//!     .bearer_auth(token.access_token())
//!     .send()
//!     .await?
//!     .text()
//!     .await?;
//! # Ok(me) }
//! ```
//!
//! A real tenant needs the delegated permission (here Graph's `User.Read`) on the app
//! registration's API permissions, consented by the user or an admin; until then the call answers
//! [`OboError::ConsentRequired`].

mod cache;
mod client;
mod error;
mod exchange;
mod scopes;
mod token;

pub use client::{OBO_RETRY_BUDGET, OboStats, OnBehalfOf};
pub use error::OboError;
pub use token::DownstreamToken;
