//! [`OboError`]: why no downstream token came back, typed so that a tool can act on it.

use std::time::Duration;

/// Why [`OnBehalfOf`](super::OnBehalfOf) could not get a downstream token. Each variant says what
/// to do next; none holds a token (Entra's `error_description` never repeats the assertion).
///
/// A tool usually maps [`ConsentRequired`](Self::ConsentRequired) and
/// [`InteractionRequired`](Self::InteractionRequired) to a tool error the user can read, and
/// [`CallerTokenRejected`](Self::CallerTokenRejected) to "sign in again".
///
/// ```
/// use axum_mcp_azure_oauth::obo::OboError;
///
/// fn explain(e: &OboError) -> String {
///     match e {
///         OboError::ConsentRequired { scopes, .. } => format!("please consent to {scopes}"),
///         OboError::InteractionRequired { claims, .. } => format!("sign in again with {claims}"),
///         other => other.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OboError {
    /// The request carries no verified caller: no [`AuthLayer`](crate::AuthLayer) (or
    /// `#[azure_mcp_auth]`, or `AzureClaims` extractor) ran before this code, or the claims were
    /// not produced by a [`TokenValidator`](crate::TokenValidator) and hold no token.
    #[error(
        "this request has no verified caller to act for: protect the route with AzureOAuth::layer() (or #[azure_mcp_auth]) so that its AzureClaims hold the caller's token"
    )]
    NoCaller,
    /// The caller is an app (client credentials), not a user: the on-behalf-of flow only works
    /// for user tokens.
    #[error(
        "the caller's token is app-only (client credentials); on-behalf-of needs a user's delegated token: call the downstream API with the app's own credentials instead"
    )]
    NotDelegated,
    /// No app credential is configured: the exchange needs one.
    #[error(
        "no app credential is configured: the on-behalf-of exchange authenticates this app with one; set AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE or AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID"
    )]
    NoCredential,
    /// The app's credential could not be used, or Entra ID refused it (the variant says which
    /// and what to do).
    #[error("the on-behalf-of exchange: {0}")]
    Credential(crate::credential::CredentialError),
    /// The scopes asked for cannot be one request: none, several resources (Entra answers one
    /// resource per token, AADSTS28000), or `.default` mixed with named scopes of its resource.
    #[error("the scopes {scopes:?} cannot be exchanged: {reason}")]
    InvalidScopes {
        /// The scopes asked for, space-separated, in order and without duplicates.
        scopes: String,
        /// What is wrong with them.
        reason: &'static str,
    },
    /// `AADSTS65001`: the user (or an admin, for permissions that need admin consent) has not
    /// consented to this app calling the downstream API with these permissions.
    #[error(
        "consent is missing for {scopes}: the user, or an administrator for the whole tenant, must consent to these delegated permissions for this app (Entra admin center > App registrations > API permissions > Grant admin consent): {detail}"
    )]
    ConsentRequired {
        /// The permissions asked for, space-separated, as sent to Entra.
        scopes: String,
        /// Entra's `error_description`.
        detail: String,
    },
    /// `interaction_required`: Conditional Access (MFA, a compliant device, …) wants the user to
    /// sign in again. `claims` is the challenge to pass back to the MCP client, which signs the
    /// user in with it (`claims` parameter of the authorization request) and retries.
    #[error(
        "the user must sign in again to satisfy a Conditional Access policy (send the claims challenge to the client): {detail}"
    )]
    InteractionRequired {
        /// The claims challenge (a JSON string), to hand to the client as it is; empty when Entra
        /// sent none.
        claims: String,
        /// Entra's `error_description`.
        detail: String,
    },
    /// Entra refused the caller's token as the assertion (expired, revoked, not for this app):
    /// the MCP client must sign the user in again.
    #[error(
        "Entra refused the caller's access token for the exchange (expired, revoked or not issued for this app): the MCP client must sign the user in again: {detail}"
    )]
    CallerTokenRejected {
        /// Entra's `error` code and `error_description`.
        detail: String,
    },
    /// Entra refused the request itself (bad secret, unknown scope, app misconfigured).
    #[error(
        "Entra refused the on-behalf-of request (HTTP {status}, {error}): {detail}; check the client secret and the app registration's API permissions"
    )]
    Refused {
        /// The HTTP status of Entra's answer.
        status: u16,
        /// Entra's `error` code.
        error: String,
        /// Entra's `error_description`.
        detail: String,
    },
    /// Entra kept answering 429 within the retry budget; try again after `retry_after`.
    #[error("Entra is throttling on-behalf-of requests; try again later (Retry-After: {retry_after:?})")]
    Throttled {
        /// The last `Retry-After` Entra sent.
        retry_after: Option<Duration>,
    },
    /// Entra could not be reached or kept failing (timeouts, 5xx) within the retry budget.
    #[error("Entra's token endpoint is unavailable: {0}; try again later")]
    Unavailable(String),
}

impl OboError {
    /// The claims challenge of [`InteractionRequired`](Self::InteractionRequired), to pass to the
    /// client so that it signs the user in again with it.
    pub fn claims_challenge(&self) -> Option<&str> {
        match self {
            Self::InteractionRequired { claims, .. } if !claims.is_empty() => Some(claims),
            _ => None,
        }
    }

    /// Whether the user can fix this by signing in again or consenting (as opposed to a server
    /// problem or a transient one).
    pub fn needs_user(&self) -> bool {
        matches!(
            self,
            Self::ConsentRequired { .. }
                | Self::InteractionRequired { .. }
                | Self::CallerTokenRejected { .. }
        )
    }
}
