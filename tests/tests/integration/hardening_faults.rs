//! Faults of Entra's metadata and key endpoints and of Microsoft Graph, against the emulator:
//! what `validator.rs`, `graph.rs` and `endpoints.rs` do not already prove. Every call that could
//! hang is wrapped in `tokio::time::timeout` (a hang fails the test); no sleeps.
//!
//! - Keys: a hanging refetch never holds up requests whose key is cached; every kind of broken
//!   JWKS (garbage, empty set, 5xx, 429, hanging) during a refetch keeps the last known good keys;
//!   slow metadata is bounded; keys rotated under concurrent traffic refuse no valid token, both
//!   through the unknown-`kid` refetch and through the background refresh.
//! - Graph (in `Mode::Enrol`, whose `/register`, `/authorize` and `/token` call it): a 429 storm,
//!   500s and a hanging Graph give bounded registrations that report per URI, bounded
//!   `/authorize` and `/token`, and recovery without a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum_mcp_azure_oauth::config::{AzureOAuthConfigBuilder, Mode};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform};
use axum_mcp_azure_oauth::validate::Clock;
use axum_mcp_azure_oauth::{AuthError, TokenValidator};
use serde_json::{Value, json};
use support::UNSERVED_BASE;
use support::endpoints::{Endpoints, serve_with};
use support::flow::{COPILOT, register};
use support::http::{assert_error_page, client, send};
use support::{app, bounded};

const HTTP_TIMEOUT: Duration = Duration::from_millis(300);
/// A generous bound for one validation when Entra hangs: the HTTP timeout on metadata and JWKS,
/// plus scheduling.
const VALIDATION_BOUND: Duration = Duration::from_secs(5);

fn validator(config: AzureOAuthConfigBuilder) -> (TokenValidator, Clock) {
    let clock = Clock::manual();
    let config = config.http_timeout(HTTP_TIMEOUT).build().expect("valid configuration");
    (TokenValidator::with_clock(Arc::new(config), clock.clone()), clock)
}

