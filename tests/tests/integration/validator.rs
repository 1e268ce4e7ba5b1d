//! The token validator against the Entra emulator, over real HTTP: a small axum router with
//! protected routes on 127.0.0.1, called with reqwest. Every rule has a refused and an accepted
//! case; caching and availability are proven by counting the emulator's requests.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use axum_mcp_azure_oauth::config::{AzureOAuthConfigBuilder, TenantPolicy};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault};
use axum_mcp_azure_oauth::validate::{Clock, TokenVersion};
use axum_mcp_azure_oauth::{AuthLayer, AzureClaims, Requirements, TokenValidator};
use serde_json::{Value, json};
use support::UNSERVED_BASE;
use support::http::{Answer, send};
use support::serve::Served;

const BASE: &str = "https://mcp.example.com";

/// A protected router served on 127.0.0.1 and the validator behind it.
struct Server {
    emu: Emulator,
    validator: TokenValidator,
    clock: Clock,
    url: String,
    http: reqwest::Client,
    _served: Served,
}

/// What a handler behind the layer saw.
async fn whoami(claims: AzureClaims) -> Json<Value> {
    Json(json!({
        "tid": claims.tid(),
        "oid": claims.oid(),
        "user_id": claims.user_id(),
        "upn": claims.user_principal_name(),
        "scopes": claims.scopes().collect::<Vec<_>>(),
        "roles": claims.roles().collect::<Vec<_>>(),
        "app_id": claims.app_id(),
        "v1": claims.version() == TokenVersion::V1,
    }))
}

const ADMIN: Requirements = Requirements::new(&["admin"]).roles(&["Tasks.Admin"]);

async fn start(emu: Emulator, config: AzureOAuthConfigBuilder) -> Server {
    let config = config.base_url(BASE).build().expect("a valid configuration");
    let clock = Clock::manual();
    let validator = TokenValidator::with_clock(Arc::new(config), clock.clone());
    let protected = Router::new()
        .route("/mcp", post(whoami).get(whoami).options(|| async { "preflight" }))
        .route_layer(AuthLayer::new(validator.clone()));
    let admin = Router::new()
        .route("/admin", get(whoami).post(whoami))
        .route_layer(AuthLayer::new(validator.clone()).requirements(ADMIN));
    // No layer: the extractor validates with the validator found in the extensions.
    let extracted = Router::new().route("/extract", get(whoami)).layer(Extension(validator.clone()));
    // Optional authentication: anonymous requests pass with None, bad tokens are still refused.
    let optional = Router::new()
        .route(
            "/maybe",
            get(|c: Option<AzureClaims>| async move { Json(json!({"tid": c.map(|c| c.tid().to_owned())})) }),
        )
        .layer(Extension(validator.clone()));
    // Neither a layer nor a validator: a server bug, answered with 500.
    let misconfigured = Router::new().route("/misconfigured", get(whoami));
    let app = protected.merge(admin).merge(extracted).merge(optional).merge(misconfigured);
    let served = support::serve::serve(app).await;
    Server { emu, validator, clock, url: served.base.clone(), http: reqwest::Client::new(), _served: served }
}

async fn server() -> Server {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE);
    start(emu, config).await
}

impl Server {
    async fn call_path(&self, path: &str, token: &str) -> Answer {
        send(self.http.post(format!("{}{path}", self.url)).bearer_auth(token)).await
    }

    async fn call(&self, token: &str) -> Answer {
        self.call_path("/mcp", token).await
    }

    /// Asserts a 401 `invalid_token` answer and returns its description.
    async fn refused(&self, token: &str, why: &str) -> String {
        let a = self.call(token).await;
        assert_eq!(a.status, 401, "{why}: {}", a.text);
        assert_eq!(a.json()["error"], "invalid_token", "{why}");
        assert!(a.www().contains("error=\"invalid_token\""), "{why}: {}", a.www());
        a.json()["error_description"].as_str().expect("a description").to_owned()
    }

    async fn accepted(&self, token: &str, why: &str) -> Value {
        let a = self.call(token).await;
        assert_eq!(a.status, 200, "{why}: {} {}", a.text, a.www());
        a.json()
    }

    fn count(&self, endpoint: Endpoint) -> usize {
        self.emu.request_count(endpoint)
    }

    fn v2_fetches(&self) -> (usize, usize) {
        (self.count(Endpoint::OpenIdConfigurationV2), self.count(Endpoint::JwksV2))
    }

