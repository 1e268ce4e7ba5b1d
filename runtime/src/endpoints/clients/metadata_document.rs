//! OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP
//! specification's preferred registration): a client whose `client_id` is an https URL is described
//! by the JSON document at that URL, which this server fetches.
//!
//! Fetching a URL a stranger chose is a server-side request forgery risk, so:
//! - the URL is `https` on the default port (443), names a domain (never an IP literal), has a
//!   path, and no user information, query or fragment, and is canonical (what `url` would rewrite,
//!   such as `:443` or `/../`, is refused rather than silently changed);
//! - the host resolves through a resolver that keeps only globally routable addresses
//!   ([`address::is_public`](super::address::is_public)), and the connection goes to exactly those
//!   addresses (no proxy, no second lookup): the address checked is the address connected to, and a
//!   name resolving to loopback, private, link-local or special-use space is refused with no socket
//!   opened; the address a response came from is checked once more;
//! - no redirect is followed; only a `200` with a JSON content type is read, at most 5 KiB, within
//!   a short timeout;
//! - the document's `client_id` must be the URL exactly, it must list `redirect_uris`, and it must
//!   not use a shared-secret client authentication;
//! - valid documents are cached as their `Cache-Control` says (at most a day; `no-store`,
//!   `no-cache` and `max-age=0` are not cached); a failed fetch or an invalid document is
//!   remembered for a minute, so that the same URL is not fetched again meanwhile; what is remembered is
//!   bounded, and one fetch per URL is in flight however many authorizations wait for it;
//! - at most [`MAX_CONCURRENT_FETCHES`] fetches run at once in the process: a flood of distinct
//!   client id URLs gets "busy, try again" answers instead of opening a connection each.

use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::header;
use serde_json::Value;
use tokio::time::Instant;

use super::address;
use crate::config::{AzureOAuthConfig, HostResolver};
use crate::endpoints::redirect_policy::client_redirect_uri;
use crate::primitives::bounded::BoundedMap;
use crate::primitives::lock::lock;
use crate::primitives::single_flight::SingleFlight;

/// The most a document may weigh.
const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The longest a fetch may take, whatever the configured HTTP timeout.
const MAX_FETCH_TIME: Duration = Duration::from_secs(5);
/// How long a document without caching headers is reused.
const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The longest a document is reused, whatever its caching headers say.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
/// How many documents and failures are remembered at once.
const CACHE_CAPACITY: usize = 1024;
/// The longest client id URL considered.
const MAX_URL_LEN: usize = 2000;
/// How many documents may be fetched at once, all URLs together.
pub(crate) const MAX_CONCURRENT_FETCHES: usize = 16;
/// How long a failed fetch or an invalid document is remembered.
const FAILURE_TTL: Duration = Duration::from_secs(60);

/// A client described by its metadata document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Document {
    /// The URL, which is the client id.
    pub(crate) client_id: String,
    /// `client_name`, when the document gives one.
    pub(crate) client_name: Option<String>,
    /// `redirect_uris`.
    pub(crate) redirect_uris: Vec<String>,
    /// The URL's host, which the consent page shows as the client's identity.
    pub(crate) host: String,
}

/// Why a client id URL gives no client. Each message is shown on the error page.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DocumentError {
    #[error("the client id {0:?} is not a valid metadata document URL: {1}")]
    NotAUrl(String, &'static str),
    #[error("the client's metadata document at {0} is not fetched: its host resolves to no public address")]
    Refused(String),
    #[error("the client's metadata document at {0} could not be fetched: {1}")]
    Unreachable(String, String),
    #[error(
        "the client's metadata document at {0} answered HTTP {1}; only 200 is accepted (no redirects are followed)"
    )]
    Status(String, u16),
    #[error("the client's metadata document at {0} is larger than 5 KiB")]
    TooLarge(String),
    #[error("the client's metadata document at {0} is not a JSON object served as application/json")]
    NotJson(String),
    #[error("the client's metadata document at {0} is not valid: {1}")]
    Invalid(String, String),
    #[error(
        "this server is fetching as many client metadata documents as it allows at once: try again in a few seconds"
    )]
    Busy,
}

/// A document, or why a fetch failed, and until when it is answered without fetching again.
struct Known {
    outcome: Result<Arc<Document>, DocumentError>,
    until: Instant,
}

/// Fetches, checks and caches metadata documents.
pub(crate) struct MetadataDocuments {
    http: reqwest::Client,
    allow_loopback: bool,
    /// Documents and failures, bounded.
    known: Mutex<BoundedMap<String, Known>>,
    in_flight: SingleFlight<String, Result<Arc<Document>, DocumentError>>,
    fetches: tokio::sync::Semaphore,
}

