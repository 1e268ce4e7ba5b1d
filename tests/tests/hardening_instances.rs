//! Two server processes (two `AzureOAuth`, each with its own `GraphClient`) enrolling on one app
//! registration at the same time. Graph has no ETag on the application object, so each writer
//! reads, merges, writes and reads back; a writer whose URI was replaced by the other's write must
//! merge again and rewrite, so that no redirect URI is lost.

use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuth;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform};
use serde_json::{Value, json};

const COPILOT: &str = "https://global.consent.azure-apim.net/redirect/";

/// One "process": an `AzureOAuth` served on its own port.
async fn instance(emu: &Emulator) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let config = emu
        .config()
        .base_url(&base)
        .allowed_redirect_uri_prefixes([COPILOT])
        .http_timeout(Duration::from_secs(5))
        .build()
        .expect("valid configuration");
    let auth = AzureOAuth::new(config);
    let app: axum::Router = auth.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn register(base: &str, uri: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/register"))
        .json(&json!({ "redirect_uris": [uri], "client_name": "connector" }))
        .send()
        .await
        .expect("POST /register");
    let status = r.status().as_u16();
    (status, r.json().await.expect("a JSON answer"))
}

/// Both writes held at Graph until both are in flight, and both read-backs held until both writes
/// have landed: the second write replaces the first, and the first writer finds its URI missing
/// when it reads back. It must merge with what Graph now holds and write again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_writes_of_two_instances_lose_no_uri() {
    let emu = Emulator::start().await.expect("emulator starts");
    let (a, b) = (instance(&emu).await, instance(&emu).await);
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::delay(Duration::from_millis(300)).times(2));
    let (ua, ub) = (format!("{COPILOT}from-a"), format!("{COPILOT}from-b"));
    let registrations = {
        let (a, b, ua, ub) = (a.clone(), b.clone(), ua.clone(), ub.clone());
        tokio::spawn(async move { tokio::join!(register(&a, &ua), register(&b, &ub)) })
    };
    // Both PATCHes are received (and held 300 ms): the read-backs that follow are held longer.
    emu.wait_for_requests(Endpoint::GraphPatchApplication, 2).await;
    emu.set_fault(Endpoint::GraphGetApplication, Fault::delay(Duration::from_millis(400)).times(2));
    let ((sa, ja), (sb, jb)) = registrations.await.expect("registrations");
    assert_eq!((sa, sb), (201, 201), "{ja} {jb}");
    assert!(ja.get("enrolment_failures").is_none(), "{ja}");
    assert!(jb.get("enrolment_failures").is_none(), "{jb}");
    let web = emu.redirect_uris(Platform::Web);
    assert!(web.contains(&ua) && web.contains(&ub), "a URI was lost: {web:?}");
    // The instances' own callbacks are loopback URIs of one path: Entra ignores the port, so one
    // entry serves both (the second instance finds it there).
    let public = emu.redirect_uris(Platform::PublicClient);
    assert!(
        !public.is_empty()
            && public.iter().all(|u| u.starts_with("http://127.0.0.1:") && u.ends_with("/oauth/callback")),
        "{public:?}"
    );
    // The loser wrote again: three PATCHes in all.
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), 3);
}

/// Sustained: two instances, twenty registrations each at once, with distinct URIs. Every URI a
/// registration answered 201 for is on the app registration at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_on_two_instances_lose_no_uri() {
    let emu = Emulator::start().await.expect("emulator starts");
    let bases = [instance(&emu).await, instance(&emu).await];
    // Graph answers slowly enough that the two instances' read-merge-write cycles overlap.
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::delay(Duration::from_millis(40)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let base = bases[i % 2].clone();
        tasks.spawn(async move {
            let uri = format!("{COPILOT}connector-{i}");
            let (status, json) = register(&base, &uri).await;
            (uri, status, json)
        });
    }
    let mut confirmed = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (uri, status, json) = done.expect("registration task");
        assert_eq!(status, 201, "{uri}: {json}");
        assert!(json.get("enrolment_failures").is_none(), "{uri}: {json}");
        confirmed.push(uri);
    }
    let web = emu.redirect_uris(Platform::Web);
    let lost: Vec<&String> = confirmed.iter().filter(|u| !web.contains(u)).collect();
    assert!(lost.is_empty(), "confirmed but lost: {lost:?} (the app holds {} web URIs)", web.len());
    assert_eq!(web.len(), 40);
}
