//! The OAuth endpoints over real HTTP, without Entra: every document field by field, the input
//! checks of registration, authorize and token, CORS, callback and config. Entra and Graph point at
//! a closed port, so a request that should have been refused locally fails these tests.
//!
//! Unless a test says otherwise, the server runs in `Mode::Enrol` ([`offline_config`]): the
//! Graph-enrolment bridge, whose registration, consent page and forwarding these checks are about
//! (the broker's own are in `broker*.rs`).

use std::sync::Arc;
use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::config::{Mode, StateKeys};
use axum_mcp_azure_oauth::endpoints::OAuthEndpoints;
use serde_json::{Value, json};
use support::browser::HttpBrowser;
use support::endpoints::{serve, serve_with};
use support::flow::register;
use support::http::{Answer, assert_error_page, client, param, post};
use support::offline::{APP, CLOSED, OFFLINE_SECRET, TENANT, offline_config};
use support::pkce::Pkce;

fn prm(base: &str) -> Value {
    json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": [base],
        "scopes_supported": [format!("api://{APP}/access_as_user")],
        "bearer_methods_supported": ["header"],
    })
}

fn asm(base: &str, openid: bool) -> Value {
    let mut doc = json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "scopes_supported": [format!("api://{APP}/access_as_user"), "openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "code_challenge_methods_supported": ["S256"],
    });
    if openid {
        doc["jwks_uri"] = json!(format!("http://127.0.0.1:9/{TENANT}/discovery/v2.0/keys"));
        doc["subject_types_supported"] = json!(["pairwise"]);
        doc["id_token_signing_alg_values_supported"] = json!(["RS256"]);
    }
    doc
}

async fn get(url: &str) -> Answer {
    Answer::read(client().get(url).send().await.expect("GET"), OFFLINE_SECRET).await
}

#[tokio::test]
async fn protected_resource_metadata_field_by_field_at_both_urls() {
    let s = serve(offline_config()).await;
    for path in ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"] {
        let a = get(&format!("{}{path}", s.base)).await;
        assert_eq!(a.status, 200, "{path}");
        assert_eq!(a.json(), prm(&s.base), "{path}");
        assert_eq!(a.header("content-type"), Some("application/json"));
    }
}

/// In enrol mode, and in the default broker mode, which adds RFC 9207 `iss` support and Client ID
/// Metadata Documents (enrol must not advertise `iss`: Entra redirects to its clients and adds none).
#[tokio::test]
async fn authorization_server_and_openid_metadata_field_by_field_at_every_url_clients_try() {
    for mode in [Mode::Enrol, Mode::Broker] {
        let s = serve(offline_config().mode(mode)).await;
        let expected = |openid: bool| {
            let mut doc = asm(&s.base, openid);
            if mode == Mode::Broker {
                doc["authorization_response_iss_parameter_supported"] = json!(true);
                doc["client_id_metadata_document_supported"] = json!(true);
            }
            doc
        };
        let issuer = get(&format!("{}/.well-known/oauth-protected-resource/mcp", s.base)).await.json()
            ["authorization_servers"][0]
            .clone();
        for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/mcp"]
        {
            let a = get(&format!("{}{path}", s.base)).await;
            assert_eq!(a.status, 200, "{mode:?} {path}");
            assert_eq!(a.json(), expected(false), "{mode:?} {path}");
            assert_eq!(a.json()["issuer"], issuer, "issuer identical to authorization_servers[0]");
        }
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/openid-configuration/mcp",
            "/mcp/.well-known/openid-configuration",
        ] {
            let a = get(&format!("{}{path}", s.base)).await;
            assert_eq!(a.status, 200, "{mode:?} {path}");
            assert_eq!(a.json(), expected(true), "{mode:?} {path}");
        }
    }
}

