//! End to end with the official MCP TypeScript SDK's client (`@modelcontextprotocol/sdk`, run by
//! Node.js from `tests/e2e-ts/client.mjs`, see [`support::node`]) against the weather example's
//! router served on 127.0.0.1 and the Entra ID emulator: a second, independent client
//! implementation beside rmcp's (`e2e.rs`).
//!
//! The OAuth steps are all the SDK's (its `auth()`: protected resource metadata, authorization
//! server metadata, dynamic registration, PKCE, the code exchange; its transport's 401 and 403
//! handling); only the browser is ours: [`HttpBrowser`] walks each authorization URL the SDK
//! hands out, answering the consent page Allow, up to the client's loopback redirect URI.
//!
//! Skipped, with one line saying how to run them, without Node.js or `npm ci --prefix tests/e2e-ts`
//! (`.ci/run` does both and sets `REQUIRE_NODE_TESTS`, so there they fail instead).

use std::sync::Arc;

use axum_mcp_azure_oauth::config::{Mode, ToolListing};
use axum_mcp_azure_oauth::emulator::Endpoint;
use examples::WeatherServer;
use examples::demo::MCP_ACCEPT;
use serde_json::{Value, json};
use support::browser::{HttpBrowser, Page};
use support::credentials::{Kind, with_credential};
use support::example::{Server, serve, serve_config};
use support::flow::emulator;
use support::http::{client, param};
use support::node::{TsClient, TsRun};

/// Runs `plan` with the TypeScript client against `server`, each sign-in walked by a fresh
/// [`HttpBrowser`].
async fn run(node: &TsClient, server: &Server, plan: Value) -> TsRun {
    node.run(&server.mcp_url, &plan, |authorize, redirect_uri| async move {
        HttpBrowser::new().sign_in(authorize.as_str(), &redirect_uri).await
    })
    .await
}

/// Entra's `/token` requests of `grant_type`.
fn token_requests(server: &Server, grant_type: &str) -> usize {
    let requests = server.emu.requests();
    requests
        .iter()
        .filter(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some(grant_type))
        .count()
}