impl std::fmt::Debug for MetadataDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataDocuments")
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

/// A reqwest resolver that keeps only the addresses a document may come from.
struct Filtering {
    resolver: Arc<dyn HostResolver>,
    allow_loopback: bool,
}

/// The resolver's refusal, found again in the error chain of the request.
#[derive(Debug, thiserror::Error)]
#[error("no permitted address")]
struct NoPermittedAddress;

fn permitted(ip: IpAddr, allow_loopback: bool) -> bool {
    address::is_public(ip) || (allow_loopback && address::is_loopback(ip))
}

impl reqwest::dns::Resolve for Filtering {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.resolver.resolve(name.as_str());
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let addresses = lookup.await?;
            let allowed: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|ip| permitted(*ip, allow_loopback))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(NoPermittedAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl MetadataDocuments {
    /// The fetcher for `config`: its resolver, its timeout (at most 5 seconds), and the test-only
    /// loopback switch.
    pub(crate) fn new(config: &AzureOAuthConfig) -> Self {
        let allow_loopback = config.loopback_client_metadata_for_tests();
        let timeout = config.http_timeout().min(MAX_FETCH_TIME);
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!allow_loopback)
            .dns_resolver(Arc::new(Filtering { resolver: config.client_metadata_resolver(), allow_loopback }))
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("axum-mcp-azure-oauth/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building fails only when the TLS backend cannot initialise, which no request could survive.
            .unwrap_or_else(|e| panic!("axum-mcp-azure-oauth: cannot build the HTTP client: {e}"));
        Self {
            http,
            allow_loopback,
            known: Mutex::new(BoundedMap::new(CACHE_CAPACITY)),
            in_flight: SingleFlight::default(),
            fetches: tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES),
        }
    }

    /// Whether `client_id` names a metadata document (an https URL; with the test-only switch, an
    /// http one too). It may still be refused by [`get`](Self::get).
    pub(crate) fn is_document_url(&self, client_id: &str) -> bool {
        client_id.starts_with("https://") || (self.allow_loopback && client_id.starts_with("http://"))
    }

    /// The client `client_id` describes: remembered (a document, or a failure for a minute), from
    /// the fetch in flight, or fetched now.
    pub(crate) async fn get(&self, client_id: &str) -> Result<Arc<Document>, DocumentError> {
        let url = self.checked_url(client_id)?;
        if let Some(known) = self.known(client_id) {
            return known;
        }
        self.in_flight
            .run(&client_id.to_owned(), || async {
                // A fetch that finished between the look-up above and this flight's start.
                if let Some(known) = self.known(client_id) {
                    return known;
                }
                let Ok(_permit) = self.fetches.try_acquire() else {
                    return Err(DocumentError::Busy);
                };
                let fetched = self.fetch(&url).await;
                let (outcome, ttl) = match fetched {
                    Ok((document, ttl)) => (Ok(Arc::new(document)), ttl),
                    Err(error) => (Err(error), FAILURE_TTL),
                };
                self.remember(client_id, &outcome, ttl);
                outcome
            })
            .await
    }

    /// What is remembered of `client_id` and still fresh.
    fn known(&self, client_id: &str) -> Option<Result<Arc<Document>, DocumentError>> {
        let known = lock(&self.known);
        known.get(client_id).filter(|k| k.until > Instant::now()).map(|k| k.outcome.clone())
    }

    /// Remembers `outcome` for `ttl` (nothing for zero); a full map first forgets what is stale.
    fn remember(&self, client_id: &str, outcome: &Result<Arc<Document>, DocumentError>, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut known = lock(&self.known);
        if known.len() >= CACHE_CAPACITY {
            known.retain(|_, k| k.until > now);
        }
        known.insert(client_id.to_owned(), Known { outcome: outcome.clone(), until: now + ttl });
    }

    /// The client id as a URL, if it may be fetched at all (see the module documentation).
    fn checked_url(&self, client_id: &str) -> Result<url::Url, DocumentError> {
        let refuse = |why| Err(DocumentError::NotAUrl(client_id.chars().take(200).collect(), why));
        if client_id.len() > MAX_URL_LEN {
            return refuse("it is longer than 2000 characters");
        }
        let Ok(url) = url::Url::parse(client_id) else { return refuse("it is not a URL") };
        if url.as_str() != client_id {
            return refuse(
                "it is not in canonical form (as written, with no default port, dot segments or upper-case host)",
            );
        }
        let loopback_test = self.allow_loopback && url.scheme() == "http";
        if url.scheme() != "https" && !loopback_test {
            return refuse("it must use https");
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("it must not carry user information");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return refuse("it must not have a query or a fragment");
        }
        if url.path() == "/" {
            return refuse("it must have a path, such as https://app.example.com/oauth/client.json");
        }
        match url.host() {
            Some(url::Host::Domain(_)) => {}
            Some(url::Host::Ipv4(ip)) if loopback_test && ip.is_loopback() => {}
            Some(url::Host::Ipv6(ip)) if loopback_test && ip.is_loopback() => {}
            Some(_) => return refuse("its host must be a domain name, not an IP address"),
            None => return refuse("it has no host"),
        }
        if url.port().is_some() && !loopback_test {
            return refuse("it must use the default https port (443)");
        }
        Ok(url)
    }

    /// Fetches and checks the document, and says how long it may be reused.
    async fn fetch(&self, url: &url::Url) -> Result<(Document, Duration), DocumentError> {
        let shown = url.as_str().to_owned();
        let response =
            self.http.get(url.as_str()).header(header::ACCEPT, "application/json").send().await.map_err(
                |e| {
                    if refused_by_resolver(&e) {
                        DocumentError::Refused(shown.clone())
                    } else {
                        DocumentError::Unreachable(shown.clone(), describe(&e))
                    }
                },
            )?;
        // The resolver admitted only permitted addresses; check the one the response came from too.
        if !response.remote_addr().is_some_and(|a| permitted(a.ip(), self.allow_loopback)) {
            return Err(DocumentError::Refused(shown));
        }
        if response.status() != reqwest::StatusCode::OK {
            return Err(DocumentError::Status(shown, response.status().as_u16()));
        }
        let json_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .is_some_and(|t| {
                t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
            });
        if !json_type {
            return Err(DocumentError::NotJson(shown));
        }
        let ttl = freshness(response.headers());
        if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
            return Err(DocumentError::TooLarge(shown));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| DocumentError::Unreachable(shown.clone(), describe(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(DocumentError::TooLarge(shown));
            }
            body.extend_from_slice(&chunk);
        }
        let document = parse(url, &body)?;
        Ok((document, ttl))
    }
}

