//! The Entra ID + Graph emulator over real HTTP: every rule the rest of the project is tested
//! against is proven here first.

use std::error::Error;
use std::time::Duration;

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform, User};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use support::http::client;
use support::pkce::Pkce;

type R = Result<(), Box<dyn Error>>;

async fn get_json(url: &str) -> Result<(u16, Value), Box<dyn Error>> {
    let resp = client().get(url).send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

fn jwt_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or(Value::Null)
}

fn header(token: &str) -> Value {
    jwt_part(token, 0)
}

fn claims(token: &str) -> Value {
    jwt_part(token, 1)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// Asserts Entra's error body: `{error, error_description: "AADSTS{code}: …", error_codes: [code], …}`.
fn assert_entra_error(body: &Value, error: &str, code: u32) {
    assert_eq!(body["error"], error, "{body}");
    assert!(s(&body["error_description"]).starts_with(&format!("AADSTS{code}: ")), "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
}

async fn jwks(url: &str) -> Result<Vec<Value>, Box<dyn Error>> {
    let (status, body) = get_json(url).await?;
    assert_eq!(status, 200, "{body}");
    Ok(body["keys"].as_array().cloned().unwrap_or_default())
}

fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter().map(|k| s(&k["kid"]).to_owned()).collect()
}

/// Verifies `token` with the key of its `kid` from `keys`, by jsonwebtoken.
fn verify(token: &str, keys: &[Value], aud: &str, iss: &str) -> Result<Value, Box<dyn Error>> {
    let kid = s(&header(token)["kid"]).to_owned();
    let key = keys.iter().find(|k| k["kid"] == kid.as_str()).ok_or("kid not in the JWKS")?;
    let decoding = DecodingKey::from_rsa_components(s(&key["n"]), s(&key["e"]))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[aud]);
    validation.set_issuer(&[iss]);
    validation.leeway = 0;
    validation.validate_nbf = true;
    Ok(jsonwebtoken::decode::<Value>(token, &decoding, &validation)?.claims)
}

// ---------------------------------------------------------------- metadata

#[tokio::test]
async fn v2_metadata_names_the_tenant_issuer_and_endpoints() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    assert!(a.starts_with("http://127.0.0.1:") && !a.ends_with('/'));
    let (status, doc) = get_json(&format!("{a}/{t}/v2.0/.well-known/openid-configuration")).await?;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], format!("{a}/{t}/v2.0"));
    assert_eq!(doc["jwks_uri"], format!("{a}/{t}/discovery/v2.0/keys"));
    assert_eq!(doc["authorization_endpoint"], format!("{a}/{t}/oauth2/v2.0/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{a}/{t}/oauth2/v2.0/token"));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256"]));
    // Entra publishes neither of these although S256 PKCE works.
    assert!(doc.get("registration_endpoint").is_none());
    assert!(doc.get("code_challenge_methods_supported").is_none());
    assert_eq!(emu.issuer_v2(), format!("{a}/{t}/v2.0"));
    Ok(())
}

#[tokio::test]
async fn v1_metadata_uses_the_sts_issuer_and_its_host_is_configurable() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let (_, doc) = get_json(&format!("{a}/{t}/.well-known/openid-configuration")).await?;
    assert_eq!(doc["issuer"], format!("https://sts.windows.net/{t}/"));
    assert_eq!(doc["jwks_uri"], format!("{a}/{t}/discovery/keys"));
    assert_eq!(doc["authorization_endpoint"], format!("{a}/{t}/oauth2/authorize"));

    let china = Emulator::builder().v1_issuer_host("https://sts.chinacloudapi.cn/").start().await?;
    let (a, t) = (china.authority_host(), china.home_tenant());
    let (_, doc) = get_json(&format!("{a}/{t}/.well-known/openid-configuration")).await?;
    assert_eq!(doc["issuer"], format!("https://sts.chinacloudapi.cn/{t}/"));
    let token = china.token().v1().sign();
    assert_eq!(claims(&token)["iss"], format!("https://sts.chinacloudapi.cn/{t}/"));
    Ok(())
}

#[tokio::test]
async fn common_and_organizations_publish_the_issuer_template() -> R {
    let emu = Emulator::start().await?;
    let a = emu.authority_host();
    for alias in ["common", "organizations"] {
        let (_, v2) = get_json(&format!("{a}/{alias}/v2.0/.well-known/openid-configuration")).await?;
        assert_eq!(v2["issuer"], format!("{a}/{{tenantid}}/v2.0"));
        assert_eq!(v2["jwks_uri"], format!("{a}/{alias}/discovery/v2.0/keys"));
        let (_, v1) = get_json(&format!("{a}/{alias}/.well-known/openid-configuration")).await?;
        assert_eq!(v1["issuer"], "https://sts.windows.net/{tenantid}/");
    }
    let (_, consumers) = get_json(&format!("{a}/consumers/v2.0/.well-known/openid-configuration")).await?;
    assert_eq!(consumers["issuer"], format!("{a}/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"));
    Ok(())
}

#[tokio::test]
async fn unknown_and_malformed_tenants_get_entra_errors() -> R {
    let emu = Emulator::start().await?;
    let a = emu.authority_host();
    let unknown = "00000000-1111-2222-3333-444444444444";
    for path in [
        format!("{a}/{unknown}/v2.0/.well-known/openid-configuration"),
        format!("{a}/{unknown}/discovery/v2.0/keys"),
        format!("{a}/contoso.onmicrosoft.com/.well-known/openid-configuration"),
    ] {
        let (status, body) = get_json(&path).await?;
        assert_eq!(status, 400, "{path}");
        assert_entra_error(&body, "invalid_tenant", 90002);
    }
    let (status, body) = get_json(&format!("{a}/not_a_tenant/v2.0/.well-known/openid-configuration")).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900023);
    // An added tenant is known at once; tenant GUIDs match case-insensitively.
    let added = emu.add_tenant();
    let (status, doc) =
        get_json(&format!("{a}/{}/v2.0/.well-known/openid-configuration", added.to_uppercase())).await?;
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], format!("{a}/{added}/v2.0"));
    Ok(())
}

// ---------------------------------------------------------------- keys and tokens

#[tokio::test]
async fn jwks_keys_carry_entra_fields_and_a_real_certificate() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let v2 = jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?;
    let v1 = jwks(&format!("{a}/{t}/discovery/keys")).await?;
    assert_eq!(v2.len(), 1);
    assert_eq!(kids(&v1), kids(&v2));
    for key in v2.iter().chain(&v1) {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["e"], "AQAB");
        assert_eq!(URL_SAFE_NO_PAD.decode(s(&key["n"]))?.len(), 256, "RSA 2048");
        let cert = STANDARD.decode(s(&key["x5c"][0]))?;
        let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert);
        assert_eq!(key["x5t"], URL_SAFE_NO_PAD.encode(sha1.as_ref()), "x5t is the certificate thumbprint");
        assert_eq!(key["kid"], key["x5t"]);
        // The certificate holds the same modulus as `n`.
        let n = URL_SAFE_NO_PAD.decode(s(&key["n"]))?;
        assert!(cert.windows(n.len()).any(|w| w == n.as_slice()));
    }
    assert_eq!(v2[0]["issuer"], format!("{a}/{{tenantid}}/v2.0"));
    assert!(v1[0].get("issuer").is_none());
    Ok(())
}