    fn issuer_v2_of(&self, tenant: &str) -> String {
        format!("{}/{tenant}/v2.0", self.emu.authority_host())
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

#[tokio::test]
async fn v1_and_v2_delegated_tokens_pass_with_their_claims() {
    let s = server().await;
    let body = s.accepted(&s.emu.token().v2().sign(), "v2").await;
    assert_eq!(body["tid"], s.emu.home_tenant());
    assert_eq!(body["v1"], false);
    assert_eq!(body["scopes"], json!(["access_as_user"]));
    assert_eq!(body["user_id"], body["oid"]);
    assert_eq!(body["app_id"], s.emu.app_id());
    let body = s.accepted(&s.emu.token().v1().sign(), "v1").await;
    assert_eq!(body["v1"], true);
    assert!(body["upn"].is_string(), "v1 tokens carry upn: {body}");
    // A v1 token's issuer comes from the v1 metadata, a v2 token's from the v2 metadata.
    assert_eq!(s.count(Endpoint::OpenIdConfigurationV1), 1);
    assert_eq!(s.count(Endpoint::OpenIdConfigurationV2), 1);
    // The bearer scheme is case-insensitive.
    let token = s.emu.token().sign();
    let a =
        send(s.http.get(format!("{}/mcp", s.url)).header("authorization", format!("bEARER {token}"))).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn algorithm_comes_from_the_allow_list_not_the_token() {
    let s = server().await;
    for alg in ["none", "HS256", "RS384", "RS512", "PS256"] {
        s.refused(&s.emu.token().algorithm(alg).sign(), alg).await;
    }
    s.accepted(&s.emu.token().algorithm("RS256").sign(), "RS256").await;
}

#[tokio::test]
async fn expiry_and_not_before_honour_the_clock_skew() {
    let s = server().await;
    s.refused(&s.emu.token().expired().sign(), "expired an hour ago").await;
    let t = now();
    let within = s.emu.token().claim("exp", json!(t - 240)).sign();
    s.accepted(&within, "expired 4 minutes ago, within the 5-minute skew").await;
    let beyond = s.emu.token().claim("exp", json!(t - 400)).sign();
    let why = s.refused(&beyond, "expired beyond the skew").await;
    assert!(why.contains("expired"), "{why}");
    s.refused(&s.emu.token().without_claim("exp").sign(), "no exp").await;
    s.refused(&s.emu.token().claim("exp", json!("tomorrow")).sign(), "exp not a number").await;
    s.accepted(&s.emu.token().not_before_in(Duration::from_secs(240)).sign(), "nbf within skew").await;
    let why = s.refused(&s.emu.token().not_before_in(Duration::from_secs(600)).sign(), "future").await;
    assert!(why.contains("not valid yet"), "{why}");

    // With no skew configured, the same tokens are refused.
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE).clock_skew(Duration::ZERO);
    let s = start(emu, config).await;
    s.refused(&s.emu.token().claim("exp", json!(now() - 240)).sign(), "no skew: expired").await;
    s.refused(&s.emu.token().not_before_in(Duration::from_secs(240)).sign(), "no skew: nbf").await;
}

#[tokio::test]
async fn audience_must_be_this_app() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE).app_id_uris(["api://tasks.contoso.example"]);
    let s = start(emu, config).await;
    let app = s.emu.app_id();
    s.accepted(&s.emu.token().v2().audience(&app).sign(), "GUID").await;
    s.accepted(&s.emu.token().v2().audience(&format!("api://{app}")).sign(), "api:// URI").await;
    s.accepted(&s.emu.token().v1().audience(&format!("api://{app}/")).sign(), "v1 trailing slash").await;
    s.accepted(&s.emu.token().audience("api://tasks.contoso.example").sign(), "configured URI").await;
    s.refused(&s.emu.token().v2().audience(&format!("api://{app}/")).sign(), "v2 trailing slash").await;
    s.refused(&s.emu.token().audience(&format!("api://{app}/.default")).sign(), ".default").await;
    s.refused(&s.emu.token().v1().audience(&format!("api://{app}/.default")).sign(), "v1 .default").await;
    s.refused(&s.emu.token().audience("00000003-0000-0000-c000-000000000000").sign(), "Graph's").await;
    s.refused(&s.emu.token().audience("api://other-app").sign(), "another app").await;
    s.refused(&s.emu.token().without_claim("aud").sign(), "no aud").await;
    // A Graph token (issued by the same tenant, same keys) is not for us.
    s.refused(&s.emu.token().graph().sign(), "a Graph token").await;
}

#[tokio::test]
async fn issuer_must_be_the_tenants_own() {
    let s = server().await;
    let home = s.emu.home_tenant();
    s.refused(&s.emu.token().issuer("https://evil.example/").sign(), "foreign issuer").await;
    let fake = format!("https://login.evil.example/{home}/v2.0");
    s.refused(&s.emu.token().issuer(&fake).sign(), "foreign host, right tenant").await;
    // The v1 issuer on a v2 token and the other way round.
    s.refused(&s.emu.token().v2().issuer(&s.emu.issuer_v1()).sign(), "v1 issuer on v2").await;
    s.refused(&s.emu.token().v1().issuer(&s.emu.issuer_v2()).sign(), "v2 issuer on v1").await;
    s.refused(&s.emu.token().without_claim("iss").sign(), "no iss").await;
    // tid that is not a GUID: refused before anything is fetched.
    let before = s.v2_fetches();
    s.refused(&s.emu.token().claim("tid", json!("organizations")).sign(), "tid not a GUID").await;
    s.refused(&s.emu.token().claim("tid", json!("../../x")).sign(), "tid path").await;
    s.refused(&s.emu.token().without_claim("tid").sign(), "no tid").await;
    s.refused(&s.emu.token().claim("ver", json!("3.0")).sign(), "unknown ver").await;
    assert_eq!(s.v2_fetches(), before, "nothing is fetched for a token that is not Entra's");
}

/// fastapi-mcp-azure-oauth 2.0.0 takes the tenant from `iss` and never compares it with `tid`:
/// a token whose `tid` names one tenant and whose `iss` names another passes there. Not here.
#[tokio::test]
async fn iss_and_tid_must_name_the_same_tenant() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let other = emu.add_tenant();
    let home = emu.home_tenant();
    let config =
        emu.config().base_url(UNSERVED_BASE).tenants(TenantPolicy::List(vec![home.clone(), other.clone()]));
    let s = start(emu, config).await;
    s.accepted(&s.emu.token().tenant(&other).sign(), "a token of the other allowed tenant").await;
    // tid = home, iss = the other tenant's issuer (same shared keys, so the signature is good).
    let forged = s.emu.token().tenant(&home).issuer(&s.issuer_v2_of(&other)).sign();
    s.refused(&forged, "tid home, iss other").await;
    let forged = s.emu.token().tenant(&other).issuer(&s.issuer_v2_of(&home)).sign();
    s.refused(&forged, "tid other, iss home").await;
    let v1 = s.emu.token().v1().tenant(&home).issuer(&format!("https://sts.windows.net/{other}/")).sign();
    s.refused(&v1, "v1: tid home, iss other").await;

    // Only the home tenant allowed: a token of another tenant naming the home issuer is refused
    // (by tid, before any key is fetched for it).
    let emu = Emulator::start().await.expect("the emulator starts");
    let stranger = emu.add_tenant();
    let config = emu.config().base_url(UNSERVED_BASE);
    let s = start(emu, config).await;
    let forged = s.emu.token().tenant(&stranger).issuer(&s.emu.issuer_v2()).sign();
    let why = s.refused(&forged, "tid of a stranger, home issuer").await;
    assert!(why.contains("not allowed"), "{why}");
    s.refused(&s.emu.token().tenant(&stranger).sign(), "a stranger's token").await;
    assert_eq!(s.v2_fetches(), (0, 0), "nothing fetched for tenants that are not allowed");
}