/// Whether the request failed because the resolver admitted no address.
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut source = e.source();
    while let Some(s) = source {
        if s.is::<NoPermittedAddress>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "it took too long".to_owned()
    } else if e.is_connect() {
        "the connection failed".to_owned()
    } else {
        "the answer could not be read".to_owned()
    }
}

/// How long a document may be reused, from `Cache-Control` (RFC 9111 §5.2.2): `no-store`,
/// `no-cache` or `max-age=0` → not at all; `max-age=N` → N seconds, at most a day; none → 5 minutes.
fn freshness(headers: &http::HeaderMap) -> Duration {
    let mut ttl = DEFAULT_TTL;
    for directive in headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
    {
        match directive.split_once('=') {
            None if directive == "no-store" || directive == "no-cache" => return Duration::ZERO,
            Some(("max-age", n)) => match n.trim_matches('"').parse::<u64>() {
                Ok(secs) => ttl = Duration::from_secs(secs),
                Err(_) => return Duration::ZERO,
            },
            _ => {}
        }
    }
    ttl.min(MAX_TTL)
}

/// Checks the document for `url` (draft-ietf-oauth-client-id-metadata-document §4.1, and the MCP
/// specification's required `client_id`, `client_name`, `redirect_uris`).
fn parse(url: &url::Url, body: &[u8]) -> Result<Document, DocumentError> {
    let shown = || url.as_str().to_owned();
    let invalid = |why: String| DocumentError::Invalid(shown(), why);
    let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(body) else {
        return Err(DocumentError::NotJson(shown()));
    };
    if doc.get("client_id").and_then(Value::as_str) != Some(url.as_str()) {
        return Err(invalid("its client_id is not exactly the URL it was fetched from".into()));
    }
    if doc.contains_key("client_secret") || doc.contains_key("client_secret_expires_at") {
        return Err(invalid("it must not contain a client secret".into()));
    }
    match doc.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if m == "none" => {}
        Some(other) => {
            return Err(invalid(format!(
                "token_endpoint_auth_method {other} is not supported: this server serves public clients (\"none\")"
            )));
        }
    }
    if let Some(types) = doc.get("response_types")
        && !types.as_array().is_some_and(|t| t.iter().any(|t| t.as_str() == Some("code")))
    {
        return Err(invalid("its response_types do not include \"code\"".into()));
    }
    let application_type = doc.get("application_type").and_then(Value::as_str);
    let redirect_uris: Vec<String> = match doc.get("redirect_uris").and_then(Value::as_array) {
        Some(uris) if !uris.is_empty() => uris
            .iter()
            .map(|u| u.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("redirect_uris must be an array of strings".into()))?,
        _ => return Err(invalid("it must list redirect_uris".into())),
    };
    for uri in &redirect_uris {
        client_redirect_uri(uri, application_type).map_err(invalid)?;
    }
    let client_name = match doc.get("client_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) if !n.trim().is_empty() => Some(n.trim().chars().take(100).collect()),
        Some(_) => return Err(invalid("client_name must be a non-empty string".into())),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    Ok(Document { client_id: url.as_str().to_owned(), client_name, redirect_uris, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AzureOAuthConfig {
        crate::fixtures::build(crate::fixtures::offline())
    }

    #[test]
    fn client_id_urls_are_https_domains_with_a_path_in_canonical_form() {
        let docs = MetadataDocuments::new(&config());
        for ok in ["https://vscode.dev/oauth/client-metadata.json", "https://app.example/client"] {
            assert!(docs.checked_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://app.example:8443/client",
            "https://app.example:80/client",
            "http://vscode.dev/oauth/client-metadata.json",
            "https://vscode.dev/",
            "https://vscode.dev",
            "https://VSCODE.dev/client",
            "https://vscode.dev:443/client",
            "https://vscode.dev/a/../client",
            "https://vscode.dev/client?x=1",
            "https://vscode.dev/client#f",
            "https://user@vscode.dev/client",
            "https://127.0.0.1/client",
            "https://[::1]/client",
            "https://0x7f.1/client",
            "https://10.0.0.1/client",
        ] {
            assert!(docs.checked_url(bad).is_err(), "{bad}");
        }
        assert!(!docs.is_document_url("http://127.0.0.1:1/client"));
    }

    #[test]
    fn freshness_follows_cache_control_within_bounds() {
        let h = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(header::CACHE_CONTROL, v.parse().expect("ascii"));
            h
        };
        assert_eq!(freshness(&http::HeaderMap::new()), DEFAULT_TTL);
        assert_eq!(freshness(&h("public, max-age=600")), Duration::from_secs(600));
        assert_eq!(freshness(&h("max-age=999999999")), MAX_TTL);
        for uncached in ["no-store", "no-cache", "max-age=0", "max-age=soon", "private, no-store"] {
            assert_eq!(freshness(&h(uncached)), Duration::ZERO, "{uncached}");
        }
    }

    #[test]
    fn documents_must_name_themselves_list_redirects_and_hold_no_secret() {
        let url = url::Url::parse("https://vscode.dev/oauth/client-metadata.json").expect("url");
        let vscode = br#"{"client_id":"https://vscode.dev/oauth/client-metadata.json","client_name":"Visual Studio Code",
            "redirect_uris":["http://127.0.0.1:33418/","https://vscode.dev/redirect"],
            "grant_types":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:device_code"],
            "response_types":["code"],"token_endpoint_auth_method":"none","application_type":"native"}"#;
        let doc = parse(&url, vscode).expect("VS Code's document");
        assert_eq!(doc.client_name.as_deref(), Some("Visual Studio Code"));
        assert_eq!(doc.host, "vscode.dev");
        assert_eq!(doc.redirect_uris.len(), 2);
        for (bad, why) in [
            (r#"{"client_id":"https://vscode.dev/other","redirect_uris":["https://a/cb"]}"#, "client_id"),
            (r#"{"client_id":"https://vscode.dev/oauth/client-metadata.json"}"#, "redirect_uris"),
            (
                r#"{"client_id":"https://vscode.dev/oauth/client-metadata.json","redirect_uris":[]}"#,
                "redirect_uris",
            ),
            (
                r#"{"client_id":"https://vscode.dev/oauth/client-metadata.json","redirect_uris":["https://a/cb"],"client_secret":"x"}"#,
                "secret",
            ),
            (
                r#"{"client_id":"https://vscode.dev/oauth/client-metadata.json","redirect_uris":["https://a/cb"],"token_endpoint_auth_method":"client_secret_basic"}"#,
                "token_endpoint_auth_method",
            ),
            (
                r#"{"client_id":"https://vscode.dev/oauth/client-metadata.json","redirect_uris":["javascript:x"]}"#,
                "javascript",
            ),
            (
                r#"{"client_id":"https://vscode.dev/oauth/client-metadata.json","redirect_uris":["https://a/cb"],"response_types":["token"]}"#,
                "code",
            ),
        ] {
            let e = parse(&url, bad.as_bytes()).expect_err(bad).to_string();
            assert!(e.contains(why), "{e}");
        }
        assert_eq!(parse(&url, b"[]"), Err(DocumentError::NotJson(url.to_string())));
    }
}