/// Direct mode points clients at Entra, and serves no `/authorize` or `/token` of its own.
#[tokio::test]
async fn direct_mode_documents_point_at_entra_but_keep_registration_and_s256() {
    let s = serve(offline_config().mode(Mode::Direct)).await;
    for (method, path) in [(reqwest::Method::GET, "/authorize"), (reqwest::Method::POST, "/token")] {
        let a = Answer::read(
            client().request(method.clone(), format!("{}{path}", s.base)).send().await.expect("request"),
            OFFLINE_SECRET,
        )
        .await;
        assert_eq!(a.status, 404, "{method} {path}: {}", a.text);
    }
    let entra = format!("http://127.0.0.1:9/{TENANT}");
    let p = get(&format!("{}/.well-known/oauth-protected-resource/mcp", s.base)).await.json();
    assert_eq!(p["authorization_servers"], json!([format!("{entra}/v2.0")]));
    assert_eq!(p["resource"], format!("{}/mcp", s.base));
    let a = get(&format!("{}/.well-known/openid-configuration", s.base)).await.json();
    assert_eq!(a["issuer"], format!("{entra}/v2.0"));
    assert_eq!(a["authorization_endpoint"], format!("{entra}/oauth2/v2.0/authorize"));
    assert_eq!(a["token_endpoint"], format!("{entra}/oauth2/v2.0/token"));
    assert_eq!(a["registration_endpoint"], format!("{}/register", s.base));
    assert_eq!(a["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(a["jwks_uri"], format!("{entra}/discovery/v2.0/keys"));
}

#[tokio::test]
async fn without_a_base_url_only_direct_mode_starts_and_its_documents_follow_the_request() {
    for mode in [Mode::Broker, Mode::Enrol] {
        let err =
            offline_config().mode(mode).build().expect_err("an authorization server needs its base URL");
        assert!(err.to_string().contains("PUBLIC_BASE_URL"), "{err}");
    }
    let s = serve_with(offline_config().mode(Mode::Direct).resource_path("/api/mcp"), false, None).await;
    let a = Answer::read(
        client()
            .get(format!("{}/.well-known/oauth-protected-resource/api/mcp", s.base))
            .header("host", "mcp.example.com")
            .header("x-forwarded-proto", "https")
            .send()
            .await
            .expect("GET"),
        OFFLINE_SECRET,
    )
    .await;
    assert_eq!(a.json()["resource"], "https://mcp.example.com/api/mcp");
    assert_eq!(a.json()["authorization_servers"], json!([format!("{CLOSED}/{TENANT}/v2.0")]));
    let c = Answer::read(
        client()
            .get(format!("{}/oauth/config", s.base))
            .header("host", "mcp.example.com")
            .send()
            .await
            .expect("GET"),
        OFFLINE_SECRET,
    )
    .await;
    assert_eq!(c.json()["redirect_uri"], "http://mcp.example.com/oauth/callback");
    // The Host-derived callback is not allowed as a redirect URI (it would be enrolled).
    let r = Answer::read(
        client()
            .post(format!("{}/register", s.base))
            .header("host", "mcp.example.com")
            .header("x-forwarded-proto", "https")
            .json(&json!({ "redirect_uris": ["https://mcp.example.com/oauth/callback"] }))
            .send()
            .await
            .expect("POST"),
        OFFLINE_SECRET,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_redirect_uri");
    assert!(r.json()["error_description"].as_str().is_some_and(|d| d.contains("ALLOWED_REDIRECT_URIS")));
}

#[tokio::test]
async fn cors_answers_browser_clients_on_discovery_registration_and_token_without_credentials() {
    let s = serve(offline_config()).await;
    for path in ["/token", "/register", "/.well-known/oauth-authorization-server"] {
        let pre = client()
            .request(reqwest::Method::OPTIONS, format!("{}{path}", s.base))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .expect("OPTIONS");
        assert!(pre.status().is_success(), "{path}: {}", pre.status());
        assert_eq!(pre.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(pre.headers().get("access-control-allow-credentials").is_none(), "{path}");
    }
    let a = client()
        .get(format!("{}/.well-known/oauth-protected-resource/mcp", s.base))
        .header("origin", "http://localhost:6274")
        .send()
        .await
        .expect("GET");
    assert_eq!(a.headers()["access-control-allow-origin"], "*");
}

/// In enrol mode (as in direct mode) `/oauth/callback` is the Python original's echo; the broker's
/// callback is its own (`broker*.rs`).
#[tokio::test]
async fn callback_echoes_code_and_state_and_is_never_cached() {
    let s = serve(offline_config()).await;
    let a = get(&format!("{}/oauth/callback?code=abc&state=xyz", s.base)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), json!({ "code": "abc", "state": "xyz", "status": "success" }));
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let e = get(&format!("{}/oauth/callback?error=access_denied&error_description=no&state=s", s.base)).await;
    assert_eq!(e.status, 400);
    assert_eq!(e.json()["error"], "access_denied");
    assert_eq!(e.json()["state"], "s");
}

#[tokio::test]
async fn oauth_config_gives_msal_settings() {
    let s = serve(offline_config()).await;
    let a = get(&format!("{}/oauth/config", s.base)).await;
    assert_eq!(
        a.json(),
        json!({
            "client_id": APP,
            "tenant_id": TENANT,
            "authority": format!("http://127.0.0.1:9/{TENANT}"),
            "scopes": [format!("api://{APP}/access_as_user")],
            "redirect_uri": format!("{}/oauth/callback", s.base),
        })
    );
}

#[tokio::test]
async fn registration_refuses_malformed_and_oversized_bodies_with_rfc_7591_errors() {
    let s = serve(offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"])).await;
    for (body, error) in [
        ("not json", "invalid_client_metadata"),
        ("[1,2]", "invalid_client_metadata"),
        ("{}", "invalid_redirect_uri"),
        (r#"{"redirect_uris": []}"#, "invalid_redirect_uri"),
        (r#"{"redirect_uris": "https://vscode.dev/redirect"}"#, "invalid_redirect_uri"),
        (r#"{"redirect_uris": [1]}"#, "invalid_redirect_uri"),
        (
            r#"{"redirect_uris": ["https://vscode.dev/redirect"], "grant_types": ["client_credentials"]}"#,
            "invalid_client_metadata",
        ),
        (
            r#"{"redirect_uris": ["https://vscode.dev/redirect"], "response_types": ["token"]}"#,
            "invalid_client_metadata",
        ),
        (
            r#"{"redirect_uris": ["https://vscode.dev/redirect"], "client_name": {"x": 1}}"#,
            "invalid_client_metadata",
        ),
    ] {
        let a = post(&format!("{}/register", s.base), "application/json", body, OFFLINE_SECRET).await;
        assert_eq!(a.status, 400, "{body}");
        assert_eq!(a.json()["error"], error, "{body}");
        assert!(a.json()["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    }
    let huge = format!(
        r#"{{"redirect_uris": ["https://vscode.dev/redirect"], "client_name": "{}"}}"#,
        "x".repeat(70_000)
    );
    let a = post(&format!("{}/register", s.base), "application/json", huge, OFFLINE_SECRET).await;
    assert_eq!(a.status, 413);
    assert_eq!(a.json()["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn registration_refuses_uris_outside_the_allow_list_or_entras_rules_and_says_what_to_do() {
    let s = serve(offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"])).await;
    for (uri, must_mention) in [
        ("https://claude.ai/api/mcp/auth_callback", "ALLOWED_REDIRECT_URIS"),
        ("http://[::1]:8080/cb", "[::1]"),
        ("http://example.com/cb", "https"),
        ("https://example.com/a,b", "! $"),
        ("javascript:alert", "custom scheme"),
    ] {
        let body = json!({ "redirect_uris": ["https://vscode.dev/redirect", uri] });
        let a = register(&s.base, &body, OFFLINE_SECRET).await;
        assert_eq!(a.status, 400, "{uri}");
        assert_eq!(a.json()["error"], "invalid_redirect_uri", "{uri}");
        let d = a.json()["error_description"].as_str().unwrap_or_default().to_owned();
        assert!(d.contains(uri) && d.contains(must_mention), "{uri}: {d}");
    }
}

#[tokio::test]
async fn registration_reports_every_uri_when_graph_is_unreachable() {
    let s = serve_with(
        offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"]),
        true,
        Some(Duration::ZERO),
    )
    .await;
    let a =
        register(&s.base, &json!({ "redirect_uris": ["https://vscode.dev/redirect"] }), OFFLINE_SECRET).await;
    assert_eq!(a.status, 502);
    assert_eq!(a.json()["error"], "server_error");
    let failures = a.json()["enrolment_failures"].clone();
    assert_eq!(failures[0]["redirect_uri"], "https://vscode.dev/redirect");
    assert!(
        failures[0]["error"].as_str().is_some_and(|e| e.contains("MICROSOFT_GRAPH_ENDPOINT")),
        "{failures}"
    );
}

/// Without a secret, enrol mode needs `AZURE_OAUTH_STATE_KEY` to seal its consent page.
#[tokio::test]
async fn registration_without_a_secret_accepts_allowed_uris_for_enrolment_by_hand() {
    let builder = AzureOAuthConfig::builder()
        .mode(Mode::Enrol)
        .state_keys(StateKeys::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
        .app_id(APP)
        .tenant_id(TENANT)
        .authority_host(CLOSED)
        .graph_endpoint(CLOSED)
        .allowed_redirect_uris(["https://vscode.dev/redirect"]);
    let s = serve(builder).await;
    let metadata = json!({ "redirect_uris": ["https://vscode.dev/redirect"], "client_name": "VS Code" });
    let a = register(&s.base, &metadata, OFFLINE_SECRET).await;
    assert_eq!(a.status, 201, "{}", a.text);
    let j = a.json();
    assert_eq!(j["client_id"], APP);
    assert_eq!(j["redirect_uris"], json!(["https://vscode.dev/redirect"]));
    assert_eq!(j["token_endpoint_auth_method"], "none");
    assert_eq!(j["client_name"], "VS Code");
    assert!(j.get("client_secret").is_none());
}

#[tokio::test]
async fn get_register_answers_copilot_studio_with_the_client_id_and_a_scope() {
    let s = serve(offline_config()).await;
    let a = get(&format!("{}/register", s.base)).await;
    assert_eq!(a.status, 200);
    let j = a.json();
    assert_eq!(j["client_id"], APP);
    assert_eq!(j["scope"], format!("api://{APP}/access_as_user offline_access openid profile"));
    assert_eq!(j["token_endpoint_auth_method"], "none");
    assert_eq!(j["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(j["response_types"], json!(["code"]));
    assert_eq!(j["redirect_uris"], json!([]));
    assert!(j["client_id_issued_at"].as_u64().is_some_and(|t| t > 1_700_000_000));
    assert!(j.get("client_secret").is_none());
}

fn authorize_url(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{base}/authorize")).expect("URL");
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// Opens `url` in a new browser: the consent page (200), answered Allow; the answer to the Allow,
/// checked never to hold the secret.
async fn allowed(url: &str) -> Answer {
    let mut browser = HttpBrowser::new();
    let page = browser.get(&url::Url::parse(url).expect("URL")).await;
    assert_eq!(page.status, 200, "the consent page comes first: {}", page.body);
    assert!(page.consent_request().is_some(), "a consent form: {}", page.body);
    let page = browser.answer(&page, "allow", false).await;
    support::http::assert_no_secret(&page.headers, &page.body, OFFLINE_SECRET);
    Answer { status: page.status, headers: page.headers, text: page.body }
}

#[tokio::test]
async fn authorize_never_redirects_to_an_unvalidated_uri() {
    let s = serve(offline_config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    let base = [("client_id", APP), ("response_type", "code"), ("scope", "access_as_user"), ("state", "st")];
    for (redirect, why) in [
        (None, "redirect_uri is required"),
        (Some("https://evil.example/cb"), "is not registered for this app"),
        (Some("http://[::1]:1/cb"), "would be refused by Entra ID"),
        (Some("http://localhost:33418/"), "is not registered for this app"),
    ] {
        let mut params = base.to_vec();
        if let Some(r) = redirect {
            params.push(("redirect_uri", r));
        }
        let a = get(&authorize_url(&s.base, &params)).await;
        assert_error_page(&a, why, &format!("{redirect:?}"));
    }
    // Duplicate parameters are refused before anything else.
    let dup = format!(
        "{}/authorize?redirect_uri=http%3A%2F%2F127.0.0.1%3A1%2F&redirect_uri=https%3A%2F%2Fevil.example%2F",
        s.base
    );
    assert_error_page(&get(&dup).await, "is given more than once", "a duplicate redirect_uri");
}

#[tokio::test]
async fn authorize_refuses_a_foreign_client_id_without_redirecting() {
    let s = serve(offline_config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    for (client_id, why) in [
        (None, "client_id is required"),
        (Some("99999999-2222-3333-4444-555555555555"), "99999999-2222-3333-4444-555555555555"),
    ] {
        let mut params = vec![("redirect_uri", "http://127.0.0.1:5555/"), ("response_type", "code")];
        if let Some(c) = client_id {
            params.push(("client_id", c));
        }
        let a = get(&authorize_url(&s.base, &params)).await;
        assert_error_page(&a, why, &format!("{client_id:?}"));
        assert!(a.text.contains("POST /register"), "says what to do: {}", a.text);
    }
}

/// After the consent page's Allow, the 302 to Entra is the client's request as Entra takes it.
#[tokio::test]
async fn authorize_bridges_to_entra_without_resource_and_with_qualified_scopes() {
    let s = serve(offline_config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    let challenge = Pkce::generate().challenge;
    let a = allowed(&authorize_url(
        &s.base,
        &[
            ("client_id", APP),
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:5555/"),
            ("scope", "access_as_user offline_access"),
            ("state", "the-state"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{}/mcp", s.base)),
            ("prompt", "select_account"),
        ],
    ))
    .await;
    assert_eq!(a.status, 302, "{}", a.text);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let to = a.location();
    assert_eq!(
        format!("{}{}", &to[..url::Position::BeforePath], to.path()),
        format!("http://127.0.0.1:9/{TENANT}/oauth2/v2.0/authorize")
    );
    assert_eq!(param(&to, "resource"), None);
    assert_eq!(
        param(&to, "scope").as_deref(),
        Some(format!("api://{APP}/access_as_user offline_access").as_str())
    );
    assert_eq!(param(&to, "client_id").as_deref(), Some(APP));
    assert_eq!(param(&to, "redirect_uri").as_deref(), Some("http://127.0.0.1:5555/"));
    assert_eq!(param(&to, "state").as_deref(), Some("the-state"));
    assert_eq!(param(&to, "code_challenge").as_deref(), Some(challenge.as_str()));
    assert_eq!(param(&to, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&to, "prompt").as_deref(), Some("select_account"));
    assert_eq!(param(&to, "response_type").as_deref(), Some("code"));
    // Copilot Studio sometimes omits scope: the API scope and offline_access are supplied.
    let a = allowed(&authorize_url(
        &s.base,
        &[
            ("client_id", APP),
            ("response_type", "code"),
            ("redirect_uri", "http://127.0.0.1:5555/"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    ))
    .await;
    assert_eq!(
        param(&a.location(), "scope").as_deref(),
        Some(format!("api://{APP}/access_as_user offline_access").as_str())
    );
}

#[tokio::test]
async fn authorize_errors_after_the_redirect_uri_is_validated_go_back_to_the_client() {
    let s = serve(offline_config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    let challenge = Pkce::generate().challenge;
    for (extra, error) in [
        (
            vec![
                ("scope", "https://graph.microsoft.com/User.Read"),
                ("response_type", "code"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
            "invalid_scope",
        ),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (
            vec![("response_type", "code"), ("code_challenge", "x"), ("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (vec![("response_type", "code"), ("code_challenge_method", "S256")], "invalid_request"),
    ] {
        let mut params =
            vec![("client_id", APP), ("redirect_uri", "http://127.0.0.1:5555/cb"), ("state", "s1")];
        params.extend(extra);
        // The allowed loopback entry has the path `/`: `/cb` is another URI, answered locally.
        let a = get(&authorize_url(&s.base, &params)).await;
        assert_error_page(&a, "is not registered for this app", "a loopback redirect URI with another path");
        let mut params: Vec<(&str, &str)> =
            params.into_iter().filter(|(k, _)| *k != "redirect_uri").collect();
        params.push(("redirect_uri", "http://127.0.0.1:5555/"));
        let a = get(&authorize_url(&s.base, &params)).await;
        assert_eq!(a.status, 302, "{error}");
        let to = a.location();
        assert!(to.as_str().starts_with("http://127.0.0.1:5555/?"), "{to}");
        assert_eq!(param(&to, "error").as_deref(), Some(error));
        assert_eq!(param(&to, "state").as_deref(), Some("s1"));
        assert!(param(&to, "error_description").is_some());
    }
}

/// `/authorize` with a valid loopback redirect URI, `state` and these extra parameters.
fn authorize_with_url(base: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", APP),
        ("response_type", "code"),
        ("redirect_uri", "http://127.0.0.1:5555/"),
        ("state", "st"),
    ];
    params.extend_from_slice(extra);
    authorize_url(base, &params)
}

/// The answer to [`authorize_with_url`].
async fn authorize_with(base: &str, extra: &[(&str, &str)]) -> Answer {
    get(&authorize_with_url(base, extra)).await
}

/// The answer went back to the client's redirect URI with `invalid_request` and the state.
fn assert_back_with_invalid_request(a: &Answer, case: &str) {
    assert_eq!(a.status, 302, "{case}: {}", a.text);
    let to = a.location();
    assert!(to.as_str().starts_with("http://127.0.0.1:5555/?"), "{case}: {to}");
    assert_eq!(param(&to, "error").as_deref(), Some("invalid_request"), "{case}");
    assert_eq!(param(&to, "state").as_deref(), Some("st"), "{case}");
    assert!(param(&to, "error_description").is_some_and(|d| d.contains("code_challenge")), "{case}: {to}");
    assert!(param(&to, "client_id").is_none(), "{case}: not sent to Entra");
}

#[tokio::test]
async fn authorize_requires_pkce_with_s256_unless_configured_off() {
    let challenge = Pkce::generate().challenge;
    let short = &challenge[..42];
    let too_long = "a".repeat(129);
    let bad_char = format!("{}+", &challenge[..42]);
    let refused_always: [(&str, Vec<(&str, &str)>); 5] = [
        ("challenge without method (Entra: plain)", vec![("code_challenge", &challenge)]),
        ("plain", vec![("code_challenge", &challenge), ("code_challenge_method", "plain")]),
        ("method without challenge", vec![("code_challenge_method", "S256")]),
        ("42 characters", vec![("code_challenge", short), ("code_challenge_method", "S256")]),
        ("a reserved character", vec![("code_challenge", &bad_char), ("code_challenge_method", "S256")]),
    ];
    let s = serve(offline_config().allowed_redirect_uris(["http://127.0.0.1:33418/"])).await;
    assert!(s.endpoints.config().require_pkce(), "on by default");
    assert_back_with_invalid_request(&authorize_with(&s.base, &[]).await, "no PKCE");
    assert_back_with_invalid_request(
        &authorize_with(&s.base, &[("code_challenge", &too_long), ("code_challenge_method", "S256")]).await,
        "129 characters",
    );
    for (case, extra) in &refused_always {
        assert_back_with_invalid_request(&authorize_with(&s.base, extra).await, case);
    }
    // 43 and 128 unreserved characters are both valid challenges: the consent page, then Entra.
    for ok in [challenge.as_str(), &"a-._~".repeat(26)[..128]] {
        let a = allowed(&authorize_with_url(
            &s.base,
            &[("code_challenge", ok), ("code_challenge_method", "S256")],
        ))
        .await;
        assert_eq!(a.status, 302, "{}", a.text);
        assert_eq!(param(&a.location(), "code_challenge").as_deref(), Some(ok));
    }

    // Off (AZURE_REQUIRE_PKCE=false): a client without PKCE is bridged; bad PKCE is still refused.
    let off = offline_config()
        .allowed_redirect_uris(["http://127.0.0.1:33418/"])
        .env(|name| (name == "AZURE_REQUIRE_PKCE").then(|| "false".to_owned()))
        .expect("valid variables");
    let s = serve(off).await;
    assert!(!s.endpoints.config().require_pkce());
    let a = allowed(&authorize_with_url(&s.base, &[])).await;
    assert_eq!(a.status, 302, "{}", a.text);
    let to = a.location();
    assert!(to.as_str().starts_with(&format!("http://127.0.0.1:9/{TENANT}/oauth2/v2.0/authorize")), "{to}");
    assert_eq!(param(&to, "code_challenge"), None);
    for (case, extra) in &refused_always {
        assert_back_with_invalid_request(&authorize_with(&s.base, extra).await, case);
    }
}

async fn token(base: &str, body: String, content_type: &str) -> Answer {
    post(&format!("{base}/token"), content_type, body, OFFLINE_SECRET).await
}

#[tokio::test]
async fn token_refuses_other_grants_foreign_clients_and_bad_bodies_before_reaching_entra() {
    let s = serve(offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"])).await;
    let form = "application/x-www-form-urlencoded";
    for (body, content_type, status, error) in [
        (
            format!(
                "grant_type=client_credentials&client_id={APP}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
            ),
            form,
            400,
            "unsupported_grant_type",
        ),
        ("grant_type=password&username=a&password=b".to_owned(), form, 400, "unsupported_grant_type"),
        ("code=x".to_owned(), form, 400, "invalid_request"),
        (
            "grant_type=authorization_code&code=x&client_id=99999999-2222-3333-4444-555555555555".to_owned(),
            form,
            400,
            "invalid_client",
        ),
        (
            format!(
                "grant_type=authorization_code&code=x&code_verifier={VERIFIER}&scope=https%3A%2F%2Fgraph.microsoft.com%2FUser.Read"
            ),
            form,
            400,
            "invalid_scope",
        ),
        ("grant_type=authorization_code&code=x&code=y".to_owned(), form, 400, "invalid_request"),
        (r#"{"grant_type":"authorization_code"}"#.to_owned(), "application/json", 400, "invalid_request"),
        (format!("grant_type=authorization_code&code={}", "x".repeat(70_000)), form, 413, "invalid_request"),
    ] {
        let a = token(&s.base, body.clone(), content_type).await;
        assert_eq!(a.status, status, "{}", &body[..body.len().min(80)]);
        assert_eq!(a.json()["error"], error, "{}", &body[..body.len().min(80)]);
        assert_eq!(a.header("cache-control"), Some("no-store"));
    }
}

/// A well-formed RFC 7636 code verifier (its value does not matter before Entra checks it).
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

#[tokio::test]
async fn token_requires_a_pkce_code_verifier_unless_configured_off() {
    let redeem = |verifier: &str| {
        format!(
            "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fvscode.dev%2Fredirect{verifier}"
        )
    };
    let form = "application/x-www-form-urlencoded";
    let s = serve(offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"])).await;
    for (verifier, why) in [("", "PKCE is required"), ("&code_verifier=short", "43 to 128 characters")] {
        let a = token(&s.base, redeem(verifier), form).await;
        assert_eq!(a.status, 400, "{verifier}");
        assert_eq!(a.json()["error"], "invalid_request");
        let description = a.json()["error_description"].as_str().unwrap_or_default().to_owned();
        assert!(description.contains(why), "{description}");
    }
    // A well-formed verifier is forwarded (Entra is unreachable here: 502).
    assert_eq!(token(&s.base, redeem(&format!("&code_verifier={VERIFIER}")), form).await.status, 502);
    // Refresh grants carry no verifier.
    assert_eq!(token(&s.base, "grant_type=refresh_token&refresh_token=r".into(), form).await.status, 502);

    let lax =
        serve(offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"]).require_pkce(false))
            .await;
    assert_eq!(token(&lax.base, redeem(""), form).await.status, 502, "require_pkce=false forwards it");
    let a = token(&lax.base, redeem("&code_verifier=short"), form).await;
    assert_eq!(a.status, 400, "a malformed verifier is refused either way");
}

#[tokio::test]
async fn token_reports_an_unreachable_entra_as_an_oauth_json_error() {
    let s = serve(offline_config().allowed_redirect_uris(["https://vscode.dev/redirect"])).await;
    let a = token(
        &s.base,
        "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fvscode.dev%2Fredirect&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(a.status, 502);
    assert_eq!(a.json()["error"], "server_error");
    assert_eq!(a.header("cache-control"), Some("no-store"));
}

#[test]
fn endpoints_debug_never_shows_the_secret() {
    let config =
        Arc::new(offline_config().base_url("https://mcp.example.com").build().expect("valid configuration"));
    let e = OAuthEndpoints::new(config);
    let debug = format!("{e:?} {:?}", e.graph());
    assert!(!debug.contains(OFFLINE_SECRET), "{debug}");
}

#[tokio::test]
async fn the_router_merges_into_an_application_with_its_own_state() {
    #[derive(Clone)]
    struct AppState(&'static str);
    let config =
        Arc::new(offline_config().base_url("https://mcp.example.com").build().expect("valid configuration"));
    let app: axum::Router<AppState> = axum::Router::new()
        .route(
            "/hello",
            axum::routing::get(|axum::extract::State(s): axum::extract::State<AppState>| async move { s.0 }),
        )
        .merge(OAuthEndpoints::new(config).router());
    let app: axum::Router = app.with_state(AppState("hi"));
    let served = support::serve::serve(app).await;
    let base = &served.base;
    assert_eq!(
        client().get(format!("{base}/hello")).send().await.expect("GET").text().await.expect("body"),
        "hi"
    );
    let prm = get(&format!("{base}/.well-known/oauth-protected-resource")).await;
    assert_eq!(prm.json()["resource"], "https://mcp.example.com/mcp");
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow_and_an_oauth_json_error() {
    let s = serve(offline_config()).await;
    for (method, path, allow) in [
        (reqwest::Method::GET, "/token", "POST"),
        (reqwest::Method::PUT, "/register", "GET, POST"),
        // POST is the consent page's answer.
        (reqwest::Method::PUT, "/authorize", "GET, POST"),
        (reqwest::Method::DELETE, "/.well-known/oauth-protected-resource/mcp", "GET"),
    ] {
        let a = Answer::read(
            client().request(method.clone(), format!("{}{path}", s.base)).send().await.expect("request"),
            OFFLINE_SECRET,
        )
        .await;
        assert_eq!(a.status, 405, "{method} {path}");
        assert_eq!(a.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(a.json()["error"], "invalid_request", "{method} {path}");
    }
}

/// An `AzureOAuth`'s validator, token bridge and Graph client share one HTTP client: key
/// fetches, a bridged token request and Graph's own token reach Entra over one kept-alive
/// connection (rarely two). In enrol mode, where registration calls Graph.
#[tokio::test]
async fn an_azure_oauth_reaches_entra_and_graph_over_one_connection_pool() {
    let emu = axum_mcp_azure_oauth::emulator::Emulator::start().await.expect("the emulator starts");
    let app = support::app::serve(
        emu.config().mode(Mode::Enrol).allowed_redirect_uris(["http://127.0.0.1/callback"]),
    )
    .await;
    let base = &app.base;
    let http = reqwest::Client::new();

    // Metadata and keys, fetched by the validator.
    let r = http.post(format!("{base}/mcp")).bearer_auth(emu.token().sign()).send().await.expect("send");
    assert_eq!(r.status(), 200);
    // A token request, forwarded by the bridge (Entra refuses the made-up refresh token).
    let r = http
        .post(format!("{base}/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "made-up"), ("client_id", &emu.app_id())])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    // A registration, enrolled through Graph with a client-credentials token from Entra.
    let r = http
        .post(format!("{base}/register"))
        .json(&json!({ "redirect_uris": ["http://127.0.0.1:43210/callback"] }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    assert!(
        emu.request_count(axum_mcp_azure_oauth::emulator::Endpoint::GraphPatchApplication) >= 1,
        "enrolled"
    );
    // Three clients would open at least three connections to Entra (one each). One shared client
    // opens one, or two if a request starts before the previous connection is back in the pool.
    let (entra, graph) = emu.connections_accepted();
    assert!(entra <= 2, "{entra} connections to Entra: the pool is not shared");
    assert!(graph >= 1, "Graph was called");
}