/// The TypeScript SDK's client, with nothing but the MCP URL, signs in through the broker (the
/// default mode) on a loopback redirect URI: one authorization, whose URL the SDK built from the
/// server's metadata (its `/authorize`, S256, `resource` = the MCP URL, a client id the broker
/// registered), answered at the loopback URI with RFC 9207 `iss`; Entra sees only the broker's
/// callback and the broker redeems there with the secret. Then `tools/list`, `whoami` (the
/// emulator's signed-in user, from the validated token) and `graph_me` (that user's Graph profile,
/// fetched on behalf of the caller).
#[tokio::test]
async fn typescript_sdk_client_signs_in_through_the_broker_and_calls_tools() {
    let Some(node) = TsClient::if_installed("typescript_sdk_client_signs_in_through_the_broker") else {
        return;
    };
    let server = serve(emulator().await, |c| c).await;
    assert_eq!(server.mode, Mode::Broker, "the default");

    let plan = json!({"steps": [
        {"list": true},
        {"call": "whoami", "args": {}},
        {"call": "graph_me", "args": {}},
        {"call": "heat_index", "args": {"temperature_f": 90, "relative_humidity": 60}},
    ]});
    let run = run(&node, &server, plan).await;

    assert_eq!(run.authorizations, 1, "one sign-in: {:?}", run.sign_ins);
    assert_eq!(run.sign_ins.len(), 1);
    let sign_in = &run.sign_ins[0];
    let authorize = &sign_in.authorize;
    assert!(
        authorize.as_str().starts_with(&format!("{}/authorize?", server.base)),
        "the server's /authorize: {authorize}"
    );
    let client_id = param(authorize, "client_id").expect("a client_id");
    assert!(client_id.starts_with("mcp-client."), "an id the broker registered: {client_id}");
    assert_eq!(param(authorize, "redirect_uri").as_deref(), Some(sign_in.redirect_uri.as_str()));
    assert!(sign_in.redirect_uri.starts_with("http://127.0.0.1:"), "{}", sign_in.redirect_uri);
    assert_eq!(param(authorize, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(authorize, "resource").as_deref(), Some(server.mcp_url.as_str()), "RFC 8707");
    assert_eq!(param(&sign_in.landing, "iss").as_deref(), Some(server.base.as_str()), "RFC 9207 iss");

    let callback = format!("{}/oauth/callback", server.base);
    let at_entra = server.emu.requests();
    let at_entra = at_entra.iter().filter(|r| r.endpoint == Endpoint::Authorize).collect::<Vec<_>>();
    assert_eq!(at_entra.len(), 1, "the browser went to Entra once");
    assert_eq!(
        at_entra[0].query_param("redirect_uri"),
        Some(callback.as_str()),
        "Entra sees the broker's callback"
    );
    assert_eq!(token_requests(&server, "authorization_code"), 1, "one code redeemed at Entra");

    let tools = run.result(0)["tools"].as_array().expect("tools/list's tools");
    let mut names: Vec<_> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    names.sort_unstable();
    // The user has no app role: `clear_locations` (Weather.Admin) is not listed; `save_location`
    // (a scope the client can step up to) is.
    assert_eq!(names, ["get_alerts", "get_forecast", "graph_me", "heat_index", "save_location", "whoami"]);

    let user = server.emu.user();
    let whoami = run.result(1);
    assert_eq!(whoami["isError"], false, "{whoami}");
    let me = &whoami["structuredContent"];
    assert_eq!(me["oid"], user.oid.as_str(), "{me}");
    assert_eq!(me["tid"], server.emu.home_tenant().as_str(), "{me}");
    assert_eq!(me["upn"], user.preferred_username.as_str(), "{me}");
    assert_eq!(me["app_id"], server.emu.app_id().as_str(), "{me}");
    assert!(me["scopes"].as_array().expect("scopes").iter().any(|s| s == "access_as_user"), "{me}");

    let graph_me = run.result(2);
    assert_eq!(graph_me["isError"], false, "{graph_me}");
    assert_eq!(
        graph_me["structuredContent"],
        json!({"displayName": user.name, "userPrincipalName": user.preferred_username, "id": user.oid})
    );
    assert_eq!(server.emu.request_count(Endpoint::OnBehalfOf), 1, "graph_me exchanged the caller's token");
    assert_eq!(server.emu.request_count(Endpoint::GraphMe), 1);

    assert_eq!(run.result(3)["structuredContent"]["heat_index_f"], 99.7);
}

/// No secret anywhere: the example server proves itself to Entra with a certificate (a PEM file,
/// `AZURE_CLIENT_CERTIFICATE_PATH`), and the TypeScript SDK's client signs in through the broker and
/// calls `whoami` and `graph_me` (an on-behalf-of exchange). Every request that authenticates the
/// app (Graph's token for enrolling the broker's callback, the code redemption, the exchange)
/// carries a client assertion and never a secret.
#[tokio::test]
async fn typescript_sdk_client_signs_in_against_a_server_with_a_certificate_and_no_secret() {
    let Some(node) = TsClient::if_installed("typescript_sdk_client_with_a_certificate") else {
        return;
    };
    let emu = emulator().await;
    let setup = with_credential(&emu, Kind::Pem);
    let builder = setup.builder.clone();
    let server = serve_config(emu, move |base| builder.base_url(base).build().expect("valid")).await;
    let plan = json!({"steps": [{"call": "whoami", "args": {}}, {"call": "graph_me", "args": {}}]});
    let run = run(&node, &server, plan).await;
    assert_eq!(run.authorizations, 1, "one sign-in: {:?}", run.sign_ins);
    let user = server.emu.user();
    assert_eq!(run.result(0)["structuredContent"]["oid"], user.oid.as_str(), "{}", run.result(0));
    assert_eq!(run.result(1)["isError"], false, "{}", run.result(1));
    assert_eq!(run.result(1)["structuredContent"]["id"], user.oid.as_str());
    let app_proofs: Vec<_> = server
        .emu
        .requests()
        .into_iter()
        .filter(|r| matches!(r.endpoint, Endpoint::Token | Endpoint::OnBehalfOf))
        .collect();
    let mut grants: Vec<_> = app_proofs.iter().filter_map(|r| r.form_param("grant_type")).collect();
    grants.sort_unstable();
    // The broker's callback put on the app registration through Graph (client credentials), the
    // code redemption, the exchange.
    assert_eq!(
        grants,
        ["authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"]
    );
    for sent in app_proofs {
        assert!(!sent.client_secret_sent, "{:?}", sent.form_param("grant_type"));
        assert!(sent.form_param("client_assertion").is_some(), "{:?}", sent.form_param("grant_type"));
    }
}

/// The TypeScript SDK's client starts with a valid token without the API's scope: the server
/// answers 403 with an RFC 6750 `insufficient_scope` challenge naming the scope, and the SDK's
/// transport steps up from it (SEP-835): one authorization asking for exactly that scope, then the
/// call succeeds with a token that carries it.
#[tokio::test]
async fn typescript_sdk_client_steps_up_from_an_insufficient_scope_challenge() {
    let Some(node) = TsClient::if_installed("typescript_sdk_client_steps_up") else {
        return;
    };
    let server = serve(emulator().await, |c| c).await;
    let narrow = server.emu.token().scopes("User.Read").sign();

    // What the SDK meets first: 403, not 401, so the step-up branch of its transport runs.
    let refused = client()
        .post(&server.mcp_url)
        .bearer_auth(&narrow)
        .header("content-type", "application/json")
        .header("accept", MCP_ACCEPT)
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 403);
    let challenge = refused.headers()["www-authenticate"].to_str().expect("ASCII").to_owned();
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    let scope = format!("api://{}/access_as_user", server.emu.app_id());
    assert!(challenge.contains(&format!("scope=\"{scope}")), "the challenge names the scope: {challenge}");

    let plan = json!({
        "tokens": {"access_token": narrow, "token_type": "Bearer"},
        "steps": [{"call": "whoami", "args": {}}],
    });
    let run = run(&node, &server, plan).await;

    assert_eq!(run.authorizations, 1, "one step-up: {:?}", run.sign_ins);
    let asked = param(&run.sign_ins[0].authorize, "scope").expect("the step-up names a scope");
    assert_eq!(asked, challenge_scope(&challenge), "the SDK asks for the challenge's scope");
    let me = &run.result(0)["structuredContent"];
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    assert!(me["scopes"].as_array().expect("scopes").iter().any(|s| s == "access_as_user"), "{me}");
}

