//! The emulator's on-behalf-of grant and Graph's `GET /v1.0/me`, over real HTTP: what a server
//! that calls Graph or another API for its user meets, answered as Entra and Graph answer.

use std::error::Error;

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, GRAPH_RESOURCE, User, UserProfile};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

type R = Result<(), Box<dyn Error>>;

const STEP_UP: &str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or(Value::Null)
}

/// `POST /{tenant}/oauth2/v2.0/token` with an on-behalf-of form: the app's credentials, the
/// assertion and `scope`, plus `extra` (which replaces a field of the same name; an empty value
/// drops it). Returns the status and the JSON body.
async fn obo(
    emu: &Emulator,
    tenant: &str,
    assertion: &str,
    scope: &str,
    extra: &[(&str, &str)],
) -> Result<(u16, Value), Box<dyn Error>> {
    let secret = emu.client_secret().expose().to_owned();
    let app_id = emu.app_id();
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("client_id", app_id.as_str()),
        ("client_secret", secret.as_str()),
        ("assertion", assertion),
        ("scope", scope),
        ("requested_token_use", "on_behalf_of"),
    ];
    for (k, v) in extra {
        form.retain(|(f, _)| f != k);
        if !v.is_empty() {
            form.push((k, v));
        }
    }
    let url = format!("{}/{tenant}/oauth2/v2.0/token", emu.authority_host());
    let resp = reqwest::Client::new().post(url).form(&form).send().await?;
    Ok((resp.status().as_u16(), resp.json().await?))
}

/// `GET /v1.0/me` with `token`.
async fn me(emu: &Emulator, token: &str) -> Result<(u16, Value), Box<dyn Error>> {
    let resp = reqwest::Client::new()
        .get(format!("{}/v1.0/me", emu.graph_endpoint()))
        .bearer_auth(token)
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.json().await?))
}

/// Entra's error: `error`, `AADSTS{code}: …` and `error_codes`.
fn assert_entra_error(body: &Value, error: &str, code: u32) {
    assert_eq!(body["error"], error, "{body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with(&format!("AADSTS{code}: ")), "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
}

#[tokio::test]
async fn obo_for_graph_gives_a_v1_graph_token_for_the_same_user_that_reads_me() -> R {
    let emu = Emulator::start().await?;
    let user = emu.user();
    let assertion = emu.token().sign();
    let (status, body) = obo(
        &emu,
        &emu.home_tenant(),
        &assertion,
        "https://graph.microsoft.com/User.Read offline_access",
        &[],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "https://graph.microsoft.com/User.Read");
    assert!(body["expires_in"].as_u64().is_some_and(|s| s > 3000), "{body}");
    assert!(body["ext_expires_in"].is_u64(), "{body}");
    assert!(body["refresh_token"].is_string(), "offline_access asked: {body}");
    let token = body["access_token"].as_str().unwrap_or_default();
    let c = claims(token);
    assert_eq!(c["aud"], GRAPH_RESOURCE);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["iss"], emu.issuer_v1());
    assert_eq!(c["scp"], "User.Read");
    assert_eq!(c["appid"], emu.app_id());
    assert_eq!((&c["oid"], &c["tid"]), (&json!(user.oid), &json!(user.tenant)));
    assert_eq!((&c["name"], &c["upn"]), (&json!(user.name), &json!(user.preferred_username)));
    assert_ne!(token, assertion, "a new token, never the incoming one");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 1);
    assert_eq!(emu.request_count(Endpoint::Token), 0, "on-behalf-of is counted apart");

    // `.default` gives every consented Graph scope; no refresh token without offline_access.
    let (status, body) =
        obo(&emu, &emu.home_tenant(), &assertion, "https://graph.microsoft.com/.default", &[]).await?;
    assert_eq!((status, &body["scope"]), (200, &json!("https://graph.microsoft.com/User.Read")), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");

    let (status, profile) = me(&emu, token).await?;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["id"], user.oid);
    assert_eq!(profile["displayName"], user.name);
    assert_eq!(profile["userPrincipalName"], user.preferred_username);
    assert_eq!((&profile["givenName"], &profile["surname"]), (&json!("Emulated"), &json!("User")));
    assert!(profile["@odata.context"].as_str().is_some_and(|c| c.ends_with("/v1.0/$metadata#users/$entity")));
    assert_eq!(emu.request_count(Endpoint::GraphMe), 1);
    Ok(())
}

