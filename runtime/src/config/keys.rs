//! Every configuration key, once: its name (the `AzureOAuthConfigBuilder` method and the
//! `azure_oauth_routes!` key), its environment variable, and what its value is, with the rule that
//! checks it.
//!
//! The runtime reads the environment and names fields in its errors from this table; the macros
//! crate compiles this very file (`macros/src/keys.rs` is a link to it, as `rules.rs` is) to know
//! the keys it accepts and how to check their values. Adding a key here is the first step of adding
//! a setting; the builder method of the same name is the second.

use super::rules::{self, RuleError};

/// A rule of [`rules`]: its name (the `const fn` the macros' emitted `const` items call) and the
/// function itself.
#[derive(Clone, Copy)]
pub(crate) struct Rule {
    pub(crate) name: &'static str,
    pub(crate) check: fn(&str) -> Result<(), RuleError>,
}

pub(crate) const GUID_RULE: Rule = Rule { name: "guid", check: rules::guid };
pub(crate) const SCOPE_NAME_RULE: Rule = Rule { name: "scope_name", check: rules::scope_name };
pub(crate) const SCOPE_TOKEN_RULE: Rule = Rule { name: "scope_token", check: rules::scope_token };
pub(crate) const RESOURCE_PATH_RULE: Rule = Rule { name: "resource_path", check: rules::resource_path };
pub(crate) const BASE_URL_RULE: Rule = Rule { name: "base_url", check: rules::base_url };
pub(crate) const REDIRECT_URI_RULE: Rule = Rule { name: "redirect_uri", check: rules::redirect_uri };
pub(crate) const REDIRECT_PREFIX_RULE: Rule = Rule { name: "redirect_prefix", check: rules::redirect_prefix };
pub(crate) const TENANT_LIST_RULE: Rule = Rule { name: "tenant_list", check: rules::tenant_list };
pub(crate) const APP_ID_URI_RULE: Rule = Rule { name: "app_id_uri", check: rules::app_id_uri };
pub(crate) const FILE_PATH_RULE: Rule = Rule { name: "file_path", check: rules::file_path };
pub(crate) const ENDPOINT_URL_RULE: Rule = Rule { name: "endpoint_url", check: rules::endpoint_url };

/// A value that is one of a few words: the runtime type (re-exported by `__private`), each word
/// with the variant it names, and the words as an error message shows them.
pub(crate) struct Choice {
    pub(crate) ty: &'static str,
    pub(crate) choices: &'static [(&'static str, &'static str)],
    pub(crate) expected: &'static str,
}

impl Choice {
    /// The variant `word` names (trimmed, any case).
    pub(crate) fn variant(&self, word: &str) -> Option<&'static str> {
        let word = word.trim();
        self.choices.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)).map(|(_, v)| *v)
    }
}

pub(crate) const MODE_CHOICE: Choice = Choice {
    ty: "Mode",
    choices: &[("broker", "Broker"), ("enrol", "Enrol"), ("direct", "Direct")],
    expected: "`broker` (this server brokers every sign-in; default), `enrol` (client redirect URIs are \
               written to the app registration; formerly `bridge`) or `direct` (clients talk to Entra)",
};
pub(crate) const PLATFORM_CHOICE: Choice = Choice {
    ty: "HttpsPlatform",
    choices: &[("web", "Web"), ("spa", "Spa")],
    expected: "`web` (default) or `spa`",
};

