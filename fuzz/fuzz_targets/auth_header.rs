//! The `Authorization` header and token parsing, up to the signature check.
//!
//! Input: the header value's bytes; after a first `\n`, the request's query string. Runs the strict
//! bearer reading, the JWS parsing and the tenant/version extraction the validator does before it
//! fetches keys, and builds the challenge for any refusal.
#![no_main]

#[path = "common.rs"]
mod common;

use axum_mcp_azure_oauth::__fuzz;
use axum_mcp_azure_oauth::{AuthError, AzureOAuthConfig};
use http::{HeaderMap, HeaderValue, Uri, header};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static CONFIG: LazyLock<AzureOAuthConfig> =
    LazyLock::new(|| common::builder().build().expect("valid fuzz configuration"));

fuzz_target!(|data: &[u8]| {
    let (value, query) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(value) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let uri = match query.map(|q| Uri::try_from(format!("/mcp?{}", String::from_utf8_lossy(q)))) {
        Some(Ok(uri)) => uri,
        _ => Uri::from_static("/mcp"),
    };

    let result = match __fuzz::bearer_token(&headers, &uri) {
        Ok(token) => {
            assert!(!token.is_empty() && !token.starts_with(' ') && !token.ends_with(' '));
            match __fuzz::parse_token(token) {
                Ok(parsed) => {
                    // What parsing guarantees the signature check.
                    assert!(token.len() <= 16 * 1024);
                    assert!(!parsed.kid.is_empty() && parsed.kid.len() <= 256);
                    assert!(parsed.signature_len <= 1024);
                    assert!(parsed.signed_len < token.len());
                    assert_eq!(token.as_bytes()[parsed.signed_len], b'.');
                    let (tenant, _version) = __fuzz::tenant_and_version(&parsed.claims);
                    if let Some(t) = tenant {
                        assert!(axum_mcp_azure_oauth::config::rules::guid(&t).is_ok());
                        assert_eq!(t, t.to_ascii_lowercase());
                    }
                    return;
                }
                Err(e) => AuthError::InvalidToken(e),
            }
        }
        Err(e) => e,
    };
    // Every refusal has a well-formed answer: the status its error names, JSON body, a challenge
    // that is a valid header value and names the protected resource metadata (400s included).
    let response = __fuzz::challenge(&CONFIG, &headers, &result);
    assert_eq!(response.status(), result.status());
    assert!(matches!(response.status().as_u16(), 400 | 401 | 403 | 503));
    if response.status().as_u16() != 503 {
        let challenge = response.headers().get(header::WWW_AUTHENTICATE).expect("a challenge");
        assert!(challenge.to_str().expect("ASCII challenge").starts_with("Bearer resource_metadata=\""));
    }
});