async fn validate(v: &TokenValidator, token: &str) -> Result<(), AuthError> {
    bounded(VALIDATION_BOUND, "a validation", v.validate(token)).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_key_refetch_never_holds_up_requests_with_cached_keys() {
    let emu = Emulator::start().await.expect("emulator");
    // A long HTTP timeout: the refetch hangs for all of it while other requests are served.
    let config = emu.config().base_url(UNSERVED_BASE).build().expect("valid");
    let clock = Clock::manual();
    let v = TokenValidator::with_clock(Arc::new(config), clock.clone());
    let old_kid = emu.current_kid(None);
    validate(&v, &emu.token().sign()).await.expect("warm");
    emu.rotate_keys(None);
    clock.advance(Duration::from_secs(301));
    emu.set_fault(Endpoint::JwksV2, Fault::delay(Duration::from_secs(3600)));
    let hanging = {
        let (v, t) = (v.clone(), emu.token().sign());
        tokio::spawn(async move { v.validate(&t).await.map(|_| ()) })
    };
    // The warm-up fetched the JWKS once; the second request is the refetch, now held at Entra.
    bounded(Duration::from_secs(5), "the refetch to start", emu.wait_for_requests(Endpoint::JwksV2, 2)).await;
    // The refetch is in flight (held at Entra); tokens of the cached key pass at once.
    for i in 0..50 {
        let t = emu.token().signing_key(&old_kid).claim("n", json!(i)).sign();
        bounded(Duration::from_secs(1), "a cached-key validation during a refetch", v.validate(&t))
            .await
            .expect("cached key");
    }
    assert!(!hanging.is_finished(), "the refetch is still held at Entra");
    hanging.abort();
}

#[tokio::test]
async fn every_broken_jwks_during_a_refetch_keeps_the_last_known_good_keys() {
    for fault in [
        Fault::garbage(),
        Fault::empty_keys(),
        Fault::status(500),
        Fault::status(404),
        Fault::too_many_requests(30),
        Fault::delay(Duration::from_secs(3600)),
        Fault::outage(),
    ] {
        let emu = Emulator::start().await.expect("emulator");
        let (v, clock) = validator(emu.config().base_url(UNSERVED_BASE));
        let old_kid = emu.current_kid(None);
        validate(&v, &emu.token().sign()).await.expect("warm");
        let new_kid = emu.rotate_keys(None);
        clock.advance(Duration::from_secs(301));
        emu.set_fault(Endpoint::JwksV2, fault);
        let rotated = emu.token().sign();
        let refused = validate(&v, &rotated).await.expect_err("the new key cannot be fetched");
        assert!(
            matches!(refused, AuthError::KeysUnavailable | AuthError::InvalidToken(_)),
            "{fault:?}: {refused:?}"
        );
        // The old key still serves, without a fetch.
        let fetches = v.stats().jwks_fetches;
        for i in 0..5 {
            let t = emu.token().signing_key(&old_kid).claim("n", json!(i)).sign();
            validate(&v, &t)
                .await
                .unwrap_or_else(|e| panic!("{fault:?}: last known good key refused: {e:?}"));
        }
        assert_eq!(v.stats().jwks_fetches, fetches, "{fault:?}");
        // Recovery without a restart.
        emu.clear_faults();
        clock.advance(Duration::from_secs(301));
        validate(&v, &rotated).await.unwrap_or_else(|e| panic!("{fault:?}: not recovered: {e:?}"));
        assert_eq!(emu.current_kid(None), new_kid);
    }
}

#[tokio::test]
async fn slow_or_broken_metadata_is_bounded_and_recovers() {
    for fault in
        [Fault::delay(Duration::from_secs(3600)), Fault::garbage(), Fault::status(500), Fault::outage()]
    {
        let emu = Emulator::start().await.expect("emulator");
        let (v, clock) = validator(emu.config().base_url(UNSERVED_BASE));
        emu.set_fault(Endpoint::OpenIdConfigurationV2, fault);
        let token = emu.token().sign();
        assert_eq!(validate(&v, &token).await, Err(AuthError::KeysUnavailable), "{fault:?}");
        // Within the failure back-off: answered at once, no new fetch.
        let fetches = emu.request_count(Endpoint::OpenIdConfigurationV2);
        for _ in 0..10 {
            assert_eq!(validate(&v, &token).await, Err(AuthError::KeysUnavailable));
        }
        assert_eq!(emu.request_count(Endpoint::OpenIdConfigurationV2), fetches, "{fault:?}");
        emu.clear_faults();
        clock.advance(Duration::from_secs(11));
        validate(&v, &token).await.unwrap_or_else(|e| panic!("{fault:?}: not recovered: {e:?}"));
    }
}

/// Keys rotate while requests of both keys arrive together: the unknown-`kid` refetch is single
/// flight, and every waiter sees the new key set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotated_under_concurrent_traffic_refuse_no_valid_token() {
    let emu = Emulator::start().await.expect("emulator");
    let (v, clock) = validator(emu.config().base_url(UNSERVED_BASE).token_cache_capacity(0));
    let old_kid = emu.current_kid(None);
    validate(&v, &emu.token().sign()).await.expect("warm");
    let new_kid = emu.rotate_keys(None);
    clock.advance(Duration::from_secs(301));
    // The refetch is slow, so the requests pile up behind it.
    emu.set_fault(Endpoint::JwksV2, Fault::delay(Duration::from_millis(200)).times(1));
    let jwks = emu.request_count(Endpoint::JwksV2);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..400 {
        let kid = if i % 2 == 0 { &old_kid } else { &new_kid };
        let t = emu.token().signing_key(kid).claim("n", json!(i)).sign();
        let v = v.clone();
        tasks.spawn(async move { (i, tokio::time::timeout(VALIDATION_BOUND, v.validate(&t)).await) });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done.expect("task");
        let result = result.unwrap_or_else(|_| panic!("request {i} hung"));
        assert!(
            result.is_ok(),
            "request {i} ({} key) refused: {result:?}",
            if i % 2 == 0 { "old" } else { "new" }
        );
    }
    assert_eq!(emu.request_count(Endpoint::JwksV2), jwks + 1, "one refetch for the whole burst");
}

