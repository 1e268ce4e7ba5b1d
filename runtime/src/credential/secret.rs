//! [`ClientSecret`]: the app's client secret, which never leaves the server.

use std::fmt;

/// The Entra app's client secret. Its `Debug` and `Display` print `[redacted]`; read it with
/// [`ClientSecret::expose`] only where it is sent to Entra.
///
/// ```
/// use axum_mcp_azure_oauth::config::ClientSecret;
///
/// let secret = ClientSecret::new("s3cr3t");
/// assert_eq!(format!("{secret:?} {secret}"), "ClientSecret([redacted]) [redacted]");
/// assert_eq!(secret.expose(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret read at run time (an environment variable, a vault).
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one request that sends it to Entra.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is usable: not empty, no surrounding white space (a copy-paste mistake).
    pub(crate) fn is_well_formed(&self) -> bool {
        !self.0.is_empty() && self.0.trim() == self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for ClientSecret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for ClientSecret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
