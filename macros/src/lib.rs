//! Procedural macros for [`axum-mcp-azure-oauth`](https://docs.rs/axum-mcp-azure-oauth):
//! [`macro@azure_mcp_auth`] protects a handler, [`azure_oauth_routes!`] serves the OAuth endpoints
//! and installs the validator those handlers use.
//!
//! Use them through the runtime crate, which re-exports them; the expansions call
//! `axum_mcp_azure_oauth::__private`, so this crate is not useful on its own.
//!
//! Configuration values written as literals are checked by this crate, with the error on the
//! literal, by the runtime crate's own `const fn` rules (`src/rules.rs` is a link to
//! `runtime/src/config/rules.rs`: one source of truth, and `cargo package` copies the file). Values
//! written as `env!(…)` or another constant expression are checked by `const` items the macros
//! emit, which call the same rules through `axum_mcp_azure_oauth::rules` during const evaluation.
// The library crates' own lints (the workspace's apply to every member, tests and examples too).
#![warn(missing_docs, unreachable_pub)]

mod auth_attr;
mod common;
// The runtime crate's files (links): the one table of configuration keys, and the rules it names.
#[allow(dead_code, reason = "the runtime crate uses the parts the macros do not")]
mod keys;
mod routes;
#[allow(
    dead_code,
    unreachable_pub,
    clippy::all,
    reason = "the runtime crate's file, under the runtime's lints"
)]
mod rules;
mod tool_attr;

use proc_macro::TokenStream;