#[tokio::test]
async fn keys_of_another_tenant_and_unknown_keys_are_refused() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let own = emu.add_tenant_with_own_keys();
    let home = emu.home_tenant();
    let config =
        emu.config().base_url(UNSERVED_BASE).tenants(TenantPolicy::List(vec![home.clone(), own.clone()]));
    let s = start(emu, config).await;
    s.accepted(&s.emu.token().tenant(&own).sign(), "a tenant with its own keys").await;
    s.refused(&s.emu.token().tenant(&home).signed_with_tenant_keys(&own).sign(), "home tid, other keys")
        .await;
    // (A tenant's JWKS lists its own keys and the shared ones, so the reverse passes.)
    s.accepted(&s.emu.token().tenant(&own).signed_with_tenant_keys(&home).sign(), "own tid, shared keys")
        .await;
    let why = s.refused(&s.emu.token().signed_with_unknown_key().sign(), "an unknown key").await;
    assert!(!why.contains(&s.emu.current_kid(None)), "no key ids in descriptions: {why}");
    s.refused(&s.emu.token().kid("made-up-kid").sign(), "an unknown kid").await;
    // A known kid whose signature was made by another key.
    let lying = s.emu.token().signed_with_unknown_key().kid(&s.emu.current_kid(None)).sign();
    let why = s.refused(&lying, "a known kid, a stranger's signature").await;
    assert!(why.contains("signature"), "{why}");
    // A tampered payload.
    let good = s.emu.token().sign();
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = s.emu.token().scopes("admin").sign();
    parts[1] = other.split('.').nth(1).expect("a payload");
    s.refused(&parts.join("."), "a payload swapped under a good signature").await;
}

#[tokio::test]
async fn key_headers_are_ignored() {
    let s = server().await;
    let attacker = json!({"kty": "RSA", "kid": "evil", "n": "sXch", "e": "AQAB"});
    for (name, value) in [
        ("jku", json!("http://127.0.0.1:9/keys")),
        ("x5u", json!("http://127.0.0.1:9/cert")),
        ("jwk", attacker.clone()),
        ("x5c", json!(["MIIB"])),
    ] {
        let forged = s.emu.token().signed_with_unknown_key().header(name, value.clone()).sign();
        s.refused(&forged, name).await;
        // A genuine token with the header still passes: the header is not read at all.
        s.accepted(&s.emu.token().header(name, value).sign(), name).await;
    }
    s.refused(&s.emu.token().header("crit", json!(["exp"])).sign(), "crit").await;
}

#[tokio::test]
async fn id_tokens_and_app_only_tokens() {
    let s = server().await;
    let why = s.refused(&s.emu.token().id_token().sign(), "an ID token").await;
    assert!(why.contains("ID token"), "{why}");
    s.refused(&s.emu.token().without_claim("scp").sign(), "neither scp nor roles").await;
    s.refused(&s.emu.token().claim("nonce", json!("n")).sign(), "an access token with a nonce").await;
    // App-only tokens: refused when no roles are required.
    let a = s.call(&s.emu.token().app_only().roles(["Tasks.Read"]).sign()).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.json()["error"], "insufficient_scope");

    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE).required_roles(["Tasks.Read"]);
    let s = start(emu, config).await;
    let body = s.accepted(&s.emu.token().app_only().roles(["Tasks.Read"]).sign(), "app role").await;
    assert_eq!(body["roles"], json!(["Tasks.Read"]));
    assert_eq!(s.call(&s.emu.token().app_only().roles(["Tasks.Write"]).sign()).await.status, 403);
    // An app-only token without any role: valid, but its app was granted no application
    // permission (403, no scope to step up to), not an ID token.
    for token in [s.emu.token().app_only().sign(), s.emu.token().v1().app_only().sign()] {
        let a = s.call(&token).await;
        assert_eq!(a.status, 403, "app-only without roles: {}", a.text);
        assert_eq!(a.json()["error"], "insufficient_scope");
        let why = a.json()["error_description"].as_str().expect("a description").to_owned();
        assert!(why.contains("no application permission (app role) assigned"), "{why}");
        assert!(!a.www().contains("scope=\""), "{}", a.www());
    }
    // Without idtyp (an optional claim in v2), oid = sub still marks the service principal.
    let t = s.emu.token().app_only().without_claim("idtyp").sign();
    assert_eq!(s.call(&t).await.status, 403, "app-only by oid = sub");
    // Genuine app-only tokens of both versions, with their client claim, pass.
    s.accepted(&s.emu.token().v1().app_only().roles(["Tasks.Read"]).sign(), "v1 app-only (appid)").await;
    s.accepted(&s.emu.token().v2().app_only().roles(["Tasks.Read"]).sign(), "v2 app-only (azp)").await;
    // roles without scp marks an app-only token even without idtyp.
    let t = s.emu.token().without_claim("scp").roles(["Tasks.Read"]).sign();
    s.accepted(&t, "roles without scp").await;
    // idtyp=app with scp is still app-only: the role decides.
    let t = s.emu.token().claim("idtyp", json!("app")).roles(["Nope"]).sign();
    assert_eq!(s.call(&t).await.status, 403);
}

#[tokio::test]
async fn id_tokens_with_roles_and_no_nonce_are_not_app_only_tokens() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE).required_roles(["Tasks.Read"]);
    let s = start(emu, config).await;
    // Entra omits `nonce` when the authorize request had none, and puts the user's app roles in
    // the ID token: such a token has roles and no scp, like an app-only token.
    for (why, id) in [
        ("v2 ID token", s.emu.token().id_token().v2().roles(["Tasks.Read"]).without_claim("nonce")),
        ("v1 ID token", s.emu.token().id_token().v1().roles(["Tasks.Read"]).without_claim("nonce")),
    ] {
        let claims = id.payload();
        assert_eq!(claims["roles"], json!(["Tasks.Read"]), "{why}: the ID token carries the roles");
        assert!(claims.get("nonce").is_none() && claims.get("scp").is_none(), "{why}: {claims}");
        let token = id.sign();
        let why = s.refused(&token, why).await;
        assert!(why.contains("ID token"), "{why}");
        let a = s.call_path("/admin", &token).await;
        assert_eq!(a.status, 401, "{}", a.text);
    }
    // Access tokens without their version's client claim are refused, app-only or delegated.
    let v1 = || s.emu.token().v1();
    let v2 = || s.emu.token().v2();
    for (why, token) in [
        ("v1 app-only without appid", v1().app_only().roles(["Tasks.Read"]).without_claim("appid")),
        ("v2 app-only without azp", v2().app_only().roles(["Tasks.Read"]).without_claim("azp")),
        ("v1 delegated without appid", v1().without_claim("appid")),
        ("v2 delegated without azp", v2().without_claim("azp")),
        ("v2 app-only with appid instead of azp", {
            v2().app_only().roles(["Tasks.Read"]).without_claim("azp").claim("appid", json!(s.emu.app_id()))
        }),
        ("v2 app-only with an empty azp", v2().app_only().roles(["Tasks.Read"]).claim("azp", json!(""))),
    ] {
        s.refused(&token.sign(), why).await;
    }
    // The genuine ones pass.
    s.accepted(&v1().app_only().roles(["Tasks.Read"]).sign(), "v1 app-only").await;
    s.accepted(&v2().app_only().roles(["Tasks.Read"]).sign(), "v2 app-only").await;
    s.accepted(&v1().sign(), "v1 delegated").await;
    s.accepted(&v2().sign(), "v2 delegated").await;
}

