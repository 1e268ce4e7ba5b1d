//! The configuration: one [`AzureOAuthConfig`], built with [`AzureOAuthConfig::builder`] or read
//! with [`AzureOAuthConfig::from_env`], every value checked by the `const fn` [`rules`].
//!
//! | builder method / `azure_oauth_routes!` key | environment variable | default |
//! | --- | --- | --- |
//! | `app_id` | `AZURE_CLIENT_ID` | required (GUID) |
//! | `tenant_id` | `AZURE_TENANT_ID` | required (GUID of the home tenant) |
//! | `client_secret` | `AZURE_CLIENT_SECRET` | none (one credential kind; see [`AppCredential`]) |
//! | `client_certificate_path` | `AZURE_CLIENT_CERTIFICATE_PATH` (PEM with key, or PKCS#12) | none |
//! | `client_certificate_password` | `AZURE_CLIENT_CERTIFICATE_PASSWORD` | none |
//! | `send_certificate_chain` | `AZURE_CLIENT_SEND_CERTIFICATE_CHAIN` | `false` |
//! | `federated_token_file` | `AZURE_FEDERATED_TOKEN_FILE` | none |
//! | `managed_identity_client_id` | `AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID` | none |
//! | `identity_endpoint` | `IDENTITY_ENDPOINT` (set by App Service, Functions, Container Apps) | none |
//! | `identity_header` | `IDENTITY_HEADER` (set with it) | none |
//! | `imds_endpoint` | `AZURE_OAUTH_IMDS_ENDPOINT` | `http://169.254.169.254/metadata/identity/oauth2/token` |
//! | `token_exchange_audience` | `AZURE_OAUTH_TOKEN_EXCHANGE_AUDIENCE` | `api://AzureADTokenExchange` (by cloud) |
//! | `authority_host` | `AZURE_AUTHORITY_HOST` | [`DEFAULT_AUTHORITY_HOST`] |
//! | `graph_endpoint` | `MICROSOFT_GRAPH_ENDPOINT` | [`DEFAULT_GRAPH_ENDPOINT`] |
//! | `base_url` | `PUBLIC_BASE_URL` | required in broker and enrol modes; in direct mode derived from the request (documents only) |
//! | `allowed_redirect_uris` | `ALLOWED_REDIRECT_URIS` (comma-separated) | none |
//! | `allowed_redirect_uri_prefixes` | `ALLOWED_REDIRECT_URI_PREFIXES` | none |
//! | `allowed_tenant_ids` | `AZURE_ALLOWED_TENANT_IDS` (GUIDs, or `*`) | the home tenant |
//! | `api_scope` | `AZURE_API_SCOPE` | [`DEFAULT_API_SCOPE`] |
//! | `resource_path` | `MCP_RESOURCE_PATH` | [`DEFAULT_RESOURCE_PATH`] |
//! | `mode` | `AZURE_OAUTH_MODE` | [`Mode::Broker`] |
//! | `state_keys` | `AZURE_OAUTH_STATE_KEY` (comma-separated) | derived from the client secret or certificate key; required with a federated or managed-identity credential |
//! | `consent_remember` | `AZURE_OAUTH_CONSENT_REMEMBER_SECS` | [`DEFAULT_CONSENT_REMEMBER`] |
//! | `refresh_lifetime` | `AZURE_OAUTH_REFRESH_LIFETIME_SECS` | [`DEFAULT_REFRESH_LIFETIME`] |
//! | `enrol_max_per_prefix` | `AZURE_OAUTH_ENROL_MAX_PER_PREFIX` | [`DEFAULT_ENROL_MAX_PER_PREFIX`] |
//! | `enrol_max_total` | `AZURE_OAUTH_ENROL_MAX_TOTAL` | [`DEFAULT_ENROL_MAX_TOTAL`] |
//! | `https_redirect_platform` | `AZURE_HTTPS_REDIRECT_PLATFORM` | [`HttpsPlatform::Web`] |
//! | `required_scopes` | `AZURE_REQUIRED_SCOPES` | the API scope |
//! | `required_roles` | `AZURE_REQUIRED_ROLES` | none |
//! | `tool_policy` | none (builder only; see [`ToolPolicy`]) | no tool needs more than the route |
//! | `app_id_uris` | `AZURE_APP_ID_URIS` | none |
//! | `clock_skew` | `AZURE_CLOCK_SKEW_SECS` | [`DEFAULT_CLOCK_SKEW`] |
//! | `custom_signing_keys` | `AZURE_CUSTOM_SIGNING_KEYS` | `false` |
//! | `require_pkce` | `AZURE_REQUIRE_PKCE` | `true` |
//! | `key_cache_tenants` | `AZURE_KEY_CACHE_TENANTS` | [`DEFAULT_KEY_CACHE_TENANTS`] |
//! | `new_tenant_burst` | `AZURE_NEW_TENANT_BURST` | [`DEFAULT_NEW_TENANT_BURST`] |
//! | `new_tenant_refill_per_sec` | `AZURE_NEW_TENANT_REFILL_PER_SEC` | [`DEFAULT_NEW_TENANT_REFILL_PER_SEC`] |
//! | `token_cache_capacity` | `AZURE_TOKEN_CACHE_CAPACITY` | [`DEFAULT_TOKEN_CACHE_CAPACITY`] |
//! | `obo_cache_capacity` | `AZURE_OBO_CACHE_CAPACITY` | [`DEFAULT_OBO_CACHE_CAPACITY`] |
//! | `key_refresh_interval` | `AZURE_KEY_REFRESH_INTERVAL_SECS` | [`DEFAULT_KEY_REFRESH_INTERVAL`] |
//! | `http_timeout` | `AZURE_HTTP_TIMEOUT_SECS` | [`DEFAULT_HTTP_TIMEOUT`] |
//!
//! ```
//! use axum_mcp_azure_oauth::AzureOAuthConfig;
//! use axum_mcp_azure_oauth::config::{DEFAULT_RESOURCE_PATH, Mode};
//!
//! let config = AzureOAuthConfig::builder()
//!     .app_id("11111111-2222-3333-4444-555555555555")
//!     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
//!     .mode(Mode::Direct) // the default, Mode::Broker, also needs .client_secret(…)
//!     .build()?;
//! assert_eq!((config.resource_path(), config.mode()), (DEFAULT_RESOURCE_PATH, Mode::Direct));
//! # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
//! ```

mod builder;
mod canonical;
mod choices;
mod credential;
mod defaults;
mod env;
mod error;
#[allow(
    dead_code,
    reason = "the macros crate compiles this file too, and uses the parts the runtime does not"
)]
pub(crate) mod keys;
mod model;
mod resolver;
pub mod rules;
mod secret;
mod tools;

pub use crate::credential::{
    AppCredential, AssertionAlgorithm, ClientCertificate, ClientSecret, CredentialError, CredentialKind,
};
pub use builder::AzureOAuthConfigBuilder;
pub(crate) use canonical::canonical_uri;
pub use choices::{HttpsPlatform, Mode, TenantPolicy};
pub use defaults::*;
pub use error::ConfigError;
pub use model::AzureOAuthConfig;
pub(crate) use model::SealingSource;
pub use resolver::{HostResolver, Resolving};
pub use secret::StateKeys;
pub use tools::{DEFAULT_TOOL_CALL_MAX_BODY, ToolListing, ToolPolicy, ToolRequirement};
