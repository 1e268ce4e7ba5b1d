//! On behalf of the user, over real HTTP against the emulator: `AzureOAuth::on_behalf_of()`
//! exchanges the caller's verified token at the caller's tenant, caches per caller and scope set,
//! sends one exchange per key however many calls wait, renews before expiry and never past the
//! caller's token, and answers Entra's errors with typed ones; the example's `graph_me` tool
//! reads the caller's Graph profile through it.

use std::time::Duration;

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, GRAPH_RESOURCE, User, UserProfile};
use axum_mcp_azure_oauth::obo::OboError;
use axum_mcp_azure_oauth::validate::Clock;
use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth, Requirements};
use examples::demo::MCP_ACCEPT;
use examples::tools::GRAPH_USER_READ;
use serde_json::{Value, json};
use support::UNSERVED_BASE;

const STEP_UP: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

/// The app against `emu`, on `clock`, and the claims of a fresh token of `user` (the emulator's
/// signed-in user when `None`), as the `AuthLayer` hands them to a tool.
async fn app_and_caller(emu: &Emulator, clock: Clock, user: Option<User>) -> (AzureOAuth, AzureClaims) {
    let config =
        emu.config().base_url(UNSERVED_BASE).allowed_tenant_ids(["*"]).build().expect("valid configuration");
    let auth = AzureOAuth::with_clock(config, clock);
    let caller = caller(emu, &auth, user).await;
    (auth, caller)
}

async fn caller(emu: &Emulator, auth: &AzureOAuth, user: Option<User>) -> AzureClaims {
    let mut token = emu.token().expires_in(Duration::from_secs(7200));
    if let Some(user) = user {
        token = token.user(user);
    }
    auth.validator().validate(&token.sign()).await.expect("the emulator's token is valid")
}

fn graph_token_claims(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_second_call_is_answered_from_the_cache_in_any_scope_order_or_case() {
    let emu = Emulator::start().await.expect("emulator");
    let (auth, caller) = app_and_caller(&emu, Clock::system(), None).await;
    let obo = auth.on_behalf_of();
    let first = obo.token(&caller, [GRAPH_USER_READ]).await.expect("exchanged");
    let claims = graph_token_claims(first.access_token());
    assert_eq!((&claims["aud"], &claims["scp"]), (&json!(GRAPH_RESOURCE), &json!("User.Read")));
    assert_eq!(claims["oid"], emu.user().oid, "the same user, downstream");
    assert_eq!(first.scope(), GRAPH_USER_READ);
    let again = obo.token(&caller, ["https://graph.microsoft.com/user.read"]).await.expect("cached");
    assert_eq!(again.access_token(), first.access_token());
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 1, "one exchange for two calls");
    assert_eq!((obo.stats().exchanges, obo.stats().cached), (1, 1));

    let sent = emu.requests().into_iter().find(|r| r.endpoint == Endpoint::OnBehalfOf).expect("sent");
    assert_eq!(sent.form_param("requested_token_use"), Some("on_behalf_of"));
    assert_eq!(sent.form_param("grant_type"), Some("urn:ietf:params:oauth:grant-type:jwt-bearer"));
    assert!(sent.client_secret_sent, "a confidential client's exchange");
    assert_ne!(first.access_token(), sent.form_param("assertion").unwrap_or_default());

    // Through the request's parts, as an rmcp tool sees them.
    let (mut parts, ()) = http::Request::new(()).into_parts();
    assert_eq!(obo.token_for_request(&parts, [GRAPH_USER_READ]).await.err(), Some(OboError::NoCaller));
    parts.extensions.insert(caller);
    let from_parts = obo.token_for_request(&parts, [GRAPH_USER_READ]).await.expect("cached");
    assert_eq!(from_parts.access_token(), first.access_token());
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_calls_of_a_cold_user_send_one_exchange_and_two_users_two() {
    let emu = Emulator::start().await.expect("emulator");
    // Slow answers keep the first exchange in flight while the others arrive.
    emu.set_fault(Endpoint::OnBehalfOf, Fault::delay(Duration::from_millis(200)));
    let (auth, ada) = app_and_caller(&emu, Clock::system(), None).await;
    let grace = emu.add_user(User { name: "Grace Hopper".into(), ..User::default() }, UserProfile::default());
    let grace = caller(&emu, &auth, Some(grace)).await;
    let calls: Vec<_> = (0..100)
        .map(|n| {
            let (auth, who) = (auth.clone(), if n % 2 == 0 { ada.clone() } else { grace.clone() });
            tokio::spawn(async move { auth.on_behalf_of().token(&who, [GRAPH_USER_READ]).await })
        })
        .collect();
    let mut distinct = Vec::new();
    for call in calls {
        distinct.push(call.await.expect("joined").expect("exchanged").access_token().to_owned());
    }
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 2, "one token per user");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 2, "one exchange per user");
    let oids: Vec<Value> = distinct.iter().map(|t| graph_token_claims(t)["oid"].clone()).collect();
    assert!(oids.contains(&json!(ada.oid())) && oids.contains(&json!(grace.oid())), "{oids:?}");
}

