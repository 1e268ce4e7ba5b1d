//! Handlers expanded by `#[azure_mcp_auth]` and routers expanded by `azure_oauth_routes!`, served on
//! 127.0.0.1 and called over real HTTP with tokens minted by the Entra emulator.
//!
//! Each test uses its own app id, so that the process-wide registry the routes macro installs into
//! never mixes the tests' emulators when they run in parallel.

use std::panic::AssertUnwindSafe;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint};
use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth, azure_mcp_auth, azure_oauth_routes};
use serde_json::{Value, json};
use support::http::{Answer, send};
use support::serve::{Port, Served};

/// A fixed home tenant for the handler that names its tenants.
const HOME: &str = "0e0e0e0e-0000-4000-8000-00000000000e";

/// A server on 127.0.0.1 and the emulator behind it.
struct Server {
    emu: Emulator,
    url: String,
    http: reqwest::Client,
    _served: Served,
}

/// Starts an emulator for `app_id`, binds a port, and serves `app(emulator, base url)` merged with
/// the routes of `azure_oauth_routes!` for that emulator (which installs the configuration).
async fn serve(app_id: &str, allow_any_tenant: bool, app: impl FnOnce(&str) -> Router) -> Server {
    let emu = Emulator::builder()
        .app_id(app_id)
        .home_tenant(HOME)
        .multi_tenant(allow_any_tenant)
        .start()
        .await
        .expect("the emulator starts");
    let port = Port::bind().await;
    let url = port.base().to_owned();
    let tenants: Vec<String> = if allow_any_tenant { vec!["*".into()] } else { vec![emu.home_tenant()] };
    let router = app(&url).merge(azure_oauth_routes! {
        app_id: emu.app_id(),
        tenant_id: emu.home_tenant(),
        client_secret: emu.client_secret(),
        authority_host: emu.authority_host(),
        graph_endpoint: emu.graph_endpoint(),
        base_url: url.clone(),
        api_scope: "access_as_user",
        resource_path: "/mcp",
        allowed_redirect_uris: ["https://vscode.dev/redirect"],
        allowed_tenant_ids: tenants,
    });
    Server::new(emu, port.serve(router))
}

impl Server {
    fn new(emu: Emulator, served: Served) -> Self {
        Self { emu, url: served.base.clone(), http: reqwest::Client::new(), _served: served }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        let mut req = self.http.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        send(req).await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        send(req).await
    }

    fn token(&self, scopes: &str) -> String {
        self.emu.token().scopes(scopes).sign()
    }

    fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.url)
    }
}

fn claims_json(claims: &AzureClaims) -> Value {
    json!({
        "tid": claims.tid(),
        "oid": claims.oid(),
        "scopes": claims.scopes().collect::<Vec<_>>(),
        "roles": claims.roles().collect::<Vec<_>>(),
    })
}

const APP_BASIC: &str = "a1000000-0000-4000-8000-000000000001";

/// The handler: the claims first, a JSON body last.
#[azure_mcp_auth(app_id = APP_BASIC, scope = "access_as_user")]
async fn mcp_handler(claims: AzureClaims, Json(request): Json<Value>) -> Json<Value> {
    Json(json!({ "claims": claims_json(&claims), "echo": request }))
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims_and_its_body() {
    let s = serve(APP_BASIC, false, |_| Router::new().route("/mcp", post(mcp_handler))).await;
    let a = s.post("/mcp", Some(&s.token("access_as_user")), json!({ "method": "ping" })).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["claims"]["tid"], HOME);
    assert_eq!(a.json()["claims"]["scopes"], json!(["access_as_user"]));
    assert_eq!(a.json()["echo"], json!({ "method": "ping" }));
}

#[tokio::test]
async fn no_token_gets_401_with_the_challenge_and_the_routes_serve_the_metadata_it_names() {
    let s = serve(APP_BASIC_401, false, |_| Router::new().route("/mcp", post(mcp_handler_401))).await;
    let a = s.post("/mcp", None, json!({})).await;
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(
        a.www(),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"api://{APP_BASIC_401}/access_as_user\"",
            s.metadata_url()
        )
    );
    // The document the challenge points at is served by the routes of `azure_oauth_routes!`.
    let meta = s.get("/.well-known/oauth-protected-resource/mcp", None).await;
    assert_eq!(meta.status, 200, "{}", meta.text);
    assert_eq!(meta.json()["resource"], format!("{}/mcp", s.url));
}