#[tokio::test]
async fn obo_for_another_api_needs_consent_and_carries_the_apis_token_version() -> R {
    let emu = Emulator::start().await?;
    let api_id = "22222222-3333-4444-5555-666666666666";
    let uri = emu.add_api(api_id, ["Tasks.Read", "Tasks.Write"], 2);
    assert_eq!(uri, format!("api://{api_id}"));
    let assertion = emu.token().sign();
    let scope = format!("{uri}/Tasks.Read");
    let (status, body) = obo(&emu, &emu.home_tenant(), &assertion, &scope, &[]).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 65001);
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(description.contains(&emu.app_id()) && description.contains("interactive"), "{body}");

    emu.grant_consent(&uri, ["Tasks.Read"]);
    let (status, body) = obo(&emu, &emu.home_tenant(), &assertion, &scope, &[]).await?;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap_or_default());
    assert_eq!((&c["aud"], &c["ver"], &c["scp"]), (&json!(api_id), &json!("2.0"), &json!("Tasks.Read")));
    assert_eq!((&c["azp"], &c["iss"]), (&json!(emu.app_id()), &json!(emu.issuer_v2())));
    assert_eq!(body["scope"], scope);

    // A scope the API exposes but nobody consented to, and a v1 API.
    let (_, body) = obo(&emu, &emu.home_tenant(), &assertion, &format!("{uri}/Tasks.Write"), &[]).await?;
    assert_entra_error(&body, "invalid_grant", 65001);
    let v1 = emu.add_api("33333333-4444-5555-6666-777777777777", ["Files.Read"], 1);
    emu.grant_consent("33333333-4444-5555-6666-777777777777", ["Files.Read"]);
    let (status, body) = obo(&emu, &emu.home_tenant(), &assertion, &format!("{v1}/.default"), &[]).await?;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap_or_default());
    assert_eq!((&c["aud"], &c["ver"], &c["scp"]), (&json!(v1), &json!("1.0"), &json!("Files.Read")));

    emu.revoke_consent(&uri, ["Tasks.Read"]);
    let (_, body) = obo(&emu, &emu.home_tenant(), &assertion, &scope, &[]).await?;
    assert_entra_error(&body, "invalid_grant", 65001);
    Ok(())
}

#[tokio::test]
async fn graph_consent_is_state_user_read_by_default_others_when_granted() -> R {
    let emu = Emulator::start().await?;
    assert_eq!(emu.consented_scopes("https://graph.microsoft.com"), ["User.Read"]);
    let assertion = emu.token().sign();
    let t = emu.home_tenant();
    let (_, body) = obo(&emu, &t, &assertion, "https://graph.microsoft.com/Mail.Read", &[]).await?;
    assert_entra_error(&body, "invalid_grant", 65001);
    emu.grant_consent("https://graph.microsoft.com/", ["https://graph.microsoft.com/Mail.Read"]);
    let (status, body) = obo(&emu, &t, &assertion, "https://graph.microsoft.com/mail.read", &[]).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap_or_default())["scp"], "Mail.Read");
    emu.revoke_consent("https://graph.microsoft.com", ["User.Read", "Mail.Read"]);
    let (_, body) = obo(&emu, &t, &assertion, "https://graph.microsoft.com/.default", &[]).await?;
    assert_entra_error(&body, "invalid_grant", 65001);
    Ok(())
}

#[tokio::test]
async fn obo_goes_to_the_tenant_of_the_users_token() -> R {
    let emu = Emulator::builder().multi_tenant(true).start().await?;
    let guest = emu.add_tenant();
    let ada = emu.add_user(
        User { name: "Ada Lovelace".into(), tenant: guest.clone(), ..User::default() },
        UserProfile::default(),
    );
    let assertion = emu.token().user(ada.clone()).sign();
    assert_eq!(claims(&assertion)["tid"], guest);
    let scope = "https://graph.microsoft.com/User.Read";

    let (status, body) = obo(&emu, &emu.home_tenant(), &assertion, scope, &[]).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 50013);
    assert!(
        body["error_description"].as_str().is_some_and(|d| d.contains(&guest)),
        "names the tenant: {body}"
    );

    let (status, body) = obo(&emu, &guest, &assertion, scope, &[]).await?;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap_or_default());
    assert_eq!((&c["tid"], &c["oid"]), (&json!(guest), &json!(ada.oid)));
    assert_eq!(c["iss"], format!("https://sts.windows.net/{guest}/"));

    let (status, _) = obo(&emu, "organizations", &assertion, scope, &[]).await?;
    assert_eq!(status, 200, "/organizations takes the tenant from the assertion");
    let (_, body) = obo(&emu, "common", &assertion, scope, &[]).await?;
    assert_entra_error(&body, "invalid_request", 9001023);
    Ok(())
}

