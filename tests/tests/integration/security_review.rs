//! Hostile tests for the findings of the independent review of the broker (SECURITY.md, "Review
//! findings"): each test names its finding, failed before the fix, and runs over real HTTP on
//! 127.0.0.1 against the emulator. Addresses outside loopback are only ever answered by a resolver
//! the test controls, never connected to.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_mcp_azure_oauth::config::{HostResolver, Mode, Resolving, StateKeys};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Platform};
use axum_mcp_azure_oauth::validate::TokenValidator;
use serde_json::{Value, json};
use support::broker::{self, Broker};
use support::browser::{HttpBrowser, Page};
use support::endpoints::serve;
use support::flow::{COPILOT, register};
use support::http::{Answer, param, unused_loopback_redirect};
use support::pkce::Pkce;
use support::serve::{Port, Served};
use tokio::sync::watch;

/// What a forged request claims to be.
const FORGED: [(&str, &str); 4] = [
    ("host", "evil-host.example"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "evil-host.example"),
    ("forwarded", "host=evil-host.example;proto=https"),
];

/// A sealing key two servers share.
const STATE_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

async fn emulator() -> Emulator {
    Emulator::start().await.expect("the emulator starts")
}

/// A client that sends the forged headers with every request.
fn forged_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in FORGED {
        headers.insert(name, value.parse().expect("a header value"));
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .default_headers(headers)
        .build()
        .expect("a client")
}

/// Everything the emulator (Entra and Graph) received, as text: no byte of it may come from a
/// forged header.
fn everything_entra_and_graph_received(emu: &Emulator) -> String {
    emu.requests()
        .iter()
        .map(|r| format!("{} {:?} {:?} {:?}", r.path, r.query, r.form, r.json))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Finding 1 (high): with the headers forged on every request, the callback Entra is given and
/// Graph enrols, the `iss` clients get and the issuer of the documents are the configured ones.
#[tokio::test]
async fn finding_1_forged_host_headers_never_reach_entra_or_graph_in_broker_mode() {
    let b = broker::start().await;
    let http = forged_client();
    let redirect = unused_loopback_redirect();
    let metadata = json!({ "redirect_uris": [redirect], "application_type": "native" });
    let registered =
        Answer::of(http.post(format!("{}/register", b.base)).json(&metadata).send().await.expect("register"))
            .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    let client_id = registered.json()["client_id"].as_str().expect("a client id").to_owned();

    for path in ["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource/mcp"] {
        let doc = Answer::of(http.get(format!("{}{path}", b.base)).send().await.expect("a document")).await;
        assert!(!doc.text.contains("evil-host"), "{path}: {}", doc.text);
        assert!(doc.text.contains(&b.base), "{path} names the configured base: {}", doc.text);
    }

    let mut browser = HttpBrowser::with_headers(&FORGED);
    let pkce = Pkce::generate();
    let code = b.sign_in(&mut browser, &client_id, &redirect, &pkce).await; // `iss` = the configured base
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", client_id.as_str()),
        ("resource", &format!("{}/mcp", b.base)),
    ];
    let tokens =
        Answer::of(http.post(format!("{}/token", b.base)).form(&form).send().await.expect("token")).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);

    let callback = format!("{}/oauth/callback", b.base);
    let authorize = emu_request(&b.emu, Endpoint::Authorize);
    assert_eq!(authorize.query_param("redirect_uri"), Some(callback.as_str()));
    let redemption = b
        .emu
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some("authorization_code"))
        .expect("the redemption");
    assert_eq!(redemption.form_param("redirect_uri"), Some(callback.as_str()));
    assert_eq!(b.emu.redirect_uris(Platform::Web), [callback], "only the configured callback is enrolled");
    let received = everything_entra_and_graph_received(&b.emu);
    assert!(!received.contains("evil-host"), "{received}");
}

fn emu_request(emu: &Emulator, endpoint: Endpoint) -> axum_mcp_azure_oauth::emulator::RecordedRequest {
    emu.requests().into_iter().find(|r| r.endpoint == endpoint).unwrap_or_else(|| panic!("no {endpoint:?}"))
}