const APP_BASIC_401: &str = "a1000000-0000-4000-8000-000000000002";

#[azure_mcp_auth(app_id = APP_BASIC_401, scope = "access_as_user")]
async fn mcp_handler_401(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

const APP_SCOPES: &str = "a1000000-0000-4000-8000-000000000003";

/// Several scopes (any of), and a role for app-only callers.
#[azure_mcp_auth(app_id = APP_SCOPES, scopes = ["Tasks.Read", "Tasks.Write"], roles = ["Tasks.Invoke"])]
async fn tasks(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[tokio::test]
async fn scopes_are_any_of_and_a_token_without_one_gets_403_insufficient_scope() {
    let s = serve(APP_SCOPES, false, |_| Router::new().route("/tasks", get(tasks))).await;
    for scopes in ["Tasks.Read", "Tasks.Write", "access_as_user Tasks.Write"] {
        let a = s.get("/tasks", Some(&s.token(scopes))).await;
        assert_eq!(a.status, 200, "{scopes}: {}", a.text);
    }
    let a = s.get("/tasks", Some(&s.token("access_as_user"))).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(a.json()["error"], "insufficient_scope");
    assert!(a.www().contains("error=\"insufficient_scope\""), "{}", a.www());
    assert!(
        a.www().contains(&format!("scope=\"api://{APP_SCOPES}/Tasks.Read api://{APP_SCOPES}/Tasks.Write\"")),
        "the challenge names the handler's scopes: {}",
        a.www()
    );
}

#[tokio::test]
async fn app_only_tokens_need_one_of_the_handlers_roles() {
    let s = serve(APP_SCOPES_ROLES, false, |_| Router::new().route("/tasks", get(tasks_roles))).await;
    let with_role = s.emu.token().app_only().roles(["Tasks.Invoke"]).sign();
    let a = s.get("/tasks", Some(&with_role)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json()["roles"], json!(["Tasks.Invoke"]));
    let other_role = s.emu.token().app_only().roles(["Tasks.Admin"]).sign();
    let a = s.get("/tasks", Some(&other_role)).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(a.json()["error"], "insufficient_scope");
}

const APP_SCOPES_ROLES: &str = "a1000000-0000-4000-8000-000000000004";

#[azure_mcp_auth(app_id = APP_SCOPES_ROLES, scope = "Tasks.Read", roles = ["Tasks.Invoke"])]
async fn tasks_roles(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

const APP_TENANTS: &str = "a1000000-0000-4000-8000-000000000005";

/// Only the home tenant, though the configuration accepts any tenant.
#[azure_mcp_auth(app_id = APP_TENANTS, scope = "access_as_user", tenants = [HOME])]
async fn home_only(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

/// The configuration's tenants (any).
#[azure_mcp_auth(app_id = APP_TENANTS, scope = "access_as_user")]
async fn any_tenant(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[tokio::test]
async fn a_handlers_tenants_replace_the_configured_tenants() {
    let s = serve(APP_TENANTS, true, |_| {
        Router::new().route("/home", get(home_only)).route("/any", get(any_tenant))
    })
    .await;
    let guest = s.emu.add_tenant();
    let guest_token = s.emu.token().scopes("access_as_user").tenant(&guest).sign();
    let home_token = s.token("access_as_user");
    assert_eq!(s.get("/home", Some(&home_token)).await.status, 200);
    let a = s.get("/any", Some(&guest_token)).await;
    assert_eq!(a.status, 200, "the configuration accepts any tenant: {}", a.text);
    assert_eq!(a.json()["tid"], guest);
    let a = s.get("/home", Some(&guest_token)).await;
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_token");
}

const APP_EXPIRED: &str = "a1000000-0000-4000-8000-000000000006";

#[azure_mcp_auth(app_id = APP_EXPIRED, scope = "access_as_user")]
async fn no_claims_parameter() -> &'static str {
    "protected"
}

#[tokio::test]
async fn a_handler_without_a_claims_parameter_is_protected_all_the_same() {
    let s = serve(APP_EXPIRED, false, |_| Router::new().route("/plain", get(no_claims_parameter))).await;
    assert_eq!(s.get("/plain", None).await.status, 401);
    let expired = s.emu.token().scopes("access_as_user").expired().sign();
    let a = s.get("/plain", Some(&expired)).await;
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_token");
    assert!(a.www().contains("error=\"invalid_token\""), "{}", a.www());
    let ok = s.http.get(format!("{}/plain", s.url)).bearer_auth(s.token("access_as_user")).send().await;
    let ok = ok.expect("the server answers");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("a body"), "protected");
}

const APP_EXTRACTORS: &str = "a1000000-0000-4000-8000-000000000007";

#[derive(Clone)]
struct AppState {
    greeting: &'static str,
}

/// The claims in the middle of State, Path and a JSON body.
#[azure_mcp_auth(app_id = APP_EXTRACTORS, scope = "access_as_user")]
async fn greet(
    State(state): State<AppState>,
    Path(name): Path<String>,
    claims: AzureClaims,
    Json(body): Json<Value>,
) -> Json<Value> {
    Json(json!({ "greeting": format!("{} {name}", state.greeting), "tid": claims.tid(), "body": body }))
}

/// Generic router state.
#[azure_mcp_auth(app_id = APP_EXTRACTORS, scope = "access_as_user")]
async fn generic<S: Clone + Send + Sync + 'static>(State(_state): State<S>, claims: AzureClaims) -> String {
    claims.tid().to_owned()
}

fn generic_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/generic", get(generic::<S>))
}

#[tokio::test]
async fn state_path_and_json_extractors_and_generic_state_work_around_the_claims() {
    let s = serve(APP_EXTRACTORS, false, |_| {
        Router::new()
            .route("/greet/{name}", post(greet))
            .merge(generic_routes())
            .with_state(AppState { greeting: "hello" })
    })
    .await;
    let token = s.token("access_as_user");
    let a = s.post("/greet/ada", Some(&token), json!([1, 2])).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.json(), json!({ "greeting": "hello ada", "tid": HOME, "body": [1, 2] }));
    let generic = s.http.get(format!("{}/generic", s.url)).bearer_auth(&token).send().await;
    assert_eq!(generic.expect("the server answers").text().await.expect("a body"), HOME);
    assert_eq!(s.post("/greet/ada", None, json!([])).await.status, 401);
}