#[tokio::test]
async fn a_step_up_requirement_answers_interaction_required_with_the_claims_challenge() -> R {
    let emu = Emulator::start().await?;
    let t = emu.home_tenant();
    let scope = "https://graph.microsoft.com/User.Read";
    emu.require_step_up(GRAPH_RESOURCE, STEP_UP);
    let (status, body) = obo(&emu, &t, &emu.token().sign(), scope, &[]).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "interaction_required", 50079);
    assert_eq!(body["claims"], STEP_UP, "the challenge to hand back to the client");

    // A token from a sign-in that satisfied the authentication context passes.
    let stepped_up = emu.token().claim("acrs", json!(["c1"])).sign();
    assert_eq!(obo(&emu, &t, &stepped_up, scope, &[]).await?.0, 200);
    let other_context = emu.token().claim("acrs", json!(["c2"])).sign();
    assert_eq!(obo(&emu, &t, &other_context, scope, &[]).await?.0, 400);

    emu.clear_step_up("https://graph.microsoft.com");
    assert_eq!(obo(&emu, &t, &emu.token().sign(), scope, &[]).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn assertions_entra_would_not_exchange_are_refused() -> R {
    let emu = Emulator::start().await?;
    let t = emu.home_tenant();
    let scope = "https://graph.microsoft.com/User.Read";
    let cases = [
        (emu.token().expired().sign(), "invalid_grant", 500133),
        (emu.token().signed_with_unknown_key().sign(), "invalid_grant", 50013),
        ("not-a-jwt".to_owned(), "invalid_grant", 50013),
        // A token for Graph (another audience) cannot be exchanged by this app.
        (emu.token().v1().audience(GRAPH_RESOURCE).scopes("User.Read").sign(), "invalid_grant", 500131),
        (emu.token().id_token().sign(), "invalid_grant", 240002),
        (emu.token().app_only().roles(["Tasks.Read"]).sign(), "unauthorized_client", 7000114),
    ];
    for (assertion, error, code) in cases {
        let (status, body) = obo(&emu, &t, &assertion, scope, &[]).await?;
        assert_eq!(status, 400, "{body}");
        assert_entra_error(&body, error, code);
    }
    // Both the app's own audiences are accepted.
    let v1 = emu.token().v1().sign();
    assert_eq!(claims(&v1)["aud"], format!("api://{}", emu.app_id()));
    assert_eq!(obo(&emu, &t, &v1, scope, &[]).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn the_request_itself_is_checked_secret_token_use_and_one_resource() -> R {
    let emu = Emulator::start().await?;
    let t = emu.home_tenant();
    let assertion = emu.token().sign();
    let scope = "https://graph.microsoft.com/User.Read";

    let (status, body) = obo(&emu, &t, &assertion, scope, &[("client_secret", "wrong")]).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000215);
    let (status, body) = obo(&emu, &t, &assertion, scope, &[("client_secret", "")]).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000218);

    let (_, body) = obo(&emu, &t, &assertion, scope, &[("requested_token_use", "")]).await?;
    assert_entra_error(&body, "invalid_request", 900144);
    assert!(
        body["error_description"].as_str().is_some_and(|d| d.contains("'requested_token_use'")),
        "{body}"
    );
    let (_, body) = obo(&emu, &t, &assertion, "", &[]).await?;
    assert_entra_error(&body, "invalid_request", 900144);

    let api = emu.add_api("44444444-5555-6666-7777-888888888888", ["Tasks.Read"], 2);
    emu.grant_consent(&api, ["Tasks.Read"]);
    let two = format!("{scope} {api}/Tasks.Read");
    let (status, body) = obo(&emu, &t, &assertion, &two, &[]).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_scope", 28000);
    Ok(())
}

#[tokio::test]
async fn faults_consent_step_up_and_throttling_of_obo_exchanges() -> R {
    let emu = Emulator::start().await?;
    let t = emu.home_tenant();
    let assertion = emu.token().sign();
    let scope = "https://graph.microsoft.com/User.Read";

    emu.set_fault(Endpoint::OnBehalfOf, Fault::consent_required().times(1));
    assert_entra_error(&obo(&emu, &t, &assertion, scope, &[]).await?.1, "invalid_grant", 65001);
    emu.set_fault(Endpoint::OnBehalfOf, Fault::interaction_required().times(1));
    let (_, body) = obo(&emu, &t, &assertion, scope, &[]).await?;
    assert_entra_error(&body, "interaction_required", 50079);
    assert_eq!(body["claims"], Fault::STEP_UP_CLAIMS);

    // Throttled twice, then served: what a retrying client sees.
    emu.set_fault(Endpoint::OnBehalfOf, Fault::too_many_requests(7).times(2));
    for _ in 0..2 {
        let url = format!("{}/{t}/oauth2/v2.0/token", emu.authority_host());
        let app_id = emu.app_id();
        let secret = emu.client_secret().expose().to_owned();
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", app_id.as_str()),
            ("client_secret", secret.as_str()),
            ("assertion", assertion.as_str()),
            ("scope", scope),
            ("requested_token_use", "on_behalf_of"),
        ];
        let resp = reqwest::Client::new().post(url).form(&form).send().await?;
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("7"));
    }
    assert_eq!(obo(&emu, &t, &assertion, scope, &[]).await?.0, 200);
    // A fault on the other grants leaves exchanges alone.
    emu.set_fault(Endpoint::Token, Fault::status(503));
    assert_eq!(obo(&emu, &t, &assertion, scope, &[]).await?.0, 200);
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 6);
    Ok(())
}