/// Finding 1 in enrol mode: registration and `/authorize` with forged headers write and send only
/// the client's URI and the configured callback.
#[tokio::test]
async fn finding_1_forged_host_headers_never_reach_entra_or_graph_in_enrol_mode() {
    let emu = emulator().await;
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT])).await;
    let http = forged_client();
    let uri = format!("{COPILOT}connector");
    let registered = Answer::of(
        http.post(format!("{}/register", s.base))
            .json(&json!({ "redirect_uris": [uri] }))
            .send()
            .await
            .expect("register"),
    )
    .await;
    assert_eq!(registered.status, 201, "{}", registered.text);
    let mut browser = HttpBrowser::with_headers(&FORGED);
    let mut url = url::Url::parse(&format!("{}/authorize", s.base)).expect("a URL");
    let pkce = Pkce::generate();
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", emu.app_id().as_str()),
        ("redirect_uri", uri.as_str()),
        ("scope", "access_as_user"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let page = browser.get(&url).await;
    let to_entra = browser.answer(&page, "allow", false).await.location().expect("on to Entra");
    assert_eq!(param(&to_entra, "redirect_uri").as_deref(), Some(uri.as_str()));
    let mut enrolled = emu.redirect_uris(Platform::Web);
    enrolled.extend(emu.redirect_uris(Platform::PublicClient));
    enrolled.sort();
    let mut expected = vec![uri.clone(), format!("{}/oauth/callback", s.base)];
    expected.sort();
    assert_eq!(enrolled, expected);
    let received = everything_entra_and_graph_received(&emu);
    assert!(!received.contains("evil-host"), "{received}");
}

/// Direct mode is the one mode that still derives its documents' URLs from `Host` (harmless: it
/// is no authorization server, and nothing goes to Entra or Graph). This also proves that the
/// forged headers of the tests above reach the server.
#[tokio::test]
async fn direct_mode_documents_alone_follow_the_host_header() {
    let emu = emulator().await;
    let s = support::endpoints::serve_with(emu.config().mode(Mode::Direct), false, None).await;
    let doc = Answer::of(
        forged_client()
            .get(format!("{}/.well-known/oauth-protected-resource/mcp", s.base))
            .send()
            .await
            .expect("a document"),
    )
    .await;
    assert_eq!(doc.json()["resource"], "https://evil-host.example/mcp", "{}", doc.text);
    assert_eq!(emu.requests().len(), 0, "nothing was sent to Entra or Graph");
}

/// Finding 2 (medium): URIs the URL parser rewrites are refused at registration, in metadata
/// documents and at `/authorize`, so the consent page shows the URI the browser reaches.
#[tokio::test]
async fn finding_2_uris_a_browser_reads_otherwise_are_refused() {
    let b = broker::start().await;
    let secret = b.emu.client_secret().expose().to_owned();
    for uri in [
        "https://claude.ai%2eevil.example/cb",
        "https://claude.ai\t.evil.example/cb",
        "https://\u{441}laude.ai/cb",
    ] {
        let answer = register(&b.base, &json!({ "redirect_uris": [uri] }), &secret).await;
        assert_eq!(answer.status, 400, "{uri:?}: {}", answer.text);
        assert_eq!(answer.json()["error"], "invalid_redirect_uri", "{uri:?}");
        assert!(
            answer.json()["error_description"].as_str().unwrap_or("").contains("canonical"),
            "{}",
            answer.text
        );
    }
    // The xn-- form is what a browser reaches; it may be registered, and the page shows it.
    let punycode = "https://xn--laude-0ye.ai/cb";
    let client_id = b.register(&[punycode]).await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, punycode, &Pkce::generate())).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<strong>xn--laude-0ye.ai</strong>"), "{}", page.body);
    // A registered URI written another way at /authorize is refused, not matched after parsing.
    let loopback = b.register(&["http://127.0.0.1/callback"]).await;
    for variant in
        ["http://127.0.0.1:5/x/../callback", "http://127.0.0.1:5/callback\t", "HTTP://127.0.0.1:5/callback"]
    {
        let page = browser.get(&b.authorize_url(&loopback, variant, &Pkce::generate())).await;
        page.assert_refused("canonical");
    }
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0);
}

