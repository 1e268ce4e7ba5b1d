//! A wrong configuration value gets an error a newcomer can act on: it names the field and its
//! environment variable, shows the bad value (never the secret) and what a valid value looks like.

use axum_mcp_azure_oauth::config::{HttpsPlatform, Mode, TenantPolicy};
use axum_mcp_azure_oauth::{AzureOAuthConfig, ConfigError};
use support::offline::{APP, TENANT};

/// Builds from these environment variables (plus a valid app and tenant unless overridden).
fn from_vars(vars: &[(&str, &str)]) -> Result<AzureOAuthConfig, ConfigError> {
    let mut all = vec![("AZURE_CLIENT_ID", APP), ("AZURE_TENANT_ID", TENANT)];
    all.extend_from_slice(vars);
    let lookup = |name: &str| all.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    AzureOAuthConfig::builder().env(lookup)?.build()
}

/// Asserts the error for `var = value` names the variable, the value and the expected shape.
fn assert_rejected(var: &str, value: &str, expected: &str) {
    let err = from_vars(&[(var, value)]).expect_err(&format!("{var}={value} must be refused"));
    let msg = err.to_string();
    assert!(msg.contains(var), "{msg:?} does not name {var}");
    assert!(msg.contains(&format!("{value:?}")), "{msg:?} does not show the value {value:?}");
    assert!(msg.contains(expected), "{msg:?} does not say {expected:?}");
}

#[test]
fn each_rule_names_the_variable_the_value_and_a_valid_shape() {
    assert_rejected("AZURE_CLIENT_ID", "my-app", "expected a GUID such as");
    assert_rejected("AZURE_TENANT_ID", "contoso.onmicrosoft.com", "expected a GUID such as");
    assert_rejected("AZURE_AUTHORITY_HOST", "login.microsoftonline.com", "expected https://host");
    assert_rejected("MICROSOFT_GRAPH_ENDPOINT", "http://graph.example.com", "plain http only on localhost");
    assert_rejected("PUBLIC_BASE_URL", "https://mcp.example.com/?x=1", "no query, fragment");
    assert_rejected("PUBLIC_BASE_URL", "https://MCP.example.com", "lower case");
    assert_rejected("ALLOWED_REDIRECT_URIS", "http://example.com/cb", "only on localhost or 127.0.0.1");
    assert_rejected("ALLOWED_REDIRECT_URIS", "http://[::1]:3000/cb", "[::1]");
    assert_rejected("ALLOWED_REDIRECT_URIS", "https://example.com/a;b", "! $ ' ( ) , ;");
    assert_rejected("ALLOWED_REDIRECT_URI_PREFIXES", "https://global.consent.azure-apim.net/", "ends in `/`");
    assert_rejected("AZURE_ALLOWED_TENANT_IDS", "organizations", "comma-separated tenant GUIDs");
    assert_rejected("AZURE_API_SCOPE", "api://x/access_as_user", "bare scope name");
    assert_rejected("AZURE_API_SCOPE", "access as user", "scope token");
    assert_rejected("MCP_RESOURCE_PATH", "mcp/", "absolute path such as /mcp");
    assert_rejected("AZURE_REQUIRED_SCOPES", ".default", "bare scope name");
    assert_rejected("AZURE_APP_ID_URIS", "api://my-api/.default", "not a scope");
    assert_rejected("AZURE_OAUTH_MODE", "proxy", "`bridge`");
    assert_rejected("AZURE_HTTPS_REDIRECT_PLATFORM", "desktop", "`web`");
    assert_rejected("AZURE_CLOCK_SKEW_SECS", "5m", "whole number of seconds");
    assert_rejected("AZURE_CLOCK_SKEW_SECS", "86400", "from 0 to 3600");
    assert_rejected("AZURE_CUSTOM_SIGNING_KEYS", "maybe", "`true` or `false`");
}

#[test]
fn a_missing_required_value_says_where_to_set_it() {
    let err = AzureOAuthConfig::builder().tenant_id(TENANT).build().expect_err("app id is required");
    let msg = err.to_string();
    assert!(msg.contains("AZURE_CLIENT_ID") && msg.contains(".app_id("), "{msg}");
    let err = AzureOAuthConfig::builder().app_id(APP).build().expect_err("tenant id is required");
    assert!(err.to_string().contains("AZURE_TENANT_ID"), "{err}");
}

#[test]
fn a_bad_secret_is_refused_without_showing_it() {
    let err = from_vars(&[("AZURE_CLIENT_SECRET", " hunter2 ")]).expect_err("padded secret is refused");
    let msg = format!("{err} {err:?}");
    assert!(msg.contains("AZURE_CLIENT_SECRET"), "{msg}");
    assert!(!msg.contains("hunter2"), "the secret leaked: {msg}");
}

