//! Sustained mixed traffic against the full application (the OAuth router plus a protected `/mcp`
//! route) over real HTTP: valid tokens (more distinct ones than the token cache holds), tokens of
//! random tenants (more than the key cache holds), and invalid ones. A bounded number of
//! requests; every answer is the right one; the caches stay within their bounds; resident memory
//! stays flat after warm-up (numbers printed; run with `--nocapture` to see them).

use std::sync::Arc;
use std::time::Duration;

use axum_mcp_azure_oauth::config::TenantPolicy;
use axum_mcp_azure_oauth::emulator::{Emulator, new_guid};
use support::{app, bounded};

const KEY_CACHE_TENANTS: usize = 16;
const TOKEN_CACHE: usize = 128;
const CONCURRENCY: usize = 32;
const WARM_UP: usize = 3_000;
const MEASURED: usize = 12_000;
/// Resident memory may grow this much after warm-up (allocator slack, connection buffers); a leak
/// of even a few hundred bytes per request over the measured phase would pass it.
const RSS_GROWTH_LIMIT_KIB: u64 = 48 * 1024;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in kB")
}

struct Traffic {
    valid: Vec<String>,
    random_tenant: Vec<String>,
    invalid: Vec<(String, u16)>,
}

impl Traffic {
    /// Request `i`: its `Authorization` header value (if any) and the status it must get.
    fn request(&self, i: usize) -> (Option<String>, u16) {
        match i % 4 {
            0 | 3 => (Some(format!("Bearer {}", self.valid[(i / 4) % self.valid.len()])), 200),
            1 => (Some(format!("Bearer {}", self.random_tenant[(i / 4) % self.random_tenant.len()])), 401),
            _ => {
                let (header, status) = &self.invalid[(i / 4) % self.invalid.len()];
                (Some(header.clone()).filter(|h| !h.is_empty()), *status)
            }
        }
    }
}

async fn run(base: &str, traffic: &Arc<Traffic>, range: std::ops::Range<usize>) {
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    let chunk = range.len().div_ceil(CONCURRENCY);
    for w in 0..CONCURRENCY {
        let (http, traffic, url) = (http.clone(), traffic.clone(), format!("{base}/mcp"));
        let start = range.start + w * chunk;
        let end = (start + chunk).min(range.end);
        tasks.spawn(async move {
            for i in start..end {
                let (header, expected) = traffic.request(i);
                let mut req = http.post(&url);
                if let Some(h) = header {
                    req = req.header("authorization", h);
                }
                let r = req.send().await.expect("an answer");
                let status = r.status().as_u16();
                let body = r.bytes().await.expect("a body");
                assert_eq!(status, expected, "request {i}: {}", String::from_utf8_lossy(&body));
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("traffic worker");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_mixed_traffic_keeps_caches_bounded_and_memory_flat() {
    let emu = Emulator::start().await.expect("emulator");
    let app = app::serve(
        emu.config()
            .tenants(TenantPolicy::Any)
            .key_cache_tenants(KEY_CACHE_TENANTS)
            .token_cache_capacity(TOKEN_CACHE),
    )
    .await;
    let valid: Vec<String> = (0..3 * TOKEN_CACHE).map(|i| emu.token().claim("n", i.into()).sign()).collect();
    // Tenants Entra does not know (metadata 400): each one a key cache entry, refused with 401.
    let random_tenant: Vec<String> =
        (0..10 * KEY_CACHE_TENANTS).map(|_| emu.token().tenant(&new_guid()).sign()).collect();
    let good = &valid[0];
    let (head, sig) = good.rsplit_once('.').expect("a JWT");
    let mut flipped = sig.to_owned().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let invalid = vec![
        (format!("Bearer {}", emu.token().expired().sign()), 401),
        (format!("Bearer {head}.{}", String::from_utf8(flipped).expect("ASCII")), 401),
        (format!("Bearer {}", emu.token().signed_with_unknown_key().sign()), 401),
        (format!("Bearer {}", emu.token().audience("api://someone-else").sign()), 401),
        ("Bearer not.a.jwt".to_owned(), 401),
        (format!("Bearer {}", "A".repeat(20_000)), 401),
        ("Basic dXNlcjpwYXNz".to_owned(), 401),
        (String::new(), 401),
    ];
    let traffic = Arc::new(Traffic { valid, random_tenant, invalid });

    let before = rss_kib();
    bounded(Duration::from_secs(120), "the warm-up", run(&app.base, &traffic, 0..WARM_UP)).await;
    let warm = rss_kib();
    let mut peaks = Vec::new();
    let phases = 4;
    for p in 0..phases {
        let range = WARM_UP + p * MEASURED / phases..WARM_UP + (p + 1) * MEASURED / phases;
        bounded(Duration::from_secs(120), "a measured phase", run(&app.base, &traffic, range)).await;
        let stats = app.auth.validator().stats();
        assert!(stats.cached_tenants <= KEY_CACHE_TENANTS, "{stats:?}");
        assert!(stats.cached_tokens <= TOKEN_CACHE, "{stats:?}");
        peaks.push(rss_kib());
    }
    let after = *peaks.last().expect("phases ran");
    let stats = app.auth.validator().stats();
    println!(
        "hardening_load: {} requests; VmRSS before {before} KiB, after warm-up ({WARM_UP}) {warm} KiB, \
         after each measured phase {peaks:?} KiB, growth after warm-up {} KiB; stats {stats:?}",
        WARM_UP + MEASURED,
        after.saturating_sub(warm),
    );
    assert!(
        after.saturating_sub(warm) < RSS_GROWTH_LIMIT_KIB,
        "resident memory grew {} KiB after warm-up ({warm} → {after})",
        after - warm
    );
    assert!(stats.cached_tokens > 0 && stats.cached_tenants > 0, "the caches were used: {stats:?}");
}
