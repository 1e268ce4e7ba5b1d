//! The configuration parsers: every `const fn` rule on raw text, `TenantPolicy::parse`, and the
//! `from_env`-style builder (`AzureOAuthConfigBuilder::env` + `build`) on a set of variables.
//!
//! Input: lines `NAME=value` (the environment); every value (and the whole input) also goes
//! through each rule. Checks: no panic; what `build` accepts passes the rules it names; `Debug`
//! does not depend on the client secret.
#![no_main]

use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::config::{TenantPolicy, rules};
use libfuzzer_sys::fuzz_target;

const VARS: &[&str] = &[
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
    "MICROSOFT_GRAPH_ENDPOINT",
    "PUBLIC_BASE_URL",
    "ALLOWED_REDIRECT_URIS",
    "ALLOWED_REDIRECT_URI_PREFIXES",
    "AZURE_ALLOWED_TENANT_IDS",
    "AZURE_API_SCOPE",
    "MCP_RESOURCE_PATH",
    "AZURE_OAUTH_MODE",
    "AZURE_HTTPS_REDIRECT_PLATFORM",
    "AZURE_REQUIRED_SCOPES",
    "AZURE_REQUIRED_ROLES",
    "AZURE_APP_ID_URIS",
    "AZURE_CLOCK_SKEW_SECS",
    "AZURE_CUSTOM_SIGNING_KEYS",
    "AZURE_OAUTH_REFRESH_LIFETIME_SECS",
    "AZURE_OAUTH_ENROL_MAX_PER_PREFIX",
    "AZURE_OAUTH_ENROL_MAX_TOTAL",
    // The credential settings that read no file at build (a path could name /dev/zero).
    "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN",
    "AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID",
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "AZURE_OAUTH_IMDS_ENDPOINT",
    "AZURE_OAUTH_TOKEN_EXCHANGE_AUDIENCE",
];

fn rules_on(s: &str) {
    let checks: [fn(&str) -> Result<(), rules::RuleError>; 12] = [
        rules::guid,
        rules::scope_token,
        rules::scope_name,
        rules::resource_path,
        rules::base_url,
        rules::redirect_uri,
        rules::redirect_prefix,
        rules::tenant_list,
        rules::app_id_uri,
        rules::guid,
        rules::file_path,
        rules::endpoint_url,
    ];
    for check in checks {
        if let Err(e) = check(s) {
            assert!(!e.message().is_empty());
        }
    }
    if let Ok(policy) = TenantPolicy::parse(s) {
        assert!(rules::tenant_list(s).is_ok());
        if let TenantPolicy::List(ids) = policy {
            assert!(!ids.is_empty());
            for id in ids {
                assert!(rules::guid(&id).is_ok(), "{id}");
                assert_eq!(id, id.to_ascii_lowercase());
            }
        }
    }
    if rules::guid(s).is_ok() {
        assert_eq!(s.len(), 36);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    rules_on(text);
    let mut env: Vec<(&str, &str)> = Vec::new();
    for line in text.split('\n') {
        let Some((name, value)) = line.split_once('=') else { continue };
        rules_on(value);
        // A short name picks a variable by index, so that the fuzzer reaches them all quickly.
        let name = match name.parse::<usize>() {
            Ok(i) => VARS[i % VARS.len()],
            Err(_) => name,
        };
        env.push((name, value));
    }
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
    let Ok(builder) = AzureOAuthConfig::builder().env(lookup) else { return };
    let Ok(config) = builder.build() else { return };

    // What `build` accepted holds by the rules it names.
    assert!(rules::guid(config.app_id()).is_ok());
    assert!(rules::guid(config.tenant_id()).is_ok());
    assert_eq!(config.app_id(), config.app_id().to_ascii_lowercase());
    assert!(rules::resource_path(config.resource_path()).is_ok());
    if let Some(base) = config.base_url() {
        assert!(rules::base_url(base).is_ok(), "{base}");
        assert!(!base.ends_with('/'));
    }
    for uri in config.allowed_redirect_uris() {
        assert!(rules::redirect_uri(uri).is_ok(), "{uri}");
    }
    for prefix in config.allowed_redirect_uri_prefixes() {
        assert!(rules::redirect_prefix(prefix).is_ok(), "{prefix}");
    }
    for uri in config.app_id_uris() {
        assert!(rules::app_id_uri(uri).is_ok(), "{uri}");
    }
    assert!(config.clock_skew().as_secs() <= 3600);
    // An authorization server never derives its base URL from a request.
    if config.mode() != axum_mcp_azure_oauth::config::Mode::Direct {
        assert!(config.base_url().is_some(), "{:?} without a base URL", config.mode());
    }
    // Allow-list entries are what a browser reads them as.
    for uri in config.allowed_redirect_uris().iter().chain(config.allowed_redirect_uri_prefixes()) {
        let parsed = url::Url::parse(uri).expect("an allowed URI parses");
        assert!(parsed.as_str() == uri || parsed.as_str() == format!("{uri}/"), "{uri} is read as {parsed}");
    }

    // `Debug` never depends on the secret: the same configuration with another secret prints the same.
    if let Some(secret) = config.client_secret() {
        let other = AzureOAuthConfig::builder()
            .env(|name| if name == "AZURE_CLIENT_SECRET" { Some("x".to_owned()) } else { lookup(name) })
            .and_then(|b| b.build())
            .expect("only the secret differs");
        assert_eq!(format!("{config:?}"), format!("{other:?}"), "Debug shows the client secret");
        assert_eq!(format!("{secret:?}"), format!("{:?}", other.client_secret().expect("a secret")));
    }
});