#[tokio::test]
async fn scopes_match_whole_words() {
    let s = server().await;
    let scope = format!("api://{}/access_as_user", s.emu.app_id());
    for bad in ["access_as_user_extra", "access", "Access_As_User", "xaccess_as_user", ""] {
        let a = s.call(&s.emu.token().scopes(bad).roles(["r"]).sign()).await;
        assert_eq!(a.status, 403, "{bad:?}");
        assert_eq!(a.json()["error"], "insufficient_scope");
        assert!(a.www().contains("error=\"insufficient_scope\""), "{}", a.www());
        assert!(a.www().contains(&format!("scope=\"{scope}\"")), "{}", a.www());
        assert!(a.www().contains("resource_metadata=\""), "{}", a.www());
    }
    s.accepted(&s.emu.token().scopes("read access_as_user").sign(), "one of several").await;
    // Per-route requirements: /admin needs `admin`.
    let a = s.call_path("/admin", &s.emu.token().sign()).await;
    assert_eq!(a.status, 403);
    assert!(a.www().contains(&format!("scope=\"api://{}/admin\"", s.emu.app_id())), "{}", a.www());
    assert_eq!(s.call_path("/admin", &s.emu.token().scopes("admin").sign()).await.status, 200);
    let app_only = s.emu.token().app_only().roles(["Tasks.Admin"]).sign();
    assert_eq!(s.call_path("/admin", &app_only).await.status, 200);
}

#[tokio::test]
async fn oversized_and_malformed_tokens() {
    let s = server().await;
    let huge = s.emu.token().claim("pad", json!("x".repeat(17 * 1024))).sign();
    s.refused(&huge, "oversized").await;
    for bad in ["abc", "a.b.c", "a.b", "e30.e30.e30", "e30.e30.e30.e30"] {
        s.refused(bad, bad).await;
    }
    let good = s.emu.token().sign();
    s.refused(&format!("{good}x"), "a bad signature encoding").await;
    assert_eq!(s.v2_fetches(), (0, 0), "nothing fetched for malformed tokens");
}

#[tokio::test]
async fn authorization_header_and_challenges() {
    let s = server().await;
    let url = format!("{}/mcp", s.url);
    let metadata = format!("{BASE}/.well-known/oauth-protected-resource/mcp");
    let scope = format!("api://{}/access_as_user", s.emu.app_id());
    // No token: 401 with the resource metadata and the scope, without an error code.
    let none = send(s.http.post(&url)).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.www(), format!("Bearer resource_metadata=\"{metadata}\", scope=\"{scope}\""));
    // Another scheme is no bearer token at all: answered as no token.
    let token = s.emu.token().sign();
    for req in [
        s.http.post(&url).header("authorization", format!("Basic {token}")),
        s.http.post(&url).header("authorization", format!("Bearer{token}")),
    ] {
        let a = send(req).await;
        assert_eq!(a.status, 401, "{}", a.text);
        assert_eq!(a.json(), none.json());
        assert_eq!(a.www(), none.www());
    }
    // Malformed requests: 400 invalid_request.
    for req in [
        s.http.post(&url).header("authorization", "Bearer"),
        s.http.post(&url).header("authorization", format!("Bearer {token} extra")),
        s.http
            .post(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("authorization", "Bearer x"),
        s.http.post(format!("{url}?access_token={token}")).bearer_auth(&token),
        s.http.post(format!("{url}?access_token={token}")),
    ] {
        let a = send(req).await;
        assert_eq!(a.status, 400, "{}", a.text);
        assert_eq!(a.json()["error"], "invalid_request");
        assert!(
            a.www()
                .starts_with(&format!("Bearer resource_metadata=\"{metadata}\", error=\"invalid_request\"")),
            "{}",
            a.www()
        );
    }
    // An invalid token: 401 invalid_token with a description, quote-safe.
    let a = s.call(&s.emu.token().expired().sign()).await;
    assert!(
        a.www().starts_with(&format!("Bearer resource_metadata=\"{metadata}\", error=\"invalid_token\""))
    );
    assert!(a.www().contains(&format!("scope=\"{scope}\"")));
    assert!(a.www().contains("error_description=\"the access token expired"), "{}", a.www());
    // A CORS preflight passes unauthenticated.
    let r = s
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("a body"), "preflight");
}