/// Serves one metadata document at `/client.json` listing `redirect_uris`.
async fn document_server(redirect_uris: Value) -> (String, Served) {
    let port = Port::bind().await;
    let id = format!("{}/client.json", port.base());
    let body = json!({
        "client_id": id,
        "client_name": "Metadata Client",
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": "none",
    })
    .to_string();
    let router = Router::new().route(
        "/client.json",
        get(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
    );
    (id, port.serve(router))
}

/// Finding 2 in metadata documents: a document listing a URI the parser rewrites is invalid.
#[tokio::test]
async fn finding_2_a_metadata_document_with_a_rewritten_uri_is_refused() {
    let emu = emulator().await;
    let b = broker::serve(emu, |c| c.allow_loopback_client_metadata_documents_for_tests()).await;
    let (client_id, _docs) = document_server(json!(["https://claude.ai%2eevil.example/cb"])).await;
    let page = HttpBrowser::new()
        .get(&b.authorize_url(&client_id, "https://claude.ai.evil.example/cb", &Pkce::generate()))
        .await;
    page.assert_refused("canonical");
}

/// Finding 3 (medium): the operator's allow-list applies at `/authorize` to metadata documents
/// and to client ids issued before it was set.
#[tokio::test]
async fn finding_3_allow_lists_apply_at_authorize_to_every_client_kind() {
    let claude = "https://claude.ai/api/mcp/auth_callback";
    let open = broker::serve(emulator().await, |c| c.state_keys(StateKeys::new(STATE_KEY))).await;
    let before = open.register(&[claude]).await;
    // The same app, the same key, now with an allow-list that does not name claude.ai.
    let emu = emulator().await;
    let tightened = broker::serve(emu, |c| {
        c.app_id(open.emu.app_id())
            .state_keys(StateKeys::new(STATE_KEY))
            .allowed_redirect_uris(["https://vscode.dev/redirect"])
            .allow_loopback_client_metadata_documents_for_tests()
    })
    .await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&tightened.authorize_url(&before, claude, &Pkce::generate())).await;
    page.assert_refused("does not allow it");
    // The client id itself still opens there: only the allow-list refused it.
    let page = open_browser_page(&open, &before, claude).await;
    assert_eq!(page.status, 200, "{}", page.body);

    let (document, _docs) = document_server(json!(["http://127.0.0.1/callback"])).await;
    let page = browser
        .get(&tightened.authorize_url(&document, "http://127.0.0.1:7/callback", &Pkce::generate()))
        .await;
    page.assert_refused("does not allow it");
    assert_eq!(tightened.emu.request_count(Endpoint::Authorize), 0);
}

async fn open_browser_page(b: &Broker, client_id: &str, redirect: &str) -> Page {
    HttpBrowser::new().get(&b.authorize_url(client_id, redirect, &Pkce::generate())).await
}

/// Finding 4 (medium–low): a `\`, a tab or a newline after an allowed prefix is refused, in both
/// modes that register, before any Graph call.
#[tokio::test]
async fn finding_4_a_prefix_cannot_be_escaped_with_backslash_tab_or_newline() {
    let emu = emulator().await;
    let secret = emu.client_secret().expose().to_owned();
    let enrol = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT])).await;
    let brokered = broker::serve(emulator().await, |c| c.allowed_redirect_uri_prefixes([COPILOT])).await;
    for escape in
        ["..\\evil", "a\\..\\..\\evil", ".\t./evil", "a\t/../../evil", "a\n/../../evil", "a%5c..%5cevil"]
    {
        let uri = format!("{COPILOT}{escape}");
        for base in [&enrol.base, &brokered.base] {
            let answer = register(base, &json!({ "redirect_uris": [uri] }), &secret).await;
            assert_eq!(answer.status, 400, "{uri:?} at {base}: {}", answer.text);
            assert_eq!(answer.json()["error"], "invalid_redirect_uri");
        }
    }
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), 0, "nothing was written");
}