#[tokio::test]
async fn minted_v2_token_verifies_with_the_jwks_key_fetched_over_http() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let keys = jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?;
    let token = emu.token().sign();
    let c = verify(&token, &keys, &emu.app_id(), &format!("{a}/{t}/v2.0"))?;
    assert_eq!(header(&token)["alg"], "RS256");
    assert_eq!(header(&token)["typ"], "JWT");
    assert_eq!(c["ver"], "2.0");
    assert_eq!(c["tid"], t.as_str());
    assert_eq!(c["azp"], emu.app_id());
    assert_eq!(c["scp"], "access_as_user");
    let user = emu.user();
    assert_eq!(c["oid"], user.oid.as_str());
    assert_eq!(c["preferred_username"], user.preferred_username.as_str());
    for claim in ["iat", "nbf", "exp", "sub", "uti", "rh", "azpacr", "name"] {
        assert!(c.get(claim).is_some(), "{claim} missing");
    }
    assert_ne!(c["sub"], c["oid"], "sub is pairwise");
    // A different audience fails: the check really happens.
    assert!(verify(&token, &keys, "api://someone-else", &format!("{a}/{t}/v2.0")).is_err());
    Ok(())
}

#[tokio::test]
async fn minted_v1_token_verifies_with_the_jwks_key_fetched_over_http() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let keys = jwks(&format!("{a}/{t}/discovery/keys")).await?;
    let token = emu.token().v1().sign();
    let c =
        verify(&token, &keys, &format!("api://{}", emu.app_id()), &format!("https://sts.windows.net/{t}/"))?;
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["appid"], emu.app_id());
    assert!(c["upn"].is_string() && c["unique_name"].is_string());
    assert!(c.get("azp").is_none());
    assert_eq!(header(&token)["x5t"], header(&token)["kid"]);
    // Builder default follows requestedAccessTokenVersion.
    let v1_app = Emulator::builder().access_token_version(1).start().await?;
    assert_eq!(claims(&v1_app.token().sign())["ver"], "1.0");
    Ok(())
}

#[tokio::test]
async fn token_builder_shapes_app_only_id_and_tampered_tokens() -> R {
    let emu = Emulator::start().await?;
    let app_only = claims(&emu.token().app_only().roles(["Tasks.Read"]).sign());
    assert!(app_only.get("scp").is_none());
    assert_eq!(app_only["roles"], json!(["Tasks.Read"]));
    assert_eq!(app_only["idtyp"], "app");
    assert_eq!(app_only["oid"], emu.service_principal_id());
    assert!(app_only.get("preferred_username").is_none());

    let id = claims(&emu.token().id_token().nonce("n-1").sign());
    assert_eq!(id["aud"], emu.app_id());
    assert_eq!(id["nonce"], "n-1");
    assert!(id.get("scp").is_none());

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let expired = claims(&emu.token().expired().sign());
    assert!(expired["exp"].as_u64().unwrap_or(u64::MAX) + 300 < now, "expired beyond a 5-minute skew");
    let early = claims(&emu.token().not_before_in(Duration::from_secs(3600)).sign());
    assert!(early["nbf"].as_u64().unwrap_or(0) >= now + 3600);

    let edited =
        claims(&emu.token().claim("tid", json!("x")).without_claim("oid").audience("a").issuer("i").sign());
    assert_eq!(
        (edited["tid"].clone(), edited["aud"].clone(), edited["iss"].clone()),
        (json!("x"), json!("a"), json!("i"))
    );
    assert!(edited.get("oid").is_none());

    let odd = emu.token().kid("nope").header("jku", "https://evil.example/keys").sign();
    assert_eq!(header(&odd)["kid"], "nope");
    assert_eq!(header(&odd)["jku"], "https://evil.example/keys");
    let none = emu.token().algorithm("none").sign();
    assert_eq!(header(&none)["alg"], "none");
    assert!(none.ends_with('.'));
    assert_eq!(header(&emu.token().algorithm("HS256").sign())["alg"], "HS256");
    Ok(())
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_fail_verification() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let keys = jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?;
    let iss = format!("{a}/{t}/v2.0");
    assert!(verify(&emu.token().sign(), &keys, &emu.app_id(), &iss).is_ok());
    assert!(verify(&emu.token().expired().sign(), &keys, &emu.app_id(), &iss).is_err());
    let early = emu.token().not_before_in(Duration::from_secs(3600)).sign();
    assert!(verify(&early, &keys, &emu.app_id(), &iss).is_err());
    Ok(())
}

#[tokio::test]
async fn unknown_key_signs_tokens_no_jwks_lists() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let keys = jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?;
    let forged = emu.token().signed_with_unknown_key().sign();
    assert!(!kids(&keys).contains(&s(&header(&forged)["kid"]).to_owned()));
    // Even under a listed kid the signature does not verify.
    let disguised = emu.token().signed_with_unknown_key().kid(&emu.current_kid(None)).sign();
    assert!(verify(&disguised, &keys, &emu.app_id(), &format!("{a}/{t}/v2.0")).is_err());
    Ok(())
}

#[tokio::test]
async fn tenants_share_keys_unless_they_have_their_own() -> R {
    let emu = Emulator::start().await?;
    let a = emu.authority_host();
    let home_keys = kids(&jwks(&format!("{a}/{}/discovery/v2.0/keys", emu.home_tenant())).await?);
    let shared = emu.add_tenant();
    assert_eq!(kids(&jwks(&format!("{a}/{shared}/discovery/v2.0/keys")).await?), home_keys);
    let token = emu.token().tenant(&shared).sign();
    assert_eq!(claims(&token)["iss"], format!("{a}/{shared}/v2.0"));
    assert!(home_keys.contains(&s(&header(&token)["kid"]).to_owned()));

    let own = emu.add_tenant_with_own_keys();
    let own_keys = jwks(&format!("{a}/{own}/discovery/v2.0/keys")).await?;
    let token = emu.token().tenant(&own).sign();
    let kid = s(&header(&token)["kid"]).to_owned();
    assert!(kids(&own_keys).contains(&kid));
    assert!(!home_keys.contains(&kid), "the home JWKS does not list another tenant's own key");
    let own_key = own_keys.iter().find(|k| k["kid"] == kid.as_str()).ok_or("own key")?;
    assert_eq!(own_key["issuer"], format!("{a}/{own}/v2.0"));
    verify(&token, &own_keys, &emu.app_id(), &format!("{a}/{own}/v2.0"))?;
    // Cross-tenant signing is possible on request (for key-confusion tests).
    let confused = emu.token().signed_with_tenant_keys(&own).sign();
    assert_eq!(header(&confused)["kid"], kid.as_str());
    Ok(())
}