#[tokio::test]
async fn only_real_cors_preflights_skip_authentication() {
    let s = server().await;
    let url = format!("{}/mcp", s.url);
    let options = || s.http.request(reqwest::Method::OPTIONS, &url);
    // Not preflights: no headers, only Origin, only Access-Control-Request-Method.
    for (why, req) in [
        ("bare OPTIONS", options()),
        ("Origin only", options().header("origin", "https://app.example.com")),
        ("request method only", options().header("access-control-request-method", "POST")),
    ] {
        let a = send(req).await;
        assert_eq!(a.status, 401, "{why}: {}", a.text);
        assert!(a.www().starts_with("Bearer resource_metadata="), "{why}: {}", a.www());
    }
    // Such an OPTIONS request with a bad token is refused; with a valid one it reaches the handler.
    let a = send(options().header("origin", "https://app.example.com").bearer_auth("not.a.token")).await;
    assert_eq!(a.status, 401, "OPTIONS with a bad token");
    assert_eq!(a.json()["error"], "invalid_token");
    let token = s.emu.token().sign();
    let r = options().bearer_auth(&token).send().await.expect("an answer");
    assert_eq!(r.status(), 200, "OPTIONS with a valid token");
    // The real preflight passes without a token.
    let r = options()
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("an answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("a body"), "preflight");
}

#[tokio::test]
async fn the_extractor_validates_or_says_how_to_install_a_validator() {
    let s = server().await;
    let ok = send(s.http.get(format!("{}/extract", s.url)).bearer_auth(s.emu.token().sign())).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["tid"], s.emu.home_tenant());
    let bad =
        send(s.http.get(format!("{}/extract", s.url)).bearer_auth(s.emu.token().expired().sign())).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["error"], "invalid_token");
    let none = send(s.http.get(format!("{}/extract", s.url))).await;
    assert_eq!(none.status, 401);
    let maybe = format!("{}/maybe", s.url);
    assert_eq!(send(s.http.get(&maybe)).await.json(), json!({"tid": null}));
    let a = send(s.http.get(&maybe).bearer_auth(s.emu.token().sign())).await;
    assert_eq!(a.json()["tid"], s.emu.home_tenant());
    assert_eq!(send(s.http.get(&maybe).bearer_auth(s.emu.token().expired().sign())).await.status, 401);
    let a = send(s.http.get(&maybe).header("authorization", "Basic x")).await;
    assert_eq!((a.status, a.json()), (200, json!({"tid": null})));
    let a = send(s.http.get(format!("{}/misconfigured", s.url)).bearer_auth(s.emu.token().sign())).await;
    assert_eq!(a.status, 500);
    assert_eq!(a.json()["error"], "server_error");
    assert!(a.json()["error_description"].as_str().expect("text").contains("AuthLayer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cold_requests_fetch_once() {
    let s = server().await;
    // The keys answer slowly, so that the requests pile up behind the one fetch in flight.
    s.emu.set_fault(Endpoint::JwksV2, Fault::delay(Duration::from_millis(300)).times(1));
    s.emu.set_fault(Endpoint::JwksV1, Fault::delay(Duration::from_millis(300)).times(1));
    let v2 = s.emu.token().v2().sign();
    let v1 = s.emu.token().v1().sign();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let v = s.validator.clone();
        let token = if i % 2 == 0 { v2.clone() } else { v1.clone() };
        tasks.spawn(async move { v.validate(&token).await.map(|_| ()) });
    }
    // And some over HTTP, with distinct tokens (no token cache help).
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (http, url, token) = (s.http.clone(), format!("{}/mcp", s.url), s.emu.token().sign());
        calls.spawn(
            async move { http.post(url).bearer_auth(token).send().await.map(|r| r.status().as_u16()) },
        );
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("the task ends"), Ok(()));
    }
    while let Some(r) = calls.join_next().await {
        assert_eq!(r.expect("the task ends").expect("an answer"), 200);
    }
    assert_eq!(s.v2_fetches(), (1, 1), "one v2 metadata and one v2 JWKS fetch");
    assert_eq!((s.count(Endpoint::OpenIdConfigurationV1), s.count(Endpoint::JwksV1)), (1, 1));
    let stats = s.validator.stats();
    assert_eq!((stats.metadata_fetches, stats.jwks_fetches, stats.cached_tenants), (2, 2, 1));
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_every_five_minutes() {
    let s = server().await;
    s.accepted(&s.emu.token().sign(), "warm").await;
    assert_eq!(s.v2_fetches(), (1, 1));
    let new_kid = s.emu.rotate_keys(None);
    let rotated = s.emu.token().sign();
    // A flood of unknown kids within five minutes of the last fetch: no fetch at all.
    for i in 0..20 {
        s.refused(&s.emu.token().kid(&format!("random-{i}")).sign(), "unknown kid").await;
    }
    s.refused(&rotated, "a new key within 5 minutes of the last fetch").await;
    assert_eq!(s.v2_fetches(), (1, 1));
    s.clock.advance(Duration::from_secs(301));
    s.accepted(&rotated, "the new key after 5 minutes").await;
    assert_eq!(s.v2_fetches(), (2, 2));
    s.refused(&s.emu.token().kid("random-again").sign(), "unknown kid").await;
    assert_eq!(s.v2_fetches(), (2, 2));
    assert_eq!(s.emu.current_kid(None), new_kid);
}

#[tokio::test]
async fn last_known_good_keys_survive_an_outage() {
    let s = server().await;
    let old_kid = s.emu.current_kid(None);
    s.accepted(&s.emu.token().sign(), "warm").await;
    for endpoint in [Endpoint::OpenIdConfigurationV2, Endpoint::JwksV2] {
        s.emu.set_fault(endpoint, Fault::outage());
    }
    s.clock.advance(Duration::from_secs(301));
    s.emu.rotate_keys(None);
    let rotated = s.emu.token().sign();
    let a = s.call(&rotated).await;
    assert_eq!(a.status, 503, "a new key cannot be fetched: {}", a.text);
    assert_eq!(a.json()["error"], "temporarily_unavailable");
    assert_eq!(s.v2_fetches(), (2, 1), "the refetch was tried once (the metadata failed)");
    // New tokens signed by the old key still pass: its key set was kept.
    for _ in 0..3 {
        s.accepted(&s.emu.token().signing_key(&old_kid).sign(), "the last known good key").await;
    }
    s.refused(&rotated, "rate-limited: the refetch failed less than 5 minutes ago").await;
    assert_eq!(s.v2_fetches(), (2, 1));
    // Recovery.
    s.emu.clear_faults();
    s.clock.advance(Duration::from_secs(301));
    s.accepted(&rotated, "after the outage").await;
    assert_eq!(s.v2_fetches(), (3, 2));
    s.accepted(&s.emu.token().signing_key(&old_kid).sign(), "the old key is still listed").await;
}

#[tokio::test]
async fn background_refresh_keeps_keys_through_failures_and_picks_up_new_ones() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE).key_refresh_interval(Duration::from_secs(1));
    let s = start(emu, config).await;
    let old_kid = s.emu.current_kid(None);
    s.accepted(&s.emu.token().sign(), "warm").await;
    s.emu.set_fault(Endpoint::JwksV2, Fault::status(500));
    // Two failed background refreshes (the second starts after the first has failed).
    s.emu.wait_for_requests(Endpoint::JwksV2, 3).await;
    s.accepted(&s.emu.token().signing_key(&old_kid).sign(), "kept through failed refreshes").await;
    // A rotation is picked up by the next refresh, without the 5-minute unknown-kid refetch.
    s.emu.clear_faults();
    s.emu.rotate_keys(None);
    let rotated = s.emu.token().sign();
    let seen = s.count(Endpoint::JwksV2);
    s.emu.wait_for_requests(Endpoint::JwksV2, seen + 1).await;
    s.accepted(&rotated, "the refreshed key").await;
}

