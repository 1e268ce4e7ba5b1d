//! Reading the configuration from environment variables, one per key of the key table.

use std::time::Duration;

use super::keys::{KEYS, Key, Kind};
use super::{AzureOAuthConfigBuilder, ClientSecret, ConfigError, StateKeys, TenantPolicy};

impl AzureOAuthConfigBuilder {
    /// Takes every variable [`AzureOAuthConfig::from_env`](super::AzureOAuthConfig::from_env) reads
    /// from `lookup` (unset or empty: untouched); values set on the builder before are overridden.
    ///
    /// ```
    /// use axum_mcp_azure_oauth::AzureOAuthConfig;
    ///
    /// let vars = [
    ///     ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
    ///     ("AZURE_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
    ///     ("AZURE_ALLOWED_TENANT_IDS", "*"),
    ///     ("AZURE_OAUTH_MODE", "direct"), // validate tokens only: no client secret needed
    /// ];
    /// let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
    /// let config = AzureOAuthConfig::builder().env(lookup)?.build()?;
    /// assert!(config.tenant_allowed("99999999-0000-0000-0000-000000000000"));
    /// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
    /// ```
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        for key in KEYS {
            // The secret is taken as is: surrounding white space is an error, not silently trimmed.
            let value = match key.kind {
                Kind::Secret => lookup(key.env).filter(|v| !v.is_empty()),
                _ => lookup(key.env).filter(|v| !v.trim().is_empty()),
            };
            if let Some(value) = value {
                self.set(key, value)?;
            }
        }
        Ok(self)
    }

    /// Sets the field of `key` from its variable's `value`.
    fn set(&mut self, key: &Key, value: String) -> Result<(), ConfigError> {
        let text = || value.trim().to_owned();
        match key.name {
            "app_id" => self.app_id = Some(text()),
            "tenant_id" => self.tenant_id = Some(text()),
            "client_secret" => self.credential.client_secret = Some(ClientSecret::new(value)),
            "client_certificate_path" => self.credential.certificate_path = Some(text()),
            "client_certificate_password" => {
                self.credential.certificate_password = Some(ClientSecret::new(value))
            }
            "send_certificate_chain" => self.credential.send_certificate_chain = boolean(key, value)?,
            "federated_token_file" => self.credential.federated_token_file = Some(text()),
            "managed_identity_client_id" => self.credential.managed_identity_client_id = Some(text()),
            "identity_endpoint" => self.credential.identity_endpoint = Some(text()),
            "identity_header" => self.credential.identity_header = Some(ClientSecret::new(value)),
            "imds_endpoint" => self.credential.imds_endpoint = Some(text()),
            "token_exchange_audience" => self.credential.token_exchange_audience = Some(text()),
            "authority_host" => self.authority_host = Some(text()),
            "graph_endpoint" => self.graph_endpoint = Some(text()),
            "base_url" => self.base_url = Some(text()),
            "allowed_redirect_uris" => self.allowed_redirect_uris = split_list(&value),
            "allowed_redirect_uri_prefixes" => self.allowed_redirect_uri_prefixes = split_list(&value),
            "allowed_tenant_ids" => {
                self.tenants_raw = Some(value);
                self.tenants = None::<TenantPolicy>;
            }
            "api_scope" => self.api_scope = Some(text()),
            "resource_path" => self.resource_path = Some(text()),
            "mode" => {
                self.mode = Some(value.parse().map_err(|expected| ConfigError::choice(key, value, expected))?)
            }
            "https_redirect_platform" => {
                self.https_redirect_platform =
                    Some(value.parse().map_err(|expected| ConfigError::choice(key, value, expected))?);
            }
            "required_scopes" => self.required_scopes = split_list(&value),
            "required_roles" => self.required_roles = split_list(&value),
            "app_id_uris" => self.app_id_uris = split_list(&value),
            "clock_skew" => self.clock_skew = Some(seconds(key, value)?),
            "custom_signing_keys" => self.custom_signing_keys = boolean(key, value)?,
            "require_pkce" => self.require_pkce = Some(boolean(key, value)?),
            "key_cache_tenants" => self.key_cache_tenants = Some(count(key, value)?),
            "new_tenant_burst" => self.new_tenant_burst = Some(count(key, value)?),
            "new_tenant_refill_per_sec" => self.new_tenant_refill_per_sec = Some(count(key, value)?),
            "token_cache_capacity" => self.token_cache_capacity = Some(count(key, value)?),
            "obo_cache_capacity" => self.obo_cache_capacity = Some(count(key, value)?),
            "key_refresh_interval" => self.key_refresh_interval = Some(seconds(key, value)?),
            "http_timeout" => self.http_timeout = Some(seconds(key, value)?),
            "state_keys" => self.state_keys = Some(StateKeys::new(value)),
            "consent_remember" => self.consent_remember = Some(seconds(key, value)?),
            "refresh_lifetime" => self.refresh_lifetime = Some(seconds(key, value)?),
            "enrol_max_per_prefix" => self.enrol_max_per_prefix = Some(count(key, value)?),
            "enrol_max_total" => self.enrol_max_total = Some(count(key, value)?),
            // Every key of the table is a field; `every_variable_sets_its_field` proves it.
            other => unreachable!("the key table names {other}, which the builder does not know"),
        }
        Ok(())
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// `true`/`1`/`yes` or `false`/`0`/`no`, any case.
fn boolean(key: &Key, value: String) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::choice(key, value, "`true` or `false`")),
    }
}