/// The `scope` parameter of a `WWW-Authenticate` challenge.
fn challenge_scope(challenge: &str) -> String {
    let start = challenge.find("scope=\"").expect("a scope parameter") + "scope=\"".len();
    let end = challenge[start..].find('"').expect("a closing quote") + start;
    challenge[start..end].to_owned()
}

/// In the middle of a session, the token the TypeScript SDK's client holds is replaced by one
/// without the API's scope (and no refresh token): the next call gets the 403 step-up challenge,
/// the SDK asks for a second authorization with the challenge's scope, for the same registered
/// client, and the call, sent again after `finishAuth`, succeeds. The SDK's user agent answers
/// every authorization the same way, however many there are.
#[tokio::test]
async fn typescript_sdk_client_steps_up_in_the_middle_of_a_session() {
    let Some(node) = TsClient::if_installed("typescript_sdk_client_steps_up_in_the_middle_of_a_session")
    else {
        return;
    };
    let server = serve(emulator().await, |c| c).await;
    let narrow = server.emu.token().scopes("User.Read").sign();
    let plan = json!({"steps": [
        {"call": "whoami", "args": {}},
        {"tokens": {"access_token": narrow, "token_type": "Bearer"}},
        {"call": "whoami", "args": {}},
    ]});
    let run = run(&node, &server, plan).await;

    assert_eq!(run.authorizations, 2, "the sign-in, then the step-up: {:?}", run.sign_ins);
    assert_eq!(run.sign_ins.len(), 2);
    let [first, second] = [&run.sign_ins[0].authorize, &run.sign_ins[1].authorize];
    assert_eq!(param(first, "client_id"), param(second, "client_id"), "the registered client is kept");
    let scope = format!("api://{}/access_as_user", server.emu.app_id());
    assert_eq!(param(second, "scope").as_deref(), Some(scope.as_str()), "the challenge's scope");
    assert_eq!(server.emu.request_count(Endpoint::Authorize), 2, "two sign-ins at Entra");
    assert_eq!(token_requests(&server, "authorization_code"), 2, "two codes redeemed at Entra");
    for step in [0, 2] {
        let me = &run.result(step)["structuredContent"];
        assert_eq!(me["oid"], server.emu.user().oid.as_str(), "step {step}: {me}");
        assert!(me["scopes"].as_array().expect("scopes").iter().any(|s| s == "access_as_user"), "{me}");
    }
}

/// One browser for every sign-in of a run (its cookies, and so its remembered approvals, kept),
/// ticking "remember my choice": each sign-in's consent pages (none when a remembered approval
/// skipped the page), in order.
#[derive(Clone, Default)]
struct RememberingBrowser {
    inner: Arc<tokio::sync::Mutex<(HttpBrowser, Vec<Vec<Page>>)>>,
}

