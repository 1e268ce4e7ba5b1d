//! A configuration without an emulator, for what needs no Entra: documents and the input checks
//! of the endpoints. Entra and Graph are a closed port, so a request that should have been
//! answered locally fails the test instead of reaching them.

use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::config::{AzureOAuthConfigBuilder, Mode};

/// The app id of [`offline_config`].
pub const APP: &str = "11111111-2222-3333-4444-555555555555";
/// The tenant id of [`offline_config`].
pub const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// The client secret of [`offline_config`]: no answer may ever carry it.
pub const OFFLINE_SECRET: &str = "offline~secret.value_123";
/// Where nothing listens (the discard port).
pub const CLOSED: &str = "http://127.0.0.1:9";

/// [`APP`] in [`TENANT`] with [`OFFLINE_SECRET`], Entra and Graph at [`CLOSED`], in
/// [`Mode::Enrol`] (the Graph-enrolment bridge these input checks were written for; the default
/// mode is the broker): chain `.mode(…)` for another mode.
pub fn offline_config() -> AzureOAuthConfigBuilder {
    AzureOAuthConfig::builder()
        .mode(Mode::Enrol)
        .app_id(APP)
        .tenant_id(TENANT)
        .client_secret(OFFLINE_SECRET)
        .authority_host(CLOSED)
        .graph_endpoint(CLOSED)
}
