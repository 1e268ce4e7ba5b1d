//! Calling a server under test: a client that follows no redirects (a test reads each 302), an
//! answer read whole (checked, where a test asks, never to hold the client secret), and query
//! parameters.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// A client that follows no redirects: they are followed by hand, or asserted on.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a reqwest client")
}

/// A response read whole: status, headers and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// Reads `response` whole.
    pub async fn of(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("the response body");
        Self { status, headers, text }
    }

    /// Reads `response` whole and asserts that neither a header nor the body holds `secret`.
    pub async fn read(response: reqwest::Response, secret: &str) -> Self {
        let answer = Self::of(response).await;
        assert_no_secret(&answer.headers, &answer.text, secret);
        answer
    }

    /// The body as JSON; the test fails if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The header `name`, if present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `WWW-Authenticate` challenge, or "" without one.
    pub fn www(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .map(|v| v.to_str().expect("an ASCII challenge"))
            .unwrap_or_default()
    }

    /// The `Location` header as a URL; the test fails without one.
    pub fn location(&self) -> url::Url {
        url::Url::parse(self.header("location").expect("a Location header")).expect("Location is a URL")
    }
}

/// Sends `request` and reads the answer whole.
pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    Answer::of(request.send().await.expect("the server answers")).await
}

/// POSTs `body` as `content_type` to `url`; the answer is checked never to hold `secret`.
pub async fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>, secret: &str) -> Answer {
    let response = client()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    Answer::read(response, secret).await
}

/// Neither a header nor the body holds the secret (plain or URL-encoded).
pub fn assert_no_secret(headers: &HeaderMap, body: &str, secret: &str) {
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    for needle in [secret, encoded.as_str()] {
        assert!(!body.contains(needle), "the client secret leaked in a body: {body}");
        for (name, value) in headers {
            assert!(
                !value.as_bytes().windows(needle.len()).any(|w| w == needle.as_bytes()),
                "the secret leaked in {name}"
            );
        }
    }
}

/// The error page `/authorize` answers a request whose client or redirect URI it cannot trust
/// with: 400, HTML that says `why`, cannot be framed (`Content-Security-Policy` with
/// `frame-ancestors 'none'` and `default-src 'none'`, `X-Frame-Options: DENY`) or cached
/// (`Cache-Control: no-store`), and no `Location` (RFC 6749 §4.1.2.1: never a redirect to an
/// unvalidated URI). `why` is matched on the page's HTML, so quotes in it are `&quot;`.
pub fn assert_error_page(a: &Answer, why: &str, case: &str) {
    assert_eq!(a.status, 400, "{case}: {}", a.text);
    assert!(a.header("location").is_none(), "{case}: never a redirect");
    assert!(a.header("content-type").is_some_and(|c| c.starts_with("text/html")), "{case}");
    let csp = a.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"), "{case}: {csp}");
    assert_eq!(a.header("x-frame-options"), Some("DENY"), "{case}");
    assert_eq!(a.header("cache-control"), Some("no-store"), "{case}");
    assert!(a.text.contains(why), "{case}: the page says {why:?}: {}", a.text);
}

/// The first query parameter `name` of `url`.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A loopback redirect URI on a free port of this machine that no configuration names and nothing
/// listens on, as a native client picks one: a browser sent there stops at the redirect.
pub fn unused_loopback_redirect() -> String {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    format!("http://127.0.0.1:{port}/callback")
}

/// A client's loopback redirect URI that is really served: it answers the browser that lands on
/// it and hands the test the URL it was reached at. Awaiting [`Landing::next`] waits for the end
/// of a whole redirect chain (consent POST → Entra → callback → client) as an event, however slow
/// the machine, where reading a browser's URL right after a click could see a page before it.
#[derive(Debug)]
pub struct Landing {
    /// `http://127.0.0.1:PORT/callback`.
    pub redirect_uri: String,
    arrived: tokio::sync::mpsc::UnboundedReceiver<url::Url>,
    _served: crate::serve::Served,
}

impl Landing {
    /// Serves `/callback` on a fresh loopback port.
    pub async fn start() -> Self {
        let port = crate::serve::Port::bind().await;
        let redirect_uri = format!("{}/callback", port.base());
        let (tell, arrived) = tokio::sync::mpsc::unbounded_channel();
        let base = redirect_uri.clone();
        let router = axum::Router::new().route(
            "/callback",
            axum::routing::get(move |axum::extract::RawQuery(query): axum::extract::RawQuery| {
                let url = match query {
                    Some(q) => format!("{base}?{q}"),
                    None => base.clone(),
                };
                let _ = tell.send(url::Url::parse(&url).expect("the URL landed on"));
                async { "You may close this window." }
            }),
        );
        Self { redirect_uri, arrived, _served: port.serve(router) }
    }

    /// The URL of the next landing, within a minute (a hang is a failure, not a wait).
    pub async fn next(&mut self) -> url::Url {
        crate::bounded(
            std::time::Duration::from_secs(60),
            "the landing on the client's redirect URI",
            async { self.arrived.recv().await.expect("the landing server is running") },
        )
        .await
    }
}