#[tokio::test]
async fn the_exchange_goes_to_the_callers_own_tenant() {
    let emu = Emulator::builder().multi_tenant(true).start().await.expect("emulator");
    let guest = emu.add_tenant();
    let ada = emu.add_user(
        User { name: "Ada Lovelace".into(), tenant: guest.clone(), ..User::default() },
        UserProfile::default(),
    );
    let (auth, caller) = app_and_caller(&emu, Clock::system(), Some(ada.clone())).await;
    assert_eq!(caller.tid(), guest);
    let token = auth.on_behalf_of().token(&caller, [GRAPH_USER_READ]).await.expect("exchanged");
    let claims = graph_token_claims(token.access_token());
    assert_eq!((&claims["tid"], &claims["oid"]), (&json!(guest), &json!(ada.oid)));
    let sent = emu.requests().into_iter().find(|r| r.endpoint == Endpoint::OnBehalfOf).expect("sent");
    assert_eq!(sent.tenant.as_deref(), Some(guest.as_str()), "not the home tenant {}", emu.home_tenant());
}

#[tokio::test]
async fn a_token_is_renewed_five_minutes_before_it_expires_and_never_outlives_the_callers() {
    let emu = Emulator::builder().token_lifetime(Duration::from_secs(900)).start().await.expect("emulator");
    let clock = Clock::manual();
    let (auth, caller) = app_and_caller(&emu, clock.clone(), None).await;
    let obo = auth.on_behalf_of();
    let first = obo.token(&caller, [GRAPH_USER_READ]).await.expect("exchanged");
    clock.advance(Duration::from_secs(590));
    assert_eq!(
        obo.token(&caller, [GRAPH_USER_READ]).await.expect("cached").access_token(),
        first.access_token()
    );
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 1);
    clock.advance(Duration::from_secs(20));
    let renewed = obo.token(&caller, [GRAPH_USER_READ]).await.expect("renewed");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 2, "renewed inside the last 5 minutes");
    assert!(renewed.expires_at() > first.expires_at());

    // A caller whose own token ends before the downstream one: the entry ends with it.
    let clock = Clock::manual();
    let auth =
        AzureOAuth::with_clock(emu.config().base_url(UNSERVED_BASE).build().expect("valid"), clock.clone());
    let short = emu.token().expires_in(Duration::from_secs(120)).sign();
    let short = auth.validator().validate(&short).await.expect("valid");
    auth.on_behalf_of().token(&short, [GRAPH_USER_READ]).await.expect("exchanged");
    clock.advance(Duration::from_secs(100));
    auth.on_behalf_of().token(&short, [GRAPH_USER_READ]).await.expect("cached");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 3);
    clock.advance(Duration::from_secs(21));
    // Entra (on the real clock) still takes the assertion; the cache, on the app's clock, did not
    // keep the token past the caller's.
    auth.on_behalf_of().token(&short, [GRAPH_USER_READ]).await.expect("exchanged again");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 4);
}

