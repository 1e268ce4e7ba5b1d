//! Client ID Metadata Documents: a client whose `client_id` is the URL of its description. The
//! documents here are served on 127.0.0.1 (the test-only switch admits loopback `http`); the
//! server-side request forgery checks are proved without ever opening a socket to anything but
//! loopback: URLs refused before any connection (a listener counts accepts), and names resolved by
//! a resolver the test controls, whose private answers are never connected to.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_mcp_azure_oauth::config::{HostResolver, Resolving};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint};
use serde_json::json;
use support::broker::{self, Broker};
use support::browser::HttpBrowser;
use support::pkce::Pkce;
use support::serve::{Port, Served};

/// Requests per document name.
type Hits = Arc<Mutex<HashMap<String, usize>>>;

/// Serves metadata documents at `/{name}` and counts the requests for each.
struct Documents {
    base: String,
    hits: Hits,
    _served: Served,
}

/// The document named `name`, for the client at `base`.
async fn document(State((base, hits)): State<(String, Hits)>, Path(name): Path<String>) -> Response {
    *hits.lock().expect("lock").entry(name.clone()).or_default() += 1;
    let id = format!("{base}/{name}");
    let good = json!({
        "client_id": id,
        "client_name": "Metadata Client",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    });
    let json_type = [(header::CONTENT_TYPE, "application/json")];
    match name.as_str() {
        "good.json" | "again.json" | "concurrent.json" => (json_type, good.to_string()).into_response(),
        "uncached.json" => (
            [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
            good.to_string(),
        )
            .into_response(),
        "redirect.json" => {
            (StatusCode::FOUND, [(header::LOCATION, format!("{base}/good.json"))]).into_response()
        }
        "missing.json" => StatusCode::NOT_FOUND.into_response(),
        "large.json" => {
            let mut big = good.clone();
            big["client_uri"] = json!("x".repeat(6 * 1024));
            (json_type, big.to_string()).into_response()
        }
        "html.json" => ([(header::CONTENT_TYPE, "text/html")], "<html>not json</html>").into_response(),
        "notjson.json" => (json_type, "{not json").into_response(),
        "otherid.json" => {
            let mut other = good.clone();
            other["client_id"] = json!(format!("{base}/good.json"));
            (json_type, other.to_string()).into_response()
        }
        "secret.json" => {
            let mut secret = good.clone();
            secret["token_endpoint_auth_method"] = json!("client_secret_basic");
            (json_type, secret.to_string()).into_response()
        }
        // Never answers: the fetch's timeout must end it.
        "slow.json" => std::future::pending::<Response>().await,
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Documents {
    async fn serve() -> Self {
        let port = Port::bind().await;
        let base = port.base().to_owned();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let router =
            Router::new().route("/{name}", get(document)).with_state((base.clone(), Arc::clone(&hits)));
        Self { base, hits, _served: port.serve(router) }
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn hits(&self, name: &str) -> usize {
        self.hits.lock().expect("lock").get(name).copied().unwrap_or(0)
    }
}

/// The broker with the test-only switch for loopback `http` documents, and a short timeout.
async fn broker_for_tests() -> Broker {
    let emu = Emulator::start().await.expect("the emulator starts");
    broker::serve(emu, |c| {
        c.allow_loopback_client_metadata_documents_for_tests().http_timeout(Duration::from_millis(500))
    })
    .await
}

#[tokio::test]
async fn a_client_described_by_its_document_signs_in_and_the_page_shows_its_host() {
    let b = broker_for_tests().await;
    let docs = Documents::serve().await;
    let client_id = docs.url("good.json");
    let redirect = "http://127.0.0.1:9/callback"; // the document's loopback URI, any port
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, redirect, &pkce)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Allow <em>Metadata Client</em>"), "{}", page.body);
    assert!(
        page.body.contains("Its description is published by 127.0.0.1."),
        "the document's host: {}",
        page.body
    );
    let code = b.sign_in(&mut browser, &client_id, redirect, &pkce).await;
    let tokens = b.redeem(&client_id, redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(docs.hits("good.json"), 1, "fetched once, then cached");

    // A redirect URI the document does not list: an error page.
    let other = b.authorize_url(&client_id, "http://127.0.0.1:9/elsewhere", &pkce);
    browser.get(&other).await.assert_refused("not one of this client&#39;s redirect URIs");
}

#[tokio::test]
async fn a_hundred_concurrent_authorizations_of_a_new_client_fetch_its_document_once() {
    let b = broker_for_tests().await;
    let docs = Documents::serve().await;
    let client_id = docs.url("concurrent.json");
    let pkce = Pkce::generate();
    let url = b.authorize_url(&client_id, "http://127.0.0.1:9/callback", &pkce);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { HttpBrowser::new().get(&url).await.status })
        })
        .collect();
    let mut pages = Vec::with_capacity(tasks.len());
    for task in tasks {
        pages.push(task.await.expect("an authorization"));
    }
    assert!(pages.iter().all(|s| *s == 200), "{pages:?}");
    assert_eq!(docs.hits("concurrent.json"), 1, "one fetch in flight per URL, then the cache");
}

#[tokio::test]
async fn bad_documents_are_refused_and_their_failure_remembered() {
    let b = broker_for_tests().await;
    let docs = Documents::serve().await;
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    for (name, says) in [
        ("redirect.json", "answered HTTP 302"),
        ("missing.json", "answered HTTP 404"),
        ("large.json", "larger than 5 KiB"),
        ("html.json", "not a JSON object"),
        ("notjson.json", "not a JSON object"),
        ("otherid.json", "not exactly the URL"),
        ("secret.json", "token_endpoint_auth_method"),
        ("slow.json", "took too long"),
    ] {
        let url = b.authorize_url(&docs.url(name), "http://127.0.0.1:9/callback", &pkce);
        browser.get(&url).await.assert_refused(says);
        browser.get(&url).await.assert_refused(says);
        assert_eq!(docs.hits(name), 1, "{name}: a failure is remembered, not fetched again within a minute");
    }
    assert_eq!(docs.hits("good.json"), 0, "the redirect was not followed");
    // A document its server says not to store is fetched every time.
    let uncached = b.authorize_url(&docs.url("uncached.json"), "http://127.0.0.1:9/callback", &pkce);
    assert_eq!(browser.get(&uncached).await.status, 200);
    assert_eq!(browser.get(&uncached).await.status, 200);
    assert_eq!(docs.hits("uncached.json"), 2);
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0);
}

