//! Redirect URI enrolment through Microsoft Graph against the emulator: platforms, merging,
//! concurrency, the token cache, throttling, outages and Entra's limits. Servers run in
//! `Mode::Enrol`, the mode whose `/register` enrols through Graph.

use std::sync::Arc;
use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuthConfig;
use axum_mcp_azure_oauth::config::CredentialError;
use axum_mcp_azure_oauth::config::{HttpsPlatform, Mode, StateKeys};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform};
use axum_mcp_azure_oauth::graph::{EnrolError, GraphClient, REDIRECT_URI_LIMIT};
use serde_json::json;
use support::UNSERVED_BASE;
use support::endpoints::serve;
use support::flow::{COPILOT, register};
use support::http::client;

async fn emulator() -> Emulator {
    Emulator::start().await.expect("emulator starts")
}

fn graph(emu: &Emulator, budget: Duration) -> (Arc<AzureOAuthConfig>, GraphClient) {
    let config = Arc::new(
        emu.config()
            .base_url(UNSERVED_BASE)
            .http_timeout(Duration::from_millis(500))
            .build()
            .expect("valid configuration"),
    );
    let graph = GraphClient::with_retry_budget(Arc::clone(&config), budget);
    (config, graph)
}

#[tokio::test]
async fn fifty_concurrent_registrations_lose_no_redirect_uri() {
    let emu = emulator().await;
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT])).await;
    let secret = emu.client_secret().expose().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (base, secret) = (s.base.clone(), secret.clone());
        tasks.spawn(async move {
            let uri = format!("{COPILOT}connector-{i}");
            let metadata = json!({ "redirect_uris": [uri], "client_name": format!("connector {i}") });
            let a = register(&base, &metadata, &secret).await;
            assert_eq!(a.status, 201, "{}", a.text);
            assert_eq!(a.json()["redirect_uris"], json!([uri]));
            assert!(a.json().get("enrolment_failures").is_none());
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("registration task");
    }
    let web = emu.redirect_uris(Platform::Web);
    for i in 0..50 {
        let uri = format!("{COPILOT}connector-{i}");
        assert!(web.contains(&uri), "{uri} lost; the app registration holds {} web URIs", web.len());
    }
    assert_eq!(web.len(), 50);
    // The server's own callback (configured base, loopback http) is on publicClient.
    assert_eq!(emu.redirect_uris(Platform::PublicClient), [format!("{}/oauth/callback", s.base)]);
    // Writes were batched and each URI is written once per process: registering again writes nothing.
    let patches = emu.request_count(Endpoint::GraphPatchApplication);
    assert!(patches <= 50, "{patches} PATCH requests for 50 URIs");
    let again = client()
        .post(format!("{}/register", s.base))
        .json(&json!({ "redirect_uris": [format!("{COPILOT}connector-7")] }))
        .send()
        .await
        .expect("POST /register");
    assert_eq!(again.status(), 201);
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), patches);
    // One client-credentials token served every Graph request.
    assert_eq!(emu.request_count(Endpoint::Token), 1);
    let token = emu.requests().into_iter().find(|r| r.endpoint == Endpoint::Token).expect("a token request");
    assert_eq!(token.form_param("grant_type"), Some("client_credentials"));
    assert_eq!(token.form_param("scope"), Some(format!("{}/.default", emu.graph_endpoint()).as_str()));
    assert_eq!(token.tenant.as_deref(), Some(emu.home_tenant().as_str()));
}

#[tokio::test]
async fn each_uri_goes_to_its_platform_and_existing_uris_are_kept() {
    let emu = emulator().await;
    emu.set_redirect_uris(Platform::Web, vec!["https://existing.example/cb".into()]);
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let report = g
        .enrol([
            "http://127.0.0.1:33418/",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://vscode.dev/redirect",
            "http://localhost:6274/oauth/callback",
        ])
        .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.enrolled.len(), 4);
    assert_eq!(
        emu.redirect_uris(Platform::Web),
        ["https://existing.example/cb", "https://vscode.dev/redirect"]
    );
    let public = emu.redirect_uris(Platform::PublicClient);
    for uri in [
        "http://127.0.0.1:33418/",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "http://localhost:6274/oauth/callback",
    ] {
        assert!(public.contains(&uri.to_owned()), "{uri}: {public:?}");
    }
    assert!(emu.redirect_uris(Platform::Spa).is_empty());
    assert_eq!(g.enrolled().len(), 4);
}