#[tokio::test]
async fn rotation_lists_both_keys_until_the_old_one_is_retired() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let url = format!("{a}/{t}/discovery/v2.0/keys");
    let old = emu.current_kid(None);
    let new = emu.rotate_keys(None);
    assert_ne!(old, new);
    assert_eq!(kids(&jwks(&url).await?), vec![old.clone(), new.clone()]);
    assert_eq!(header(&emu.token().sign())["kid"], new.as_str());
    emu.retire_key(&old);
    assert_eq!(kids(&jwks(&url).await?), vec![new.clone()]);
    let stale = emu.token().signing_key(&old).sign();
    assert_eq!(header(&stale)["kid"], old.as_str());
    assert!(verify(&stale, &jwks(&url).await?, &emu.app_id(), &format!("{a}/{t}/v2.0")).is_err());

    let own = emu.add_tenant_with_own_keys();
    let first = emu.current_kid(Some(&own));
    let second = emu.rotate_keys(Some(&own));
    assert_eq!(kids(&jwks(&format!("{a}/{own}/discovery/v2.0/keys")).await?)[..2], [first, second.clone()]);
    assert_eq!(emu.current_kid(None), new, "rotating a tenant's own keys leaves the shared ones");
    Ok(())
}

#[tokio::test]
async fn custom_signing_keys_are_listed_only_with_appid() -> R {
    let emu = Emulator::builder().custom_signing_keys(true).start().await?;
    let (a, t, app) = (emu.authority_host(), emu.home_tenant(), emu.app_id());
    let token = emu.token().sign();
    let kid = s(&header(&token)["kid"]).to_owned();
    assert!(!kids(&jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?).contains(&kid));
    let with_appid = jwks(&format!("{a}/{t}/discovery/v2.0/keys?appid={app}")).await?;
    assert!(kids(&with_appid).contains(&kid));
    verify(&token, &with_appid, &app, &format!("{a}/{t}/v2.0"))?;
    let (_, doc) = get_json(&format!("{a}/{t}/v2.0/.well-known/openid-configuration?appid={app}")).await?;
    assert_eq!(doc["jwks_uri"], format!("{a}/{t}/discovery/v2.0/keys?appid={app}"));
    Ok(())
}

// ---------------------------------------------------------------- faults and the request log