/// The background refresh picks up a rotation while traffic of the old key keeps flowing: no
/// request is refused before, during or after it, and the new key passes once it is published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_refresh_rotates_keys_under_traffic_without_refusing_any() {
    let emu = Arc::new(Emulator::start().await.expect("emulator"));
    let config = emu
        .config()
        .base_url(UNSERVED_BASE)
        .key_refresh_interval(Duration::from_secs(1))
        .token_cache_capacity(0);
    let v = TokenValidator::new(Arc::new(config.build().expect("valid")));
    let old_kid = emu.current_kid(None);
    validate(&v, &emu.token().sign()).await.expect("warm");
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut traffic = tokio::task::JoinSet::new();
    for worker in 0..4 {
        let (emu, v, stop, served) = (emu.clone(), v.clone(), stop.clone(), served.clone());
        let old_kid = old_kid.clone();
        traffic.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = emu.token().signing_key(&old_kid).claim("n", json!([worker, n])).sign();
                match tokio::time::timeout(VALIDATION_BOUND, v.validate(&t)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => panic!("an old-key token refused during the rotation: {e:?}"),
                    Err(_) => panic!("a validation hung during the rotation"),
                }
                served.fetch_add(1, Ordering::Relaxed);
                n += 1;
                // A validation with cached keys never waits; let the server and the emulator
                // (on the same two worker threads) run between requests.
                tokio::task::yield_now().await;
            }
        });
    }
    let new_kid = emu.rotate_keys(None);
    let seen = emu.request_count(Endpoint::JwksV2);
    // Refreshes run one after another: every JWKS request from now on serves the new key, and
    // when the second one is received, the first has stored its key set.
    bounded(
        Duration::from_secs(10),
        "two background refreshes",
        emu.wait_for_requests(Endpoint::JwksV2, seen + 2),
    )
    .await;
    for i in 0..20 {
        let t = emu.token().signing_key(&new_kid).claim("i", json!(i)).sign();
        validate(&v, &t).await.expect("the published new key passes");
    }
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = traffic.join_next().await {
        done.expect("traffic worker");
    }
    assert!(served.load(Ordering::Relaxed) > 0);
}

// ---- Microsoft Graph ----

const BUDGET: Duration = Duration::from_secs(2);
/// The retry budget, one HTTP timeout for the attempt in flight when it ends, and scheduling.
const REGISTRATION_BOUND: Duration = Duration::from_secs(8);

/// The endpoints in enrol mode with their own Graph client of a short retry budget, served on
/// 127.0.0.1.
async fn endpoints(emu: &Emulator) -> Endpoints {
    let config = emu
        .config()
        .base_url(UNSERVED_BASE)
        .mode(Mode::Enrol)
        .allowed_redirect_uri_prefixes([COPILOT])
        .http_timeout(HTTP_TIMEOUT);
    serve_with(config, true, Some(BUDGET)).await
}

/// A registration of `uris` that must end within [`REGISTRATION_BOUND`] and whose answer never
/// holds `secret`: its status and JSON body.
async fn enrol(base: &str, secret: &str, uris: &[&str]) -> (u16, Value) {
    let metadata = json!({ "redirect_uris": uris });
    let a = bounded(REGISTRATION_BOUND, "a registration", register(base, &metadata, secret)).await;
    (a.status, a.json())
}

