//! The public base URL that documents and challenges use.

use http::HeaderMap;

use crate::AzureOAuthConfig;

/// The configured public base URL, or (only for documents and challenges, never for anything
/// enrolled in Entra) one derived from the request's `Host` and `X-Forwarded-Proto` headers.
/// A missing or malformed `Host` gives `http://localhost`.
pub(crate) fn public_base_url(config: &AzureOAuthConfig, headers: &HeaderMap) -> String {
    if let Some(base) = config.base_url() {
        return base.to_owned();
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_host(h))
        .unwrap_or("localhost");
    let scheme = match headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()) {
        Some(p) if p.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{}", host.to_ascii_lowercase())
}

/// `host[:port]` made only of the characters a host header may hold, so that nothing injected
/// through it reaches a document.
fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: Option<&str>) -> AzureOAuthConfig {
        let b = AzureOAuthConfig::builder()
            .app_id("11111111-2222-3333-4444-555555555555")
            .tenant_id("11111111-2222-3333-4444-555555555555");
        match base {
            Some(base) => b.base_url(base),
            None => b,
        }
        .build()
        .expect("valid test configuration")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("valid header value"));
        }
        h
    }

    #[test]
    fn configured_base_wins_over_headers() {
        let h = headers(&[("host", "evil.example"), ("x-forwarded-proto", "https")]);
        assert_eq!(public_base_url(&config(Some("https://mcp.example.com/")), &h), "https://mcp.example.com");
    }

    #[test]
    fn derived_from_host_and_forwarded_proto() {
        let c = config(None);
        assert_eq!(public_base_url(&c, &headers(&[("host", "127.0.0.1:8000")])), "http://127.0.0.1:8000");
        let h = headers(&[("host", "MCP.example.com"), ("x-forwarded-proto", "https")]);
        assert_eq!(public_base_url(&c, &h), "https://mcp.example.com");
    }

    #[test]
    fn malformed_host_is_not_reflected() {
        let c = config(None);
        let h = headers(&[("host", "a.com/\"><script>")]);
        assert_eq!(public_base_url(&c, &h), "http://localhost");
        assert_eq!(public_base_url(&c, &HeaderMap::new()), "http://localhost");
    }
}