impl RememberingBrowser {
    async fn sign_in(&self, authorize: url::Url, redirect_uri: String) -> url::Url {
        let mut inner = self.inner.lock().await;
        let walk = inner.0.walk(authorize.as_str(), &redirect_uri, true).await;
        inner.1.push(walk.consent_pages);
        walk.landing
    }

    /// The consent pages of each sign-in, in order.
    async fn consent_pages(&self) -> Vec<Vec<Page>> {
        std::mem::take(&mut self.inner.lock().await.1)
    }
}

/// Per-tool step-up with the TypeScript SDK's client, through the broker's consent page. The
/// user signs in with the API scope (the 401's challenge) and calls `whoami`; `save_location`,
/// which needs `Locations.ReadWrite`, answers 403 `insufficient_scope` naming it with the API scope,
/// and the SDK signs in again for exactly those: the approval the browser remembered from the
/// first sign-in does not cover the new permission, so the consent page is shown again and names
/// it; Entra is asked for both qualified scopes, and the call, sent again, saves the location.
/// Then `clear_locations`, which needs the app role `Weather.Admin` the user does not have: 403
/// `insufficient_scope` naming the role and no scope. The SDK 1.32.2 tries once more: its
/// transport steps up on any `insufficient_scope` 403 (`send`, the `response.status === 403`
/// branch), here with the scope it last held (the challenge names none), so one more authorization
/// (the consent page skipped: that scope set was approved and remembered) and the same request
/// again; the same challenge a second time ends it ("Server returned 403 after trying upscoping"),
/// with no further authorization: no loop.
#[tokio::test]
async fn typescript_sdk_client_steps_up_per_tool_through_the_consent_page_and_stops_at_a_missing_role() {
    let Some(node) = TsClient::if_installed("typescript_sdk_client_steps_up_per_tool") else {
        return;
    };
    let emu = examples::demo::emulator().access_token_version(2).start().await.expect("the emulator starts");
    let server = serve(emu, |c| c).await;
    let app = server.emu.app_id();
    let api = format!("api://{app}/access_as_user");
    let locations = format!("api://{app}/Locations.ReadWrite");

    let plan = json!({"steps": [
        {"call": "whoami", "args": {}},
        {"call": "save_location", "args": {"name": "home", "latitude": 47.64, "longitude": -122.13}},
        {"call": "clear_locations", "args": {}},
    ]});
    let browser = RememberingBrowser::default();
    let walker = browser.clone();
    let run = node
        .run(&server.mcp_url, &plan, move |authorize, redirect_uri| {
            let walker = walker.clone();
            async move { walker.sign_in(authorize, redirect_uri).await }
        })
        .await;
    let consent = browser.consent_pages().await;

    // The sign-in, with the API scope only; whoami works without stepping up.
    assert_eq!(run.authorizations_by(0), 1, "{:?}", run.sign_ins);
    let first = &run.sign_ins[0].authorize;
    assert_eq!(param(first, "scope").as_deref(), Some(api.as_str()), "the 401's scope");
    assert_eq!(consent[0].len(), 1, "the first sign-in shows the consent page");
    assert!(!consent[0][0].body.contains("Locations.ReadWrite"), "{}", consent[0][0].body);
    let me = &run.result(0)["structuredContent"];
    assert_eq!(me["oid"], server.emu.user().oid.as_str(), "{me}");
    assert!(run.refusals(0).is_empty(), "{:?}", run.refusals(0));

    // save_location: the 403 names both scopes, the SDK signs in again for them.
    let refusals = run.refusals(1);
    assert_eq!(refusals.len(), 1, "one 403, then the call went through: {refusals:?}");
    assert_eq!(refusals[0]["status"], 403);
    let challenge = refusals[0]["www_authenticate"].as_str().expect("a challenge");
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    assert!(challenge.contains(&format!("scope=\"{locations} {api}\"")), "{challenge}");
    assert_eq!(run.authorizations_by(1), 2, "one step-up: {:?}", run.sign_ins);
    let second = &run.sign_ins[1].authorize;
    assert_eq!(param(first, "client_id"), param(second, "client_id"), "the registered client is kept");
    let asked = param(second, "scope").expect("the step-up names a scope");
    let asked: Vec<&str> = asked.split(' ').collect();
    assert!(asked.contains(&locations.as_str()) && asked.contains(&api.as_str()), "{asked:?}");
    assert_eq!(consent[1].len(), 1, "the remembered approval does not cover the new scope: the page again");
    let page = &consent[1][0].body;
    assert!(page.contains("with the permission Locations.ReadWrite"), "the new permission in words: {page}");
    assert!(page.contains("(access_as_user)"), "{page}");
    let at_entra: Vec<_> =
        server.emu.requests().into_iter().filter(|r| r.endpoint == Endpoint::Authorize).collect();
    assert!(at_entra.len() >= 2, "{at_entra:?}");
    let entra_scope: Vec<&str> = at_entra[1].query_param("scope").expect("a scope").split(' ').collect();
    assert!(
        entra_scope.contains(&locations.as_str()) && entra_scope.contains(&api.as_str()),
        "Entra is asked for both qualified scopes: {entra_scope:?}"
    );
    let saved = run.result(1);
    assert_eq!(saved["isError"], false, "{saved}");
    assert_eq!(
        saved["structuredContent"],
        json!({"saved": [{"name": "home", "latitude": 47.64, "longitude": -122.13}]})
    );

    // clear_locations: a role no sign-in grants. One more try by the SDK, then an error.
    let error = run.error(2).unwrap_or_else(|| panic!("clear_locations must fail: {}", run.results[2]));
    assert!(error.contains("403") && error.contains("after trying upscoping"), "{error}");
    let refusals = run.refusals(2);
    assert_eq!(refusals.len(), 2, "the refusal, the same after the SDK's one retry: {refusals:?}");
    for refusal in refusals {
        assert_eq!(refusal["status"], 403);
        let challenge = refusal["www_authenticate"].as_str().expect("a challenge");
        assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
        assert!(!challenge.contains("scope=\"api:"), "no scope to step up to: {challenge}");
        assert!(challenge.contains("Weather.Admin"), "the role is named: {challenge}");
        assert!(refusal["body"].as_str().expect("a body").contains("Weather.Admin"), "{refusal}");
    }
    assert_eq!(run.authorizations_by(2), 3, "at most one more authorization, no loop: {:?}", run.sign_ins);
    assert_eq!(run.authorizations, 3);
    let third = &run.sign_ins[2].authorize;
    assert_eq!(param(third, "scope"), param(second, "scope"), "the scope the SDK last held");
    assert!(consent[2].is_empty(), "that scope set was approved and remembered: no page");
    assert_eq!(server.emu.request_count(Endpoint::Authorize), 3, "three sign-ins at Entra");
}