/// Never installed by any test.
const APP_NOT_INSTALLED: &str = "a1000000-0000-4000-8000-0000000000ff";

#[azure_mcp_auth(app_id = APP_NOT_INSTALLED, scope = "access_as_user")]
async fn orphan(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[tokio::test]
async fn without_an_installed_configuration_the_handler_fails_closed_with_500() {
    let s = serve(APP_BASIC_500, false, |_| Router::new().route("/orphan", get(orphan))).await;
    let a = s.get("/orphan", Some(&s.token("access_as_user"))).await;
    assert_eq!(a.status, 500, "{}", a.text);
    assert_eq!(
        a.json(),
        json!({
            "error": "server_error",
            "error_description": format!(
                "no AzureOAuth installed for app {APP_NOT_INSTALLED}: call azure_oauth_routes!{{…}} or AzureOAuth::install()"
            ),
        })
    );
    assert_eq!(s.emu.request_count(Endpoint::JwksV2), 0, "nothing was validated");
}

const APP_BASIC_500: &str = "a1000000-0000-4000-8000-000000000008";

const APP_SHARED: &str = "a1000000-0000-4000-8000-000000000009";

#[azure_mcp_auth(app_id = APP_SHARED, scope = "access_as_user")]
async fn first(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[azure_mcp_auth(app_id = APP_SHARED, scope = "admin")]
async fn admin(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[tokio::test]
async fn every_handler_of_an_app_shares_the_installed_validator_and_its_key_cache() {
    let s =
        serve(APP_SHARED, false, |_| Router::new().route("/first", get(first)).route("/admin", get(admin)))
            .await;
    let user = s.token("access_as_user");
    let admin_token = s.token("access_as_user admin");
    assert_eq!(s.get("/first", Some(&user)).await.status, 200);
    assert_eq!(s.get("/admin", Some(&admin_token)).await.status, 200);
    assert_eq!(s.get("/admin", Some(&user)).await.status, 403);
    assert_eq!(s.get("/first", Some(&admin_token)).await.status, 200);
    assert_eq!(s.emu.request_count(Endpoint::JwksV2), 1, "one key cache for both handlers");
}

const APP_LAYERED: &str = "a1000000-0000-4000-8000-00000000000a";

#[azure_mcp_auth(app_id = APP_LAYERED, scope = "admin")]
async fn layered_admin(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[tokio::test]
async fn an_azure_oauth_installed_by_hand_serves_the_handlers_and_shares_its_validator_with_the_layer() {
    let emu =
        Emulator::builder().app_id(APP_LAYERED).home_tenant(HOME).start().await.expect("the emulator starts");
    let port = Port::bind().await;
    let config = emu.config().base_url(port.base()).build().expect("a valid configuration");
    let auth = AzureOAuth::new(config).install();
    // The layer requires the configuration's scope; the handler behind it requires `admin`.
    let app: Router =
        Router::new().route("/admin", get(layered_admin).layer(auth.layer())).merge(auth.router());
    let s = Server::new(emu, port.serve(app));
    let a = s.get("/admin", Some(&s.token("access_as_user"))).await;
    assert_eq!(a.status, 403, "the layer passes it, the handler does not: {}", a.text);
    assert_eq!(a.json()["error"], "insufficient_scope");
    assert_eq!(s.get("/admin", Some(&s.token("access_as_user admin"))).await.status, 200);
    assert_eq!(s.get("/admin", Some(&s.token("admin"))).await.status, 403, "the layer's requirement holds");
    assert_eq!(s.emu.request_count(Endpoint::JwksV2), 1, "the layer and the handler share one key cache");
    assert_eq!(s.get("/.well-known/oauth-protected-resource/mcp", None).await.status, 200);
}

const APP_TWO_A: &str = "a1000000-0000-4000-8000-00000000000d";
const APP_TWO_B: &str = "a1000000-0000-4000-8000-00000000000e";

#[azure_mcp_auth(app_id = APP_TWO_A, scope = "access_as_user")]
async fn app_a(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[azure_mcp_auth(app_id = APP_TWO_B, scope = "access_as_user")]
async fn app_b(claims: AzureClaims) -> Json<Value> {
    Json(claims_json(&claims))
}

#[tokio::test]
async fn each_handler_uses_the_configuration_installed_for_its_own_app_id() {
    let a = serve(APP_TWO_A, false, |_| Router::new().route("/a", get(app_a))).await;
    let b = serve(APP_TWO_B, false, |_| Router::new().route("/b", get(app_b))).await;
    let token_a = a.token("access_as_user");
    let token_b = b.token("access_as_user");
    assert_eq!(a.get("/a", Some(&token_a)).await.status, 200);
    assert_eq!(b.get("/b", Some(&token_b)).await.status, 200);
    // Each emulator signs with its own keys for its own app: a token of one app is not the other's.
    let crossed = b.get("/b", Some(&token_a)).await;
    assert_eq!(crossed.status, 401, "{}", crossed.text);
    assert_eq!(crossed.json()["error"], "invalid_token");
    assert_eq!(a.get("/a", Some(&token_b)).await.status, 401);
}

#[test]
fn a_bad_run_time_value_panics_at_startup_with_the_configuration_error() {
    let base_url = String::from("http://mcp.example.com");
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _: Router = azure_oauth_routes! {
            app_id: "a1000000-0000-4000-8000-00000000000b",
            tenant_id: HOME,
            base_url: base_url,
        };
    }))
    .expect_err("an http base URL on a public host is refused");
    let message = panic.downcast_ref::<String>().expect("a formatted panic message");
    assert!(
        message.starts_with(
            "azure_oauth_routes!: invalid configuration: base_url (PUBLIC_BASE_URL) = \"http://mcp.example.com\" is not valid: expected https://"
        ),
        "{message}"
    );
}

#[test]
fn a_client_secret_with_surrounding_white_space_panics_without_showing_it() {
    let secret = String::from(" s3cr3t-value ");
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _: Router = azure_oauth_routes! {
            app_id: "a1000000-0000-4000-8000-00000000000c",
            tenant_id: HOME,
            client_secret: secret,
            base_url: "https://mcp.example.com",
        };
    }))
    .expect_err("the secret is refused");
    let message = panic.downcast_ref::<String>().expect("a formatted panic message");
    assert!(message.contains("client_secret (AZURE_CLIENT_SECRET) is not valid"), "{message}");
    assert!(!message.contains("s3cr3t-value"), "the secret never appears: {message}");
}

