//! [`EnrolError`]: why a redirect URI could not be enrolled, each variant saying what to do next.

use std::time::Duration;

use crate::config::rules;

/// Why a redirect URI could not be enrolled; each variant says what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// No app credential is configured, so Graph cannot be called.
    #[error(
        "no app credential is configured (AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE or AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID), so redirect URIs cannot be enrolled through Microsoft Graph: set one, or add the URI to the app registration's Authentication page by hand"
    )]
    NoCredential,
    /// The app's credential could not be used, or Entra ID refused it (the variant says which
    /// and what to do).
    #[error("the client-credentials token for Microsoft Graph: {0}")]
    Credential(crate::credential::CredentialError),
    /// The URI breaks one of Entra's redirect URI rules.
    #[error("Entra would refuse this redirect URI: {0}")]
    InvalidUri(rules::RuleError),
    /// The client-credentials token for Graph was refused.
    #[error(
        "Entra refused the client-credentials token for Microsoft Graph (HTTP {status}): {detail}; check AZURE_CLIENT_ID, AZURE_TENANT_ID and the app's credential"
    )]
    Token {
        /// The HTTP status of Entra's answer.
        status: u16,
        /// Entra's `error_description` (never the secret).
        detail: String,
    },
    /// The app registration was not found in Graph.
    #[error(
        "Microsoft Graph has no application with this app id in the home tenant: check AZURE_CLIENT_ID and AZURE_TENANT_ID"
    )]
    AppNotFound,
    /// Graph refused the request.
    #[error(
        "Microsoft Graph refused the request (HTTP {status}): {detail}; the app needs the application permission Application.ReadWrite.OwnedBy (and to own itself) or Application.ReadWrite.All, with admin consent"
    )]
    Graph {
        /// The HTTP status of Graph's answer.
        status: u16,
        /// Graph's error message.
        detail: String,
    },
    /// Graph kept throttling (429) until the retry budget ran out.
    #[error(
        "Microsoft Graph kept throttling the app (HTTP 429) for the whole retry budget; try again later{}",
        .retry_after.map(|d| format!(" (Graph asked to wait {} s)", d.as_secs())).unwrap_or_default()
    )]
    Throttled {
        /// The last `Retry-After` Graph sent.
        retry_after: Option<Duration>,
    },
    /// Graph or Entra could not be reached, timed out, or kept failing (5xx) for the whole retry budget.
    #[error(
        "Microsoft Graph or Entra ID was unavailable for the whole retry budget: {0}; check MICROSOFT_GRAPH_ENDPOINT, AZURE_AUTHORITY_HOST and the network, then register again"
    )]
    Unavailable(String),
    /// Graph's answer was not the JSON it documents.
    #[error("Microsoft Graph answered with an unexpected body: {0}; check MICROSOFT_GRAPH_ENDPOINT")]
    InvalidResponse(String),
    /// The app registration already holds [`REDIRECT_URI_LIMIT`](super::REDIRECT_URI_LIMIT) redirect URIs.
    #[error(
        "the app registration already holds {limit} redirect URIs, Entra's limit: remove unused ones on its Authentication page"
    )]
    LimitReached {
        /// The limit.
        limit: usize,
    },
    /// Registration's budget of redirect URIs is spent (see
    /// [`DEFAULT_ENROL_MAX_PER_PREFIX`](crate::config::DEFAULT_ENROL_MAX_PER_PREFIX) and
    /// [`DEFAULT_ENROL_MAX_TOTAL`](crate::config::DEFAULT_ENROL_MAX_TOTAL)).
    #[error(
        "this server's budget of {limit} redirect URIs {scope} on the app registration is spent: the operator must \
         remove unused redirect URIs on the app registration's Authentication page, or raise {setting}"
    )]
    BudgetSpent {
        /// `under <prefix>` or `in all`.
        scope: String,
        /// The budget.
        limit: usize,
        /// The setting that raises it.
        setting: &'static str,
    },
    /// Graph accepted the write, but reading the application back did not show the URI.
    #[error(
        "Microsoft Graph accepted the update but the redirect URI was missing when read back (another writer may have replaced the list): register again"
    )]
    NotConfirmed,
    /// The enrolment was interrupted (the runtime shut down).
    #[error("the enrolment was interrupted before it finished: register again")]
    Interrupted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrol_errors_never_show_the_secret_and_say_what_to_do() {
        let e = EnrolError::Token { status: 400, detail: "invalid_request: AADSTS90002".into() };
        assert!(e.to_string().contains("AZURE_TENANT_ID"));
        let refused =
            crate::credential::CredentialError::refused(&[7_000_215], "AADSTS7000215: Invalid client secret");
        let e = EnrolError::Credential(refused.expect("a refusal"));
        assert!(e.to_string().contains("copy the secret's Value"), "{e}");
        assert!(EnrolError::NoCredential.to_string().contains("Authentication page"));
    }
}