#[tokio::test]
async fn status_fault_answers_with_entra_error_then_clears_after_times() -> R {
    let emu = Emulator::start().await?;
    let url = format!("{}/{}/discovery/v2.0/keys", emu.authority_host(), emu.home_tenant());
    emu.set_fault(Endpoint::JwksV2, Fault::status(503).times(2));
    for _ in 0..2 {
        let (status, body) = get_json(&url).await?;
        assert_eq!(status, 503);
        assert_entra_error(&body, "temporarily_unavailable", 90033);
    }
    let (status, _) = get_json(&url).await?;
    assert_eq!(status, 200);
    // A fault on one endpoint leaves the others alone.
    emu.set_fault(Endpoint::JwksV1, Fault::status(500));
    assert_eq!(get_json(&url).await?.0, 200);
    emu.clear_faults();
    assert_eq!(get_json(&url.replace("/v2.0/keys", "/keys")).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn graph_faults_use_graph_error_shape() -> R {
    let emu = Emulator::start().await?;
    emu.set_fault(Endpoint::GraphGetApplication, Fault::status(503));
    let url = format!("{}/v1.0/applications(appId='{}')", emu.graph_endpoint(), emu.app_id());
    let resp = client().get(&url).send().await?;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await?;
    assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{body}");
    Ok(())
}

#[tokio::test]
async fn too_many_requests_sends_retry_after() -> R {
    let emu = Emulator::start().await?;
    emu.set_fault(Endpoint::Token, Fault::too_many_requests(7).times(1));
    let url = format!("{}/{}/oauth2/v2.0/token", emu.authority_host(), emu.home_tenant());
    let resp = client().post(&url).form(&[("grant_type", "client_credentials")]).send().await?;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let body: Value = resp.json().await?;
    assert_eq!(body["error"], "temporarily_unavailable");
    Ok(())
}

#[tokio::test]
async fn garbage_empty_keys_and_outage_faults() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let meta = format!("{a}/{t}/v2.0/.well-known/openid-configuration");
    emu.set_fault(Endpoint::OpenIdConfigurationV2, Fault::garbage().times(1));
    let resp = client().get(&meta).send().await?;
    assert_eq!(resp.status(), 200);
    assert!(serde_json::from_str::<Value>(&resp.text().await?).is_err());

    emu.set_fault(Endpoint::JwksV2, Fault::empty_keys().times(1));
    assert!(jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?.is_empty());
    assert_eq!(jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?.len(), 1);

    emu.set_fault(Endpoint::OpenIdConfigurationV2, Fault::outage());
    assert!(client().get(&meta).send().await.is_err(), "the connection is dropped");
    assert_eq!(emu.request_count(Endpoint::OpenIdConfigurationV2), 2, "a dropped request is still logged");
    emu.clear_faults();
    assert_eq!(get_json(&meta).await?.0, 200);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn delay_fault_waits_on_the_tokio_clock_then_answers_normally() -> R {
    let emu = Emulator::start().await?;
    let url = format!("{}/{}/discovery/v2.0/keys", emu.authority_host(), emu.home_tenant());
    emu.set_fault(Endpoint::JwksV2, Fault::delay(Duration::from_secs(3600)).times(1));
    let before = tokio::time::Instant::now();
    assert_eq!(jwks(&url).await?.len(), 1);
    assert!(before.elapsed() >= Duration::from_secs(3600), "the hour passed on the paused clock");
    Ok(())
}

#[tokio::test]
async fn request_log_records_and_wakes_waiters() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let waiter = {
        let emu = emu.clone();
        tokio::spawn(async move { emu.wait_for_requests(Endpoint::Token, 2).await })
    };
    let url = format!("{a}/{t}/oauth2/v2.0/token");
    for _ in 0..2 {
        client()
            .post(&url)
            .header("origin", "https://spa.example")
            .form(&[("grant_type", "client_credentials"), ("client_id", "x"), ("client_secret", "hunter2")])
            .send()
            .await?;
    }
    waiter.await?;
    client().get(format!("{a}/{t}/discovery/keys?appid=abc")).send().await?;
    let log = emu.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(emu.request_count(Endpoint::Token), 2);
    let first = &log[0];
    assert_eq!((first.endpoint, first.method.as_str()), (Endpoint::Token, "POST"));
    assert_eq!(first.tenant.as_deref(), Some(t.as_str()));
    assert!(first.client_secret_sent && first.has_origin());
    assert_eq!(first.form_param("grant_type"), Some("client_credentials"));
    assert!(!format!("{first:?}").contains("hunter2"), "Debug redacts the secret");
    assert_eq!(log[2].endpoint, Endpoint::JwksV1);
    assert_eq!(log[2].query_param("appid"), Some("abc"));
    emu.reset_requests();
    assert!(emu.requests().is_empty());
    Ok(())
}

#[tokio::test]
async fn shutdown_and_last_drop_stop_the_servers() -> R {
    let emu = Emulator::start().await?;
    let url = format!("{}/common/discovery/v2.0/keys", emu.authority_host());
    let clone = emu.clone();
    let stopped = emu.stopped();
    drop(emu);
    assert_eq!(get_json(&url).await?.0, 200, "a clone keeps it running");
    drop(clone);
    stopped.await;
    assert!(client().get(&url).send().await.is_err(), "nothing listens any more");

    let emu = Emulator::start().await?;
    let graph = format!("{}/v1.0/applications", emu.graph_endpoint());
    emu.shutdown();
    emu.stopped().await;
    assert!(client().get(&graph).send().await.is_err());
    Ok(())
}

// ---------------------------------------------------------------- authorize

fn authorize_url(emu: &Emulator, tenant: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/{tenant}/oauth2/v2.0/authorize", emu.authority_host()))
        .expect("authority URLs parse");
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// The query of a 302's `Location`.
fn location_params(resp: &reqwest::Response) -> Vec<(String, String)> {
    let loc = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
    url::Url::parse(loc).map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

const WEB: &str = "https://app.example.com/callback";
const SPA: &str = "https://spa.example.com/";
const LOOPBACK: &str = "http://127.0.0.1/callback";

async fn emulator_with_redirects() -> Result<Emulator, Box<dyn Error>> {
    Ok(Emulator::builder()
        .redirect_uri(Platform::Web, WEB)
        .redirect_uri(Platform::Spa, SPA)
        .redirect_uri(Platform::PublicClient, LOOPBACK)
        .start()
        .await?)
}

/// Runs /authorize and returns the code.
async fn code_for(
    emu: &Emulator,
    redirect: &str,
    scope: &str,
    pkce: Option<&Pkce>,
) -> Result<String, Box<dyn Error>> {
    let app = emu.app_id();
    let mut params = vec![
        ("client_id", app.as_str()),
        ("response_type", "code"),
        ("redirect_uri", redirect),
        ("scope", scope),
        ("state", "st-1"),
        ("nonce", "nonce-1"),
    ];
    if let Some(p) = pkce {
        params.push(("code_challenge", &p.challenge));
        params.push(("code_challenge_method", "S256"));
    }
    let resp = client().get(authorize_url(emu, &emu.home_tenant(), &params)).send().await?;
    if resp.status() != 302 {
        return Err(format!("authorize answered {}: {}", resp.status(), resp.text().await?).into());
    }
    let out = location_params(&resp);
    assert_eq!(param(&out, "state"), Some("st-1"));
    Ok(param(&out, "code").ok_or("no code")?.to_owned())
}

#[tokio::test]
async fn authorize_redirects_with_code_and_state() -> R {
    let emu = emulator_with_redirects().await?;
    let scope = format!("openid offline_access api://{}/access_as_user", emu.app_id());
    let code = code_for(&emu, WEB, &scope, None).await?;
    assert!(code.len() > 40);
    let p = Pkce::generate();
    code_for(&emu, SPA, &scope, Some(&p)).await?;
    Ok(())
}

#[tokio::test]
async fn authorize_shows_an_error_page_for_unknown_client_or_redirect_uri() -> R {
    let emu = emulator_with_redirects().await?;
    let t = emu.home_tenant();
    let app = emu.app_id();
    let scope = format!("api://{app}/access_as_user");
    let cases = [
        (vec![("client_id", "00000000-0000-0000-0000-000000000000"), ("redirect_uri", WEB)], "AADSTS700016"),
        (vec![("client_id", app.as_str()), ("redirect_uri", "https://evil.example/cb")], "AADSTS50011"),
        (
            vec![("client_id", app.as_str()), ("redirect_uri", "https://app.example.com/callback/")],
            "AADSTS50011",
        ),
        (vec![("redirect_uri", WEB)], "AADSTS900144"),
    ];
    for (mut params, code) in cases {
        params.extend([("response_type", "code"), ("scope", scope.as_str()), ("state", "s")]);
        let resp = client().get(authorize_url(&emu, &t, &params)).send().await?;
        assert_eq!(resp.status(), 400, "{code}");
        assert!(resp.headers().get("location").is_none(), "no redirect for {code}");
        let page = resp.text().await?;
        assert!(page.contains(code), "{code} in {page}");
    }
    Ok(())
}

#[tokio::test]
async fn loopback_redirects_match_any_port_but_not_another_host() -> R {
    let emu = emulator_with_redirects().await?;
    let scope = format!("api://{}/access_as_user", emu.app_id());
    let p = Pkce::generate();
    code_for(&emu, "http://127.0.0.1:33418/callback", &scope, Some(&p)).await?;
    let app = emu.app_id();
    let params = [
        ("client_id", app.as_str()),
        ("response_type", "code"),
        ("redirect_uri", "http://localhost:33418/callback"),
        ("scope", scope.as_str()),
    ];
    let resp = client().get(authorize_url(&emu, &emu.home_tenant(), &params)).send().await?;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await?.contains("AADSTS50011"));
    Ok(())
}

/// Runs /authorize expecting an error redirect; returns (error, error_description).
async fn authorize_error(
    emu: &Emulator,
    tenant: &str,
    extra: &[(&str, &str)],
) -> Result<(String, String), Box<dyn Error>> {
    let app = emu.app_id();
    let mut params = vec![("client_id", app.as_str()), ("redirect_uri", WEB), ("state", "st-9")];
    params.extend_from_slice(extra);
    let resp = client().get(authorize_url(emu, tenant, &params)).send().await?;
    assert_eq!(resp.status(), 302);
    let out = location_params(&resp);
    assert_eq!(param(&out, "state"), Some("st-9"), "state comes back with errors too");
    assert!(param(&out, "code").is_none());
    Ok((
        param(&out, "error").unwrap_or_default().to_owned(),
        param(&out, "error_description").unwrap_or_default().to_owned(),
    ))
}

#[tokio::test]
async fn authorize_enforces_scope_resource_and_response_type_rules() -> R {
    let emu = emulator_with_redirects().await?;
    let t = emu.home_tenant();
    let qualified = format!("api://{}/access_as_user", emu.app_id());
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec![("response_type", "code")], "invalid_request", "AADSTS900144"),
        (vec![("response_type", "code"), ("scope", "access_as_user")], "invalid_scope", "AADSTS70011"),
        (
            vec![("response_type", "code"), ("scope", "api://other-app/access_as_user")],
            "invalid_resource",
            "AADSTS500011",
        ),
        (
            vec![
                ("response_type", "code"),
                ("scope", &qualified),
                ("resource", "https://mcp.example.com/mcp"),
            ],
            "invalid_target",
            "AADSTS9010010",
        ),
        (
            vec![("response_type", "token"), ("scope", &qualified)],
            "unsupported_response_type",
            "AADSTS700051",
        ),
        (vec![("scope", &qualified)], "invalid_request", "AADSTS900144"),
    ];
    for (extra, error, code) in cases {
        let (e, d) = authorize_error(&emu, &t, &extra).await?;
        assert_eq!(e, error, "{extra:?}");
        assert!(d.starts_with(code), "{code}: {d}");
    }
    // The app's scope, `.default` and `{app_id}/.default` are accepted.
    for scope in
        [qualified.clone(), format!("api://{}/.default", emu.app_id()), format!("{}/.default", emu.app_id())]
    {
        code_for(&emu, WEB, &scope, None).await?;
    }
    Ok(())
}

