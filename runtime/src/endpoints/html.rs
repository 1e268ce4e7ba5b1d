//! The pages a browser sees: the consent page and the error page (for an authorization request
//! that cannot be sent back to a client). Plain, accessible HTML that works without CSS, no script,
//! nothing loaded from elsewhere, and headers that keep them out of frames and caches:
//! `Content-Security-Policy: default-src 'none'; style-src 'sha256-…'; frame-ancestors 'none'; …`,
//! `X-Frame-Options: DENY`, `Cache-Control: no-store`, `Referrer-Policy: same-origin`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use crate::primitives::digest::sha256;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};

/// The pages' one style sheet, allowed by its hash.
const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1b1d21}\
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #d6d9de;border-radius:8px}\
h1{font-size:1.4rem;margin-top:0}h2{font-size:1rem}code{word-break:break-all;background:#f4f5f7;padding:2px 4px}\
.warn{background:#fff4ce;padding:.5rem .75rem;border-radius:4px}\
button{font:inherit;padding:.5rem 1.25rem;margin:.5rem .5rem 0 0;border-radius:4px;border:1px solid #1b1d21;cursor:pointer}\
button[value=allow]{background:#0f6cbd;color:#fff;border-color:#0f6cbd}";

/// `Content-Security-Policy` of every page: nothing but the style sheet above, never framed.
/// (No `form-action`: browsers apply it to the redirect that follows the consent form, which goes
/// to Entra or to the client.)
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(sha256(STYLE.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"))
});

/// `s` with the HTML special characters escaped.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page: `title` and `body` (HTML, already escaped) with the security headers.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n",
        title = escape(title)
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, CSP.clone());
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    // Not `no-referrer`: browsers then send `Origin: null` with the consent form, which the form's
    // origin check needs (Fetch standard, "append a request `Origin` header").
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// The error page for an authorization request that cannot go back to its client: what is wrong
/// (`message`, plain text) and that the user should return to the app.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>This sign-in cannot continue</h1>\n<p>{}</p>\n<p>Nothing was sent to the application. Go back to it and \
         start the sign-in again; if this happens again, tell its publisher or this server's operator what the \
         message above says.</p>",
        escape(message)
    );
    page(status, "Sign-in error", &body)
}

/// What the consent page shows about one request.
pub(crate) struct Consent<'a> {
    /// The client's name as it gave it (escaped here).
    pub(crate) client_name: &'a str,
    /// Where its description comes from, in words (escaped here), e.g. "Its description is
    /// published by vscode.dev.".
    pub(crate) client_origin: String,
    /// The redirect URI the code will go to.
    pub(crate) redirect_uri: &'a str,
    /// This server's name (its host).
    pub(crate) server: &'a str,
    /// What the client will be able to do, in words.
    pub(crate) permissions: Vec<String>,
    /// Where the form posts to.
    pub(crate) action: &'a str,
    /// The sealed request.
    pub(crate) request: &'a str,
    /// Days the "remember" choice lasts; 0 hides it.
    pub(crate) remember_days: u64,
}

/// The consent page: which client asks, where the sign-in will be sent (its host emphasised), what
/// it may do, and Allow / Deny.
pub(crate) fn consent_page(c: &Consent<'_>) -> Response {
    let mut body = String::with_capacity(2048);
    let client = escape(c.client_name);
    let server = escape(c.server);
    let _ = write!(
        body,
        "<h1>Allow <em>{client}</em> to use {server} as you?</h1>\n<p>{}</p>\n",
        escape(&c.client_origin)
    );
    let _ = writeln!(
        body,
        "<p>After you sign in with Microsoft, your sign-in goes to:<br><code>{}</code></p>",
        emphasise_host(c.redirect_uri)
    );
    if is_loopback(c.redirect_uri) {
        body.push_str("<p class=\"warn\">This address is on your own computer: whatever app listens there receives the sign-in.</p>\n");
    }
    body.push_str("<h2>It will be able to</h2>\n<ul>\n");
    for p in &c.permissions {
        let _ = writeln!(body, "<li>{}</li>", escape(p));
    }
    body.push_str("</ul>\n<p>Allow this only if you started this sign-in and recognise the app and the address above.</p>\n");
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\">\n<input type=\"hidden\" name=\"request\" value=\"{}\">\n",
        escape(c.action),
        escape(c.request)
    );
    if c.remember_days > 0 {
        let _ = writeln!(
            body,
            "<p><input type=\"checkbox\" id=\"remember\" name=\"remember\" value=\"yes\"> \
             <label for=\"remember\">Remember my choice for this app and address for {} days</label></p>",
            c.remember_days
        );
    }
    body.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n</form>",
    );
    page(StatusCode::OK, &format!("Allow {} to use {}?", c.client_name, c.server), &body)
}

/// The URI, escaped, with its host in `<strong>` (the part a user must check).
fn emphasise_host(uri: &str) -> String {
    let Ok(url) = url::Url::parse(uri) else { return escape(uri) };
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else { return escape(uri) };
    match uri.find(host) {
        Some(at) => format!(
            "{}<strong>{}</strong>{}",
            escape(&uri[..at]),
            escape(host),
            escape(&uri[at + host.len()..])
        ),
        None => escape(uri),
    }
}

fn is_loopback(uri: &str) -> bool {
    url::Url::parse(uri).ok().is_some_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(r: Response) -> String {
        String::from_utf8(axum::body::to_bytes(r.into_body(), 1 << 20).await.expect("body").to_vec())
            .expect("utf-8")
    }

    #[tokio::test]
    async fn the_consent_page_escapes_everything_and_stays_small() {
        let c = Consent {
            client_name: "<script>alert(1)</script>",
            client_origin: "It registered with this server.".into(),
            redirect_uri: "https://evil.example/cb?x=\"><b>",
            server: "mcp.example.com",
            permissions: vec!["Use mcp.example.com as you (access_as_user)".into()],
            action: "https://mcp.example.com/authorize",
            request: "sealed\"value",
            remember_days: 30,
        };
        let r = consent_page(&c);
        let h = r.headers().clone();
        let html = text(r).await;
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"), "{html}");
        assert!(
            html.contains("<code>https://<strong>evil.example</strong>/cb?x=&quot;&gt;&lt;b&gt;</code>"),
            "{html}"
        );
        assert!(html.contains("value=\"sealed&quot;value\""));
        assert!(html.contains("<label for=\"remember\">"));
        assert!(html.len() < 10 * 1024, "{} bytes", html.len());
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-")
                && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn the_style_hash_is_the_style_sheets() {
        let hash = base64::engine::general_purpose::STANDARD.encode(sha256(STYLE.as_bytes()));
        assert!(CSP.to_str().expect("ascii").contains(&hash));
    }

    #[tokio::test]
    async fn loopback_redirects_carry_a_warning() {
        let c = Consent {
            client_name: "Claude Code",
            client_origin: String::new(),
            redirect_uri: "http://127.0.0.1:5555/callback",
            server: "s",
            permissions: vec![],
            action: "/authorize",
            request: "r",
            remember_days: 0,
        };
        let html = text(consent_page(&c)).await;
        assert!(html.contains("on your own computer"));
        assert!(!html.contains("remember"), "no remember choice when it is off");
    }
}