/// `env`: the configuration from the environment (here the emulator's variables), the keys
/// written in the macro winning over it; `AzureOAuth::installed` hands its layer to a nested
/// service (how an rmcp server is protected), sharing the routes' validator.
#[tokio::test]
async fn env_reads_the_environment_and_the_installed_apps_layer_protects_a_nested_service() {
    let emu = Emulator::builder()
        .app_id("a1000000-0000-4000-8000-000000000010")
        .home_tenant(HOME)
        .start()
        .await
        .expect("the emulator starts");
    let port = Port::bind().await;
    let url = port.base().to_owned();
    let mut vars = emu.env_vars();
    vars.push(("PUBLIC_BASE_URL", url.clone()));
    // Overridden by the keys below.
    vars.push(("MCP_RESOURCE_PATH", "/elsewhere".to_owned()));
    vars.push(("AZURE_API_SCOPE", "other_scope".to_owned()));
    let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    let routes: Router = azure_oauth_routes! {
        env: lookup,
        api_scope: "access_as_user",
        resource_path: "/mcp",
    };
    let auth = AzureOAuth::installed(&emu.app_id()).expect("installed by the macro");
    assert_eq!(auth.config().authority_host(), emu.authority_host(), "from the environment");
    assert_eq!(auth.config().base_url(), Some(url.as_str()), "from the environment");
    assert_eq!(auth.config().resource_path(), "/mcp", "the key wins");
    assert_eq!(auth.config().api_scope(), "access_as_user", "the key wins");
    let mcp = tower::service_fn(|req: axum::extract::Request| async move {
        let oid = req.extensions().get::<AzureClaims>().and_then(|c| c.oid().map(str::to_owned));
        Ok::<_, std::convert::Infallible>(axum::response::IntoResponse::into_response(Json(
            json!({ "oid": oid }),
        )))
    });
    let mcp = tower::ServiceBuilder::new().layer(auth.layer()).service(mcp);
    let router = routes.nest_service("/mcp", mcp);
    let s = Server::new(emu, port.serve(router));

    let ok = s.post("/mcp", Some(&s.emu.token().sign()), json!({})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["oid"], s.emu.user().oid.as_str());
    let none = s.post("/mcp", None, json!({})).await;
    assert_eq!(none.status, 401);
    assert!(
        none.www().contains(&format!("{}/.well-known/oauth-protected-resource/mcp", s.url)),
        "{}",
        none.www()
    );
    let metadata = s.get("/.well-known/oauth-protected-resource/mcp", None).await;
    assert_eq!(metadata.status, 200, "the macro's routes serve the metadata: {}", metadata.text);
    let other = s.post("/mcp", Some(&s.emu.token().scopes("other_scope").sign()), json!({})).await;
    assert_eq!(other.status, 403, "{}", other.text);
    // The layer and the routes share one validator: the keys were fetched once.
    assert_eq!(s.emu.request_count(Endpoint::JwksV2), 1);
}

#[test]
fn a_bad_environment_panics_at_startup_naming_the_variable() {
    let vars =
        [("AZURE_CLIENT_ID", "a1000000-0000-4000-8000-000000000011"), ("AZURE_TENANT_ID", "not-a-guid")];
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _: Router = azure_oauth_routes! {
            env: |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()),
        };
    }))
    .expect_err("a tenant id that is no GUID is refused");
    let message = panic.downcast_ref::<String>().expect("a formatted panic message");
    assert!(message.starts_with("azure_oauth_routes!: invalid configuration"), "{message}");
    assert!(message.contains("AZURE_TENANT_ID") && message.contains("not-a-guid"), "{message}");
}