/// Finding 5 (medium): 300 unauthenticated registrations under one prefix stop at the budget
/// (default 50), and the app registration's other URIs stay.
#[tokio::test]
async fn finding_5_enrol_registrations_under_a_prefix_stop_at_the_budget() {
    let emu = emulator().await;
    let others =
        vec!["https://vscode.dev/redirect".to_owned(), "https://claude.ai/api/mcp/auth_callback".to_owned()];
    emu.set_redirect_uris(Platform::Web, others.clone());
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT])).await;
    let secret = emu.client_secret().expose().to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (base, secret) = (s.base.clone(), secret.clone());
        tasks.spawn(async move {
            let metadata = json!({ "redirect_uris": [format!("{COPILOT}junk-{i}")] });
            register(&base, &metadata, &secret).await
        });
    }
    let (mut created, mut refused) = (0, 0);
    while let Some(answer) = tasks.join_next().await {
        let answer = answer.expect("a registration");
        match answer.status {
            201 => created += 1,
            400 => {
                refused += 1;
                assert_eq!(answer.json()["error"], "invalid_redirect_uri", "{}", answer.text);
                assert!(answer.text.contains("AZURE_OAUTH_ENROL_MAX_PER_PREFIX"), "{}", answer.text);
            }
            other => panic!("HTTP {other}: {}", answer.text),
        }
    }
    assert_eq!((created, refused), (50, 250));
    let web = emu.redirect_uris(Platform::Web);
    assert_eq!(web.iter().filter(|u| u.starts_with(COPILOT)).count(), 50);
    assert!(others.iter().all(|u| web.contains(u)), "the other URIs stay: {web:?}");

    // The total cap: once the registration holds `enrol_max_total` URIs, nothing more is written.
    let emu = emulator().await;
    emu.set_redirect_uris(Platform::Web, others.clone());
    let s = serve(emu.config().mode(Mode::Enrol).allowed_redirect_uri_prefixes([COPILOT]).enrol_max_total(4))
        .await;
    let first = register(&s.base, &json!({ "redirect_uris": [format!("{COPILOT}one")] }), &secret).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second = register(&s.base, &json!({ "redirect_uris": [format!("{COPILOT}two")] }), &secret).await;
    assert_eq!(second.status, 400, "{}", second.text);
    assert!(second.text.contains("AZURE_OAUTH_ENROL_MAX_TOTAL"), "{}", second.text);
}

/// Finding 7 (low): "remember" covers the scopes approved; a request for another scope shows
/// the page again.
#[tokio::test]
async fn finding_7_a_remembered_approval_asks_again_for_a_new_scope() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();
    let pkce = Pkce::generate();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &pkce)).await;
    assert_eq!(page.status, 200, "the first time, the page: {}", page.body);
    let approved = browser.answer(&page, "allow", true).await;
    assert!(approved.location().is_some_and(|l| l.as_str().starts_with(&b.emu.authority_host())));
    // The same scopes (in another order): remembered, straight on to Entra.
    let mut same = b.authorize_url(&client_id, &redirect, &pkce);
    set_scope(&mut same, "offline_access access_as_user");
    let again = browser.get(&same).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert!(again.location().is_some_and(|l| l.as_str().starts_with(&b.emu.authority_host())));
    // One scope more: the page again, naming it.
    let mut wider = b.authorize_url(&client_id, &redirect, &pkce);
    set_scope(&mut wider, "access_as_user offline_access Files.ReadWrite");
    let page = browser.get(&wider).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Files.ReadWrite"), "{}", page.body);
}

