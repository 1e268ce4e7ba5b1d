//! `env`: the environment through a lookup (a closure, a function or a reference to one), with
//! no `app_id` and `tenant_id` (they come from it) or with keys that win over it.
#![deny(unused, nonstandard_style, warnings)]
use axum::Router;
use axum_mcp_azure_oauth::azure_oauth_routes;

fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn main() {
    let _build_only = || {
        let _: Router = azure_oauth_routes! {
            env: |name| std::env::var(name).ok(),
        };
        let _: Router = azure_oauth_routes! {
            env: process,
            api_scope: "access_as_user",
            resource_path: "/mcp",
        };
        let vars = vec![("AZURE_CLIENT_SECRET", "from a vault")];
        let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        let _: Router = azure_oauth_routes! {
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            env: &lookup,
        };
    };
}
