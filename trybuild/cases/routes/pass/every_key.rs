//! Every key of the configuration's key table (and `tool_policy`), literals where the key allows them; the keys that
//! choose the app's credential one per invocation (it has one).
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;
use axum_mcp_azure_oauth::config::{ToolPolicy, ToolRequirement};

fn secret_from_vault() -> String {
    "from-the-vault".to_owned()
}

fn sealing_keys_from_vault() -> String {
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned()
}

fn main() {
    let _: Router = azure_oauth_routes! {
        app_id: "11111111-2222-3333-4444-555555555555",
        tenant_id: "AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee",
        client_secret: secret_from_vault(),
        client_certificate_password: secret_from_vault(),
        send_certificate_chain: true,
        identity_endpoint: "http://127.0.0.1:41741/MSI/token/",
        identity_header: secret_from_vault(),
        imds_endpoint: "http://169.254.169.254/metadata/identity/oauth2/token",
        token_exchange_audience: "api://AzureADTokenExchangeUSGov",
        authority_host: "https://login.microsoftonline.us",
        graph_endpoint: "https://graph.microsoft.us/",
        base_url: "https://mcp.example.com/prefix",
        allowed_redirect_uris: [
            "https://vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
        ],
        allowed_redirect_uri_prefixes: ["https://global.consent.azure-apim.net/redirect/"],
        allowed_tenant_ids: ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"],
        api_scope: "access_as_user",
        resource_path: "/api/mcp",
        mode: direct,
        state_keys: sealing_keys_from_vault(),
        consent_remember: 2592000,
        refresh_lifetime: 1209600,
        enrol_max_per_prefix: 20,
        enrol_max_total: 100,
        https_redirect_platform: spa,
        required_scopes: ["access_as_user", "Mcp.Read"],
        required_roles: ["Mcp.Invoke"],
        app_id_uris: ["api://my-api", "https://contoso.com/my-api"],
        clock_skew: 120,
        custom_signing_keys: true,
        require_pkce: false,
        key_cache_tenants: 10,
        new_tenant_burst: 100,
        new_tenant_refill_per_sec: 10,
        token_cache_capacity: 0,
        obo_cache_capacity: 100,
        key_refresh_interval: std::time::Duration::from_secs(3600),
        http_timeout: 5,
        tool_policy: ToolPolicy::new().tool("purge", ToolRequirement::new().any_role(["Files.Admin"])),
    };
    // Type-checked, not run: the files they name are not on this machine.
    let _ = other_credential_kinds as fn() -> [Router; 3];
}

fn other_credential_kinds() -> [Router; 3] {
    [
        azure_oauth_routes! {
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            base_url: "https://mcp.example.com",
            client_certificate_path: "/etc/mcp/app.pem",
        },
        azure_oauth_routes! {
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            base_url: "https://mcp.example.com",
            federated_token_file: "/var/run/secrets/azure/tokens/azure-identity-token",
            state_keys: sealing_keys_from_vault(),
        },
        azure_oauth_routes! {
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            base_url: "https://mcp.example.com",
            managed_identity_client_id: "99999999-8888-7777-6666-555555555555",
            state_keys: sealing_keys_from_vault(),
        },
    ]
}