/// Protects an axum handler: the request must carry an Entra ID access token for `app_id` that
/// holds one of the handler's scopes (or, for an app-only token, one of its roles), from an
/// accepted tenant.
///
/// ```
/// use axum::response::IntoResponse;
/// use axum::routing::post;
/// use axum::{Json, Router};
/// use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth};
/// use serde_json::{Value, json};
///
/// #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
/// async fn mcp_handler(claims: AzureClaims, Json(request): Json<Value>) -> impl IntoResponse {
///     Json(json!({ "user": claims.oid(), "echo": request }))
/// }
///
/// let app: Router = Router::new().route("/mcp", post(mcp_handler));
/// ```
///
/// # Arguments
/// - `app_id = …` (required): the app (client) id GUID whose tokens the handler accepts: a string
///   literal or any `&'static str` constant expression, such as `env!("AZURE_CLIENT_ID")` or a
///   `const`.
/// - `scope = "…"` or `scopes = ["…", "…"]` (required): delegated scope names, as in the token's
///   `scp` (without `api://{app_id}/`); a user's token must hold one of them.
/// - `roles = ["…"]`: app roles that admit app-only tokens (one of them); without `roles`, the
///   configuration's `required_roles` (by default none: app-only tokens are refused).
/// - `tenants = ["…"]`: tenant GUIDs whose tokens this handler accepts, instead of the
///   configuration's `allowed_tenant_ids`.
///
/// Literal values are checked by the macro; constant expressions (`env!(…)`, `concat!(…)`, a
/// `const`) by `const` items that call the same rules, so a bad value fails the build either way.
///
/// # The handler
/// It must be a free `async fn` (not in an `impl` block, where the generated marker type cannot
/// live), so with no `self` receiver. A parameter of type `AzureClaims` (any
/// pattern, any position) receives the verified claims; without one the handler is protected all
/// the same. The auth extractor becomes the first parameter, so a body extractor (`Json`,
/// `String`, …) stays last; `State`, `Path`, `Query`, `Json` and generic router state work as
/// usual. axum handlers take at most 16 extractors, the auth extractor included. The expansion is
/// the same in debug and release builds.
///
/// # Where the validator comes from
/// The handler looks up, by `app_id`, the `AzureOAuth` installed for the process:
/// [`azure_oauth_routes!`] installs the one it builds, and `AzureOAuth::install()` installs one
/// built by hand. So every handler of the app, and `AzureOAuth::layer()`, share one validator, one
/// signing key cache and one verified-token cache. Installing again for the same app id replaces
/// the previous one. If none is installed for the app id, the handler fails
/// closed: every request gets a `500` with `{"error": "server_error", "error_description": "no
/// AzureOAuth installed for app …: call azure_oauth_routes!{…} or AzureOAuth::install()"}`, and
/// the mistake is logged once.
///
/// A missing or invalid token gets a `401`, a token without the required scope or role a `403`,
/// each with the `WWW-Authenticate` challenge MCP clients follow. If a layer has already verified
/// the request, the handler still checks it against its own requirements (a lookup in the
/// verified-token cache), so a looser layer never stands in for the handler.
///
/// # Equivalent code without the macro
/// The expansion is thin: a marker type carrying the requirements as `const`s, and the extractor
/// that checks them as the first parameter. With the public API, the same protection is a layer
/// with the handler's requirements on its route:
///
/// ```
/// use axum::routing::post;
/// use axum::{Json, Router};
/// use axum_mcp_azure_oauth::config::Mode;
/// use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth, AzureOAuthConfig, Requirements};
/// use serde_json::{Value, json};
///
/// const REQUIRES: Requirements = Requirements::new(&["access_as_user"]);
///
/// async fn mcp_handler(claims: AzureClaims, Json(request): Json<Value>) -> Json<Value> {
///     Json(json!({ "user": claims.oid(), "echo": request }))
/// }
///
/// # fn main() -> Result<(), axum_mcp_azure_oauth::ConfigError> {
/// let auth = AzureOAuth::new(
///     AzureOAuthConfig::builder()
///         .app_id("11111111-2222-3333-4444-555555555555")
///         .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
///         .mode(Mode::Direct) // validation only; the default, Mode::Broker, also needs .client_secret(…)
///         .build()?,
/// );
/// let app: Router = Router::new()
///     .route("/mcp", post(mcp_handler).layer(auth.layer().requirements(REQUIRES)))
///     .merge(auth.router());
/// # Ok(()) }
/// ```
///
/// # On rmcp tools: least privilege per tool
/// On the `impl` block of an rmcp `#[tool_router]` server, `#[azure_mcp_auth]` (no arguments)
/// collects what each `#[tool]` method's own `#[azure_mcp_auth(…)]` requires into
/// `Self::tool_policy()`, an `axum_mcp_azure_oauth::config::ToolPolicy`. Give it to the
/// configuration (`.tool_policy(Server::tool_policy())`): the protected resource metadata then
/// lists the scopes, and `AzureOAuth::mcp_layer()` checks every `tools/call` before the tool runs,
/// answering a caller who lacks a scope with the 403 `insufficient_scope` challenge that MCP
/// clients step up from.
///
/// ```
/// use axum_mcp_azure_oauth::azure_mcp_auth;
/// use rmcp::handler::server::router::tool::ToolRouter;
/// use rmcp::model::CallToolResult;
/// use rmcp::{tool, tool_router};
///
/// struct Files {
///     tool_router: ToolRouter<Self>,
/// }
///
/// #[azure_mcp_auth]
/// #[tool_router]
/// impl Files {
///     #[tool(description = "Lists files")] // needs only what the MCP route needs
///     async fn list(&self) -> CallToolResult { CallToolResult::success(vec![]) }
///
///     #[azure_mcp_auth(scope = "Files.ReadWrite")]
///     #[tool(description = "Deletes a file")]
///     async fn delete(&self) -> CallToolResult { CallToolResult::success(vec![]) }
///
///     #[azure_mcp_auth(any_scope = ["Files.Read", "Files.ReadWrite"], roles = "Files.Admin")]
///     #[tool(name = "export", description = "Exports every file")]
///     async fn export_all(&self) -> CallToolResult { CallToolResult::success(vec![]) }
/// }
///
/// let policy = Files::tool_policy();
/// assert!(policy.requirement("list").is_none());
/// assert_eq!(policy.requirement("delete").unwrap().scopes_all(), ["Files.ReadWrite"]);
/// assert_eq!(policy.requirement("export").unwrap().roles_any(), ["Files.Admin"]);
/// # let _ = Files { tool_router: Files::tool_router() };
/// ```
///
/// A tool's keys, each value a string literal or a constant expression checked by the same rules:
/// - `scope = "…"`: a delegated scope the signed-in user's token must hold (a bare name the app
///   exposes, as `access_as_user`);
/// - `all_scopes = ["…", "…"]`: every one of them; `any_scope = ["…", "…"]`: at least one of them
///   (both may be given: every scope of the first and one of the second);
/// - `roles = "…"` or `roles = ["…", "…"]`: one of these app roles. An app-only caller (client
///   credentials) must hold one; a tool that names no scope checks a signed-in user's roles instead.
///   A tool without `roles` refuses app-only callers.
///
/// A tool's name is the one rmcp lists it under: `#[tool(name = "…")]`, else the method's name.
#[proc_macro_attribute]
pub fn azure_mcp_auth(args: TokenStream, item: TokenStream) -> TokenStream {
    let (args, item): (proc_macro2::TokenStream, proc_macro2::TokenStream) = (args.into(), item.into());
    // On an `impl` block: the rmcp tools' requirements; on a function: an axum handler.
    match syn::parse2::<syn::ItemImpl>(item.clone()) {
        Ok(block) => expand_with(
            (args, block),
            |(a, b)| tool_attr::try_expand(a, b.clone()),
            |(_, b), e| tool_attr::fallback(b, e),
        )
        .into(),
        Err(_) => expand_with((args, item), auth_attr::try_expand, auth_attr::fallback).into(),
    }
}