#[tokio::test]
async fn no_keys_at_all_is_a_503_then_recovers() {
    for (endpoint, fault) in [
        (Endpoint::OpenIdConfigurationV2, Fault::outage()),
        (Endpoint::OpenIdConfigurationV2, Fault::status(503)),
        (Endpoint::OpenIdConfigurationV2, Fault::garbage()),
        (Endpoint::JwksV2, Fault::status(500)),
        (Endpoint::JwksV2, Fault::garbage()),
        (Endpoint::JwksV2, Fault::empty_keys()),
        (Endpoint::JwksV2, Fault::too_many_requests(5)),
    ] {
        let s = server().await;
        s.emu.set_fault(endpoint, fault);
        let token = s.emu.token().sign();
        let a = s.call(&token).await;
        assert_eq!(a.status, 503, "{fault:?}: {}", a.text);
        assert_eq!(a.json()["error"], "temporarily_unavailable");
        let body = a.json();
        let text = body["error_description"].as_str().expect("a description");
        assert!(!text.contains("127.0.0.1") && !text.contains("500"), "no internals: {text}");
        // Failures are rate-limited: a burst makes no new fetch.
        let fetched = s.v2_fetches();
        for _ in 0..10 {
            assert_eq!(s.call(&token).await.status, 503);
        }
        assert_eq!(s.v2_fetches(), fetched, "{fault:?}");
        s.emu.clear_faults();
        s.clock.advance(Duration::from_secs(11));
        s.accepted(&token, "recovered").await;
    }
}

#[tokio::test]
async fn the_key_cache_stays_bounded_under_a_flood_of_tenants() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu
        .config()
        .base_url(UNSERVED_BASE)
        .tenants(TenantPolicy::Any)
        .key_cache_tenants(10)
        .token_cache_capacity(0);
    let s = start(emu, config).await;
    let tenants: Vec<String> = (0..30).map(|_| s.emu.add_tenant()).collect();
    // New tenants are looked up at a bounded rate (see the next test): a second between them
    // keeps this test within it.
    let new_tenant_gap = Duration::from_secs(1);
    for t in &tenants {
        s.clock.advance(new_tenant_gap);
        s.accepted(&s.emu.token().tenant(t).sign(), "a real tenant").await;
        assert!(s.validator.stats().cached_tenants <= 10);
    }
    assert_eq!(s.v2_fetches(), (30, 30));
    // The first tenants were evicted (FIFO): fetched again; the last ones are still cached.
    s.accepted(&s.emu.token().tenant(&tenants[29]).sign(), "still cached").await;
    assert_eq!(s.v2_fetches(), (30, 30));
    s.clock.advance(new_tenant_gap);
    s.accepted(&s.emu.token().tenant(&tenants[0]).sign(), "evicted").await;
    assert_eq!(s.v2_fetches(), (31, 31));
    // Random tenants Entra does not know: one metadata request each, no JWKS, 401 (not 503),
    // and repeated ones are remembered.
    let randoms: Vec<String> = (0..40).map(|i| format!("{i:08x}-0000-4000-8000-000000000000")).collect();
    for t in &randoms {
        s.clock.advance(new_tenant_gap);
        let why = s.refused(&s.emu.token().tenant(t).sign(), "an unknown tenant").await;
        assert!(why.contains("tenant"), "{why}");
        s.refused(&s.emu.token().tenant(t).sign(), "again").await;
        assert!(s.validator.stats().cached_tenants <= 10);
    }
    assert_eq!(s.v2_fetches(), (71, 31));
}

/// A GUID no tenant has.
fn random_tenant(i: usize) -> String {
    format!("{:08x}-7e57-4000-8000-{:012x}", i, now())
}

#[tokio::test]
async fn forged_tokens_of_random_tenants_neither_flood_entra_nor_evict_real_tenants() {
    use axum_mcp_azure_oauth::AuthError;
    use axum_mcp_azure_oauth::config::{DEFAULT_NEW_TENANT_BURST, DEFAULT_NEW_TENANT_REFILL_PER_SEC};
    use axum_mcp_azure_oauth::validate::InvalidToken;
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu
        .config()
        .base_url(UNSERVED_BASE)
        .tenants(TenantPolicy::Any)
        .key_cache_tenants(20)
        .token_cache_capacity(0);
    let s = start(emu, config).await;
    let started = std::time::Instant::now();
    s.accepted(&s.emu.token().sign(), "the home tenant").await;
    assert_eq!(s.v2_fetches(), (1, 1));

    // 500 forged tokens naming fresh tenants, with no time passing on the validator's clock but
    // the real time the loop takes: only the bucket's burst (and its refill) is looked up.
    let mut throttled = 0;
    let mut unknown = 0;
    for i in 0..500 {
        let forged = s.emu.token().tenant(&random_tenant(i)).signed_with_unknown_key().sign();
        match s.validator.validate(&forged).await {
            Err(AuthError::InvalidToken(InvalidToken::NewTenantThrottled)) => throttled += 1,
            Err(AuthError::InvalidToken(InvalidToken::UnknownTenant)) => unknown += 1,
            other => panic!("a forged token: {other:?}"),
        }
        assert!(s.validator.stats().cached_tenants <= 20, "{:?}", s.validator.stats());
        if i % 50 == 0 {
            // Valid home tokens keep passing from the cached keys.
            s.accepted(&s.emu.token().sign(), "the home tenant during the flood").await;
        }
    }
    let elapsed_secs = started.elapsed().as_secs() + 1;
    let allowed =
        u64::from(DEFAULT_NEW_TENANT_BURST) + u64::from(DEFAULT_NEW_TENANT_REFILL_PER_SEC) * elapsed_secs;
    let allowed = usize::try_from(allowed).expect("small");
    let (metadata, jwks) = s.v2_fetches();
    assert!(metadata <= allowed, "{metadata} metadata fetches, at most {allowed} allowed");
    assert_eq!(metadata, 1 + unknown, "one fetch per tenant looked up, none for the throttled");
    assert_eq!(throttled + unknown, 500);
    assert!(throttled >= 500 - allowed, "{throttled} throttled");
    assert_eq!(jwks, 1, "the home tenant's keys were never refetched");
    // Over HTTP, the throttled token is a 401 invalid_token asking to retry later (not a 503).
    let forged = s.emu.token().tenant(&random_tenant(1000)).signed_with_unknown_key().sign();
    let why = s.refused(&forged, "a throttled new tenant").await;
    assert!(why.contains("try again later"), "{why}");

    // With time, the bucket refills: every new tenant is looked up, and still the unproven ones
    // churn among themselves while the proven home tenant keeps its keys and its throttle.
    let before = s.v2_fetches().0;
    for i in 0..100 {
        s.clock.advance(Duration::from_secs(1));
        let forged = s.emu.token().tenant(&random_tenant(2000 + i)).signed_with_unknown_key().sign();
        let why = s.refused(&forged, "an unknown tenant").await;
        assert!(why.contains("not known to Entra"), "{why}");
        assert!(s.validator.stats().cached_tenants <= 20);
    }
    assert_eq!(s.v2_fetches(), (before + 100, 1));
    s.accepted(&s.emu.token().sign(), "the home tenant after the flood").await;
    // The home tenant's unknown-kid throttle survived: a forged kid does not refetch.
    s.refused(&s.emu.token().signed_with_unknown_key().sign(), "an unknown kid").await;
    assert_eq!(s.v2_fetches(), (before + 100, 1));

    // A real new tenant still gets in once the bucket has a token, and is proven from then on.
    s.clock.advance(Duration::from_secs(1));
    let other = s.emu.add_tenant();
    s.accepted(&s.emu.token().tenant(&other).sign(), "a real new tenant").await;
    assert_eq!(s.v2_fetches(), (before + 101, 2));
    for i in 0..40 {
        s.clock.advance(Duration::from_secs(1));
        let forged = s.emu.token().tenant(&random_tenant(3000 + i)).signed_with_unknown_key().sign();
        s.refused(&forged, "an unknown tenant").await;
    }
    s.accepted(&s.emu.token().tenant(&other).sign(), "the new tenant, proven").await;
    s.accepted(&s.emu.token().sign(), "the home tenant").await;
    assert_eq!(s.v2_fetches(), (before + 141, 2));
}