#[tokio::test]
async fn https_uris_go_to_spa_when_configured() {
    let emu = emulator().await;
    let config = Arc::new(
        emu.config()
            .base_url(UNSERVED_BASE)
            .https_redirect_platform(HttpsPlatform::Spa)
            .build()
            .expect("valid configuration"),
    );
    let report = GraphClient::new(config).enrol(["https://app.example/cb"]).await;
    assert_eq!(report.enrolled, ["https://app.example/cb"]);
    assert_eq!(emu.redirect_uris(Platform::Spa), ["https://app.example/cb"]);
    assert!(emu.redirect_uris(Platform::Web).is_empty());
}

#[tokio::test]
async fn a_loopback_uri_enrolled_with_another_port_is_not_written_again() {
    let emu = emulator().await;
    emu.set_redirect_uris(Platform::PublicClient, vec!["http://127.0.0.1:33418/".into()]);
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let report = g.enrol(["http://127.0.0.1:5555/"]).await;
    assert_eq!(report.enrolled, ["http://127.0.0.1:5555/"]);
    assert_eq!(
        emu.request_count(Endpoint::GraphPatchApplication),
        0,
        "Entra ignores the port: nothing to write"
    );
    assert_eq!(emu.redirect_uris(Platform::PublicClient), ["http://127.0.0.1:33418/"]);
}

#[tokio::test]
async fn throttling_with_retry_after_is_waited_out() {
    let emu = emulator().await;
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::too_many_requests(1).times(2));
    let (_, g) = graph(&emu, Duration::from_secs(10));
    let report = g.enrol(["https://vscode.dev/redirect"]).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), 3);
    assert_eq!(emu.redirect_uris(Platform::Web), ["https://vscode.dev/redirect"]);
}

#[tokio::test]
async fn server_errors_garbage_and_timeouts_are_retried() {
    let emu = emulator().await;
    emu.set_fault(Endpoint::GraphGetApplication, Fault::status(500).times(1));
    emu.set_fault(Endpoint::Token, Fault::status(503).times(1));
    let (_, g) = graph(&emu, Duration::from_secs(10));
    let report = g.enrol(["https://a.example/cb"]).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(emu.request_count(Endpoint::Token), 2);

    emu.set_fault(Endpoint::GraphGetApplication, Fault::garbage().times(1));
    assert!(g.enrol(["https://b.example/cb"]).await.failed.is_empty());

    // Longer than the client's 500 ms timeout: the first PATCH times out, the second lands.
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::delay(Duration::from_secs(5)).times(1));
    let report = g.enrol(["https://c.example/cb"]).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let web = emu.redirect_uris(Platform::Web);
    for uri in ["https://a.example/cb", "https://b.example/cb", "https://c.example/cb"] {
        assert!(web.contains(&uri.to_owned()), "{uri}: {web:?}");
    }
}

#[tokio::test]
async fn a_lasting_outage_or_throttle_is_reported_per_uri_within_the_budget() {
    let emu = emulator().await;
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::outage());
    let (_, g) = graph(&emu, Duration::from_secs(1));
    let report = g.enrol(["https://a.example/cb", "http://127.0.0.1:1234/"]).await;
    assert!(report.enrolled.is_empty());
    assert_eq!(report.failed.len(), 2);
    for (_, e) in &report.failed {
        assert!(matches!(e, EnrolError::Unavailable(_)), "{e:?}");
    }
    assert!(g.enrolled().is_empty());
    assert!(emu.request_count(Endpoint::GraphPatchApplication) >= 2, "retried before giving up");

    // Graph asks to wait longer than the budget: reported at once, with Graph's wait.
    emu.clear_faults();
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::too_many_requests(120));
    let report = g.enrol(["https://a.example/cb"]).await;
    assert_eq!(
        report.failed,
        [(
            "https://a.example/cb".to_owned(),
            EnrolError::Throttled { retry_after: Some(Duration::from_secs(120)) }
        )]
    );
}

#[tokio::test]
async fn a_refused_secret_is_reported_with_what_to_check() {
    let emu = emulator().await;
    emu.set_fault(Endpoint::Token, Fault::status(401));
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let report = g.enrol(["https://a.example/cb"]).await;
    let (_, e) = &report.failed[0];
    // AADSTS7000215: the app's own credential, typed with what to fix.
    assert!(matches!(e, EnrolError::Credential(CredentialError::Refused { code: 7_000_215, .. })), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("the client secret is wrong"), "{text}");
    assert!(!text.contains(emu.client_secret().expose()), "{text}");
}

