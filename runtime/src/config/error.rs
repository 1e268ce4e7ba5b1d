//! [`ConfigError`]: a configuration value that broke its rule, or a missing one.

use super::keys::Key;
use super::rules::RuleError;
use crate::credential::CredentialError;

/// A configuration value that broke a rule, or one that is missing.
///
/// The message names the field and its environment variable, the bad value (never the secret) and
/// what a valid value looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required field was not set.
    #[error(
        "{field} is required: set the environment variable {env} or call .{field}(…) on the builder ({hint})"
    )]
    Missing {
        /// The builder method / field.
        field: &'static str,
        /// The environment variable.
        env: &'static str,
        /// What a valid value looks like.
        hint: &'static str,
    },
    /// A value broke its rule.
    #[error("{field} ({env}) = {value:?} is not valid: {rule}")]
    Invalid {
        /// The builder method / field.
        field: &'static str,
        /// The environment variable.
        env: &'static str,
        /// The value as given.
        value: String,
        /// The rule it broke.
        rule: RuleError,
    },
    /// A value that is not one of the listed choices.
    #[error("{field} ({env}) = {value:?} is not valid: expected {expected}")]
    Choice {
        /// The builder method / field.
        field: &'static str,
        /// The environment variable.
        env: &'static str,
        /// The value as given.
        value: String,
        /// The valid choices.
        expected: &'static str,
    },
    /// The sealing keys are not base64 of at least 32 bytes each (their value is never shown).
    #[error(
        "state_keys (AZURE_OAUTH_STATE_KEY) is not valid: each key must be base64 of at least 32 random bytes, comma-separated, newest first (the first seals, every one opens); make one with `openssl rand -base64 32`"
    )]
    StateKeys,
    /// The mode needs a credential the configuration lacks.
    #[error("mode {mode} needs {needs}")]
    ModeNeeds {
        /// The mode, as written in `AZURE_OAUTH_MODE`.
        mode: &'static str,
        /// What to set, and why.
        needs: &'static str,
    },
    /// The client secret is empty or has surrounding white space (its value is never shown).
    #[error(
        "client_secret (AZURE_CLIENT_SECRET) is not valid: it is empty or has leading or trailing white space; copy the secret's Value (not its ID) from the app registration's Certificates & secrets page"
    )]
    Secret,
    /// Two kinds of app credential are set; the app has one.
    #[error(
        "{first} and {second} are both set, but the app proves itself to Entra ID with one credential: keep the one \
         its app registration trusts and unset the other"
    )]
    TwoCredentials {
        /// The first, as `field (ENV_VAR)`.
        first: String,
        /// The second, as `field (ENV_VAR)`.
        second: String,
    },
    /// A [`ToolPolicy`](super::ToolPolicy) entry that is not valid.
    #[error("tool_policy: tool {tool:?}: {value:?} is not valid: {problem}")]
    ToolPolicy {
        /// The tool's name.
        tool: String,
        /// The scope, role or setting as given.
        value: String,
        /// What is wrong, and what a valid value looks like.
        problem: &'static str,
    },
    /// The credential could not be loaded (an unreadable or expired certificate, a wrong
    /// password, a missing token file).
    #[error("the app's credential: {0}")]
    Credential(#[from] CredentialError),
}

impl ConfigError {
    pub(crate) fn missing(key: &Key) -> Self {
        Self::Missing { field: key.name, env: key.env, hint: key.required.unwrap_or("a value") }
    }

    pub(crate) fn invalid(key: &Key, value: &str, rule: RuleError) -> Self {
        Self::Invalid { field: key.name, env: key.env, value: value.to_owned(), rule }
    }

    /// `field (ENV_VAR)` of `key`, as errors name it.
    pub(crate) fn named(key: &Key) -> String {
        format!("{} ({})", key.name, key.env)
    }

    pub(crate) fn choice(key: &Key, value: impl Into<String>, expected: &'static str) -> Self {
        Self::Choice { field: key.name, env: key.env, value: value.into(), expected }
    }
}