/// A listener on loopback that counts the connections it accepts (and answers none).
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn without_the_test_switch_http_loopback_and_ip_documents_are_refused_with_no_connection() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let b = broker::serve(emu, |c| c).await;
    let (port, accepted) = counting_listener().await;
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    for (client_id, says) in [
        // Not even recognised as a document: plain http is not a metadata document URL.
        (format!("http://127.0.0.1:{port}/client.json"), "not one this server issued"),
        (format!("https://127.0.0.1:{port}/client.json"), "must be a domain name"),
        (format!("https://[::1]:{port}/client.json"), "must be a domain name"),
        // Any port but https's own (443) is refused before the name is resolved.
        (format!("https://localhost:{port}/client.json"), "default https port (443)"),
        // A name that resolves to loopback (the system resolver: localhost).
        ("https://localhost/client.json".to_owned(), "resolves to no public address"),
        (format!("https://localhost:{port}/"), "must have a path"),
    ] {
        let url = b.authorize_url(&client_id, "http://127.0.0.1:9/callback", &pkce);
        let page = browser.get(&url).await;
        page.assert_refused(&says.replace('\'', "&#39;"));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");
}

/// Resolves fixed names to fixed addresses, and counts the lookups. Never a public address: a bug
/// in the filter could otherwise send traffic off this machine.
#[derive(Clone, Default)]
struct Table {
    lookups: Arc<AtomicUsize>,
}

impl HostResolver for Table {
    fn resolve(&self, host: &str) -> Resolving {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let addresses: Vec<IpAddr> = match host {
            "private.test" => vec!["10.1.2.3".parse().expect("ip")],
            "metadata.test" => vec!["169.254.169.254".parse().expect("ip")],
            "cgnat.test" => vec!["100.64.0.1".parse().expect("ip")],
            "ula.test" => vec!["fd00::1".parse().expect("ip")],
            "linklocal6.test" => vec!["fe80::1".parse().expect("ip")],
            "mapped.test" => vec!["::ffff:192.168.1.1".parse().expect("ip")],
            "loopback.test" => vec!["127.0.0.2".parse().expect("ip"), "::1".parse().expect("ip")],
            "wireserver.test" => vec!["168.63.129.16".parse().expect("ip")],
            "mixed.test" => vec!["192.168.0.10".parse().expect("ip"), "127.0.0.1".parse().expect("ip")],
            _ => vec![],
        };
        Box::pin(async move { Ok(addresses) })
    }
}

#[tokio::test]
async fn names_resolving_to_private_link_local_or_special_addresses_are_never_connected_to() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let table = Table::default();
    let b = broker::serve(emu, |c| c.client_metadata_resolver(table.clone())).await;
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let names = [
        "private.test",
        "metadata.test",
        "cgnat.test",
        "ula.test",
        "linklocal6.test",
        "mapped.test",
        "loopback.test",
        "mixed.test",
        "wireserver.test",
    ];
    for name in names {
        let url =
            b.authorize_url(&format!("https://{name}/client.json"), "http://127.0.0.1:9/callback", &pkce);
        browser.get(&url).await.assert_refused("resolves to no public address");
    }
    assert_eq!(table.lookups.load(Ordering::SeqCst), names.len(), "each name was resolved, and refused");
}

#[tokio::test]
async fn the_metadata_document_url_is_compared_exactly() {
    let b = broker_for_tests().await;
    let docs = Documents::serve().await;
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let url = docs.url("good.json");
    for variant in [
        format!("{url}?x=1"),
        format!("{url}#f"),
        url.replace("/good.json", "/./good.json"),
        url.replace("http://", "http://user@"),
    ] {
        let page = browser.get(&b.authorize_url(&variant, "http://127.0.0.1:9/callback", &pkce)).await;
        assert_eq!(page.status, 400, "{variant}: {}", page.body);
    }
    assert_eq!(docs.hits("good.json"), 0, "none was fetched");
}