/// The new-tenant bucket follows the configuration: a small one throttles sooner, a large one
/// (a multi-tenant app after a restart) looks every new tenant up.
#[tokio::test]
async fn the_new_tenant_bucket_is_configurable() {
    use axum_mcp_azure_oauth::AuthError;
    use axum_mcp_azure_oauth::validate::InvalidToken;
    for (burst, tenants, expect_throttled) in [(3, 20, true), (200, 100, false)] {
        let emu = Emulator::start().await.expect("the emulator starts");
        let config = emu
            .config()
            .tenants(TenantPolicy::Any)
            .key_cache_tenants(300)
            .new_tenant_burst(burst)
            .new_tenant_refill_per_sec(1);
        let s = start(emu, config).await;
        let started = std::time::Instant::now();
        s.accepted(&s.emu.token().sign(), "the home tenant").await;
        let mut looked_up = 0;
        let mut throttled = 0;
        for i in 0..tenants {
            let forged = s.emu.token().tenant(&random_tenant(i)).signed_with_unknown_key().sign();
            match s.validator.validate(&forged).await {
                Err(AuthError::InvalidToken(InvalidToken::NewTenantThrottled)) => throttled += 1,
                Err(AuthError::InvalidToken(InvalidToken::UnknownTenant)) => looked_up += 1,
                other => panic!("a forged token: {other:?}"),
            }
        }
        let allowed = usize::try_from(u64::from(burst) + started.elapsed().as_secs() + 1).expect("small");
        assert!(looked_up < allowed, "burst {burst}: 1 + {looked_up} looked up, at most {allowed}");
        assert_eq!(throttled > 0, expect_throttled, "burst {burst}: {throttled} throttled");
        assert_eq!(s.v2_fetches().0, 1 + looked_up, "one metadata fetch per tenant looked up");
    }
}

#[tokio::test]
async fn verified_tokens_are_cached_until_exp() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let other = emu.add_tenant();
    let config = emu
        .config()
        .clock_skew(Duration::ZERO)
        .key_cache_tenants(1)
        .tenants(TenantPolicy::List(vec![emu.home_tenant(), other.clone()]));
    let s = start(emu, config).await;
    let token = s.emu.token().expires_in(Duration::from_secs(60)).sign();
    s.accepted(&token, "first").await;
    assert_eq!(s.validator.stats().cached_tokens, 1);
    assert_eq!(s.v2_fetches(), (1, 1));
    // Another tenant's token evicts the home tenant's keys (a cache of one tenant) ...
    s.accepted(&s.emu.token().tenant(&other).sign(), "other tenant").await;
    assert_eq!(s.v2_fetches(), (2, 2));
    // ... yet the cached token needs no key (and no RSA): nothing is fetched for it.
    s.accepted(&token, "cached").await;
    assert_eq!(s.v2_fetches(), (2, 2));
    assert_eq!(s.validator.stats().cached_tokens, 2);
    // Permissions are still checked per route on a cache hit.
    assert_eq!(s.call_path("/admin", &token).await.status, 403);
    // Past exp: never served from the cache.
    s.clock.advance(Duration::from_secs(61));
    let why = s.refused(&token, "expired").await;
    assert!(why.contains("expired"), "{why}");
}

/// The cache is looked up by the signature's digest, so a cached signature must never vouch for
/// other claims, and nothing but the very same token may hit.
#[tokio::test]
async fn a_cached_signature_never_vouches_for_other_claims() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    let s = server().await;
    let token = s.emu.token().sign();
    s.accepted(&token, "the real token, now cached").await;
    assert_eq!(s.validator.stats().cached_tokens, 1);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&B64.decode(parts[1]).expect("base64url")).expect("JSON");
    claims["scp"] = json!("access_as_user admin");
    claims["roles"] = json!(["Tasks.Admin"]);
    let forged_claims = B64.encode(serde_json::to_vec(&claims).expect("JSON"));
    // The cached signature on other claims, with another header, or in another place.
    let header = B64.encode(br#"{"alg":"RS256","typ":"JWT","kid":"other"}"#);
    for forged in [
        format!("{}.{forged_claims}.{}", parts[0], parts[2]),
        format!("{header}.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[1], parts[2]),
        format!(".{}", parts[2]),
        parts[2].to_owned(),
    ] {
        let a = s.call(&forged).await;
        assert_eq!(a.status, 401, "{forged}: {}", a.text);
        let a = s.call_path("/admin", &forged).await;
        assert_eq!(a.status, 401, "no admin by a forged token: {}", a.text);
    }
    // The real token still hits the cache, and is still no admin.
    s.accepted(&token, "cached").await;
    assert_eq!(s.call_path("/admin", &token).await.status, 403);
    assert_eq!(s.validator.validate(&token).await.expect("valid").oid(), Some(s.emu.user().oid.as_str()));
}

#[tokio::test]
async fn custom_signing_keys_are_fetched_with_the_app_id() {
    let emu = Emulator::builder().custom_signing_keys(true).start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE).custom_signing_keys(true);
    let s = start(emu, config).await;
    s.accepted(&s.emu.token().sign(), "signed with the app's custom key").await;
    let app = s.emu.app_id();
    for r in s
        .emu
        .requests()
        .iter()
        .filter(|r| matches!(r.endpoint, Endpoint::OpenIdConfigurationV2 | Endpoint::JwksV2))
    {
        assert_eq!(r.query_param("appid"), Some(app.as_str()), "{}", r.path);
    }
    // Without ?appid= the custom key is not listed.
    let emu = Emulator::builder().custom_signing_keys(true).start().await.expect("the emulator starts");
    let config = emu.config().base_url(UNSERVED_BASE);
    let s = start(emu, config).await;
    s.refused(&s.emu.token().sign(), "the custom key is unknown without appid").await;
}