#[tokio::test]
async fn concurrent_exchanges_are_each_counted() -> R {
    let emu = Emulator::start().await?;
    let assertion = emu.token().sign();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (emu, assertion) = (emu.clone(), assertion.clone());
        calls.spawn(async move {
            let result = obo(&emu, &emu.home_tenant(), &assertion, "User.Read", &[]).await;
            result.map(|(status, _)| status).map_err(|e| e.to_string())
        });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status??, 200);
    }
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 8);
    assert_eq!(emu.request_count(Endpoint::Token), 0);
    Ok(())
}

#[tokio::test]
async fn me_answers_directory_users_with_a_profile_permission_only() -> R {
    let emu = Emulator::start().await?;
    let grace = emu.add_user(
        User {
            name: "Grace Hopper".into(),
            preferred_username: "grace@contoso.com".into(),
            ..User::default()
        },
        UserProfile { job_title: Some("Rear Admiral".into()), ..UserProfile::default() },
    );
    let graph =
        |scopes: &str| emu.token().v1().audience(GRAPH_RESOURCE).user(grace.clone()).scopes(scopes).sign();

    let (status, body) = me(&emu, &graph("User.ReadBasic.All Mail.Read")).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["id"], &body["jobTitle"]), (&json!(grace.oid), &json!("Rear Admiral")));
    assert_eq!((&body["mail"], &body["givenName"]), (&Value::Null, &Value::Null), "unset is null");

    let (status, body) = me(&emu, &graph("Mail.Read")).await?;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied", "{body}");

    // The app's own token (another audience), an expired one, an app-only one.
    let (status, body) = me(&emu, &emu.token().user(grace.clone()).sign()).await?;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken", "{body}");
    let expired = emu.token().v1().audience(GRAPH_RESOURCE).scopes("User.Read").expired().sign();
    assert_eq!(me(&emu, &expired).await?.0, 401);
    let (status, body) = me(&emu, &emu.token().graph().sign()).await?;
    assert_eq!(status, 400, "/me needs a user: {body}");

    // A user the directory does not hold.
    let stranger = emu.token().v1().audience(GRAPH_RESOURCE).user(User::default()).scopes("User.Read").sign();
    let (status, body) = me(&emu, &stranger).await?;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound", "{body}");
    Ok(())
}