#[tokio::test]
async fn pkce_is_required_for_spa_and_public_client_redirects() -> R {
    let emu = emulator_with_redirects().await?;
    let t = emu.home_tenant();
    let app = emu.app_id();
    let scope = format!("api://{app}/access_as_user");
    for redirect in [SPA, LOOPBACK] {
        let params = [
            ("client_id", app.as_str()),
            ("response_type", "code"),
            ("redirect_uri", redirect),
            ("scope", &scope),
        ];
        let resp = client().get(authorize_url(&emu, &t, &params)).send().await?;
        assert_eq!(resp.status(), 302);
        let out = location_params(&resp);
        assert_eq!(param(&out, "error"), Some("invalid_request"));
        assert!(param(&out, "error_description").unwrap_or_default().starts_with("AADSTS9002325"));
    }
    Ok(())
}

#[tokio::test]
async fn single_tenant_apps_refuse_common_and_multi_tenant_apps_accept_it() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let scope = format!("api://{app}/access_as_user");
    let params =
        [("client_id", app.as_str()), ("response_type", "code"), ("redirect_uri", WEB), ("scope", &scope)];
    let resp = client().get(authorize_url(&emu, "organizations", &params)).send().await?;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await?.contains("AADSTS50194"));

    let multi = Emulator::builder().multi_tenant(true).redirect_uri(Platform::Web, WEB).start().await?;
    let guest_tenant = multi.add_tenant();
    multi.set_user(User { tenant: guest_tenant.clone(), ..User::default() });
    let app = multi.app_id();
    let scope = format!("api://{app}/access_as_user");
    let params =
        [("client_id", app.as_str()), ("response_type", "code"), ("redirect_uri", WEB), ("scope", &scope)];
    let resp = client().get(authorize_url(&multi, "organizations", &params)).send().await?;
    assert_eq!(resp.status(), 302);
    let code = param(&location_params(&resp), "code").ok_or("code")?.to_owned();
    let body = redeem(&multi, &code, WEB, &scope, Some(multi.client_secret().expose()), None, None).await?;
    assert_eq!(body.0, 200, "{}", body.1);
    assert_eq!(claims(s(&body.1["access_token"]))["tid"], guest_tenant.as_str(), "tid is the user's tenant");
    Ok(())
}

// ---------------------------------------------------------------- token

async fn post_token(
    emu: &Emulator,
    tenant: &str,
    form: &[(&str, &str)],
    origin: Option<&str>,
) -> Result<(u16, Value), Box<dyn Error>> {
    let mut req = client().post(format!("{}/{tenant}/oauth2/v2.0/token", emu.authority_host())).form(form);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

async fn redeem(
    emu: &Emulator,
    code: &str,
    redirect: &str,
    scope: &str,
    secret: Option<&str>,
    verifier: Option<&str>,
    origin: Option<&str>,
) -> Result<(u16, Value), Box<dyn Error>> {
    let app = emu.app_id();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", app.as_str()),
        ("code", code),
        ("redirect_uri", redirect),
        ("scope", scope),
    ];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    post_token(emu, &emu.home_tenant(), &form, origin).await
}

#[tokio::test]
async fn web_codes_need_the_secret_and_are_single_use() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let secret = emu.client_secret().expose().to_owned();
    let scope = format!("openid offline_access api://{app}/access_as_user");
    let code = code_for(&emu, WEB, &scope, None).await?;

    let (status, body) = redeem(&emu, &code, WEB, &scope, None, None, None).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000218);
    let (status, body) = redeem(&emu, &code, WEB, &scope, Some("wrong"), None, None).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000215);
    let (status, body) =
        redeem(&emu, &code, WEB, &scope, Some(&secret), None, Some("https://app.example.com")).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 9002326);

    let (status, body) = redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], format!("api://{app}/access_as_user"));
    assert!(body["expires_in"].as_u64().is_some() && body["ext_expires_in"].as_u64().is_some());
    let access = claims(s(&body["access_token"]));
    assert_eq!((access["aud"].clone(), access["ver"].clone()), (json!(app), json!("2.0")));
    assert_eq!(access["scp"], "access_as_user");
    assert_eq!(access["azpacr"], "1");
    assert_eq!(access["oid"], emu.user().oid.as_str());
    let id = claims(s(&body["id_token"]));
    assert_eq!((id["aud"].clone(), id["nonce"].clone()), (json!(app), json!("nonce-1")));
    assert!(body["refresh_token"].is_string());
    // The access token verifies with the published keys.
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    verify(
        s(&body["access_token"]),
        &jwks(&format!("{a}/{t}/discovery/v2.0/keys")).await?,
        &app,
        &format!("{a}/{t}/v2.0"),
    )?;

    let (status, body) = redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 54005);
    Ok(())
}

#[tokio::test]
async fn token_requests_check_redirect_uri_scope_and_resource() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let secret = emu.client_secret().expose().to_owned();
    let scope = format!("api://{app}/access_as_user");
    let code = code_for(&emu, WEB, &scope, None).await?;
    let (status, body) =
        redeem(&emu, &code, "https://app.example.com/other", &scope, Some(&secret), None, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 500112);
    let (status, body) = redeem(&emu, &code, WEB, "", Some(&secret), None, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900144);
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", app.as_str()),
        ("client_secret", secret.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", WEB),
        ("scope", scope.as_str()),
        ("resource", "https://mcp.example.com/mcp"),
    ];
    let (status, body) = post_token(&emu, &emu.home_tenant(), &form, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_target", 9010010);
    let two = format!("{scope} User.Read");
    let (status, body) = redeem(&emu, &code, WEB, &two, Some(&secret), None, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_scope", 28000);
    let (status, body) = redeem(&emu, "made-up", WEB, &scope, Some(&secret), None, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 9002313);
    // Failed attempts do not burn the code.
    assert_eq!(redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await?.0, 200);
    Ok(())
}

#[tokio::test]
async fn spa_codes_need_an_origin_and_the_pkce_verifier() -> R {
    let emu = emulator_with_redirects().await?;
    let scope = format!("api://{}/access_as_user", emu.app_id());
    let p = Pkce::generate();
    let code = code_for(&emu, SPA, &scope, Some(&p)).await?;
    let origin = Some("https://spa.example.com");
    let (status, body) = redeem(&emu, &code, SPA, &scope, None, Some(&p.verifier), None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 9002327);
    let (status, body) = redeem(&emu, &code, SPA, &scope, None, Some("wrong-verifier"), origin).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 501481);
    let (status, body) = redeem(&emu, &code, SPA, &scope, None, None, origin).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 501481);
    let secret = emu.client_secret().expose().to_owned();
    let (status, body) = redeem(&emu, &code, SPA, &scope, Some(&secret), Some(&p.verifier), origin).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 700025);
    let (status, body) = redeem(&emu, &code, SPA, &scope, None, Some(&p.verifier), origin).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(claims(s(&body["access_token"]))["azpacr"], "0", "a public client");
    Ok(())
}

