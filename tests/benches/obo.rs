//! The on-behalf-of client's cached path: what a tool pays to get a downstream token it already
//! has (issue target: at most 1 µs), next to a cold exchange against the emulator over loopback.
//!
//! `cargo bench -p tests --bench obo`; figures in BENCHMARKS.md.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum_mcp_azure_oauth::AzureOAuth;
use axum_mcp_azure_oauth::emulator::Emulator;
use criterion::{Criterion, criterion_group, criterion_main};

const GRAPH_USER_READ: &str = "https://graph.microsoft.com/User.Read";

/// Polls a future that must be ready at once (a cache hit never waits).
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cached token is answered without waiting"),
    }
}

fn on_behalf_of(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let (emu, auth, caller) = rt.block_on(async {
        let emu = Emulator::start().await.expect("the emulator starts");
        let auth = AzureOAuth::new(emu.config().base_url(support::UNSERVED_BASE).build().expect("valid"));
        let caller = auth.validator().validate(&emu.token().sign()).await.expect("valid");
        // Other callers in the cache, so that the hit is not the only entry.
        for _ in 0..1000 {
            let other = auth.validator().validate(&emu.token().sign()).await.expect("valid");
            auth.on_behalf_of().token(&other, [GRAPH_USER_READ]).await.expect("exchanged");
        }
        auth.on_behalf_of().token(&caller, [GRAPH_USER_READ]).await.expect("exchanged");
        (emu, auth, caller)
    });
    let obo = auth.on_behalf_of();
    c.bench_function("on-behalf-of: cached token (1001 callers cached)", |b| {
        b.iter(|| ready(obo.token(black_box(&caller), [GRAPH_USER_READ])).expect("cached"));
    });
    c.bench_function("on-behalf-of: cached token, two scopes in another order", |b| {
        let two = ["https://graph.microsoft.com/Mail.Read", GRAPH_USER_READ];
        emu.grant_consent("https://graph.microsoft.com", ["Mail.Read"]);
        rt.block_on(obo.token(&caller, two)).expect("exchanged");
        let swapped = [GRAPH_USER_READ, "https://graph.microsoft.com/mail.read"];
        b.iter(|| ready(obo.token(black_box(&caller), swapped)).expect("cached"));
    });
    c.bench_function(
        "on-behalf-of: a new caller: sign, validate and exchange its token (emulator, loopback)",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let fresh = auth.validator().validate(&emu.token().sign()).await.expect("valid");
                    obo.token(&fresh, [GRAPH_USER_READ]).await.expect("exchanged")
                })
            });
        },
    );
}

criterion_group!(benches, on_behalf_of);
criterion_main!(benches);
