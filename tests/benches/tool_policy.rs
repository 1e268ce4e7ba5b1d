//! The per-tool permission check's cost per request: a typical `tools/call` `POST` through
//! `ToolPolicyLayer` (body read, `method` and `params.name` parsed, the requirement checked, the
//! body handed on), next to the same request sent straight to the service; and a refused call
//! (the 403 step-up challenge built). The claims are those `AuthLayer` would have put in the
//! request (a token the emulator signed, validated once).
//!
//! `cargo bench -p tests --bench tool_policy`; figures in BENCHMARKS.md.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum_mcp_azure_oauth::config::{ToolPolicy, ToolRequirement};
use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::validate::ToolPolicyLayer;
use axum_mcp_azure_oauth::{AzureClaims, TokenValidator};
use criterion::{Criterion, criterion_group, criterion_main};
use tower::{Layer as _, Service as _};

/// A `tools/call` as the MCP clients send one: a name and a few arguments (about 300 bytes).
const CALL: &str = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"delete_file","arguments":{"path":"/projects/q3/report-final-v2.docx","recursive":false,"reason":"superseded by the version the team approved on Monday","tags":["cleanup","q3"]},"_meta":{"progressToken":"abc-123"}}}"#;

/// Polls a future that must be ready at once (nothing here waits).
fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the layer answers without waiting on a body already in memory"),
    }
}

fn request(body: &'static str, claims: &AzureClaims) -> Request {
    let mut req = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .body(Body::from(Bytes::from_static(body.as_bytes())))
        .expect("a request");
    req.extensions_mut().insert(claims.clone());
    req
}

fn tool_policy(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    let policy = ToolPolicy::new()
        .tool("delete_file", ToolRequirement::new().all_scopes(["Files.ReadWrite"]))
        .tool("search", ToolRequirement::new().any_scope(["Files.Read", "Files.ReadWrite"]))
        .tool("purge", ToolRequirement::new().any_role(["Files.Admin"]));
    let (_emu, validator, allowed, refused) = rt.block_on(async {
        let emu = Emulator::start().await.expect("the emulator starts");
        let config =
            emu.config().base_url(support::UNSERVED_BASE).tool_policy(policy).build().expect("valid");
        let validator = TokenValidator::new(config);
        let allowed = emu.token().scopes("access_as_user Files.ReadWrite").sign();
        let allowed = validator.validate(&allowed).await.expect("valid");
        let refused = validator.validate(&emu.token().sign()).await.expect("valid");
        (emu, validator, allowed, refused)
    });
    let inner = tower::service_fn(|req: Request| async move {
        black_box(req);
        Ok::<_, Infallible>(Response::new(Body::empty()))
    });
    let mut layered = ToolPolicyLayer::new(validator).layer(inner);
    let mut direct = inner;

    c.bench_function("tool policy: tools/call straight to the service (baseline)", |b| {
        b.iter(|| ready(direct.call(request(CALL, &allowed))).expect("answered"));
    });
    c.bench_function("tool policy: tools/call through the layer, allowed", |b| {
        b.iter(|| {
            let r = ready(layered.call(request(CALL, &allowed))).expect("answered");
            assert_eq!(r.status(), 200);
        });
    });
    c.bench_function("tool policy: tools/call through the layer, refused with the step-up 403", |b| {
        b.iter(|| {
            let r = ready(layered.call(request(CALL, &refused))).expect("answered");
            assert_eq!(r.status(), 403);
        });
    });
}

criterion_group!(benches, tool_policy);
criterion_main!(benches);