#[tokio::test]
async fn public_client_codes_refuse_a_secret() -> R {
    let emu = emulator_with_redirects().await?;
    let scope = format!("api://{}/access_as_user", emu.app_id());
    let p = Pkce::generate();
    let redirect = "http://127.0.0.1:5000/callback";
    let code = code_for(&emu, redirect, &scope, Some(&p)).await?;
    let secret = emu.client_secret().expose().to_owned();
    let (status, body) =
        redeem(&emu, &code, redirect, &scope, Some(&secret), Some(&p.verifier), None).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 700025);
    let (status, body) = redeem(&emu, &code, redirect, &scope, None, Some(&p.verifier), None).await?;
    assert_eq!(status, 200, "{body}");
    Ok(())
}

#[tokio::test]
async fn codes_expire() -> R {
    let emu =
        Emulator::builder().code_lifetime(Duration::ZERO).redirect_uri(Platform::Web, WEB).start().await?;
    let scope = format!("api://{}/access_as_user", emu.app_id());
    let code = code_for(&emu, WEB, &scope, None).await?;
    let secret = emu.client_secret().expose().to_owned();
    let (status, body) = redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_grant", 70008);
    Ok(())
}

#[tokio::test]
async fn refresh_tokens_come_with_offline_access_and_renew_tokens() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let secret = emu.client_secret().expose().to_owned();
    let scope = format!("api://{app}/access_as_user");
    let code = code_for(&emu, WEB, &scope, None).await?;
    let (_, body) = redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await?;
    assert!(
        body.get("refresh_token").is_none() && body.get("id_token").is_none(),
        "no offline_access, no openid"
    );

    let with_offline = format!("offline_access {scope}");
    let code = code_for(&emu, WEB, &with_offline, None).await?;
    let (_, body) = redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await?;
    let rt = s(&body["refresh_token"]).to_owned();
    let t = emu.home_tenant();
    let without_secret = [
        ("grant_type", "refresh_token"),
        ("client_id", app.as_str()),
        ("refresh_token", rt.as_str()),
        ("scope", scope.as_str()),
    ];
    let mut with_secret = without_secret.to_vec();
    with_secret.push(("client_secret", secret.as_str()));
    let (status, body) = post_token(&emu, &t, &without_secret, None).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000218);
    let (status, body) = post_token(&emu, &t, &with_secret, None).await?;
    assert_eq!(status, 200, "{body}");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert_ne!(body["refresh_token"], rt.as_str());
    Ok(())
}

#[tokio::test]
async fn client_credentials_give_graph_and_app_only_tokens() -> R {
    let emu = Emulator::builder().app_roles(["Tasks.ReadWrite.All"]).start().await?;
    let (t, app) = (emu.home_tenant(), emu.app_id());
    let secret = emu.client_secret().expose().to_owned();
    let graph_scope = format!("{}/.default", emu.graph_endpoint());
    for scope in [graph_scope.as_str(), "https://graph.microsoft.com/.default"] {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", &app),
            ("client_secret", &secret),
            ("scope", scope),
        ];
        let (status, body) = post_token(&emu, &t, &form, None).await?;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        let c = claims(s(&body["access_token"]));
        assert_eq!(c["aud"], "https://graph.microsoft.com");
        assert_eq!(c["roles"], json!(["Application.ReadWrite.OwnedBy"]));
        assert_eq!(c["appid"], app.as_str());
        assert_eq!(c["idtyp"], "app");
        assert!(c.get("scp").is_none());
    }
    let api = format!("api://{app}/.default");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &app),
        ("client_secret", &secret),
        ("scope", &api),
    ];
    let (_, body) = post_token(&emu, &t, &form, None).await?;
    let c = claims(s(&body["access_token"]));
    assert_eq!((c["aud"].clone(), c["roles"].clone()), (json!(app), json!(["Tasks.ReadWrite.All"])));

    let no_secret = [("grant_type", "client_credentials"), ("client_id", &app), ("scope", &api)];
    let (status, body) = post_token(&emu, &t, &no_secret, None).await?;
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7000218);
    let not_default = format!("api://{app}/access_as_user");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &app),
        ("client_secret", &secret),
        ("scope", &not_default),
    ];
    let (status, body) = post_token(&emu, &t, &form, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_scope", 1002012);
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &app),
        ("client_secret", &secret),
        ("scope", &api),
    ];
    let (status, body) = post_token(&emu, "common", &form, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 50194);
    let (status, body) =
        post_token(&emu, &t, &[("grant_type", "password"), ("client_id", &app)], None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unsupported_grant_type", 70003);
    let (status, body) = post_token(&emu, &t, &[("client_id", &app)], None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "invalid_request", 900144);
    let other = "00000000-0000-0000-0000-000000000001";
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", other),
        ("client_secret", &secret),
        ("scope", &api),
    ];
    let (status, body) = post_token(&emu, &t, &form, None).await?;
    assert_eq!(status, 400);
    assert_entra_error(&body, "unauthorized_client", 700016);
    Ok(())
}

#[tokio::test]
async fn v1_apps_get_v1_access_tokens_from_the_token_endpoint() -> R {
    let emu = Emulator::builder().access_token_version(1).redirect_uri(Platform::Web, WEB).start().await?;
    let (app, t) = (emu.app_id(), emu.home_tenant());
    let scope = format!("api://{app}/access_as_user");
    let code = code_for(&emu, WEB, &scope, None).await?;
    let (_, body) = redeem(&emu, &code, WEB, &scope, Some(emu.client_secret().expose()), None, None).await?;
    let token = s(&body["access_token"]).to_owned();
    let keys = jwks(&format!("{}/{t}/discovery/keys", emu.authority_host())).await?;
    let c = verify(&token, &keys, &format!("api://{app}"), &format!("https://sts.windows.net/{t}/"))?;
    assert_eq!((c["ver"].clone(), c["appidacr"].clone()), (json!("1.0"), json!("1")));
    Ok(())
}

// ---------------------------------------------------------------- Graph

async fn graph_token(emu: &Emulator) -> Result<String, Box<dyn Error>> {
    let app = emu.app_id();
    let secret = emu.client_secret().expose().to_owned();
    let scope = format!("{}/.default", emu.graph_endpoint());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", &app),
        ("client_secret", &secret),
        ("scope", &scope),
    ];
    let (status, body) = post_token(emu, &emu.home_tenant(), &form, None).await?;
    assert_eq!(status, 200, "{body}");
    Ok(s(&body["access_token"]).to_owned())
}