#[tokio::test]
async fn per_route_tenants_replace_the_policy() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let other = emu.add_tenant();
    let config = emu.config().base_url(UNSERVED_BASE).tenants(TenantPolicy::Any);
    let s = start(emu, config).await;
    let home = s.emu.home_tenant();
    let only_home: &'static [&'static str] =
        Box::leak(vec![&*Box::leak(home.into_boxed_str())].into_boxed_slice());
    let req = Requirements::default().tenants(only_home);
    assert!(s.validator.validate_for(&s.emu.token().sign(), &req).await.is_ok());
    let err =
        s.validator.validate_for(&s.emu.token().tenant(&other).sign(), &req).await.expect_err("refused");
    assert_eq!(err.status(), 401);
    assert!(s.validator.validate(&s.emu.token().tenant(&other).sign()).await.is_ok());
}

/// Around a plain tower service nested with `nest_service` (as rmcp's `StreamableHttpService` is),
/// whatever its body type.
#[tokio::test]
async fn the_layer_wraps_a_nested_service() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = Arc::new(emu.config().base_url(UNSERVED_BASE).build().expect("valid"));
    let validator = TokenValidator::new(config);
    let service = tower::service_fn(|req: http::Request<axum::body::Body>| async move {
        let tid = req.extensions().get::<AzureClaims>().map(|c| c.tid().to_owned()).unwrap_or_default();
        Ok::<_, std::convert::Infallible>(http::Response::new(format!("hello {tid}")))
    });
    let service = tower::ServiceBuilder::new().layer(AuthLayer::new(validator)).service(service);
    let app = Router::new().nest_service("/mcp", service);
    let served = support::serve::serve(app).await;
    let url = format!("{}/mcp", served.base);
    let http = reqwest::Client::new();
    let r = http.post(&url).bearer_auth(emu.token().sign()).send().await.expect("an answer");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("text"), format!("hello {}", emu.home_tenant()));
    let r = http.post(&url).bearer_auth(emu.token().expired().sign()).send().await.expect("an answer");
    assert_eq!(r.status(), 401);
    let r = http.post(&url).send().await.expect("an answer");
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
}

/// A service that counts its clones and calls.
struct Counting {
    clones: Arc<std::sync::atomic::AtomicUsize>,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

impl Clone for Counting {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self { clones: Arc::clone(&self.clones), calls: Arc::clone(&self.calls) }
    }
}

impl tower::Service<http::Request<axum::body::Body>> for Counting {
    type Response = http::Response<axum::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<axum::body::Body>) -> Self::Future {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let tid = req.extensions().get::<AzureClaims>().map(|c| c.tid().to_owned()).unwrap_or_default();
        std::future::ready(Ok(http::Response::new(axum::body::Body::from(tid))))
    }
}

/// The layer's two paths: a token it must verify takes the slow path (the ready service moves into
/// a future, a clone takes its place); a cached token, a request without a usable token and a CORS
/// preflight are answered at once, without cloning the service — and a refused request never
/// reaches it.
#[tokio::test]
async fn the_layer_answers_cached_tokens_and_refusals_without_cloning_the_service() {
    use std::sync::atomic::Ordering::SeqCst;
    use tower::{Layer as _, Service as _, ServiceExt as _};

    let emu = Emulator::start().await.expect("the emulator starts");
    let validator =
        TokenValidator::new(Arc::new(emu.config().base_url(UNSERVED_BASE).build().expect("valid")));
    let counting = Counting { clones: Arc::default(), calls: Arc::default() };
    let (clones, calls) = (Arc::clone(&counting.clones), Arc::clone(&counting.calls));
    let mut service = AuthLayer::new(validator).layer(counting);
    let token = emu.token().sign();
    let request = |authorization: Option<&str>| {
        let mut r = http::Request::post("/mcp");
        if let Some(value) = authorization {
            r = r.header("authorization", value);
        }
        r.body(axum::body::Body::empty()).expect("a request")
    };
    let mut send = async |req| {
        let response = service.ready().await.expect("ready").call(req).await.expect("infallible");
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("a body");
        (status, String::from_utf8(body.to_vec()).expect("UTF-8"))
    };

    let bearer = format!("Bearer {token}");
    assert_eq!(send(request(Some(&bearer))).await, (200, emu.home_tenant()), "verified");
    assert_eq!((clones.load(SeqCst), calls.load(SeqCst)), (1, 1), "the slow path clones once");
    assert_eq!(send(request(Some(&bearer))).await, (200, emu.home_tenant()), "cached");
    assert_eq!((clones.load(SeqCst), calls.load(SeqCst)), (1, 2), "a cached token: no clone");
    assert_eq!(send(request(None)).await.0, 401);
    assert_eq!(send(request(Some("Basic abc"))).await.0, 401);
    assert_eq!((clones.load(SeqCst), calls.load(SeqCst)), (1, 2), "refused: no clone, not called");
    let preflight = http::Request::options("/mcp")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .expect("a request");
    assert_eq!(send(preflight).await.0, 200);
    assert_eq!((clones.load(SeqCst), calls.load(SeqCst)), (1, 3), "a preflight passes, no clone");
}

#[tokio::test]
async fn a_hanging_authority_times_out_into_a_503() {
    let emu = Emulator::start().await.expect("the emulator starts");
    emu.set_fault(Endpoint::JwksV2, Fault::delay(Duration::from_secs(3600)));
    let config = emu.config().base_url(UNSERVED_BASE).http_timeout(Duration::from_millis(200));
    let s = start(emu, config).await;
    let a = s.call(&s.emu.token().sign()).await;
    assert_eq!(a.status, 503, "{}", a.text);
    assert_eq!(a.json()["error"], "temporarily_unavailable");
}