/// Whole seconds within the key's bounds.
fn seconds(key: &Key, value: String) -> Result<Duration, ConfigError> {
    let Kind::Seconds { min, max, expected } = key.kind else {
        unreachable!("{} is not a duration", key.name)
    };
    match value.trim().parse::<u64>() {
        Ok(secs) if (min..=max).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(ConfigError::choice(key, value, expected)),
    }
}

/// A whole number at least the key's minimum.
fn count<T: TryFrom<u64>>(key: &Key, value: String) -> Result<T, ConfigError> {
    let Kind::Count { min, expected } = key.kind else { unreachable!("{} is not a count", key.name) };
    match value.trim().parse::<u64>().ok().filter(|n| *n >= min).and_then(|n| T::try_from(n).ok()) {
        Some(n) => Ok(n),
        None => Err(ConfigError::choice(key, value, expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AzureOAuthConfig;
    use crate::config::keys;

    use crate::fixtures::{APP, SECRET};

    const PFX_PASSWORD: &str = "pfx-password";
    const MI: &str = "99999999-8888-7777-6666-555555555555";
    const APP_SERVICE: &str = "http://127.0.0.1:41741/MSI/token/";
    const STATE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    /// Files the credential variables name: a PEM certificate with its key, the same as PKCS#12,
    /// a federated token.
    struct Files {
        pem: String,
        pfx: String,
        token: String,
    }

    fn files() -> &'static Files {
        static FILES: std::sync::LazyLock<Files> = std::sync::LazyLock::new(|| {
            let dir = std::env::temp_dir().join(format!("azure-oauth-env-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a temporary folder");
            let (pem, pfx) = crate::fixtures::certificate(PFX_PASSWORD);
            let write = |name: &str, bytes: &[u8]| {
                let path = dir.join(name);
                std::fs::write(&path, bytes).expect("write");
                path.display().to_string()
            };
            Files {
                pem: write("app.pem", pem.as_bytes()),
                pfx: write("app.pfx", &pfx),
                token: write("token", b"eyJ.x.y"),
            }
        });
        &FILES
    }

    fn kind(c: &AzureOAuthConfig) -> String {
        format!("{:?}", c.credential().map(crate::credential::AppCredential::kind))
    }

    fn shows(c: &AzureOAuthConfig, what: &str) -> String {
        format!("{:?}", c.credential()).contains(what).to_string()
    }

    /// What a credential variable needs beside it: no secret (one kind at a time), and what its
    /// kind needs.
    fn beside(var: &str) -> Vec<(&'static str, &'static str)> {
        let mut vars = vec![("AZURE_CLIENT_SECRET", ""), ("AZURE_OAUTH_STATE_KEY", STATE_KEY)];
        match var {
            "AZURE_CLIENT_CERTIFICATE_PASSWORD" => {
                vars.push(("AZURE_CLIENT_CERTIFICATE_PATH", files().pfx.as_str()))
            }
            "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN" => {
                vars.push(("AZURE_CLIENT_CERTIFICATE_PATH", files().pem.as_str()))
            }
            "IDENTITY_ENDPOINT" => {
                vars.extend([("AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID", MI), ("IDENTITY_HEADER", "h")])
            }
            "IDENTITY_HEADER" => vars
                .extend([("AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID", MI), ("IDENTITY_ENDPOINT", APP_SERVICE)]),
            "AZURE_OAUTH_IMDS_ENDPOINT" | "AZURE_OAUTH_TOKEN_EXCHANGE_AUDIENCE" => {
                vars.push(("AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID", MI));
            }
            "AZURE_CLIENT_CERTIFICATE_PATH"
            | "AZURE_FEDERATED_TOKEN_FILE"
            | "AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID" => {}
            _ => vars.clear(),
        }
        vars
    }

    fn with(vars: &[(&str, &str)]) -> Result<AzureOAuthConfig, ConfigError> {
        let mut all = vec![
            ("AZURE_CLIENT_ID", APP),
            ("AZURE_TENANT_ID", APP),
            ("AZURE_CLIENT_SECRET", SECRET),
            ("PUBLIC_BASE_URL", "https://mcp.example.com"),
        ];
        for (var, _) in vars {
            all.extend(beside(var));
        }
        all.extend_from_slice(vars);
        let lookup = |name: &str| all.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        AzureOAuthConfig::builder().env(lookup)?.build()
    }

    #[test]
    fn pkce_is_required_unless_turned_off() {
        assert!(with(&[]).expect("valid").require_pkce());
        assert!(with(&[("AZURE_REQUIRE_PKCE", "TRUE")]).expect("valid").require_pkce());
        assert!(!with(&[("AZURE_REQUIRE_PKCE", "false")]).expect("valid").require_pkce());
        let err = with(&[("AZURE_REQUIRE_PKCE", "maybe")]).expect_err("not a bool").to_string();
        assert!(err.contains("AZURE_REQUIRE_PKCE") && err.contains("`true` or `false`"), "{err}");
        let builder = crate::fixtures::builder();
        assert!(!builder.clone().require_pkce(false).build().expect("valid").require_pkce());
        assert!(builder.build().expect("valid").require_pkce());
    }

    #[test]
    fn an_app_id_uri_that_is_a_scope_once_trimmed_is_refused() {
        for bad in ["api://my-api/.default/", "api://my-api/.Default//", "api:///"] {
            let err = with(&[("AZURE_APP_ID_URIS", bad)]).expect_err(bad).to_string();
            assert!(err.contains("AZURE_APP_ID_URIS"), "{err}");
        }
        let ok = with(&[("AZURE_APP_ID_URIS", "api://my-api/")]).expect("valid");
        assert_eq!(ok.app_id_uris(), ["api://my-api"]);
    }

    /// A valid value of every variable but the two required ones, each different from the default,
    /// and what the built configuration then shows.
    fn sample(key: &Key) -> (&'static str, fn(&AzureOAuthConfig) -> String, &'static str) {
        match key.name {
            "client_secret" => (
                "an0ther",
                |c| c.client_secret().map(|s| s.expose().to_owned()).unwrap_or_default(),
                "an0ther",
            ),
            "authority_host" => {
                ("https://login.example", |c| c.authority_host().into(), "https://login.example")
            }
            "graph_endpoint" => {
                ("https://graph.example", |c| c.graph_endpoint().into(), "https://graph.example")
            }
            "base_url" => {
                ("https://mcp.example", |c| c.base_url().unwrap_or_default().into(), "https://mcp.example")
            }
            "allowed_redirect_uris" => {
                ("https://a.example/cb", |c| c.allowed_redirect_uris().join(","), "https://a.example/cb")
            }
            "allowed_redirect_uri_prefixes" => (
                "https://a.example/p/",
                |c| c.allowed_redirect_uri_prefixes().join(","),
                "https://a.example/p/",
            ),
            "allowed_tenant_ids" => ("*", |c| format!("{:?}", c.tenants()), "Any"),
            "api_scope" => ("read", |c| c.api_scope().into(), "read"),
            "resource_path" => ("/api/mcp", |c| c.resource_path().into(), "/api/mcp"),
            "mode" => ("enrol", |c| format!("{:?}", c.mode()), "Enrol"),
            "state_keys" => {
                ("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", |c| c.has_state_keys().to_string(), "true")
            }
            "consent_remember" => ("0", |c| c.consent_remember().as_secs().to_string(), "0"),
            "refresh_lifetime" => ("86400", |c| c.refresh_lifetime().as_secs().to_string(), "86400"),
            "enrol_max_per_prefix" => ("3", |c| c.enrol_max_per_prefix().to_string(), "3"),
            "enrol_max_total" => ("100", |c| c.enrol_max_total().to_string(), "100"),
            "https_redirect_platform" => ("spa", |c| format!("{:?}", c.https_redirect_platform()), "Spa"),
            "required_scopes" => ("a,b", |c| c.required_scopes().join(","), "a,b"),
            "required_roles" => ("R", |c| c.required_roles().join(","), "R"),
            "app_id_uris" => ("api://x", |c| c.app_id_uris().join(","), "api://x"),
            "clock_skew" => ("60", |c| c.clock_skew().as_secs().to_string(), "60"),
            "custom_signing_keys" => ("yes", |c| c.custom_signing_keys().to_string(), "true"),
            "require_pkce" => ("no", |c| c.require_pkce().to_string(), "false"),
            "key_cache_tenants" => ("7", |c| c.key_cache_tenants().to_string(), "7"),
            "new_tenant_burst" => ("8", |c| c.new_tenant_burst().to_string(), "8"),
            "new_tenant_refill_per_sec" => ("9", |c| c.new_tenant_refill_per_sec().to_string(), "9"),
            "token_cache_capacity" => ("0", |c| c.token_cache_capacity().to_string(), "0"),
            "obo_cache_capacity" => ("5", |c| c.obo_cache_capacity().to_string(), "5"),
            "key_refresh_interval" => ("3600", |c| c.key_refresh_interval().as_secs().to_string(), "3600"),
            "http_timeout" => ("3", |c| c.http_timeout().as_secs().to_string(), "3"),
            "client_certificate_path" => (&files().pem, |c| kind(c), "Some(Certificate)"),
            "client_certificate_password" => (PFX_PASSWORD, |c| kind(c), "Some(Certificate)"),
            "send_certificate_chain" => ("true", |c| shows(c, "send_chain: true"), "true"),
            "federated_token_file" => (&files().token, |c| kind(c), "Some(FederatedTokenFile)"),
            "managed_identity_client_id" => (MI, |c| shows(c, MI), "true"),
            "identity_endpoint" => (APP_SERVICE, |c| shows(c, APP_SERVICE), "true"),
            "identity_header" => ("header-value", |c| shows(c, APP_SERVICE), "true"),
            "imds_endpoint" => ("http://169.254.169.254/custom", |c| shows(c, "/custom"), "true"),
            "token_exchange_audience" => ("api://Exchange", |c| shows(c, "api://Exchange"), "true"),
            other => panic!("no sample for {other}: add one"),
        }
    }

    #[test]
    fn every_variable_sets_its_field() {
        for key in KEYS.iter().filter(|k| k.required.is_none()) {
            let (value, read, expected) = sample(key);
            let config = with(&[(key.env, value)]).unwrap_or_else(|e| panic!("{}: {e}", key.env));
            assert_eq!(read(&config), expected, "{} sets {}", key.env, key.name);
        }
        assert_eq!(with(&[]).expect("valid").app_id(), APP);
    }

    #[test]
    fn numbers_out_of_bounds_name_the_variable_and_the_bounds() {
        for (var, value, expected) in [
            ("AZURE_CLOCK_SKEW_SECS", "3601", "from 0 to 3600"),
            ("AZURE_HTTP_TIMEOUT_SECS", "0", "from 1 to 300"),
            ("AZURE_KEY_REFRESH_INTERVAL_SECS", "59", "from 60"),
            ("AZURE_NEW_TENANT_BURST", "0", "at least 1"),
            ("AZURE_TOKEN_CACHE_CAPACITY", "-1", "0 turns the cache off"),
        ] {
            let err = with(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(var) && err.contains(expected), "{err}");
        }
        assert_eq!(keys::find("http_timeout").map(|k| k.env), Some("AZURE_HTTP_TIMEOUT_SECS"));
    }
}