#[tokio::test]
async fn consent_missing_and_conditional_access_are_typed_errors_a_tool_can_act_on() {
    let emu = Emulator::start().await.expect("emulator");
    let (auth, caller) = app_and_caller(&emu, Clock::system(), None).await;
    let obo = auth.on_behalf_of();
    match obo.token(&caller, ["https://graph.microsoft.com/Mail.Read"]).await {
        Err(OboError::ConsentRequired { scopes, detail }) => {
            assert_eq!(scopes, "https://graph.microsoft.com/Mail.Read");
            assert!(detail.starts_with("AADSTS65001"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let message =
        obo.token(&caller, ["https://graph.microsoft.com/Mail.Read"]).await.expect_err("no consent");
    assert!(message.needs_user() && message.to_string().contains("administrator"), "{message}");

    emu.require_step_up(GRAPH_RESOURCE, STEP_UP);
    let e = obo.token(&caller, [GRAPH_USER_READ]).await.expect_err("step-up");
    assert_eq!(e.claims_challenge(), Some(STEP_UP), "{e:?}");
    emu.clear_step_up(GRAPH_RESOURCE);
    obo.token(&caller, [GRAPH_USER_READ]).await.expect("errors are not cached");

    // The emulator's faults give the same errors.
    let other_api = ["api://33333333-4444-5555-6666-777777777777/.default"];
    emu.set_fault(Endpoint::OnBehalfOf, Fault::consent_required().times(1));
    assert!(matches!(obo.token(&caller, other_api).await, Err(OboError::ConsentRequired { .. })));
    emu.set_fault(Endpoint::OnBehalfOf, Fault::interaction_required().times(1));
    let e = obo.token(&caller, other_api).await.expect_err("interaction required");
    assert!(e.claims_challenge().is_some_and(|c| c.contains("access_token")), "{e:?}");
    for e in [&message, &e] {
        assert!(!e.to_string().contains("eyJ") && !format!("{e:?}").contains("eyJ"), "no token in {e}");
    }
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after_and_reported_when_it_outlasts_the_budget() {
    let emu = Emulator::start().await.expect("emulator");
    let (auth, caller) = app_and_caller(&emu, Clock::system(), None).await;
    let obo = auth.on_behalf_of();
    emu.set_fault(Endpoint::OnBehalfOf, Fault::too_many_requests(1).times(1));
    obo.token(&caller, [GRAPH_USER_READ]).await.expect("retried after one second");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 2, "the 429 and the retry");

    emu.set_fault(Endpoint::OnBehalfOf, Fault::too_many_requests(3600));
    match obo.token(&caller, ["https://graph.microsoft.com/.default"]).await {
        Err(OboError::Throttled { retry_after }) => assert_eq!(retry_after, Some(Duration::from_secs(3600))),
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 3, "a wait past the budget is not waited");
    emu.clear_faults();
    emu.set_fault(Endpoint::OnBehalfOf, Fault::status(503).times(1));
    obo.token(&caller, ["https://graph.microsoft.com/.default"]).await.expect("a 503 is retried");
}

#[tokio::test]
async fn what_cannot_be_exchanged_is_refused_before_any_request() {
    let emu = Emulator::start().await.expect("emulator");
    let (auth, caller) = app_and_caller(&emu, Clock::system(), None).await;
    let obo = auth.on_behalf_of();
    let mixed = obo.token(&caller, [GRAPH_USER_READ, "api://other/.default"]).await;
    assert!(matches!(mixed, Err(OboError::InvalidScopes { .. })), "{mixed:?}");
    let app_only = emu.token().app_only().roles(["Tasks.Read"]).sign();
    let daemon = Requirements::new(&[]).roles(&["Tasks.Read"]);
    let app_only = auth.validator().validate_for(&app_only, &daemon).await.expect("valid app token");
    assert_eq!(obo.token(&app_only, [GRAPH_USER_READ]).await.err(), Some(OboError::NotDelegated));
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 0, "nothing was sent");
}

/// A caller token Entra no longer takes (here: its signing key retired after this server verified
/// it) is `CallerTokenRejected`: the client must sign the user in again.
#[tokio::test]
async fn a_caller_token_entra_refuses_asks_for_a_new_sign_in() {
    let emu = Emulator::start().await.expect("emulator");
    let (auth, caller) = app_and_caller(&emu, Clock::system(), None).await;
    let kid = emu.current_kid(None);
    emu.rotate_keys(None);
    emu.retire_key(&kid);
    let e = auth.on_behalf_of().token(&caller, [GRAPH_USER_READ]).await.expect_err("refused");
    assert!(matches!(e, OboError::CallerTokenRejected { .. }) && e.needs_user(), "{e:?}");
    assert!(e.to_string().contains("sign the user in again"), "{e}");
}

/// The example's `graph_me` tool, over MCP with the token the zero-configuration run prints: the
/// caller's Graph profile, and a tool error (not an HTTP error) that says to consent when consent
/// is missing.
#[tokio::test]
async fn the_example_graph_me_tool_reads_the_callers_profile_and_explains_missing_consent() {
    let emu = Emulator::start().await.expect("emulator");
    let server = support::example::serve(emu.clone(), |b| b).await;
    let call = |token: &str| {
        reqwest::Client::new()
            .post(&server.mcp_url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", MCP_ACCEPT)
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"graph_me","arguments":{}}}"#)
    };
    let answer: Value = call(&emu.token().sign()).send().await.expect("sent").json().await.expect("json");
    let result = &answer["result"];
    assert_eq!(result["isError"], false, "{answer}");
    let user = emu.user();
    assert_eq!(
        result["structuredContent"],
        json!({"displayName": user.name, "userPrincipalName": user.preferred_username, "id": user.oid})
    );
    assert_eq!(emu.request_count(Endpoint::GraphMe), 1);

    emu.revoke_consent(GRAPH_RESOURCE, ["User.Read"]);
    let fresh = emu.token().expires_in(Duration::from_secs(3000)).sign();
    let response = call(&fresh).send().await.expect("sent");
    assert_eq!(response.status(), 200, "a tool error, not an HTTP error");
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("consent") && text.contains("User.Read"), "{text}");
}
