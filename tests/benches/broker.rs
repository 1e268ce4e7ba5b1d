//! The broker over real HTTP on loopback against the emulator:
//! - a whole sign-in: `/authorize` → consent page → Allow → Entra → callback → `/token`;
//! - 100 concurrent authorizations of one new Client ID Metadata Document client (one fetch);
//! - the same sign-in by a broker that proves itself with a certificate instead of the secret.
//!
//! `cargo bench -p tests --bench broker`; figures in BENCHMARKS.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use axum_mcp_azure_oauth::emulator::Emulator;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use support::broker;
use support::browser::HttpBrowser;
use support::credentials::{Kind, with_credential};
use support::pkce::Pkce;
use support::serve::Port;

fn broker_sign_in(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let (b, client_id, redirect) = rt.block_on(async {
        let emu = Emulator::start().await.expect("the emulator starts");
        let b = broker::serve(emu, |c| c.allow_loopback_client_metadata_documents_for_tests()).await;
        let redirect = "http://127.0.0.1:9/callback".to_owned();
        let client_id = b.register(&[&redirect]).await;
        (b, client_id, redirect)
    });
    c.bench_function("broker sign-in: authorize, consent, Entra, callback, token", |bench| {
        bench.iter(|| {
            rt.block_on(async {
                let pkce = Pkce::generate();
                let code = b.sign_in(&mut HttpBrowser::new(), &client_id, &redirect, &pkce).await;
                let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
                assert_eq!(tokens.status, 200);
            });
        });
    });

    // The same sign-in, the broker redeeming with a client assertion signed by its certificate
    // (RSA 2048, RS256) instead of the secret; the emulator checks the signature as Entra does.
    let (cert_broker, cert_client, _files) = rt.block_on(async {
        let emu = Emulator::start().await.expect("the emulator starts");
        let setup = with_credential(&emu, Kind::Pem);
        let port = Port::bind().await;
        let config = setup.builder.clone().base_url(port.base()).build().expect("valid");
        let b = broker::serve_on(port, emu, config);
        let client_id = b.register(&[&redirect]).await;
        (b, client_id, setup.dir)
    });
    let mut group = c.benchmark_group("app credential");
    for (name, b, client_id) in [("secret", &b, &client_id), ("certificate", &cert_broker, &cert_client)] {
        group.bench_function(format!("broker sign-in redeemed with a {name}"), |bench| {
            bench.iter(|| {
                rt.block_on(async {
                    let pkce = Pkce::generate();
                    let code = b.sign_in(&mut HttpBrowser::new(), client_id, &redirect, &pkce).await;
                    let tokens = b.redeem(client_id, &redirect, &code, &pkce.verifier).await;
                    assert_eq!(tokens.status, 200);
                });
            });
        });
    }
    group.finish();

    // 100 concurrent authorizations of a client whose metadata document nobody fetched yet.
    let mut group = c.benchmark_group("metadata documents");
    group.sample_size(10);
    group.bench_function("100 concurrent authorizations of a new client", |bench| {
        bench.iter(|| {
            rt.block_on(async {
                let hits = Arc::new(AtomicUsize::new(0));
                let port = Port::bind().await;
                let url = format!("{}/client.json", port.base());
                let doc = json!({"client_id": url, "client_name": "Bench", "redirect_uris": ["http://127.0.0.1/cb"]});
                let count = Arc::clone(&hits);
                let router = Router::new().route(
                    "/client.json",
                    get(move || {
                        count.fetch_add(1, Ordering::SeqCst);
                        let body = doc.to_string();
                        async move { ([("content-type", "application/json")], body) }
                    }),
                );
                let _served = port.serve(router);
                let authorize = b.authorize_url(&url, "http://127.0.0.1:9/cb", &Pkce::generate());
                let tasks: Vec<_> = (0..100)
                    .map(|_| {
                        let authorize = authorize.clone();
                        tokio::spawn(async move { HttpBrowser::new().get(&authorize).await.status })
                    })
                    .collect();
                for task in tasks {
                    assert_eq!(task.await.expect("an authorization"), 200);
                }
                assert_eq!(hits.load(Ordering::SeqCst), 1, "one document fetch");
            });
        });
    });
    group.finish();
}

criterion_group!(benches, broker_sign_in);
criterion_main!(benches);