#[tokio::test]
async fn entras_limit_of_redirect_uris_is_kept_before_writing() {
    let emu = emulator().await;
    let existing: Vec<String> = (0..REDIRECT_URI_LIMIT - 1).map(|i| format!("myapp://cb/{i}")).collect();
    emu.set_redirect_uris(Platform::PublicClient, existing);
    // Registration's own budget raised to Entra's limit, so that Entra's limit is what stops it.
    let s = serve(
        emu.config()
            .mode(Mode::Enrol)
            .allowed_redirect_uri_prefixes([COPILOT])
            .enrol_max_total(REDIRECT_URI_LIMIT)
            .enrol_max_per_prefix(REDIRECT_URI_LIMIT),
    )
    .await;
    // 255 held: one more fits; the server's own callback and a second URI do not.
    let metadata = json!({ "redirect_uris": [format!("{COPILOT}one"), format!("{COPILOT}two")] });
    let a = register(&s.base, &metadata, emu.client_secret().expose()).await;
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(a.json()["redirect_uris"], json!([format!("{COPILOT}one")]));
    let failures = a.json()["enrolment_failures"].clone();
    assert_eq!(failures[0]["redirect_uri"], format!("{COPILOT}two"));
    assert!(failures[0]["error"].as_str().is_some_and(|e| e.contains("256")), "{failures}");
    assert_eq!(emu.redirect_uris(Platform::Web), [format!("{COPILOT}one")]);
}

