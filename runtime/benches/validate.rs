//! Token validation speed, in one run:
//! - `raw_jsonwebtoken`: `jsonwebtoken::decode` of the token with the same RSA key (RS256, `exp`
//!   checked), the floor any validator built on it pays;
//! - `uncached`: `TokenValidator::validate` with the token cache off and the keys warm (every
//!   rule of the validator, RSA included);
//! - `sha256_of_signature`: hashing the token's signature (the cache key), the floor of a cache hit,
//!   next to `sha256_of_token`, what a key over the whole token would cost;
//! - `cached`: `TokenValidator::validate` of a token seen before (goal: ≥ 1M/s per core).
//!
//! The signing key is generated here and its JWKS and OpenID metadata are served by a small axum
//! server on 127.0.0.1, so the validator fetches them over real HTTP once.
//!
//! Run: `cargo bench -p axum-mcp-azure-oauth --bench validate -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use axum_mcp_azure_oauth::{AuthLayer, AzureOAuthConfig, TokenValidator};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const APP_ID: &str = "11111111-2222-3333-4444-555555555555";
const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const KID: &str = "bench-key-1";

struct Fixture {
    runtime: tokio::runtime::Runtime,
    token: String,
    n: Vec<u8>,
    e: Vec<u8>,
    authority: String,
}

#[derive(Clone)]
struct Keys {
    base: String,
    n: String,
    e: String,
}

async fn metadata(State(k): State<Arc<Keys>>, Path(tenant): Path<String>) -> axum::Json<Value> {
    axum::Json(json!({
        "issuer": format!("{}/{{tenantid}}/v2.0", k.base),
        "jwks_uri": format!("{}/{tenant}/discovery/v2.0/keys", k.base),
    }))
}

async fn jwks(State(k): State<Arc<Keys>>) -> axum::Json<Value> {
    axum::Json(json!({"keys": [{
        "kty": "RSA", "use": "sig", "kid": KID, "n": k.n, "e": k.e,
        "issuer": format!("{}/{{tenantid}}/v2.0", k.base),
    }]}))
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
    let n = key.public_key().modulus().big_endian_without_leading_zero().to_vec();
    let e = key.public_key().exponent().big_endian_without_leading_zero().to_vec();
    let listener =
        runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a port on 127.0.0.1");
    let authority = format!("http://{}", listener.local_addr().expect("address"));
    let keys = Arc::new(Keys {
        base: authority.clone(),
        n: URL_SAFE_NO_PAD.encode(&n),
        e: URL_SAFE_NO_PAD.encode(&e),
    });
    let app = Router::new()
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(metadata))
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .with_state(keys);
    runtime.spawn(async move { axum::serve(listener, app).await });

    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
    // A typical v2 delegated access token.
    let claims = json!({
        "aud": APP_ID, "iss": format!("{authority}/{TENANT}/v2.0"), "iat": now, "nbf": now,
        "exp": now + 3600, "aio": "AWQAm/8ZAAAA".repeat(6), "azp": "22222222-3333-4444-5555-666666666666",
        "azpacr": "0", "name": "Ada Lovelace", "oid": "33333333-4444-5555-6666-777777777777",
        "preferred_username": "ada@contoso.example", "rh": "1.AXkA".repeat(10),
        "scp": "access_as_user", "sid": "44444444-5555-6666-7777-888888888888",
        "sub": "kLx0vH5QyFf3tJr9QmN8pB2cW7dE1gH4jK6lM0nO3pQ", "tid": TENANT,
        "uti": "AbCdEfGhIjKlMnOpQrStUv", "ver": "2.0",
    });
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signed.as_bytes(), &mut signature).expect("signing");
    let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature));
    Fixture { runtime, token, n, e, authority }
}

fn validator(f: &Fixture, token_cache: usize) -> TokenValidator {
    let config = AzureOAuthConfig::builder()
        .app_id(APP_ID)
        .tenant_id(TENANT)
        .authority_host(f.authority.clone())
        .token_cache_capacity(token_cache)
        // Only the validator is measured: no OAuth endpoints, no client secret.
        .mode(axum_mcp_azure_oauth::config::Mode::Direct)
        .build()
        .expect("a valid configuration");
    let v = TokenValidator::new(Arc::new(config));
    // Warm the keys (and, with the cache on, the token).
    f.runtime.block_on(v.validate(&f.token)).expect("the bench token validates");
    v
}

/// `iters` validations inside one `block_on`, so the runtime's entry cost is not measured.
fn run(f: &Fixture, v: &TokenValidator, iters: u64) -> Duration {
    f.runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(v.validate(black_box(&f.token)).await.expect("valid"));
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));

    let key = jsonwebtoken::DecodingKey::from_rsa_raw_components(&f.n, &f.e);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    group.bench_function("raw_jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(black_box(&f.token), &key, &validation)
                .expect("valid")
        })
    });

    let uncached = validator(&f, 0);
    group.bench_function("uncached", |b| b.iter_custom(|iters| run(&f, &uncached, iters)));

    // The floor of a cache hit: hashing the signature (the cache key); and the whole token.
    let signature = f.token.rsplit('.').next().expect("three parts");
    group.bench_function("sha256_of_signature", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(signature.as_bytes())))
    });
    group.bench_function("sha256_of_token", |b| {
        b.iter(|| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(f.token.as_bytes())))
    });

    let cached = validator(&f, 10_000);
    group.bench_function("cached", |b| b.iter_custom(|iters| run(&f, &cached, iters)));

    // A request through `AuthLayer` (token cached) against the same service without it: what the
    // layer adds per request, the claims put into the request extensions included.
    let request = || {
        http::Request::builder()
            .method("POST")
            .uri("/mcp")
            .header("authorization", format!("Bearer {}", f.token))
            .body(axum::body::Body::empty())
            .expect("a request")
    };
    let inner = tower::service_fn(|req: http::Request<axum::body::Body>| async move {
        black_box(req.extensions().len());
        Ok::<_, std::convert::Infallible>(http::Response::new(axum::body::Body::empty()))
    });
    let mut layered = tower::Layer::layer(&AuthLayer::new(cached.clone()), inner);
    group.bench_function("request_without_layer", |b| {
        b.iter_batched(request, |req| f.runtime.block_on(inner.oneshot(req)), BatchSize::SmallInput)
    });
    group.bench_function("request_through_layer_cached", |b| {
        b.iter_batched(
            request,
            |req| f.runtime.block_on(tower::ServiceExt::oneshot(&mut layered, req)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