fn set_scope(url: &mut url::Url, scope: &str) {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "scope" { scope.to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
}

/// A metadata document host that fails every fetch, after holding it until released.
struct Flood {
    /// Requests seen, and the most in flight at once.
    seen: watch::Sender<usize>,
    in_flight: AtomicUsize,
    most: AtomicUsize,
    paths: Mutex<Vec<String>>,
    release: watch::Receiver<bool>,
}

async fn failing_document(State(flood): State<Arc<Flood>>, Path(name): Path<String>) -> Response {
    let now = flood.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    flood.most.fetch_max(now, Ordering::SeqCst);
    flood.paths.lock().expect("lock").push(name);
    flood.seen.send_modify(|n| *n += 1);
    let mut release = flood.release.clone();
    let _ = release.wait_for(|released| *released).await;
    flood.in_flight.fetch_sub(1, Ordering::SeqCst);
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// Finding 8 (low): 200 distinct failing document URLs cause at most 16 fetches at once (the
/// others are answered "busy" with no connection), and a failed URL is not fetched again within
/// the negative cache's minute.
#[tokio::test]
async fn finding_8_failing_metadata_documents_are_capped_and_remembered() {
    const CAP: usize = 16;
    let emu = emulator().await;
    let b = broker::serve(emu, |c| c.allow_loopback_client_metadata_documents_for_tests()).await;
    let (seen, mut seen_rx) = watch::channel(0);
    let (release, release_rx) = watch::channel(false);
    let flood = Arc::new(Flood {
        seen,
        in_flight: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
        paths: Mutex::new(Vec::new()),
        release: release_rx,
    });
    let port = Port::bind().await;
    let docs = port.base().to_owned();
    let _served =
        port.serve(Router::new().route("/{name}", get(failing_document)).with_state(Arc::clone(&flood)));
    let url_of = |name: &str| {
        b.authorize_url(&format!("{docs}/{name}"), "http://127.0.0.1:7/callback", &Pkce::generate())
    };

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let url = url_of(&format!("client-{i}.json"));
        tasks.spawn(async move { HttpBrowser::new().get(&url).await });
    }
    // The cap's worth of fetches are held at the document host; every other authorization is
    // answered meanwhile without a fetch.
    tokio::time::timeout(Duration::from_secs(60), seen_rx.wait_for(|n| *n >= CAP))
        .await
        .expect("fetches")
        .expect("open");
    let mut busy = 0;
    while busy < 200 - CAP {
        let page = tokio::time::timeout(Duration::from_secs(60), tasks.join_next())
            .await
            .expect("an answer while the fetches are held")
            .expect("a task")
            .expect("an authorization");
        page.assert_refused("try again");
        busy += 1;
    }
    assert_eq!(*seen_rx.borrow(), CAP, "no fetch beyond the cap");
    release.send_replace(true);
    while let Some(page) = tasks.join_next().await {
        page.expect("an authorization").assert_refused("answered HTTP 500");
    }
    assert_eq!(flood.most.load(Ordering::SeqCst), CAP);

    // Failures are remembered: the same URLs again, no new fetch.
    let failed: Vec<String> = flood.paths.lock().expect("lock").clone();
    for name in &failed {
        HttpBrowser::new().get(&url_of(name)).await.assert_refused("answered HTTP 500");
    }
    assert_eq!(*seen_rx.borrow(), CAP, "a failed document is not fetched again within a minute");
    // "Busy" is not remembered: a URL that was turned away is fetched now.
    let turned_away =
        (0..200).map(|i| format!("client-{i}.json")).find(|n| !failed.contains(n)).expect("one");
    HttpBrowser::new().get(&url_of(&turned_away)).await.assert_refused("answered HTTP 500");
    assert_eq!(*seen_rx.borrow(), CAP + 1);
}

/// Resolves every name to Azure's platform address (never connected to).
struct Wireserver {
    lookups: Arc<AtomicUsize>,
}

impl HostResolver for Wireserver {
    fn resolve(&self, _host: &str) -> Resolving {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let address: IpAddr = "168.63.129.16".parse().expect("ip");
        Box::pin(async move { Ok(vec![address]) })
    }
}

/// Finding 8: Azure's platform address `168.63.129.16` is denied like the private ranges, and a
/// document URL on a port other than 443 is refused before any lookup.
#[tokio::test]
async fn finding_8_azures_platform_address_and_other_ports_are_refused() {
    let lookups = Arc::new(AtomicUsize::new(0));
    let resolver = Wireserver { lookups: Arc::clone(&lookups) };
    let b = broker::serve(emulator().await, |c| c.client_metadata_resolver(resolver)).await;
    let mut browser = HttpBrowser::new();
    let page = browser
        .get(&b.authorize_url(
            "https://wireserver.test/client.json",
            "http://127.0.0.1:7/cb",
            &Pkce::generate(),
        ))
        .await;
    page.assert_refused("resolves to no public address");
    assert_eq!(lookups.load(Ordering::SeqCst), 1);
    let page = browser
        .get(&b.authorize_url(
            "https://app.test:8443/client.json",
            "http://127.0.0.1:7/cb",
            &Pkce::generate(),
        ))
        .await;
    page.assert_refused("443");
    assert_eq!(lookups.load(Ordering::SeqCst), 1, "refused before any lookup");
}

/// Finding 9: a refresh token the broker handed out stops after `refresh_lifetime` unused; each
/// refresh hands out a new one.
#[tokio::test]
async fn finding_9_broker_refresh_tokens_have_a_lifetime() {
    let b = broker::serve(emulator().await, |c| c.refresh_lifetime(Duration::from_secs(3600))).await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();
    let code = b.sign_in(&mut HttpBrowser::new(), &client_id, &redirect, &pkce).await;
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let first = tokens.json()["refresh_token"].as_str().expect("a refresh token").to_owned();
    let refresh = |token: String| {
        let client_id = client_id.clone();
        let b = &b;
        async move {
            b.token(&[("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", &client_id)])
                .await
        }
    };
    b.clock.advance(Duration::from_secs(3500));
    let refreshed = refresh(first.clone()).await;
    assert_eq!(refreshed.status, 200, "within its lifetime: {}", refreshed.text);
    let second = refreshed.json()["refresh_token"].as_str().expect("a new refresh token").to_owned();
    b.clock.advance(Duration::from_secs(3500));
    let expired = refresh(first).await;
    assert_eq!(expired.status, 400, "{}", expired.text);
    assert_eq!(expired.json()["error"], "invalid_grant");
    assert!(expired.text.contains("AZURE_OAUTH_REFRESH_LIFETIME_SECS"), "{}", expired.text);
    let fresh = refresh(second).await;
    assert_eq!(fresh.status, 200, "the refreshed one lives on: {}", fresh.text);
}

/// Finding 9: signing keys are fetched only from the authority host's origin, whatever the
/// metadata document names.
#[tokio::test]
async fn finding_9_keys_are_never_fetched_off_the_authority_host() {
    let emu = emulator().await;
    let hits = Arc::new(AtomicUsize::new(0));
    // A metadata host that names the emulator's real key set, on another origin.
    let port = Port::bind().await;
    let keys = emu.authority_host();
    let counter = Arc::clone(&hits);
    let metadata = move |Path(tenant): Path<String>| {
        let keys = keys.clone();
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            axum::Json(json!({
                "issuer": format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                "jwks_uri": format!("{keys}/{tenant}/discovery/v2.0/keys"),
            }))
        }
    };
    let authority = port.base().to_owned();
    let _served = port.serve(
        Router::new()
            .route("/{tenant}/v2.0/.well-known/openid-configuration", get(metadata.clone()))
            .route("/{tenant}/.well-known/openid-configuration", get(metadata)),
    );
    let config = emu.config().mode(Mode::Direct).authority_host(authority).build().expect("a configuration");
    let validator = TokenValidator::new(config);
    let token = emu.token().sign();
    assert!(validator.validate(&token).await.is_err());
    assert!(hits.load(Ordering::SeqCst) >= 1, "the metadata was read");
    assert_eq!(emu.request_count(Endpoint::JwksV2) + emu.request_count(Endpoint::JwksV1), 0, "no key fetch");
}

/// Finding 9: a client id sealed for one app does not open at another app's server that shares
/// the sealing key.
#[tokio::test]
async fn finding_9_seals_name_their_app() {
    let ours = broker::serve(emulator().await, |c| c.state_keys(StateKeys::new(STATE_KEY))).await;
    let redirect = unused_loopback_redirect();
    let client_id = ours.register(&[&redirect]).await;
    let theirs = broker::serve(emulator().await, |c| c.state_keys(StateKeys::new(STATE_KEY))).await;
    assert_ne!(ours.emu.app_id(), theirs.emu.app_id());
    let page = HttpBrowser::new().get(&theirs.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    page.assert_refused("not one this server issued");
    let page = open_browser_page(&ours, &client_id, &redirect).await;
    assert_eq!(page.status, 200, "at its own app's server it opens: {}", page.body);
}
