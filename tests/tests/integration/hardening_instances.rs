//! Two server processes (two `AzureOAuth`, each with its own `GraphClient`) in `Mode::Enrol`
//! enrolling on one app registration at the same time. Graph has no ETag on the application object, so each writer
//! reads, merges, writes and reads back; a writer whose URI was replaced by the other's write must
//! merge again and rewrite, so that no redirect URI is lost.

use std::time::Duration;

use axum_mcp_azure_oauth::config::Mode;
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform};
use serde_json::{Value, json};
use support::app::{self, App};
use support::bounded;
use support::flow::{COPILOT, register};

/// One "process": an `AzureOAuth` in enrol mode served on its own port.
async fn instance(emu: &Emulator) -> App {
    let config = emu
        .config()
        .mode(Mode::Enrol)
        .allowed_redirect_uri_prefixes([COPILOT])
        .http_timeout(Duration::from_secs(5));
    app::serve(config).await
}

/// A registration of `uri` whose answer never holds `secret`: its status and JSON body.
async fn enrol(base: &str, secret: &str, uri: &str) -> (u16, Value) {
    let a = register(base, &json!({ "redirect_uris": [uri], "client_name": "connector" }), secret).await;
    (a.status, a.json())
}

/// Both writes held at Graph until both are in flight, and both read-backs held until both writes
/// have landed: the second write replaces the first, and the first writer finds its URI missing
/// when it reads back. It must merge with what Graph now holds and write again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_writes_of_two_instances_lose_no_uri() {
    let emu = Emulator::start().await.expect("emulator starts");
    let (a, b) = (instance(&emu).await, instance(&emu).await);
    let secret = emu.client_secret().expose().to_owned();
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::delay(Duration::from_millis(300)).times(2));
    let (ua, ub) = (format!("{COPILOT}from-a"), format!("{COPILOT}from-b"));
    let registrations = {
        let (a, b, ua, ub) = (a.base.clone(), b.base.clone(), ua.clone(), ub.clone());
        tokio::spawn(async move { tokio::join!(enrol(&a, &secret, &ua), enrol(&b, &secret, &ub)) })
    };
    // Both PATCHes are received (and held 300 ms): the read-backs that follow are held longer.
    bounded(
        Duration::from_secs(10),
        "both PATCHes",
        emu.wait_for_requests(Endpoint::GraphPatchApplication, 2),
    )
    .await;
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
    let instances = [instance(&emu).await, instance(&emu).await];
    let secret = emu.client_secret().expose().to_owned();
    // Graph answers slowly enough that the two instances' read-merge-write cycles overlap.
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::delay(Duration::from_millis(40)));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (base, secret) = (instances[i % 2].base.clone(), secret.clone());
        tasks.spawn(async move {
            let uri = format!("{COPILOT}connector-{i}");
            let (status, json) = enrol(&base, &secret, &uri).await;
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