/// What a key's value is.
pub(crate) enum Kind {
    /// One string, checked by a rule.
    Str(Rule),
    /// A list of strings (comma-separated in the environment), each checked by a rule.
    List(Rule),
    /// The tenant list: GUIDs, or `*` alone.
    Tenants,
    /// A secret (the client secret, sealing keys): never written in the source, never trimmed.
    Secret,
    /// One of a few words.
    Choice(&'static Choice),
    /// A `Duration`: whole seconds in the environment (from `min` to `max`, as `expected` says) and
    /// as an integer literal in the macro.
    Seconds { min: u64, max: u64, expected: &'static str },
    /// `true` or `false`.
    Bool,
    /// A whole number, at least `min` (as `expected` says).
    Count { min: u64, expected: &'static str },
}

/// A setting as the builder, the environment and the macro name it, and what its value must be.
pub(crate) struct Key {
    /// The builder method and the macro key.
    pub(crate) name: &'static str,
    /// The environment variable `AzureOAuthConfig::from_env` reads.
    pub(crate) env: &'static str,
    pub(crate) kind: Kind,
    /// For required keys: what the value is, for the "missing" message.
    pub(crate) required: Option<&'static str>,
}

const AT_LEAST_ONE: &str = "a whole number of at least 1, such as 20";

const fn key(name: &'static str, env: &'static str, kind: Kind) -> Key {
    Key { name, env, kind, required: None }
}

pub(crate) const APP_ID: Key = Key {
    name: "app_id",
    env: "AZURE_CLIENT_ID",
    kind: Kind::Str(GUID_RULE),
    required: Some("the Application (client) ID GUID of the app registration"),
};
pub(crate) const TENANT_ID: Key = Key {
    name: "tenant_id",
    env: "AZURE_TENANT_ID",
    kind: Kind::Str(GUID_RULE),
    required: Some("the Directory (tenant) ID GUID of the app registration"),
};
pub(crate) const CLIENT_SECRET: Key = key("client_secret", "AZURE_CLIENT_SECRET", Kind::Secret);
pub(crate) const CLIENT_CERTIFICATE_PATH: Key =
    key("client_certificate_path", "AZURE_CLIENT_CERTIFICATE_PATH", Kind::Str(FILE_PATH_RULE));
pub(crate) const CLIENT_CERTIFICATE_PASSWORD: Key =
    key("client_certificate_password", "AZURE_CLIENT_CERTIFICATE_PASSWORD", Kind::Secret);
pub(crate) const SEND_CERTIFICATE_CHAIN: Key =
    key("send_certificate_chain", "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN", Kind::Bool);
pub(crate) const FEDERATED_TOKEN_FILE: Key =
    key("federated_token_file", "AZURE_FEDERATED_TOKEN_FILE", Kind::Str(FILE_PATH_RULE));
pub(crate) const MANAGED_IDENTITY_CLIENT_ID: Key =
    key("managed_identity_client_id", "AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID", Kind::Str(GUID_RULE));
pub(crate) const IDENTITY_ENDPOINT: Key =
    key("identity_endpoint", "IDENTITY_ENDPOINT", Kind::Str(ENDPOINT_URL_RULE));
pub(crate) const IDENTITY_HEADER: Key = key("identity_header", "IDENTITY_HEADER", Kind::Secret);
pub(crate) const IMDS_ENDPOINT: Key =
    key("imds_endpoint", "AZURE_OAUTH_IMDS_ENDPOINT", Kind::Str(ENDPOINT_URL_RULE));
pub(crate) const TOKEN_EXCHANGE_AUDIENCE: Key =
    key("token_exchange_audience", "AZURE_OAUTH_TOKEN_EXCHANGE_AUDIENCE", Kind::Str(APP_ID_URI_RULE));

/// The keys that each choose a kind of app credential: at most one may be set.
pub(crate) const CREDENTIAL_KEYS: &[&Key] =
    &[&CLIENT_SECRET, &CLIENT_CERTIFICATE_PATH, &FEDERATED_TOKEN_FILE, &MANAGED_IDENTITY_CLIENT_ID];

pub(crate) const AUTHORITY_HOST: Key =
    key("authority_host", "AZURE_AUTHORITY_HOST", Kind::Str(BASE_URL_RULE));
pub(crate) const GRAPH_ENDPOINT: Key =
    key("graph_endpoint", "MICROSOFT_GRAPH_ENDPOINT", Kind::Str(BASE_URL_RULE));
pub(crate) const BASE_URL: Key = key("base_url", "PUBLIC_BASE_URL", Kind::Str(BASE_URL_RULE));
pub(crate) const ALLOWED_REDIRECT_URIS: Key =
    key("allowed_redirect_uris", "ALLOWED_REDIRECT_URIS", Kind::List(REDIRECT_URI_RULE));
pub(crate) const ALLOWED_REDIRECT_URI_PREFIXES: Key =
    key("allowed_redirect_uri_prefixes", "ALLOWED_REDIRECT_URI_PREFIXES", Kind::List(REDIRECT_PREFIX_RULE));
pub(crate) const ALLOWED_TENANT_IDS: Key =
    key("allowed_tenant_ids", "AZURE_ALLOWED_TENANT_IDS", Kind::Tenants);
pub(crate) const API_SCOPE: Key = key("api_scope", "AZURE_API_SCOPE", Kind::Str(SCOPE_NAME_RULE));
pub(crate) const RESOURCE_PATH: Key =
    key("resource_path", "MCP_RESOURCE_PATH", Kind::Str(RESOURCE_PATH_RULE));
pub(crate) const MODE: Key = key("mode", "AZURE_OAUTH_MODE", Kind::Choice(&MODE_CHOICE));
pub(crate) const HTTPS_REDIRECT_PLATFORM: Key =
    key("https_redirect_platform", "AZURE_HTTPS_REDIRECT_PLATFORM", Kind::Choice(&PLATFORM_CHOICE));
pub(crate) const REQUIRED_SCOPES: Key =
    key("required_scopes", "AZURE_REQUIRED_SCOPES", Kind::List(SCOPE_NAME_RULE));
pub(crate) const REQUIRED_ROLES: Key =
    key("required_roles", "AZURE_REQUIRED_ROLES", Kind::List(SCOPE_TOKEN_RULE));
pub(crate) const APP_ID_URIS: Key = key("app_id_uris", "AZURE_APP_ID_URIS", Kind::List(APP_ID_URI_RULE));
pub(crate) const CLOCK_SKEW: Key = key(
    "clock_skew",
    "AZURE_CLOCK_SKEW_SECS",
    Kind::Seconds { min: 0, max: 3600, expected: "a whole number of seconds from 0 to 3600, such as 300" },
);
pub(crate) const CUSTOM_SIGNING_KEYS: Key =
    key("custom_signing_keys", "AZURE_CUSTOM_SIGNING_KEYS", Kind::Bool);
pub(crate) const REQUIRE_PKCE: Key = key("require_pkce", "AZURE_REQUIRE_PKCE", Kind::Bool);
pub(crate) const KEY_CACHE_TENANTS: Key =
    key("key_cache_tenants", "AZURE_KEY_CACHE_TENANTS", Kind::Count { min: 1, expected: AT_LEAST_ONE });
pub(crate) const NEW_TENANT_BURST: Key =
    key("new_tenant_burst", "AZURE_NEW_TENANT_BURST", Kind::Count { min: 1, expected: AT_LEAST_ONE });
pub(crate) const NEW_TENANT_REFILL_PER_SEC: Key = key(
    "new_tenant_refill_per_sec",
    "AZURE_NEW_TENANT_REFILL_PER_SEC",
    Kind::Count { min: 1, expected: AT_LEAST_ONE },
);
pub(crate) const TOKEN_CACHE_CAPACITY: Key = key(
    "token_cache_capacity",
    "AZURE_TOKEN_CACHE_CAPACITY",
    Kind::Count { min: 0, expected: "a whole number, such as 10000 (0 turns the cache off)" },
);
pub(crate) const OBO_CACHE_CAPACITY: Key = key(
    "obo_cache_capacity",
    "AZURE_OBO_CACHE_CAPACITY",
    Kind::Count { min: 0, expected: "a whole number, such as 10000 (0 turns the cache off)" },
);
pub(crate) const KEY_REFRESH_INTERVAL: Key = key(
    "key_refresh_interval",
    "AZURE_KEY_REFRESH_INTERVAL_SECS",
    Kind::Seconds {
        min: 60,
        max: 7 * 86_400,
        expected: "a whole number of seconds from 60 to 604800 (a week), such as 43200",
    },
);
pub(crate) const STATE_KEYS: Key = key("state_keys", "AZURE_OAUTH_STATE_KEY", Kind::Secret);
pub(crate) const CONSENT_REMEMBER: Key = key(
    "consent_remember",
    "AZURE_OAUTH_CONSENT_REMEMBER_SECS",
    Kind::Seconds {
        min: 0,
        max: 400 * 86_400,
        expected: "a whole number of seconds from 0 (never remember) to 34560000 (400 days), such as 2592000",
    },
);
pub(crate) const REFRESH_LIFETIME: Key = key(
    "refresh_lifetime",
    "AZURE_OAUTH_REFRESH_LIFETIME_SECS",
    Kind::Seconds {
        min: 3600,
        max: 400 * 86_400,
        expected: "a whole number of seconds from 3600 (an hour) to 34560000 (400 days), such as 1209600",
    },
);
pub(crate) const ENROL_MAX_PER_PREFIX: Key = key(
    "enrol_max_per_prefix",
    "AZURE_OAUTH_ENROL_MAX_PER_PREFIX",
    Kind::Count { min: 1, expected: AT_LEAST_ONE },
);
pub(crate) const ENROL_MAX_TOTAL: Key = key(
    "enrol_max_total",
    "AZURE_OAUTH_ENROL_MAX_TOTAL",
    Kind::Count { min: 1, expected: "a whole number of at least 1, such as 200 (Entra holds at most 256)" },
);
pub(crate) const HTTP_TIMEOUT: Key = key(
    "http_timeout",
    "AZURE_HTTP_TIMEOUT_SECS",
    Kind::Seconds { min: 1, max: 300, expected: "a whole number of seconds from 1 to 300, such as 10" },
);

/// Every key, in the order the documentation lists them.
pub(crate) const KEYS: &[Key] = &[
    APP_ID,
    TENANT_ID,
    CLIENT_SECRET,
    CLIENT_CERTIFICATE_PATH,
    CLIENT_CERTIFICATE_PASSWORD,
    SEND_CERTIFICATE_CHAIN,
    FEDERATED_TOKEN_FILE,
    MANAGED_IDENTITY_CLIENT_ID,
    IDENTITY_ENDPOINT,
    IDENTITY_HEADER,
    IMDS_ENDPOINT,
    TOKEN_EXCHANGE_AUDIENCE,
    AUTHORITY_HOST,
    GRAPH_ENDPOINT,
    BASE_URL,
    ALLOWED_REDIRECT_URIS,
    ALLOWED_REDIRECT_URI_PREFIXES,
    ALLOWED_TENANT_IDS,
    API_SCOPE,
    RESOURCE_PATH,
    MODE,
    STATE_KEYS,
    CONSENT_REMEMBER,
    REFRESH_LIFETIME,
    ENROL_MAX_PER_PREFIX,
    ENROL_MAX_TOTAL,
    HTTPS_REDIRECT_PLATFORM,
    REQUIRED_SCOPES,
    REQUIRED_ROLES,
    APP_ID_URIS,
    CLOCK_SKEW,
    CUSTOM_SIGNING_KEYS,
    REQUIRE_PKCE,
    KEY_CACHE_TENANTS,
    NEW_TENANT_BURST,
    NEW_TENANT_REFILL_PER_SEC,
    TOKEN_CACHE_CAPACITY,
    OBO_CACHE_CAPACITY,
    KEY_REFRESH_INTERVAL,
    HTTP_TIMEOUT,
];

/// The key called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}