async fn graph_get(url: &str, token: Option<&str>) -> Result<(u16, Value), Box<dyn Error>> {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

#[tokio::test]
async fn graph_reads_the_application_by_app_id_filter_and_object_id() -> R {
    let emu = Emulator::builder().redirect_uri(Platform::Web, WEB).start().await?;
    let token = graph_token(&emu).await?;
    let (g, app, oid) = (emu.graph_endpoint(), emu.app_id(), emu.app_object_id());
    for url in [format!("{g}/v1.0/applications(appId='{app}')"), format!("{g}/v1.0/applications/{oid}")] {
        let (status, body) = graph_get(&url, Some(&token)).await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["id"].clone(), body["appId"].clone()), (json!(oid), json!(app)));
        assert_eq!(body["web"]["redirectUris"], json!([WEB]));
        assert_eq!(body["spa"]["redirectUris"], json!([]));
        assert_eq!(body["publicClient"]["redirectUris"], json!([]));
        assert_eq!(body["signInAudience"], "AzureADMyOrg");
    }
    let filter = format!("{g}/v1.0/applications?$filter=appId eq '{app}'");
    let (_, body) = graph_get(&filter, Some(&token)).await?;
    assert_eq!(body["value"][0]["appId"], app.as_str());
    let (_, body) =
        graph_get(&format!("{g}/v1.0/applications?$filter=appId eq '{oid}'"), Some(&token)).await?;
    assert_eq!(body["value"], json!([]));
    let (status, body) = graph_get(&format!("{g}/v1.0/applications(appId='{oid}')"), Some(&token)).await?;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "Request_ResourceNotFound");
    let (_, body) = graph_get(&format!("{g}/v1.0/applications/{oid}?$select=id,web"), Some(&token)).await?;
    assert!(body.get("id").is_some() && body.get("web").is_some() && body.get("spa").is_none());
    Ok(())
}

#[tokio::test]
async fn graph_refuses_missing_expired_foreign_and_unprivileged_tokens() -> R {
    let emu = Emulator::start().await?;
    let url = format!("{}/v1.0/applications(appId='{}')", emu.graph_endpoint(), emu.app_id());
    let foreign = emu.add_tenant();
    let cases = [
        (None, 401),
        (Some("not-a-jwt".to_owned()), 401),
        (Some(emu.token().graph().expired().sign()), 401),
        (Some(emu.token().graph().tenant(&foreign).sign()), 401),
        (Some(emu.token().graph().signed_with_unknown_key().sign()), 401),
        (Some(emu.token().sign()), 401), // a token for the app's API, not Graph
        (Some(emu.token().graph().roles(["User.Read.All"]).sign()), 403),
        (Some(emu.token().graph().client_id("00000000-0000-0000-0000-000000000009").sign()), 403),
        (Some(emu.token().graph().sign()), 200),
        (Some(emu.token().graph().roles(["Application.ReadWrite.All"]).sign()), 200),
    ];
    for (i, (token, expected)) in cases.into_iter().enumerate() {
        let (status, body) = graph_get(&url, token.as_deref()).await?;
        assert_eq!(status, expected, "case {i}: {body}");
        if expected == 401 {
            assert_eq!(body["error"]["code"], "InvalidAuthenticationToken", "case {i}");
        }
        if expected == 403 {
            assert_eq!(body["error"]["code"], "Authorization_RequestDenied", "case {i}");
        }
    }
    Ok(())
}

async fn patch(emu: &Emulator, url: &str, body: &Value) -> Result<(u16, Value), Box<dyn Error>> {
    let token = graph_token(emu).await?;
    let resp = client().patch(url).bearer_auth(token).json(body).send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[tokio::test]
async fn graph_patch_replaces_the_whole_array_and_is_usable_at_once() -> R {
    let emu = Emulator::builder().redirect_uri(Platform::Web, WEB).start().await?;
    let (g, app, oid) = (emu.graph_endpoint(), emu.app_id(), emu.app_object_id());
    let new = "https://new.example.com/cb";
    let (status, _) = patch(
        &emu,
        &format!("{g}/v1.0/applications(appId='{app}')"),
        &json!({"web": {"redirectUris": [new]}}),
    )
    .await?;
    assert_eq!(status, 204);
    assert_eq!(emu.redirect_uris(Platform::Web), vec![new.to_owned()], "the old URI is gone: PATCH replaces");
    let logged =
        emu.requests().into_iter().find(|r| r.endpoint == Endpoint::GraphPatchApplication).ok_or("logged")?;
    assert_eq!(logged.json, Some(json!({"web": {"redirectUris": [new]}})));
    assert!(logged.authorization_sent);
    let (status, _) = patch(
        &emu,
        &format!("{g}/v1.0/applications/{oid}"),
        &json!({"publicClient": {"redirectUris": ["cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost/cb"]}}),
    )
    .await?;
    assert_eq!(status, 204);
    assert_eq!(emu.redirect_uris(Platform::Web), vec![new.to_owned()], "other platforms untouched");
    assert_eq!(emu.redirect_uris(Platform::PublicClient).len(), 2);
    // Usable by /authorize immediately (real Entra takes seconds).
    code_for(&emu, new, &format!("api://{app}/access_as_user"), None).await?;
    Ok(())
}

#[tokio::test]
async fn graph_patch_refuses_invalid_uris_and_more_than_256() -> R {
    let emu = Emulator::start().await?;
    let url = format!("{}/v1.0/applications(appId='{}')", emu.graph_endpoint(), emu.app_id());
    let bad = [
        json!({"web": {"redirectUris": ["http://example.com/cb"]}}),
        json!({"web": {"redirectUris": ["cursor://x/cb"]}}),
        json!({"spa": {"redirectUris": ["http://[::1]:8080/cb"]}}),
        json!({"web": {"redirectUris": ["https://example.com/a,b"]}}),
        json!({"web": {"redirectUris": "https://example.com/cb"}}),
        json!({"notes": "x"}),
    ];
    for body in bad {
        let (status, err) = patch(&emu, &url, &body).await?;
        assert_eq!(status, 400, "{body}");
        assert!(err["error"]["code"].is_string(), "{err}");
    }
    let many: Vec<String> = (0..200).map(|i| format!("https://a.example.com/{i}")).collect();
    assert_eq!(patch(&emu, &url, &json!({"web": {"redirectUris": many}})).await?.0, 204);
    let more: Vec<String> = (0..57).map(|i| format!("https://b.example.com/{i}")).collect();
    let (status, _) = patch(&emu, &url, &json!({"spa": {"redirectUris": more}})).await?;
    assert_eq!(status, 400, "257 in total");
    assert_eq!(emu.redirect_uris(Platform::Spa).len(), 0, "nothing applied");
    let fits: Vec<String> = (0..56).map(|i| format!("https://b.example.com/{i}")).collect();
    assert_eq!(patch(&emu, &url, &json!({"spa": {"redirectUris": fits}})).await?.0, 204);
    Ok(())
}

#[tokio::test]
async fn emulators_share_the_common_key_unless_asked_for_their_own() -> R {
    let a = Emulator::start().await?;
    let b = Emulator::start().await?;
    assert_eq!(a.current_kid(None), b.current_kid(None), "like real tenants, one process-wide key");
    let own = Emulator::builder().unique_keys(true).start().await?;
    assert_ne!(own.current_kid(None), a.current_kid(None));
    // Rotation always gives an emulator a key of its own.
    let rotated = b.rotate_keys(None);
    assert_ne!(rotated, a.current_kid(None));
    assert_ne!(a.current_kid(None), b.current_kid(None), "b's rotation leaves a alone");
    Ok(())
}

#[tokio::test]
async fn token_and_key_endpoints_answer_cross_origin_requests() -> R {
    let emu = Emulator::start().await?;
    let (a, t) = (emu.authority_host(), emu.home_tenant());
    let token_url = format!("{a}/{t}/oauth2/v2.0/token");
    let preflight = client()
        .request(reqwest::Method::OPTIONS, &token_url)
        .header("origin", "https://spa.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await?;
    assert_eq!(preflight.status(), 200);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let keys = client()
        .get(format!("{a}/{t}/discovery/v2.0/keys"))
        .header("origin", "https://spa.example.com")
        .send()
        .await?;
    assert_eq!(keys.headers()["access-control-allow-origin"], "*");
    // Without an Origin (a server-side request) there is no CORS header, and OPTIONS is refused.
    let plain = client().get(format!("{a}/{t}/discovery/v2.0/keys")).send().await?;
    assert!(plain.headers().get("access-control-allow-origin").is_none());
    let options = client().request(reqwest::Method::OPTIONS, &token_url).send().await?;
    assert_eq!(options.status(), 405);
    Ok(())
}

#[tokio::test]
async fn authorize_supports_fragment_and_form_post_response_modes() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let scope = format!("api://{app}/access_as_user");
    let base = [
        ("client_id", app.as_str()),
        ("response_type", "code"),
        ("redirect_uri", WEB),
        ("scope", &scope),
        ("state", "s1"),
    ];
    let mut fragment = base.to_vec();
    fragment.push(("response_mode", "fragment"));
    let resp = client().get(authorize_url(&emu, &emu.home_tenant(), &fragment)).send().await?;
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str()?.to_owned();
    assert!(location.starts_with(&format!("{WEB}#code=")), "{location}");
    assert!(location.contains("state=s1"));

    let mut form_post = base.to_vec();
    form_post.push(("response_mode", "form_post"));
    let resp = client().get(authorize_url(&emu, &emu.home_tenant(), &form_post)).send().await?;
    assert_eq!(resp.status(), 200);
    let page = resp.text().await?;
    assert!(page.contains(&format!("action=\"{WEB}\"")) && page.contains("name=\"code\""), "{page}");
    Ok(())
}

#[tokio::test]
async fn authorize_refuses_users_outside_the_tenant_and_consumers() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let scope = format!("api://{app}/access_as_user");
    let params =
        [("client_id", app.as_str()), ("response_type", "code"), ("redirect_uri", WEB), ("scope", &scope)];
    let resp = client().get(authorize_url(&emu, "consumers", &params)).send().await?;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await?.contains("AADSTS700016"));

    let elsewhere = emu.add_tenant();
    emu.set_user(User { tenant: elsewhere, name: "Guest".into(), ..User::default() });
    let resp = client().get(authorize_url(&emu, &emu.home_tenant(), &params)).send().await?;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await?.contains("AADSTS50020"));
    Ok(())
}