/// The OAuth endpoints (protected resource metadata, authorization server metadata, registration,
/// the authorize/token bridge, the callback) as an axum `Router`, built from a configuration whose
/// values are checked at compile time. It builds an `AzureOAuth` and installs it for the process,
/// so every [`macro@azure_mcp_auth`] handler with the same `app_id` uses its validator.
///
/// ```no_run
/// use axum::Router;
/// use axum::routing::post;
/// use axum_mcp_azure_oauth::{AzureClaims, azure_mcp_auth, azure_oauth_routes};
///
/// #[azure_mcp_auth(app_id = "11111111-2222-3333-4444-555555555555", scope = "access_as_user")]
/// async fn mcp_handler(claims: AzureClaims) -> String {
///     format!("hello {}", claims.oid().unwrap_or("app"))
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let app: Router = Router::new().route("/mcp", post(mcp_handler)).merge(azure_oauth_routes! {
///         app_id: "11111111-2222-3333-4444-555555555555",
///         tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
///         client_secret: std::env::var("AZURE_CLIENT_SECRET")?,
///         api_scope: "access_as_user",
///         resource_path: "/mcp",
///         base_url: "https://mcp.example.com",
///         allowed_redirect_uris: ["https://global.consent.azure-apim.net/redirect/my-connector"],
///         allowed_tenant_ids: ["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"],
///     });
///     let listener = tokio::net::TcpListener::bind("0.0.0.0:8000").await?;
///     axum::serve(listener, app).await?;
///     Ok(())
/// }
/// ```
///
/// # Keys
/// One per `AzureOAuthConfigBuilder` method, by the same name, each also read from its environment
/// variable by `AzureOAuthConfig::from_env` (the runtime crate's one table of keys, which this crate
/// compiles too): `app_id` and `tenant_id` (required unless `env` is given), `client_secret`,
/// `client_certificate_path`, `client_certificate_password`, `send_certificate_chain`,
/// `federated_token_file`, `managed_identity_client_id`, `identity_endpoint`, `identity_header`,
/// `imds_endpoint`, `token_exchange_audience`, `authority_host`, `graph_endpoint`, `base_url`, `allowed_redirect_uris`,
/// `allowed_redirect_uri_prefixes`, `allowed_tenant_ids`, `api_scope`, `resource_path`, `mode`,
/// `state_keys`, `consent_remember`, `refresh_lifetime`, `enrol_max_per_prefix`, `enrol_max_total`,
/// `https_redirect_platform`, `required_scopes`, `required_roles`,
/// `app_id_uris`, `clock_skew`, `custom_signing_keys`, `require_pkce`, `key_cache_tenants`,
/// `new_tenant_burst`, `new_tenant_refill_per_sec`, `token_cache_capacity`, `obo_cache_capacity`,
/// `key_refresh_interval`, `http_timeout`. Unknown keys (with a "did you mean" hint) and duplicates
/// are refused, and every independent mistake is reported in one build; so are two keys that each
/// choose the app's credential (a secret, a certificate, a token file, a managed identity): it has
/// one. The base URL is required in
/// the broker (default) and enrol modes unless `env` reads it: their issuer and callback never
/// come from a request's `Host` header.
///
/// And `env`: a lookup `Fn(&str) -> Option<String>` through which every variable
/// `AzureOAuthConfig::from_env` reads (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
/// `AZURE_CLIENT_SECRET`, `PUBLIC_BASE_URL`, `ALLOWED_REDIRECT_URIS`, …) is read first; the keys
/// written in the macro then win over the environment. What the code fixes is checked at compile
/// time, what each deployment sets is read at startup:
///
/// ```
/// use axum::Router;
/// use axum_mcp_azure_oauth::azure_oauth_routes;
///
/// # let vars = [("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"),
/// #     ("AZURE_TENANT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
/// #     ("AZURE_CLIENT_SECRET", "from-a-vault"), ("PUBLIC_BASE_URL", "https://mcp.example.com")];
/// # let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
/// // In a server: `env: |name| std::env::var(name).ok()`.
/// let routes: Router = azure_oauth_routes! {
///     env: lookup,
///     api_scope: "access_as_user",
///     resource_path: "/mcp",
/// };
/// ```
///
/// And `tool_policy`: a `ToolPolicy` expression, such as the `Server::tool_policy()` that
/// [`macro@azure_mcp_auth`] generates on an rmcp tool `impl` block (what each tool requires;
/// checked when the configuration is built).
///
/// # Protecting an MCP service (rmcp) next to the routes
/// An rmcp `StreamableHttpService` is a tower service, not a handler: wrap it in the layer of the
/// installed app, found by its app id with `AzureOAuth::installed`, so that the routes, the layer
/// and any `#[azure_mcp_auth]` handler share one validator:
///
/// ```
/// use axum::Router;
/// use axum_mcp_azure_oauth::{AzureOAuth, azure_oauth_routes};
/// use tower::Layer;
///
/// const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
/// # fn secret_from_vault() -> String { "from-a-vault".into() }
/// let routes: Router = azure_oauth_routes! {
///     app_id: APP_ID,
///     tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
///     client_secret: secret_from_vault(),
///     base_url: "https://mcp.example.com",
/// };
/// let auth = AzureOAuth::installed(APP_ID).expect("azure_oauth_routes! installed it");
/// # let mcp_service = tower::service_fn(|_req: axum::extract::Request| async {
/// #     Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty()))
/// # });
/// // `mcp_service`: rmcp's `StreamableHttpService::new(…)`.
/// let app: Router = routes.nest_service("/mcp", auth.layer().layer(mcp_service));
/// ```
///
/// # Values
/// - Strings and lists of strings (`["…", "…"]`) may be literals, checked by the macro with the
///   error on the literal; constant expressions (`env!(…)`, `concat!(…)`, `include_str!(…)`,
///   `const { … }`, an `UPPER_CASE` constant), checked by emitted `const` items during const
///   evaluation (the error names the field: "evaluation of `…::base_url` failed"); or any other
///   expression, computed at run time and checked when the router is built. A list may also be any
///   run-time iterable of strings.
/// - `client_secret`, `client_certificate_password`, `identity_header` and `state_keys` (the
///   sealing keys) must be computed at run time (`std::env::var("AZURE_CLIENT_SECRET")?`, a
///   vault): a literal, a constant or `env!(…)` would bake the secret into the binary, so all three
///   are refused. A certificate's or token file's path may be written.
/// - `mode: broker | enrol | direct` and `https_redirect_platform: web | spa`, or a path to the
///   variant (`Mode::Direct`); a run-time value goes in braces (`mode: { mode }`).
/// - `clock_skew` (0 to 3600), `consent_remember` (0 to 34560000, 400 days), `refresh_lifetime`
///   (3600 to 34560000), `key_refresh_interval` (60 to 604800) and `http_timeout` (1 to 300): whole
///   seconds, checked against these bounds, or a `Duration`.
/// - `send_certificate_chain`, `custom_signing_keys`, `require_pkce`: a `bool`; `key_cache_tenants`, `enrol_max_per_prefix`,
///   `enrol_max_total` (at least 1), `token_cache_capacity`, `obo_cache_capacity` (0 turns the
///   cache off): a `usize`;
///   `new_tenant_burst`, `new_tenant_refill_per_sec` (at least 1): a `u32`.
///
/// Run-time values are evaluated in the order written (`env` first), in the enclosing function, so
/// `?` works.
///
/// # Failure at startup
/// Once the build succeeds, only run-time values (and the environment read by `env`) can be
/// invalid. Then building the router panics
/// with the `ConfigError` message (it names the field, its environment variable and its rule, and
/// never shows the secret), at the macro's location: a misconfigured server stops before it serves
/// a request. To handle the error instead, build the configuration by hand, as below, and use `?`.
///
/// # Equivalent code without the macro
/// ```no_run
/// use axum::Router;
/// use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = AzureOAuthConfig::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
///     .client_secret(std::env::var("AZURE_CLIENT_SECRET")?)
///     .api_scope("access_as_user")
///     .resource_path("/mcp")
///     .base_url("https://mcp.example.com")
///     .allowed_redirect_uris(["https://global.consent.azure-apim.net/redirect/my-connector"])
///     .allowed_tenant_ids(["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"])
///     .build()?;
/// // `install()` makes its validator the one `#[azure_mcp_auth]` handlers of this app id use.
/// let auth = AzureOAuth::new(config).install();
/// let routes: Router = auth.router();
/// # Ok(()) }
/// ```
#[proc_macro]
pub fn azure_oauth_routes(input: TokenStream) -> TokenStream {
    expand_with(input.into(), routes::try_expand, routes::fallback).into()
}

/// Every macro runs through here: its expansion (parse → valid → expand) or, after a mistake, its
/// fallback, a well-typed item that carries every error, so that the code around the macro still
/// type-checks and one build shows only the real mistakes, all of them.
fn expand_with<I>(
    input: I,
    try_expand: fn(&I) -> syn::Result<proc_macro2::TokenStream>,
    fallback: fn(I, syn::Error) -> proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    match try_expand(&input) {
        Ok(expanded) => expanded,
        Err(errors) => fallback(input, errors),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::{Literal, Span, TokenStream};
    use quote::quote;
    use syn::Ident;

    use crate::keys::{self, KEYS, Key, Kind};

    fn attribute(args: TokenStream, item: TokenStream) -> TokenStream {
        super::expand_with((args, item), super::auth_attr::try_expand, super::auth_attr::fallback)
    }

    fn routes(input: TokenStream) -> TokenStream {
        super::expand_with(input, super::routes::try_expand, super::routes::fallback)
    }

    fn errors(tokens: TokenStream) -> Vec<String> {
        let text = tokens.to_string();
        text.match_indices("compile_error !")
            .map(|(i, _)| {
                let rest = &text[i..];
                let start = rest.find('"').map_or(0, |s| s + 1);
                let end = rest[start..].find("\" }").map_or(rest.len(), |e| start + e);
                rest[start..end].to_owned()
            })
            .collect()
    }

    #[test]
    fn attribute_reports_every_independent_mistake_and_keeps_the_handler() {
        let out = attribute(
            quote!(app_id = "my-app", scope = "a b", roles = ["x y"], tenant = []),
            quote!(
                fn handler() {}
            ),
        );
        let errors = errors(out.clone());
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert!(errors[0].starts_with("invalid `app_id`: expected a GUID"), "{errors:#?}");
        assert!(errors[1].starts_with("invalid `scope`: expected an OAuth scope token"), "{errors:#?}");
        assert!(errors[2].starts_with("invalid `roles`"), "{errors:#?}");
        assert_eq!(errors[3], "unknown argument `tenant`: did you mean `tenants`?");
        assert!(errors[4].starts_with("`#[azure_mcp_auth]` goes on an `async fn`"), "{errors:#?}");
        assert!(out.to_string().ends_with("fn handler () { }"), "the handler is kept: {out}");
    }

    #[test]
    fn attribute_puts_the_auth_extractor_first_with_the_users_pattern() {
        let out = attribute(
            quote!(app_id = APP_ID, scopes = ["read", "write"], roles = ["Mcp.Invoke"]),
            quote!(
                pub async fn h(State(s): State<S>, mut claims: AzureClaims, body: String) {}
            ),
        )
        .to_string();
        assert!(errors(out.parse().expect("tokens")).is_empty(), "{out}");
        assert!(
            out.contains(
                "pub async fn h (:: axum_mcp_azure_oauth :: __private :: Authorized { claims : mut claims , .. } : :: axum_mcp_azure_oauth :: __private :: Authorized < __AzureMcpAuth_h > , State (s) : State < S > , body : String)"
            ),
            "{out}"
        );
        assert!(out.contains("pub struct __AzureMcpAuth_h ;"), "{out}");
        assert!(out.contains("const app_id : () ="), "a const check for the constant app id: {out}");
        assert!(!out.contains("const scopes"), "literal scopes were checked by the macro: {out}");
        assert!(!out.contains("cfg"), "the same expansion in debug and release builds: {out}");
    }

    #[test]
    fn routes_report_every_independent_mistake() {
        let out = routes(quote!(
            app_id: "my-app",
            base_url: "http://mcp.example.com",
            client_secret: "s3cr3t",
            redirect_uris: ["https://vscode.dev/redirect"],
            mode: broker,
            mode: direct,
        ));
        let errors = errors(out);
        assert_eq!(errors.len(), 6, "{errors:#?}");
        assert!(errors[0].starts_with("invalid `app_id`: expected a GUID"));
        assert!(errors[1].starts_with("invalid `base_url`: expected https://"));
        assert!(errors[2].starts_with("`client_secret` must not be written in the source"));
        assert_eq!(errors[3], "unknown key `redirect_uris`: did you mean `allowed_redirect_uris`?");
        assert_eq!(errors[4], "duplicate key `mode`: give it once");
        assert!(errors[5].starts_with("missing `tenant_id`"));
    }

    #[test]
    fn routes_check_constants_in_const_items_and_pass_run_time_values_to_the_builder() {
        let out = routes(quote!(
            app_id: env!("AZURE_CLIENT_ID"),
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            client_secret: std::env::var("AZURE_CLIENT_SECRET")?,
            allowed_tenant_ids: [TENANT, "*"],
            clock_skew: 60,
            base_url: BASE_URL,
        ))
        .to_string();
        assert!(out.contains("const app_id : () ="), "{out}");
        assert!(out.contains("= [env ! (\"AZURE_CLIENT_ID\")] ;"), "{out}");
        assert!(out.contains("rules :: guid (__AZURE_MCP_VALUES [0usize])"), "{out}");
        assert!(out.contains("const allowed_tenant_ids : () ="), "{out}");
        assert!(!out.contains("const tenant_id"), "{out}");
        assert!(out.contains(". client_secret (std :: env :: var (\"AZURE_CLIENT_SECRET\") ?)"), "{out}");
        assert!(out.contains(". clock_skew (:: core :: time :: Duration :: from_secs (60))"), "{out}");
    }

    #[test]
    fn routes_accept_choices_as_names_paths_and_braced_run_time_values() {
        let out = routes(quote!(
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            mode: direct,
            https_redirect_platform: { platform },
        ))
        .to_string();
        assert!(out.contains(". mode (:: axum_mcp_azure_oauth :: __private :: Mode :: Direct)"), "{out}");
        assert!(out.contains(". https_redirect_platform (platform)"), "braces dropped: {out}");
    }

    /// The app and tenant ids, so that only the keys under test can be wrong.
    /// The app and tenant ids, and the base URL the broker and enrol modes need.
    fn ids() -> TokenStream {
        quote!(
            app_id: "11111111-2222-3333-4444-555555555555",
            tenant_id: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            base_url: "https://mcp.example.com",
        )
    }

    fn field(key: &Key, value: TokenStream) -> TokenStream {
        let name = Ident::new(key.name, Span::call_site());
        quote!(#name: #value,)
    }

    /// A value the macro accepts for a key of this kind.
    fn accepted(kind: &Kind) -> TokenStream {
        match kind {
            Kind::Str(_) | Kind::List(_) | Kind::Tenants => quote!(from_the_deployment()),
            Kind::Secret => quote!(std::env::var("FROM_THE_DEPLOYMENT")?),
            Kind::Choice(choice) => {
                let word = Ident::new(choice.choices[0].0, Span::call_site());
                quote!(#word)
            }
            Kind::Seconds { min, .. } | Kind::Count { min, .. } => {
                let min = Literal::u64_unsuffixed(*min);
                quote!(#min)
            }
            Kind::Bool => quote!(true),
        }
    }

    #[test]
    fn routes_accept_every_key_of_the_table_as_the_builder_method_of_its_name() {
        // The keys that choose the credential one per invocation (two is refused: below).
        let chooses = |k: &Key| keys::CREDENTIAL_KEYS.iter().skip(1).any(|c| c.name == k.name);
        let fields = KEYS.iter().filter(|k| !chooses(k)).map(|k| field(k, accepted(&k.kind)));
        let mut out = routes(quote!(#(#fields)*)).to_string();
        for kind in keys::CREDENTIAL_KEYS.iter().skip(1) {
            let (ids, field) = (ids(), field(kind, accepted(&kind.kind)));
            out.push_str(&routes(quote!(#ids #field)).to_string());
        }
        assert!(errors(out.parse().expect("tokens")).is_empty(), "{out}");
        for key in KEYS {
            assert!(out.contains(&format!(". {} (", key.name)), "no builder call for {}: {out}", key.name);
        }
        let (ids, secret, file) = (
            ids(),
            field(&keys::CLIENT_SECRET, accepted(&Kind::Secret)),
            field(&keys::FEDERATED_TOKEN_FILE, quote!("/var/run/token")),
        );
        let two = errors(routes(quote!(#ids #secret #file)));
        assert_eq!(two.len(), 1, "{two:#?}");
        assert!(two[0].starts_with("`client_secret` and `federated_token_file` each choose"), "{two:#?}");
        assert!(out.contains(". consent_remember (:: core :: time :: Duration :: from_secs (0))"), "{out}");
    }

    #[test]
    fn secrets_of_the_table_are_refused_written_in_the_source_or_read_at_build_time() {
        let secrets: Vec<&Key> = KEYS.iter().filter(|k| matches!(k.kind, Kind::Secret)).collect();
        assert_eq!(
            secrets.iter().map(|k| k.name).collect::<Vec<_>>(),
            ["client_secret", "client_certificate_password", "identity_header", "state_keys"]
        );
        for key in secrets {
            for (value, refusal) in [
                (quote!("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="), "must not be written in the source"),
                (quote!(String::from("s3cr3t")), "must not be written in the source"),
                (quote!(SEALING_KEY), "must not be written in the source"),
                (quote!(env!("AZURE_OAUTH_STATE_KEY")), "must not be read at build time"),
                (quote!(include_str!("key.txt").to_owned()), "must not be read at build time"),
            ] {
                let (ids, field) = (ids(), field(key, value.clone()));
                let errors = errors(routes(quote!(#ids #field)));
                assert_eq!(errors.len(), 1, "{value}: {errors:#?}");
                assert!(errors[0].starts_with(&format!("`{}` {refusal}", key.name)), "{errors:#?}");
                assert!(errors[0].contains(key.env), "the hint reads the key's variable: {errors:#?}");
            }
            let (ids, field) = (ids(), field(key, quote!(vault.secret())));
            assert!(errors(routes(quote!(#ids #field))).is_empty(), "a run-time value is accepted");
        }
    }

    #[test]
    fn whole_numbers_outside_the_bounds_of_the_table_are_refused() {
        let mut checked = 0;
        for key in KEYS {
            let (min, max, expected) = match key.kind {
                Kind::Seconds { min, max, expected } => (min, Some(max), expected),
                Kind::Count { min, expected } => (min, None, expected),
                _ => continue,
            };
            for n in [min.checked_sub(1), max.map(|m| m + 1)].into_iter().flatten() {
                let n = Literal::u64_unsuffixed(n);
                let (ids, field) = (ids(), field(key, quote!(#n)));
                let errors = errors(routes(quote!(#ids #field)));
                assert_eq!(errors, [format!("invalid `{}`: expected {expected}", key.name)], "{n}");
                checked += 1;
            }
            for n in [Some(min), max].into_iter().flatten() {
                let n = Literal::u64_unsuffixed(n);
                let (ids, field) = (ids(), field(key, quote!(#n)));
                assert!(errors(routes(quote!(#ids #field))).is_empty(), "{} accepts {n}", key.name);
            }
        }
        assert!(checked >= 8, "every bound of the table is tried: {checked}");
    }

    #[test]
    fn mode_words_are_the_tables_and_the_old_word_points_to_the_new_one() {
        for (word, variant) in keys::MODE_CHOICE.choices {
            let (ids, word) = (ids(), Ident::new(word, Span::call_site()));
            let out = routes(quote!(#ids mode: #word)).to_string();
            assert!(out.contains(&format!("__private :: Mode :: {variant})")), "{word}: {out}");
        }
        let ids = ids();
        let errors = errors(routes(quote!(#ids mode: bridge)));
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with("unknown `mode` `bridge`: did you mean `enrol`? expected `broker`"),
            "{errors:#?}"
        );
    }

    /// The lines of this file from the one starting with `from` to the one starting with `to`.
    fn section<'a>(source: &'a str, from: &str, to: &str) -> &'a str {
        let start = source.find(from).unwrap_or_else(|| panic!("no {from}"));
        let end = start + source[start..].find(to).unwrap_or_else(|| panic!("no {to} after {from}"));
        &source[start..end]
    }

    #[test]
    fn the_documentation_names_every_key_of_the_table_and_what_its_value_is() {
        let source = include_str!("lib.rs");
        let keys_doc = section(source, "/// # Keys\n", "/// And `env`");
        let mut named: Vec<&str> = keys_doc
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| {
                *w != "env" && !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            })
            .collect();
        named.dedup();
        assert_eq!(
            named,
            KEYS.iter().map(|k| k.name).collect::<Vec<_>>(),
            "the `# Keys` list, in the table's order"
        );
        let values_doc = section(source, "/// # Values\n", "/// Run-time values are evaluated");
        let values_doc: Vec<&str> =
            values_doc.lines().flat_map(|l| l.trim_start_matches("///").split_whitespace()).collect();
        let values_doc = values_doc.join(" ");
        for key in KEYS {
            let shown = match key.kind {
                Kind::Seconds { min, max, .. } => format!("`{}` ({min} to {max}", key.name),
                Kind::Choice(choice) => {
                    let words: Vec<&str> = choice.choices.iter().map(|(w, _)| *w).collect();
                    format!("`{}: {}`", key.name, words.join(" | "))
                }
                Kind::Secret | Kind::Bool | Kind::Count { .. } => format!("`{}`", key.name),
                Kind::Str(_) | Kind::List(_) | Kind::Tenants => continue,
            };
            assert!(values_doc.contains(&shown), "`# Values` shows {shown}: {values_doc}");
        }
    }
}