fn failures(json: &Value) -> Vec<(String, String)> {
    json["enrolment_failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["redirect_uri"].as_str().unwrap_or("").to_owned(),
                        f["error"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_429_storm_gives_bounded_per_uri_reports_and_recovers() {
    let emu = Emulator::start().await.expect("emulator");
    let s = endpoints(&emu).await;
    let secret = emu.client_secret().expose().to_owned();
    let existing = format!("{COPILOT}existing");
    emu.set_redirect_uris(Platform::Web, vec![existing.clone()]);
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::too_many_requests(1));
    // Ten clients register during the storm, each with a URI already there and a new one.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (base, secret, existing) = (s.base.clone(), secret.clone(), existing.clone());
        tasks.spawn(async move {
            let new = format!("{COPILOT}storm-{i}");
            let (status, json) = enrol(&base, &secret, &[&existing, &new]).await;
            (new, status, json)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (new, status, json) = done.expect("task");
        assert_eq!(status, 201, "the URI already there is usable: {json}");
        assert_eq!(json["redirect_uris"], json!([existing]));
        let f = failures(&json);
        assert_eq!(f.len(), 1, "{json}");
        assert_eq!(f[0].0, new);
        assert!(f[0].1.contains("429"), "{}", f[0].1);
    }
    assert!(emu.request_count(Endpoint::GraphPatchApplication) >= 2, "throttled writes were retried");
    // The storm passes: the next registration enrols, with no restart.
    emu.clear_faults();
    let (status, json) = enrol(&s.base, &secret, &[&format!("{COPILOT}after-storm")]).await;
    assert_eq!(status, 201, "{json}");
    assert!(json.get("enrolment_failures").is_none(), "{json}");
    assert!(emu.redirect_uris(Platform::Web).contains(&format!("{COPILOT}after-storm")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_500s_and_a_hanging_graph_give_bounded_502s_per_uri_and_recover() {
    for fault in
        [Fault::status(500), Fault::status(503), Fault::delay(Duration::from_secs(3600)), Fault::outage()]
    {
        let emu = Emulator::start().await.expect("emulator");
        let s = endpoints(&emu).await;
        let secret = emu.client_secret().expose().to_owned();
        emu.set_fault(Endpoint::GraphGetApplication, fault);
        let (a, b) = (format!("{COPILOT}a"), format!("{COPILOT}b"));
        let (status, json) = enrol(&s.base, &secret, &[&a, &b]).await;
        assert_eq!(status, 502, "{fault:?}: {json}");
        assert_eq!(json["error"], "server_error");
        let f = failures(&json);
        assert_eq!(
            f.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
            [a.as_str(), b.as_str()],
            "{fault:?}"
        );
        emu.clear_faults();
        let (status, json) = enrol(&s.base, &secret, &[&a, &b]).await;
        assert_eq!(status, 201, "{fault:?}: not recovered: {json}");
        assert_eq!(json["redirect_uris"], json!([a, b]));
    }
}

/// In enrol mode `/authorize` and `/token` read the app registration for URIs enrolled by hand;
/// when Graph hangs, they answer within the snapshot read's bound (3 s), not Graph's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_graph_never_holds_up_authorize_or_token_past_their_bound() {
    let emu = Emulator::start().await.expect("emulator");
    let by_hand = "https://by-hand.example/cb";
    emu.set_redirect_uris(Platform::Web, vec![by_hand.to_owned()]);
    // A long HTTP timeout: only the bridge's own bound can end the wait.
    let app = app::serve(
        emu.config().base_url(UNSERVED_BASE).mode(Mode::Enrol).http_timeout(Duration::from_secs(60)),
    )
    .await;
    emu.set_fault(Endpoint::GraphGetApplication, Fault::delay(Duration::from_secs(3600)));
    let bound = Duration::from_secs(6);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let (base, app_id) = (app.base.clone(), emu.app_id());
        tasks.spawn(async move {
            let http = client();
            let state = format!("s{i}");
            let authorize = http.get(format!("{base}/authorize")).query(&[
                ("response_type", "code"),
                ("client_id", app_id.as_str()),
                ("redirect_uri", by_hand),
                ("state", state.as_str()),
            ]);
            let a = bounded(bound, "/authorize while Graph hangs", send(authorize)).await;
            // Graph cannot confirm the URI: the error page, never a redirect.
            assert_error_page(&a, "is not registered for this app", "/authorize while Graph hangs");
            let token = http.post(format!("{base}/token")).form(&[
                ("grant_type", "authorization_code"),
                ("code", "some-code"),
                ("redirect_uri", by_hand),
                ("code_verifier", "v"),
            ]);
            let a = bounded(bound, "/token while Graph hangs", send(token)).await;
            let (status, json) = (a.status, a.json());
            // Sent to Entra as an unknown platform (no secret); Entra refuses the made-up code.
            assert_eq!(status, 400, "{json}");
            assert!(json["error"].is_string(), "{json}");
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    // One read of the app registration was tried (single flight); failures are remembered.
    assert_eq!(emu.request_count(Endpoint::GraphGetApplication), 1);
}