/// An enrol-mode server without a secret (its consent page sealed with `AZURE_OAUTH_STATE_KEY`).
#[tokio::test]
async fn enrolment_without_a_secret_reports_it_per_uri() {
    let emu = emulator().await;
    let config = Arc::new(
        AzureOAuthConfig::builder()
            .mode(Mode::Enrol)
            .state_keys(StateKeys::new("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
            .app_id(emu.app_id())
            .tenant_id(emu.home_tenant())
            .authority_host(emu.authority_host())
            .graph_endpoint(emu.graph_endpoint())
            .base_url(UNSERVED_BASE)
            .build()
            .expect("valid configuration"),
    );
    let report = GraphClient::new(config).enrol(["https://a.example/cb", "bad uri"]).await;
    assert_eq!(report.failed[0], ("https://a.example/cb".to_owned(), EnrolError::NoCredential));
    assert!(matches!(report.failed[1].1, EnrolError::InvalidUri(_)));
    assert!(emu.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_uri_graph_refuses_does_not_sink_the_others_of_its_batch() {
    let emu = emulator().await;
    // An entry Graph itself refuses on `web` (set by hand, unchecked): every write of `web` fails.
    emu.set_redirect_uris(Platform::Web, vec!["myapp://not-on-web".into()]);
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let report = g.enrol(["https://a.example/cb", "http://127.0.0.1:1234/"]).await;
    assert_eq!(report.enrolled, ["http://127.0.0.1:1234/"]);
    assert_eq!(report.failed.len(), 1);
    let (uri, e) = &report.failed[0];
    assert_eq!(uri, "https://a.example/cb");
    assert!(matches!(e, EnrolError::Graph { status: 400, .. }), "{e:?}");
    assert_eq!(emu.redirect_uris(Platform::PublicClient), ["http://127.0.0.1:1234/"]);
}

#[tokio::test]
async fn loopback_uris_with_other_ports_cost_no_graph_read_and_no_entry() {
    let emu = emulator().await;
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let report = g.enrol(["http://127.0.0.1:1/cb"]).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let reads = emu.request_count(Endpoint::GraphGetApplication);
    for port in ["2", "80", "8080", "65535"] {
        let uri = format!("http://127.0.0.1:{port}/cb");
        // What the client registered is what it gets back: Entra ignores the port.
        assert_eq!(g.enrol([uri.as_str()]).await.enrolled, [uri]);
    }
    assert_eq!(emu.request_count(Endpoint::GraphGetApplication), reads, "Graph was read again");
    assert_eq!(g.enrolled(), ["http://127.0.0.1/cb"]);
    assert_eq!(emu.redirect_uris(Platform::PublicClient), ["http://127.0.0.1:1/cb"]);
    // Ports with a leading zero or past 65535 are refused, not looked up.
    for bad in ["http://127.0.0.1:00080/cb", "http://127.0.0.1:65536/cb", "http://localhost:0/cb"] {
        let report = g.enrol([bad]).await;
        assert!(matches!(report.failed[..], [(_, EnrolError::InvalidUri(_))]), "{bad}: {report:?}");
    }
    assert_eq!(emu.request_count(Endpoint::GraphGetApplication), reads);

    // Through POST /register too: one entry whatever the port; a leading zero is refused.
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uris(["http://localhost/cb"])).await;
    let secret = emu.client_secret().expose().to_owned();
    let register = async |uri: &str| register(&s.base, &json!({ "redirect_uris": [uri] }), &secret).await;
    for uri in ["http://localhost:1/cb", "http://localhost:2/cb", "http://localhost:3/cb"] {
        let a = register(uri).await;
        assert_eq!(a.status, 201, "{}", a.text);
        assert_eq!(a.json()["redirect_uris"], json!([uri]));
    }
    let a = register("http://localhost:00080/cb").await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_redirect_uri");
    let listed = client().get(format!("{}/register", s.base)).send().await.expect("GET /register");
    let listed: serde_json::Value = listed.json().await.expect("JSON");
    assert_eq!(
        listed["redirect_uris"],
        json!(["http://127.0.0.1/oauth/callback", "http://localhost/cb"]),
        "one entry for every port (the server's own loopback callback included)"
    );
}

#[tokio::test]
async fn a_full_app_registration_is_not_read_again_for_every_registration() {
    let emu = emulator().await;
    let existing: Vec<String> = (0..REDIRECT_URI_LIMIT).map(|i| format!("myapp://cb/{i}")).collect();
    emu.set_redirect_uris(Platform::PublicClient, existing);
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let full = EnrolError::LimitReached { limit: REDIRECT_URI_LIMIT };
    assert_eq!(
        g.enrol(["https://a.example/cb"]).await.failed,
        [("https://a.example/cb".to_owned(), full.clone())]
    );
    let reads = emu.request_count(Endpoint::GraphGetApplication);
    for i in 0..20 {
        let uri = format!("https://b.example/cb/{i}");
        assert_eq!(g.enrol([uri.as_str()]).await.failed, [(uri, full.clone())]);
    }
    // A URI the full registration holds is still reported as enrolled.
    assert_eq!(g.enrol(["myapp://cb/7"]).await.enrolled, ["myapp://cb/7"]);
    assert_eq!(emu.request_count(Endpoint::GraphGetApplication), reads, "Graph was read again");
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), 0);
}

#[tokio::test]
async fn the_uris_remembered_as_enrolled_are_bounded_by_entras_limit() {
    let emu = emulator().await;
    let (_, g) = graph(&emu, Duration::from_secs(10));
    let first: Vec<String> = (1..REDIRECT_URI_LIMIT).map(|i| format!("https://a.example/cb/{i}")).collect();
    let report = g.enrol(first).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    assert_eq!(g.enrolled().len(), REDIRECT_URI_LIMIT - 1);
    // The operator empties the registration by hand, twice: the new URIs are enrolled each time,
    // but this process remembers no more than Entra's limit.
    for uri in ["https://b.example/cb", "https://c.example/cb"] {
        emu.set_redirect_uris(Platform::Web, Vec::new());
        let report = g.enrol([uri]).await;
        assert_eq!(report.enrolled, [uri]);
        assert_eq!(emu.redirect_uris(Platform::Web), [uri]);
    }
    let enrolled = g.enrolled();
    assert_eq!(enrolled.len(), REDIRECT_URI_LIMIT);
    assert!(enrolled.contains(&"https://b.example/cb".to_owned()));
}

#[tokio::test]
async fn a_retry_after_too_large_for_the_clock_is_reported_at_once() {
    let emu = emulator().await;
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::too_many_requests(u64::MAX));
    let (_, g) = graph(&emu, Duration::from_secs(5));
    let report = g.enrol(["https://a.example/cb"]).await;
    assert_eq!(
        report.failed,
        [(
            "https://a.example/cb".to_owned(),
            EnrolError::Throttled { retry_after: Some(Duration::from_secs(u64::MAX)) }
        )]
    );
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), 1);
    // The client still works once Graph does.
    emu.clear_faults();
    assert!(g.enrol(["https://a.example/cb"]).await.failed.is_empty());
}