#[tokio::test]
async fn token_endpoint_accepts_basic_auth_and_refuses_get() -> R {
    let emu = Emulator::start().await?;
    let (a, t, app) = (emu.authority_host(), emu.home_tenant(), emu.app_id());
    let url = format!("{a}/{t}/oauth2/v2.0/token");
    let resp = client()
        .post(&url)
        .basic_auth(&app, Some(emu.client_secret().expose()))
        .form(&[("grant_type", "client_credentials"), ("scope", "https://graph.microsoft.com/.default")])
        .send()
        .await?;
    assert_eq!(resp.status(), 200);
    assert!(emu.requests()[0].client_secret_sent, "Basic credentials count as a secret");
    let resp = client()
        .post(&url)
        .basic_auth(&app, Some("wrong"))
        .form(&[("grant_type", "client_credentials"), ("scope", "https://graph.microsoft.com/.default")])
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    assert_entra_error(&resp.json().await?, "invalid_client", 7000215);
    let (status, body) = get_json(&url).await?;
    assert_eq!(status, 405);
    assert_entra_error(&body, "invalid_request", 900561);
    Ok(())
}

#[tokio::test]
async fn the_signed_in_user_appears_in_issued_tokens() -> R {
    let emu = emulator_with_redirects().await?;
    let ada = User {
        oid: "0a0a0a0a-0000-4000-8000-000000000001".into(),
        name: "Ada Lovelace".into(),
        preferred_username: "ada@contoso.com".into(),
        roles: vec!["Tasks.Admin".into()],
        ..User::default()
    };
    emu.set_user(ada.clone());
    let scope = format!("openid api://{}/access_as_user", emu.app_id());
    let code = code_for(&emu, WEB, &scope, None).await?;
    let (_, body) = redeem(&emu, &code, WEB, &scope, Some(emu.client_secret().expose()), None, None).await?;
    let access = claims(s(&body["access_token"]));
    assert_eq!(access["oid"], ada.oid.as_str());
    assert_eq!(access["name"], "Ada Lovelace");
    assert_eq!(access["preferred_username"], "ada@contoso.com");
    assert_eq!(access["roles"], json!(["Tasks.Admin"]));
    assert_eq!(access["tid"], emu.home_tenant());
    assert_eq!(claims(s(&body["id_token"]))["oid"], ada.oid.as_str());
    Ok(())
}

#[tokio::test]
async fn graph_patch_sets_the_display_name_and_refuses_unknown_paths() -> R {
    let emu = Emulator::start().await?;
    let (g, app) = (emu.graph_endpoint(), emu.app_id());
    let url = format!("{g}/v1.0/applications(appId='{app}')");
    assert_eq!(patch(&emu, &url, &json!({"displayName": "Renamed"})).await?.0, 204);
    let token = graph_token(&emu).await?;
    assert_eq!(graph_get(&url, Some(&token)).await?.1["displayName"], "Renamed");
    let (status, body) = graph_get(&format!("{g}/v1.0/servicePrincipals"), Some(&token)).await?;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "BadRequest");
    let resp = client().patch(&url).bearer_auth(&token).body("{}").send().await?;
    assert_eq!(resp.status(), 415, "a PATCH needs application/json");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_redemptions_of_one_code_succeed_once() -> R {
    let emu = emulator_with_redirects().await?;
    let scope = format!("api://{}/access_as_user", emu.app_id().to_uppercase());
    let code = code_for(&emu, WEB, &scope, None).await?;
    let secret = emu.client_secret().expose().to_owned();
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (emu, code, scope, secret) = (emu.clone(), code.clone(), scope.clone(), secret.clone());
            tokio::spawn(async move {
                redeem(&emu, &code, WEB, &scope, Some(&secret), None, None).await.map(|r| r.0).ok()
            })
        })
        .collect();
    let mut ok = 0;
    for a in attempts {
        match a.await? {
            Some(200) => ok += 1,
            Some(400) => {}
            other => return Err(format!("unexpected {other:?}").into()),
        }
    }
    assert_eq!(ok, 1);
    Ok(())
}

#[tokio::test]
async fn authorize_on_an_unknown_tenant_shows_the_error_page() -> R {
    let emu = emulator_with_redirects().await?;
    let app = emu.app_id();
    let params =
        [("client_id", app.as_str()), ("response_type", "code"), ("redirect_uri", WEB), ("scope", "openid")];
    let resp =
        client().get(authorize_url(&emu, "11111111-2222-3333-4444-000000000000", &params)).send().await?;
    assert_eq!(resp.status(), 400);
    assert!(resp.headers()["content-type"].to_str()?.starts_with("text/html"));
    assert!(resp.text().await?.contains("AADSTS90002"));
    Ok(())
}