#[test]
fn debug_of_the_configuration_redacts_the_secret() {
    let config = from_vars(&[
        ("AZURE_CLIENT_SECRET", "hunter2-very-secret"),
        ("PUBLIC_BASE_URL", "https://mcp.example"),
    ])
    .expect("valid");
    assert_eq!(config.client_secret().map(|s| s.expose()), Some("hunter2-very-secret"));
    let debug = format!("{config:?} {:?}", AzureOAuthConfig::builder().client_secret("hunter2-very-secret"));
    assert!(!debug.contains("hunter2"), "the secret leaked: {debug}");
    assert!(debug.contains("[redacted]"));
}

#[test]
fn defaults_and_normalisation() {
    // The default mode, the broker, redeems Entra's codes with the client secret.
    let err = from_vars(&[]).expect_err("the broker needs the secret").to_string();
    assert!(err.contains("AZURE_CLIENT_SECRET") && err.contains("AZURE_OAUTH_MODE=direct"), "{err}");
    // As an authorization server it takes its issuer and callback from its configured base URL.
    let err = from_vars(&[("AZURE_CLIENT_SECRET", "s3cret")]).expect_err("the broker needs its base URL");
    assert!(err.to_string().contains("PUBLIC_BASE_URL"), "{err}");
    let config =
        from_vars(&[("AZURE_CLIENT_SECRET", "s3cret"), ("PUBLIC_BASE_URL", "https://mcp.example.com")])
            .expect("valid");
    assert_eq!(config.authority_host(), "https://login.microsoftonline.com");
    assert_eq!(config.graph_endpoint(), "https://graph.microsoft.com");
    assert_eq!(config.api_scope(), "access_as_user");
    assert_eq!(config.required_scopes(), ["access_as_user"]);
    assert_eq!(config.resource_path(), "/mcp");
    assert_eq!(config.mode(), Mode::Broker);
    assert_eq!(config.https_redirect_platform(), HttpsPlatform::Web);
    assert_eq!(config.tenants(), &TenantPolicy::Home);
    assert!(config.tenant_allowed(TENANT));
    assert!(!config.tenant_allowed(APP));
    assert_eq!(config.authority_tenant(), TENANT);
    assert_eq!(config.base_url(), Some("https://mcp.example.com"));
    assert_eq!(config.resource_url().as_deref(), Some("https://mcp.example.com/mcp"));
    assert_eq!(config.client_secret().map(|s| s.expose()), Some("s3cret"));
    assert!(!config.has_state_keys(), "the sealing key is derived from the secret");

    let config = from_vars(&[
        ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-55555555555A"),
        ("PUBLIC_BASE_URL", "https://mcp.example.com/"),
        ("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9999/"),
        ("ALLOWED_REDIRECT_URIS", " https://vscode.dev/redirect , http://127.0.0.1:33418/ ,"),
        ("AZURE_ALLOWED_TENANT_IDS", &format!("{TENANT}, {APP}")),
        ("AZURE_OAUTH_MODE", "Direct"),
        ("AZURE_HTTPS_REDIRECT_PLATFORM", "spa"),
    ])
    .expect("valid");
    assert_eq!(config.app_id(), "11111111-2222-3333-4444-55555555555a");
    assert_eq!(config.base_url(), Some("https://mcp.example.com"));
    assert_eq!(config.authority_host(), "http://127.0.0.1:9999");
    assert_eq!(config.allowed_redirect_uris(), ["https://vscode.dev/redirect", "http://127.0.0.1:33418/"]);
    assert_eq!(config.tenants(), &TenantPolicy::List(vec![TENANT.into(), APP.into()]));
    assert_eq!(config.authority_tenant(), "organizations");
    assert_eq!(config.mode(), Mode::Direct);
    assert_eq!(config.https_redirect_platform(), HttpsPlatform::Spa);

    let any = from_vars(&[("AZURE_ALLOWED_TENANT_IDS", "*"), ("AZURE_OAUTH_MODE", "direct")]).expect("valid");
    assert!(any.tenant_allowed("99999999-9999-9999-9999-999999999999"));
    assert_eq!(any.authority_tenant(), "organizations");
}

#[test]
fn builder_tenant_list_is_checked_too() {
    let err = AzureOAuthConfig::builder()
        .app_id(APP)
        .tenant_id(TENANT)
        .allowed_tenant_ids(["common"])
        .build()
        .expect_err("aliases are not tenants");
    assert!(err.to_string().contains("AZURE_ALLOWED_TENANT_IDS"), "{err}");
    let err = AzureOAuthConfig::builder()
        .app_id(APP)
        .tenant_id(TENANT)
        .tenants(TenantPolicy::List(vec!["x".into()]))
        .build()
        .expect_err("a list of non-GUIDs is refused");
    assert!(err.to_string().contains("\"x\""), "{err}");
}
