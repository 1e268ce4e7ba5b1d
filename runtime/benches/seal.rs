//! The broker's sealing: what one `state`, code or client id costs to seal and to open (issue
//! target: each at most 5 µs). It drives the sealer through the fuzz targets' entry points, which
//! exist under `cfg(fuzzing)`:
//! `RUSTFLAGS="--cfg fuzzing" cargo bench -p axum-mcp-azure-oauth --bench seal`.
#![cfg_attr(not(fuzzing), allow(unused_imports, dead_code))]

use std::hint::black_box;

#[cfg(fuzzing)]
use axum_mcp_azure_oauth::__fuzz::{Payload, Sealing};
use criterion::{Criterion, criterion_group, criterion_main};

const NOW: u64 = 1_800_000_000;

#[cfg(fuzzing)]
fn state() -> Payload {
    (
        "mV3sC0o2cQpYkzF1nB6lKxJ8aW9yR4eT5uI7oP0qA2s".to_owned(), // a client id digest
        "http://127.0.0.1:49152/callback".to_owned(),
        Some("af0ifjsldkj-client-state-value".to_owned()),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(), // the client's challenge
        "api://11111111-2222-3333-4444-555555555555/access_as_user offline_access".to_owned(),
    )
}

#[cfg(fuzzing)]
fn sealing(c: &mut Criterion) {
    let sealing = Sealing::from_client_secret("bench~client.secret_value");
    let payload = state();
    let sealed = sealing.seal(&payload, NOW);
    assert_eq!(sealing.open(&sealed, NOW).as_ref(), Some(&payload));
    c.bench_function("seal a broker state", |b| b.iter(|| sealing.seal(black_box(&payload), NOW)));
    c.bench_function("open a broker state", |b| b.iter(|| sealing.open(black_box(&sealed), NOW)));
    let mut tampered = sealed.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    c.bench_function("refuse a tampered state", |b| b.iter(|| sealing.open(black_box(&tampered), NOW)));
}

#[cfg(not(fuzzing))]
fn sealing(_: &mut Criterion) {
    eprintln!(
        "the seal benchmark needs RUSTFLAGS=\"--cfg fuzzing\" (it uses the fuzz targets' entry points)"
    );
}

criterion_group!(benches, sealing);
criterion_main!(benches);