/// With the stricter listing (`ToolListing::CallableNow`), the TypeScript SDK's client does not see
/// `save_location` in `tools/list` while its token lacks `Locations.ReadWrite`; it calls the tool
/// all the same (a client may know it), steps up through the consent page, and then lists it.
#[tokio::test]
async fn typescript_sdk_client_sees_a_scope_gated_tool_only_after_stepping_up_under_the_strict_listing() {
    let Some(node) = TsClient::if_installed("typescript_sdk_client_strict_listing") else {
        return;
    };
    let emu = examples::demo::emulator().access_token_version(2).start().await.expect("the emulator starts");
    let strict = WeatherServer::tool_policy().listing(ToolListing::CallableNow);
    let server = serve(emu, move |c| c.tool_policy(strict)).await;
    let plan = json!({"steps": [
        {"list": true},
        {"call": "save_location", "args": {"name": "office", "latitude": 40.71, "longitude": -74.0}},
        {"list": true},
    ]});
    let browser = RememberingBrowser::default();
    let walker = browser.clone();
    let run = node
        .run(&server.mcp_url, &plan, move |authorize, redirect_uri| {
            let walker = walker.clone();
            async move { walker.sign_in(authorize, redirect_uri).await }
        })
        .await;
    let listed = |step: usize| -> Vec<String> {
        let tools = run.result(step)["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("step {step}: {}", run.result(step)));
        let mut names: Vec<String> =
            tools.iter().filter_map(|t| t["name"].as_str().map(str::to_owned)).collect();
        names.sort_unstable();
        names
    };

    assert_eq!(
        listed(0),
        ["get_alerts", "get_forecast", "graph_me", "heat_index", "whoami"],
        "before the step-up"
    );
    assert_eq!(run.authorizations_by(0), 1, "{:?}", run.sign_ins);
    assert_eq!(run.result(1)["isError"], false, "{}", run.result(1));
    assert_eq!(run.authorizations_by(1), 2, "one step-up: {:?}", run.sign_ins);
    assert_eq!(
        listed(2),
        ["get_alerts", "get_forecast", "graph_me", "heat_index", "save_location", "whoami"],
        "after the step-up"
    );
    assert_eq!(run.authorizations, 2, "listing needed no sign-in of its own");
}
