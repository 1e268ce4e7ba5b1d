//! Microsoft Graph client: a client-credentials token for Graph, and redirect URI enrolment on the
//! app registration (read, merge, write, read back).
//!
//! Graph's `PATCH /applications/{id}` replaces whole arrays and offers no concurrency control
//! (entra.md, "Microsoft Graph: the application object"), so every write of this process goes
//! through one writer at a time: registrations that arrive together are merged into one batch,
//! written with one `PATCH` per batch and confirmed by reading the application back. Across
//! processes, a read-back that lacks a URI just written (another process's `PATCH` replaced the
//! list) is merged with what Graph now holds and written again; and once confirmed, the batch
//! looks again after twice the write's round trip (a write another process sent before ours
//! landed has landed by then), merging and rewriting what went missing.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use http::StatusCode;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, oneshot};
use tokio::time::Instant;

use crate::{AzureOAuthConfig, HttpsPlatform, rules};

/// How long one enrolment batch may spend retrying throttled (429) or failing (5xx, timeouts)
/// Graph and token requests, `Retry-After` waits included, before it reports the failure.
pub const GRAPH_RETRY_BUDGET: Duration = Duration::from_secs(30);

/// Entra's limit on redirect URIs per app registration (work and school accounts; 100 when
/// personal accounts are allowed). Enrolment beyond it is refused per URI, before any write.
pub const REDIRECT_URI_LIMIT: usize = 256;

/// How long a read of the app registration's redirect URIs is reused by [`GraphClient::redirect_uris`].
const SNAPSHOT_TTL: Duration = Duration::from_secs(60);
/// The longest a request in flight waits for a read of the app registration (token included).
const SNAPSHOT_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a failed read of the app registration is remembered.
const FAILED_SNAPSHOT_TTL: Duration = Duration::from_secs(10);

/// The shortest wait before a batch looks at the app registration again after its read-back
/// confirmed it (the wait is twice the write's round trip, at most the HTTP timeout; never a
/// `clamp`, which would panic for an HTTP timeout below this).
const MIN_SETTLE: Duration = Duration::from_millis(50);

/// How many times one batch merges again with what Graph holds and rewrites, when its read-back
/// shows that another process replaced URIs it had just written.
const REMERGE_ROUNDS: usize = 3;

/// The longest pause between two retries when Graph gives no `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The longest a Graph token is reused, whatever `expires_in` Entra sent.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The platform of the app registration a redirect URI is enrolled on; it decides how Entra lets
/// the code be redeemed (entra.md, "Authorization and token endpoints").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectPlatform {
    /// `web`: confidential; the token request must carry the client secret.
    Web,
    /// `spa`: redeemed cross-origin with an `Origin` header and no secret.
    Spa,
    /// `publicClient`: loopback and custom-scheme redirects of native apps; no secret allowed.
    PublicClient,
}

impl RedirectPlatform {
    /// The platform a redirect URI is enrolled on: loopback `http` and custom schemes on
    /// `publicClient`, `https` on `web` or `spa` as configured
    /// ([`AzureOAuthConfig::https_redirect_platform`]).
    ///
    /// ```
    /// use axum_mcp_azure_oauth::{AzureOAuthConfig, RedirectPlatform};
    ///
    /// let config = AzureOAuthConfig::builder()
    ///     .app_id("11111111-2222-3333-4444-555555555555")
    ///     .tenant_id("11111111-2222-3333-4444-555555555555")
    ///     .build()?;
    /// assert_eq!(RedirectPlatform::for_uri(&config, "http://127.0.0.1:33418/"), RedirectPlatform::PublicClient);
    /// assert_eq!(RedirectPlatform::for_uri(&config, "cursor://anysphere.cursor-mcp/oauth/callback"), RedirectPlatform::PublicClient);
    /// assert_eq!(RedirectPlatform::for_uri(&config, "https://vscode.dev/redirect"), RedirectPlatform::Web);
    /// # Ok::<(), axum_mcp_azure_oauth::ConfigError>(())
    /// ```
    pub fn for_uri(config: &AzureOAuthConfig, uri: &str) -> Self {
        if uri.starts_with("https://") {
            match config.https_redirect_platform() {
                HttpsPlatform::Web => Self::Web,
                HttpsPlatform::Spa => Self::Spa,
            }
        } else {
            Self::PublicClient
        }
    }

    /// The property name on Graph's application object: `web`, `spa` or `publicClient`.
    pub fn graph_name(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Spa => "spa",
            Self::PublicClient => "publicClient",
        }
    }

    const ALL: [Self; 3] = [Self::Web, Self::Spa, Self::PublicClient];
}

/// `http://localhost` or `http://127.0.0.1` redirect URI without its port (an empty path as `/`),
/// the form Entra compares loopback redirect URIs in; `None` for any other URI.
pub(crate) fn loopback_key(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after) = if let Some(r) = rest.strip_prefix("localhost") {
        ("localhost", r)
    } else if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else {
        return None;
    };
    let after = match after.strip_prefix(':') {
        Some(port) => {
            let digits = port.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &port[digits..]
        }
        None => after,
    };
    if after.is_empty() || after.starts_with('?') {
        Some(format!("http://{host}/{after}"))
    } else if after.starts_with('/') {
        Some(format!("http://{host}{after}"))
    } else {
        // `http://localhost.evil.example/…` is not a loopback URI.
        None
    }
}

/// How a redirect URI is remembered as enrolled: loopback URIs without their port (Entra matches
/// them whatever the port, so `:1/cb` … `:65535/cb` are one entry), others as given.
fn enrolled_key(uri: &str) -> String {
    loopback_key(uri).unwrap_or_else(|| uri.to_owned())
}

/// Whether a request's redirect URI matches an enrolled one as Entra matches them: exactly, or for
/// loopback `http` URIs with the port ignored.
pub(crate) fn redirect_matches(enrolled: &str, candidate: &str) -> bool {
    enrolled == candidate
        || matches!((loopback_key(enrolled), loopback_key(candidate)), (Some(a), Some(b)) if a == b)
}

/// The redirect URIs of the app registration, per platform, as Graph holds them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppRedirectUris {
    /// `web.redirectUris`.
    pub web: Vec<String>,
    /// `spa.redirectUris`.
    pub spa: Vec<String>,
    /// `publicClient.redirectUris`.
    pub public_client: Vec<String>,
}

impl AppRedirectUris {
    /// The URIs enrolled on `platform`.
    pub fn on(&self, platform: RedirectPlatform) -> &[String] {
        match platform {
            RedirectPlatform::Web => &self.web,
            RedirectPlatform::Spa => &self.spa,
            RedirectPlatform::PublicClient => &self.public_client,
        }
    }

    fn on_mut(&mut self, platform: RedirectPlatform) -> &mut Vec<String> {
        match platform {
            RedirectPlatform::Web => &mut self.web,
            RedirectPlatform::Spa => &mut self.spa,
            RedirectPlatform::PublicClient => &mut self.public_client,
        }
    }

    /// The platform `uri` is enrolled on, matched as Entra matches (exactly first, then loopback
    /// URIs with the port ignored); `None` when it is not enrolled.
    pub fn platform_of(&self, uri: &str) -> Option<RedirectPlatform> {
        let exact = RedirectPlatform::ALL.into_iter().find(|p| self.on(*p).iter().any(|u| u == uri));
        exact.or_else(|| {
            RedirectPlatform::ALL.into_iter().find(|p| self.on(*p).iter().any(|u| redirect_matches(u, uri)))
        })
    }

    /// Whether `uri` is enrolled on `platform` (loopback URIs matched without their port).
    pub fn contains(&self, platform: RedirectPlatform, uri: &str) -> bool {
        self.on(platform).iter().any(|u| redirect_matches(u, uri))
    }

    /// How many redirect URIs the app registration holds over all platforms.
    pub fn total(&self) -> usize {
        self.web.len() + self.spa.len() + self.public_client.len()
    }

    /// Reads Graph's application object: its object id and redirect URIs.
    fn from_application(app: &Value) -> Option<(String, Self)> {
        let id = app.get("id")?.as_str()?.to_owned();
        let list = |platform: &str| -> Option<Vec<String>> {
            match app.get(platform) {
                None | Some(Value::Null) => Some(Vec::new()),
                Some(p) => match p.get("redirectUris") {
                    None | Some(Value::Null) => Some(Vec::new()),
                    Some(Value::Array(a)) => a.iter().map(|u| u.as_str().map(str::to_owned)).collect(),
                    Some(_) => None,
                },
            }
        };
        Some((id, Self { web: list("web")?, spa: list("spa")?, public_client: list("publicClient")? }))
    }
}

/// Why a redirect URI could not be enrolled; each variant says what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// No client secret is configured, so Graph cannot be called.
    #[error(
        "no client secret is configured (AZURE_CLIENT_SECRET), so redirect URIs cannot be enrolled through Microsoft Graph: set it, or add the URI to the app registration's Authentication page by hand"
    )]
    NoClientSecret,
    /// The URI breaks one of Entra's redirect URI rules.
    #[error("Entra would refuse this redirect URI: {0}")]
    InvalidUri(rules::RuleError),
    /// The client-credentials token for Graph was refused.
    #[error(
        "Entra refused the client-credentials token for Microsoft Graph (HTTP {status}): {detail}; check AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (the secret's value, not expired)"
    )]
    Token {
        /// The HTTP status of Entra's answer.
        status: u16,
        /// Entra's `error_description` (never the secret).
        detail: String,
    },
    /// The app registration was not found in Graph.
    #[error(
        "Microsoft Graph has no application with this app id in the home tenant: check AZURE_CLIENT_ID and AZURE_TENANT_ID"
    )]
    AppNotFound,
    /// Graph refused the request.
    #[error(
        "Microsoft Graph refused the request (HTTP {status}): {detail}; the app needs the application permission Application.ReadWrite.OwnedBy (and to own itself) or Application.ReadWrite.All, with admin consent"
    )]
    Graph {
        /// The HTTP status of Graph's answer.
        status: u16,
        /// Graph's error message.
        detail: String,
    },
    /// Graph kept throttling (429) until the retry budget ran out.
    #[error(
        "Microsoft Graph kept throttling the app (HTTP 429) for the whole retry budget; try again later{}",
        .retry_after.map(|d| format!(" (Graph asked to wait {} s)", d.as_secs())).unwrap_or_default()
    )]
    Throttled {
        /// The last `Retry-After` Graph sent.
        retry_after: Option<Duration>,
    },
    /// Graph or Entra could not be reached, timed out, or kept failing (5xx) for the whole retry budget.
    #[error(
        "Microsoft Graph or Entra ID was unavailable for the whole retry budget: {0}; check MICROSOFT_GRAPH_ENDPOINT, AZURE_AUTHORITY_HOST and the network, then register again"
    )]
    Unavailable(String),
    /// Graph's answer was not the JSON it documents.
    #[error("Microsoft Graph answered with an unexpected body: {0}; check MICROSOFT_GRAPH_ENDPOINT")]
    InvalidResponse(String),
    /// The app registration already holds [`REDIRECT_URI_LIMIT`] redirect URIs.
    #[error(
        "the app registration already holds {limit} redirect URIs, Entra's limit: remove unused ones on its Authentication page"
    )]
    LimitReached {
        /// The limit.
        limit: usize,
    },
    /// Graph accepted the write, but reading the application back did not show the URI.
    #[error(
        "Microsoft Graph accepted the update but the redirect URI was missing when read back (another writer may have replaced the list): register again"
    )]
    NotConfirmed,
    /// The enrolment was interrupted (the runtime shut down).
    #[error("the enrolment was interrupted before it finished: register again")]
    Interrupted,
}

/// What [`GraphClient::enrol`] did with each URI: enrolled (now, earlier in this process, or
/// already on the app registration) or failed with the reason. Every input URI appears once, in
/// input order within each list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrolReport {
    /// URIs now on the app registration.
    pub enrolled: Vec<String>,
    /// URIs that could not be enrolled, and why.
    pub failed: Vec<(String, EnrolError)>,
}

/// Waits between retries: `Retry-After` when given, else exponential backoff from 250 ms up to
/// [`MAX_BACKOFF`], never past the deadline.
#[derive(Debug)]
struct Backoff {
    deadline: Instant,
    attempt: u32,
}

impl Backoff {
    fn new(budget: Duration) -> Self {
        // A budget past what `Instant` can hold (`Duration::MAX`) is a year: as good as unbounded.
        let now = Instant::now();
        let deadline = now.checked_add(budget).unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        Self { deadline, attempt: 0 }
    }

    /// Sleeps before the next try; `false` when the wait would pass the deadline (give up).
    async fn wait(&mut self, retry_after: Option<Duration>) -> bool {
        let backoff = Duration::from_millis(250).saturating_mul(1 << self.attempt.min(10)).min(MAX_BACKOFF);
        let wait = retry_after.unwrap_or(backoff);
        // A `Retry-After` too large to add (Graph's or a proxy's) is past any deadline.
        if Instant::now().checked_add(wait).is_none_or(|until| until > self.deadline) {
            return false;
        }
        self.attempt += 1;
        tokio::time::sleep(wait).await;
        true
    }
}

/// `Retry-After` in seconds (the form Graph sends); dates are not used by Graph.
fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// One step of a retried request.
enum Attempt<T> {
    Done(T),
    Retry(EnrolError, Option<Duration>),
    Fail(EnrolError),
}

struct CachedToken {
    value: String,
    valid_until: Instant,
}

struct Job {
    uri: String,
    platform: RedirectPlatform,
    done: oneshot::Sender<Result<(), EnrolError>>,
}

struct Inner {
    config: Arc<AzureOAuthConfig>,
    http: reqwest::Client,
    retry_budget: Duration,
    /// The Graph token; the lock is held while a new one is fetched (single flight).
    token: Mutex<Option<CachedToken>>,
    /// The last read of the app registration's redirect URIs (or its failure); single flight.
    snapshot: Mutex<Option<(Instant, Result<AppRedirectUris, EnrolError>)>>,
    /// URIs confirmed on the app registration by this process ([`enrolled_key`]), at most
    /// [`REDIRECT_URI_LIMIT`] (Graph holds no more).
    enrolled: StdMutex<HashSet<String>>,
    /// Enrolments waiting for the writer.
    pending: StdMutex<Vec<Job>>,
    /// Held by the one batch writing to Graph.
    writer: Mutex<()>,
}

/// The Microsoft Graph client of the app registration (cheap to clone; clones share the token,
/// the writer and what was enrolled).
///
/// ```no_run
/// use std::sync::Arc;
/// use axum_mcp_azure_oauth::{AzureOAuthConfig, GraphClient};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Arc::new(AzureOAuthConfig::from_env()?);
/// let graph = GraphClient::new(config);
/// let report = graph.enrol(["https://vscode.dev/redirect"]).await;
/// for (uri, why) in &report.failed {
///     eprintln!("{uri}: {why}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("graph_endpoint", &self.inner.config.graph_endpoint())
            .field("app_id", &self.inner.config.app_id())
            .field("retry_budget", &self.inner.retry_budget)
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    /// A client for the configuration's app registration, retrying for [`GRAPH_RETRY_BUDGET`].
    pub fn new(config: Arc<AzureOAuthConfig>) -> Self {
        Self::with_retry_budget(config, GRAPH_RETRY_BUDGET)
    }

    /// A client whose enrolment batches retry for at most `budget` (throttling and outages).
    pub fn with_retry_budget(config: Arc<AzureOAuthConfig>, budget: Duration) -> Self {
        let http = crate::http::client(&config);
        Self::with_http(config, budget, http)
    }

    /// A client calling Graph (and Entra for its token) through `http`.
    pub(crate) fn with_http(config: Arc<AzureOAuthConfig>, budget: Duration, http: reqwest::Client) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                config,
                retry_budget: budget,
                token: Mutex::new(None),
                snapshot: Mutex::new(None),
                enrolled: StdMutex::new(HashSet::new()),
                pending: StdMutex::new(Vec::new()),
                writer: Mutex::new(()),
            }),
        }
    }

    /// The URIs this process has confirmed on the app registration, sorted; loopback URIs
    /// without their port (`http://127.0.0.1/cb`), as Entra matches them. At most
    /// [`REDIRECT_URI_LIMIT`].
    pub fn enrolled(&self) -> Vec<String> {
        let mut v: Vec<String> =
            self.inner.enrolled.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect();
        v.sort();
        v
    }

    /// The app registration's redirect URIs, read from Graph at most once a minute (a failed
    /// read is remembered for 10 seconds; a read in flight is shared). One attempt of at most
    /// 3 seconds, no retries: this serves requests in flight.
    pub async fn redirect_uris(&self) -> Result<AppRedirectUris, EnrolError> {
        self.inner.config.client_secret().ok_or(EnrolError::NoClientSecret)?;
        let mut snapshot = self.inner.snapshot.lock().await;
        if let Some((at, read)) = &*snapshot {
            let ttl = if read.is_ok() { SNAPSHOT_TTL } else { FAILED_SNAPSHOT_TTL };
            if at.elapsed() < ttl {
                return read.clone();
            }
        }
        let read = tokio::time::timeout(
            SNAPSHOT_READ_TIMEOUT,
            self.inner.read_app(&mut Backoff::new(Duration::ZERO)),
        )
        .await
        .unwrap_or_else(|_| Err(EnrolError::Unavailable("reading the app registration timed out".into())))
        .map(|(_, uris)| uris);
        *snapshot = Some((Instant::now(), read.clone()));
        read
    }

    /// Enrols redirect URIs on the app registration, each on its platform
    /// ([`RedirectPlatform::for_uri`]). URIs already there, on any platform, are left alone — a
    /// loopback URI counts as there when the same URI with any port is (Entra ignores the port
    /// when matching), otherwise it is stored as given. URIs enrolled earlier by this process are
    /// not written again (loopback URIs with any port). While the last read of the app
    /// registration (at most a minute old) shows it full, URIs not on it are refused with
    /// [`EnrolError::LimitReached`] without asking Graph again. Concurrent calls are merged into one Graph write (read, merge, `PATCH`,
    /// read back), one write at a time per client: share one `GraphClient` in a process. Call it
    /// within a Tokio runtime. Never panics: failures are reported per URI.
    pub async fn enrol<I, S>(&self, uris: I) -> EnrolReport
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut seen = HashSet::new();
        let uris: Vec<String> = uris.into_iter().map(Into::into).filter(|u| seen.insert(u.clone())).collect();
        let mut outcomes: Vec<Option<Result<(), EnrolError>>> = Vec::with_capacity(uris.len());
        let mut waits = Vec::new();
        let full = self.inner.full_registration();
        {
            let enrolled = self.inner.enrolled.lock().unwrap_or_else(PoisonError::into_inner);
            let mut pending = self.inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, uri) in uris.iter().enumerate() {
                if let Err(rule) = rules::redirect_uri(uri) {
                    outcomes.push(Some(Err(EnrolError::InvalidUri(rule))));
                } else if enrolled.contains(&enrolled_key(uri)) {
                    outcomes.push(Some(Ok(())));
                } else if self.inner.config.client_secret().is_none() {
                    outcomes.push(Some(Err(EnrolError::NoClientSecret)));
                } else if let Some(full) = &full {
                    outcomes.push(Some(if full.platform_of(uri).is_some() {
                        Ok(())
                    } else {
                        Err(EnrolError::LimitReached { limit: REDIRECT_URI_LIMIT })
                    }));
                } else {
                    let (done, wait) = oneshot::channel();
                    let platform = RedirectPlatform::for_uri(&self.inner.config, uri);
                    pending.push(Job { uri: uri.clone(), platform, done });
                    waits.push((i, wait));
                    outcomes.push(None);
                }
            }
        }
        if !waits.is_empty() {
            // A task of its own, so that a caller that goes away cannot cancel a write half-way.
            tokio::spawn(Inner::run_pending(Arc::clone(&self.inner)));
        }
        for (i, wait) in waits {
            outcomes[i] = Some(wait.await.unwrap_or(Err(EnrolError::Interrupted)));
        }
        let mut report = EnrolReport::default();
        for (uri, outcome) in uris.into_iter().zip(outcomes) {
            match outcome.unwrap_or(Err(EnrolError::Interrupted)) {
                Ok(()) => report.enrolled.push(uri),
                Err(e) => report.failed.push((uri, e)),
            }
        }
        report
    }
}

impl Inner {
    /// The last read of the app registration, if it is fresh and shows it full; `None` when a
    /// read is in flight (the snapshot is locked): then enrolment asks Graph.
    fn full_registration(&self) -> Option<AppRedirectUris> {
        let snapshot = self.snapshot.try_lock().ok()?;
        match &*snapshot {
            Some((at, Ok(uris))) if at.elapsed() < SNAPSHOT_TTL && uris.total() >= REDIRECT_URI_LIMIT => {
                Some(uris.clone())
            }
            _ => None,
        }
    }

    /// Takes every waiting enrolment and writes them as one batch; batches run one at a time.
    async fn run_pending(self: Arc<Self>) {
        let _writer = self.writer.lock().await;
        let jobs = std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if jobs.is_empty() {
            return; // an earlier batch took them
        }
        tracing::debug!(uris = jobs.len(), "enrolling redirect URIs through Microsoft Graph");
        let results = self.write_batch(&jobs).await;
        let mut enrolled = self.enrolled.lock().unwrap_or_else(PoisonError::into_inner);
        for (job, result) in jobs.into_iter().zip(results) {
            match &result {
                Ok(()) => {
                    if enrolled.len() < REDIRECT_URI_LIMIT {
                        enrolled.insert(enrolled_key(&job.uri));
                    }
                    tracing::info!(redirect_uri = %job.uri, platform = job.platform.graph_name(), "redirect URI enrolled");
                }
                Err(e) => tracing::warn!(redirect_uri = %job.uri, error = %e, "redirect URI not enrolled"),
            }
            let _ = job.done.send(result);
        }
    }

    /// Read, merge, write, read back — and merge again and rewrite what the read-back lacks
    /// (another process's write landed in between). One result per job, in order. When Graph
    /// refuses a write of several URIs as a bad request, each URI is written alone, so that one URI
    /// Graph refuses cannot sink the others.
    async fn write_batch(&self, jobs: &[Job]) -> Vec<Result<(), EnrolError>> {
        let mut backoff = Backoff::new(self.retry_budget);
        let (id, mut current) = match self.read_app(&mut backoff).await {
            Ok(app) => app,
            Err(e) => return vec![Err(e); jobs.len()],
        };
        let mut total = current.total();
        let mut additions = Vec::new();
        let mut results: Vec<Option<Result<(), EnrolError>>> = Vec::with_capacity(jobs.len());
        let mut noted_full = false;
        for (i, job) in jobs.iter().enumerate() {
            // Loopback URIs differing only in their port are one URI to Entra: written once.
            let queued = additions.iter().any(|&j: &usize| redirect_matches(&jobs[j].uri, &job.uri));
            if queued || current.platform_of(&job.uri).is_some() {
                // Already there, on this or another platform (the bridge redeems by the platform
                // Graph reports), or already in this batch.
                results.push(if queued { None } else { Some(Ok(())) });
            } else if total >= REDIRECT_URI_LIMIT {
                if additions.is_empty() && !noted_full {
                    // Full before this batch: later enrolments are refused from this read
                    // (`GraphClient::enrol`) until it is a minute old, without reading Graph.
                    noted_full = true;
                    *self.snapshot.lock().await = Some((Instant::now(), Ok(current.clone())));
                }
                results.push(Some(Err(EnrolError::LimitReached { limit: REDIRECT_URI_LIMIT })));
            } else {
                total += 1;
                additions.push(i);
                results.push(None);
            }
        }
        // URIs of this batch still to write; after a write, those the read-back lacks (another
        // process replaced the list between our read and our write: Graph has no ETag) are merged
        // with what Graph now holds and written again, at most `REMERGE_ROUNDS` times.
        let mut to_write = additions.clone();
        let mut refused: Vec<(String, EnrolError)> = Vec::new();
        let mut rounds = 0;
        while !to_write.is_empty() {
            let all: Vec<&Job> = to_write.iter().map(|&i| &jobs[i]).collect();
            let started = Instant::now();
            let outcome = match self.write(&id, &current, &all, &mut backoff).await {
                Err(EnrolError::Graph { status: 400, .. }) if all.len() > 1 => {
                    let mut last = Err(EnrolError::Interrupted);
                    for job in all {
                        match self.write(&id, &current, &[job], &mut backoff).await {
                            Ok(after) => {
                                current = after.clone();
                                last = Ok(after);
                            }
                            Err(e) => refused.push((job.uri.clone(), e)),
                        }
                    }
                    // What is on the app registration now decides each URI below.
                    match last {
                        Ok(after) => Ok(after),
                        Err(_) => self.read_app(&mut backoff).await.map(|(_, after)| after),
                    }
                }
                other => other,
            };
            // Another process that read the registration before this write landed may land its
            // own write after our read-back: look again once such a write would have landed.
            let outcome = match outcome {
                Ok(after)
                    if rounds < REMERGE_ROUNDS
                        && self.missing(jobs, &additions, &refused, &after).is_empty() =>
                {
                    tokio::time::sleep(
                        (started.elapsed() * 2).min(self.config.http_timeout()).max(MIN_SETTLE),
                    )
                    .await;
                    match self.read_app(&mut backoff).await {
                        Ok((_, again)) => Ok(again),
                        // Confirmed once; a failed second look changes nothing.
                        Err(_) => Ok(after),
                    }
                }
                other => other,
            };
            match outcome {
                Ok(after) => {
                    let lost = self.missing(jobs, &additions, &refused, &after);
                    if !lost.is_empty() && rounds < REMERGE_ROUNDS {
                        rounds += 1;
                        tracing::debug!(
                            uris = lost.len(),
                            "redirect URIs replaced by another writer before the read-back: merging again"
                        );
                        current = after;
                        to_write = lost;
                        continue;
                    }
                    for (job, result) in jobs.iter().zip(results.iter_mut()) {
                        if result.is_none() {
                            *result = Some(if after.contains(job.platform, &job.uri) {
                                Ok(())
                            } else if let Some((_, e)) = refused.iter().find(|(uri, _)| *uri == job.uri) {
                                Err(e.clone())
                            } else {
                                Err(EnrolError::NotConfirmed)
                            });
                        }
                    }
                    *self.snapshot.lock().await = Some((Instant::now(), Ok(after)));
                }
                Err(e) => {
                    *self.snapshot.lock().await = None;
                    for result in results.iter_mut().filter(|r| r.is_none()) {
                        *result = Some(Err(e.clone()));
                    }
                }
            }
            break;
        }
        results.into_iter().map(|r| r.unwrap_or(Err(EnrolError::Interrupted))).collect()
    }

    /// Writes `current` plus the jobs' URIs (whole arrays of the changed platforms) and reads the
    /// application back.
    async fn write(
        &self,
        id: &str,
        current: &AppRedirectUris,
        jobs: &[&Job],
        backoff: &mut Backoff,
    ) -> Result<AppRedirectUris, EnrolError> {
        let mut desired = current.clone();
        let mut changed = Vec::new();
        for job in jobs {
            desired.on_mut(job.platform).push(job.uri.clone());
            if !changed.contains(&job.platform) {
                changed.push(job.platform);
            }
        }
        let mut body = Map::new();
        for platform in changed {
            body.insert(
                platform.graph_name().to_owned(),
                serde_json::json!({ "redirectUris": desired.on(platform) }),
            );
        }
        self.patch_app(id, &Value::Object(body), backoff).await?;
        self.read_app(backoff).await.map(|(_, after)| after)
    }

    fn app_url(&self) -> String {
        format!("{}/v1.0/applications(appId='{}')", self.config.graph_endpoint(), self.config.app_id())
    }

    /// `GET /v1.0/applications(appId='…')`: the object id and the redirect URIs.
    async fn read_app(&self, backoff: &mut Backoff) -> Result<(String, AppRedirectUris), EnrolError> {
        let url = self.app_url();
        let parse = |body: &[u8]| {
            let app: Value = serde_json::from_slice(body)
                .map_err(|e| EnrolError::InvalidResponse(format!("the application is not JSON: {e}")))?;
            AppRedirectUris::from_application(&app).ok_or_else(|| {
                EnrolError::InvalidResponse("the application has no `id` or malformed `redirectUris`".into())
            })
        };
        self.graph_request(backoff, |http, token| http.get(&url).bearer_auth(token), parse).await
    }

    /// The jobs of `additions` that `after` lacks and Graph did not refuse.
    fn missing(
        &self,
        jobs: &[Job],
        additions: &[usize],
        refused: &[(String, EnrolError)],
        after: &AppRedirectUris,
    ) -> Vec<usize> {
        additions
            .iter()
            .copied()
            .filter(|&i| {
                !after.contains(jobs[i].platform, &jobs[i].uri)
                    && !refused.iter().any(|(uri, _)| *uri == jobs[i].uri)
            })
            .collect()
    }

    /// `PATCH /v1.0/applications/{id}` with the whole arrays of the changed platforms.
    async fn patch_app(&self, id: &str, body: &Value, backoff: &mut Backoff) -> Result<(), EnrolError> {
        let url = format!("{}/v1.0/applications/{id}", self.config.graph_endpoint());
        self.graph_request(backoff, |http, token| http.patch(&url).bearer_auth(token).json(body), |_| Ok(()))
            .await
    }

    /// Sends a Graph request with the app token and parses a success; retries 429, 5xx,
    /// timeouts and unparsable answers (a proxy's HTML page) within the budget, and a 401 once
    /// with a fresh token.
    async fn graph_request<T>(
        &self,
        backoff: &mut Backoff,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        parse: impl Fn(&[u8]) -> Result<T, EnrolError>,
    ) -> Result<T, EnrolError> {
        let mut renewed = false;
        loop {
            let token = self.token(backoff).await?;
            let attempt = match make(&self.http, &token).send().await {
                Err(e) => Attempt::Retry(EnrolError::Unavailable(describe(&e)), None),
                Ok(resp) => {
                    let status = resp.status();
                    let wait = retry_after(resp.headers());
                    match resp.bytes().await {
                        Err(e) => Attempt::Retry(EnrolError::Unavailable(describe(&e)), None),
                        Ok(body) if status.is_success() => match parse(&body) {
                            Ok(value) => Attempt::Done(value),
                            Err(e) => Attempt::Retry(e, None),
                        },
                        Ok(_) if status == StatusCode::UNAUTHORIZED && !renewed => {
                            renewed = true;
                            *self.token.lock().await = None;
                            continue;
                        }
                        Ok(_) if status == StatusCode::TOO_MANY_REQUESTS => {
                            Attempt::Retry(EnrolError::Throttled { retry_after: wait }, wait)
                        }
                        Ok(body) if status.is_server_error() => Attempt::Retry(
                            EnrolError::Unavailable(format!(
                                "HTTP {}: {}",
                                status.as_u16(),
                                graph_message(&body)
                            )),
                            wait,
                        ),
                        Ok(_) if status == StatusCode::NOT_FOUND => Attempt::Fail(EnrolError::AppNotFound),
                        Ok(body) => Attempt::Fail(EnrolError::Graph {
                            status: status.as_u16(),
                            detail: graph_message(&body),
                        }),
                    }
                }
            };
            match attempt {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(e, wait) => {
                    if !backoff.wait(wait).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// The client-credentials token for Graph, cached until shortly before it expires; one fetch
    /// at a time (callers wait for it).
    async fn token(&self, backoff: &mut Backoff) -> Result<String, EnrolError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = &*slot
            && Instant::now() < t.valid_until
        {
            return Ok(t.value.clone());
        }
        let secret = self.config.client_secret().ok_or(EnrolError::NoClientSecret)?;
        let url = format!("{}/{}/oauth2/v2.0/token", self.config.authority_host(), self.config.tenant_id());
        let scope = format!("{}/.default", self.config.graph_endpoint());
        loop {
            let form = [
                ("client_id", self.config.app_id()),
                ("client_secret", secret.expose()),
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
            ];
            let attempt = match self.http.post(&url).form(&form).send().await {
                Err(e) => Attempt::Retry(EnrolError::Unavailable(describe(&e)), None),
                Ok(resp) => {
                    let status = resp.status();
                    let wait = retry_after(resp.headers());
                    match resp.bytes().await {
                        Err(e) => Attempt::Retry(EnrolError::Unavailable(describe(&e)), None),
                        Ok(body) if status.is_success() => match parse_token(&body) {
                            Some(t) => Attempt::Done(t),
                            None => Attempt::Retry(
                                EnrolError::InvalidResponse(
                                    "the token endpoint's answer has no access_token".into(),
                                ),
                                None,
                            ),
                        },
                        Ok(_) if status == StatusCode::TOO_MANY_REQUESTS => {
                            Attempt::Retry(EnrolError::Throttled { retry_after: wait }, wait)
                        }
                        Ok(body) if status.is_server_error() => Attempt::Retry(
                            EnrolError::Unavailable(format!(
                                "token endpoint HTTP {}: {}",
                                status.as_u16(),
                                entra_message(&body)
                            )),
                            wait,
                        ),
                        Ok(body) => Attempt::Fail(EnrolError::Token {
                            status: status.as_u16(),
                            detail: entra_message(&body),
                        }),
                    }
                }
            };
            match attempt {
                Attempt::Done((value, expires_in)) => {
                    *slot = Some(CachedToken { value: value.clone(), valid_until: renew_at(expires_in) });
                    return Ok(value);
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry(e, wait) => {
                    if !backoff.wait(wait).await {
                        return Err(e);
                    }
                }
            }
        }
    }
}

/// When a Graph token of lifetime `expires_in` is renewed: 5 minutes early (half the lifetime for
/// short-lived tokens), the lifetime taken as at most [`MAX_TOKEN_LIFETIME`].
fn renew_at(expires_in: Duration) -> Instant {
    let lifetime = expires_in.min(MAX_TOKEN_LIFETIME);
    let margin = Duration::from_secs(300).min(lifetime / 2);
    Instant::now() + (lifetime - margin)
}

/// `access_token` and `expires_in` of a token response.
fn parse_token(body: &[u8]) -> Option<(String, Duration)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let token = v.get("access_token")?.as_str()?.to_owned();
    let expires_in = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or(3599);
    Some((token, Duration::from_secs(expires_in)))
}

/// A reqwest error without anything from a request body (reqwest shows the URL, which holds no secret).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() { format!("timed out ({e})") } else { e.to_string() }
}

/// Graph's `error.code: error.message`, or a short excerpt of a non-JSON body.
fn graph_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            Some(format!(
                "{}: {}",
                e.get("code").and_then(Value::as_str).unwrap_or("error"),
                e.get("message").and_then(Value::as_str).unwrap_or("")
            ))
        })
        .unwrap_or_else(|| excerpt(body))
}

/// Entra's `error: error_description`, or a short excerpt of a non-JSON body.
fn entra_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            Some(format!(
                "{}: {}",
                v.get("error")?.as_str()?,
                v.get("error_description").and_then(Value::as_str).unwrap_or("")
            ))
        })
        .unwrap_or_else(|| excerpt(body))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let short: String = text.chars().take(200).collect();
    format!("unexpected body {short:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_uris_compare_without_their_port() {
        assert!(redirect_matches("http://127.0.0.1:33418/", "http://127.0.0.1:5555/"));
        assert!(redirect_matches("http://127.0.0.1/", "http://127.0.0.1:5555/"));
        assert!(redirect_matches("http://127.0.0.1:33418", "http://127.0.0.1:5555/"));
        assert!(redirect_matches("http://localhost:6274/oauth/callback", "http://localhost/oauth/callback"));
        assert!(!redirect_matches(
            "http://localhost:6274/oauth/callback",
            "http://127.0.0.1:6274/oauth/callback"
        ));
        assert!(!redirect_matches("http://127.0.0.1:33418/", "http://127.0.0.1:33418/other"));
        assert!(!redirect_matches("http://localhost:1/cb", "http://localhost.evil.example/cb"));
        assert!(!redirect_matches("https://localhost:1/cb", "https://localhost:2/cb"));
        assert!(redirect_matches("https://vscode.dev/redirect", "https://vscode.dev/redirect"));
        assert!(!redirect_matches("https://vscode.dev/redirect", "https://vscode.dev/redirect/"));
        assert_eq!(loopback_key("http://127.0.0.1:abc/"), None);
    }

    #[test]
    fn app_registration_reads_graph_shape_and_finds_platforms() {
        let app = serde_json::json!({
            "id": "obj",
            "web": { "redirectUris": ["https://a.example/cb"] },
            "spa": { "redirectUris": [] },
            "publicClient": { "redirectUris": ["http://127.0.0.1:33418/"] },
        });
        let (id, uris) = AppRedirectUris::from_application(&app).expect("graph shape");
        assert_eq!(id, "obj");
        assert_eq!(uris.platform_of("https://a.example/cb"), Some(RedirectPlatform::Web));
        assert_eq!(uris.platform_of("http://127.0.0.1:1234/"), Some(RedirectPlatform::PublicClient));
        assert_eq!(uris.platform_of("https://b.example/cb"), None);
        assert_eq!(uris.total(), 2);
        let sparse = serde_json::json!({ "id": "obj", "web": null });
        assert_eq!(AppRedirectUris::from_application(&sparse).map(|x| x.1), Some(AppRedirectUris::default()));
        let bad = serde_json::json!({ "id": "obj", "web": { "redirectUris": "x" } });
        assert_eq!(AppRedirectUris::from_application(&bad), None);
    }

    #[test]
    fn retry_after_takes_seconds() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_honours_retry_after_and_stops_at_the_deadline() {
        let start = Instant::now();
        let mut b = Backoff::new(Duration::from_secs(10));
        assert!(b.wait(None).await);
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        assert!(b.wait(None).await);
        assert_eq!(start.elapsed(), Duration::from_millis(750));
        assert!(b.wait(Some(Duration::from_secs(5))).await);
        assert!(!b.wait(Some(Duration::from_secs(5))).await, "past the deadline");
        assert_eq!(start.elapsed(), Duration::from_millis(5750));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_budgets_waits_and_token_lifetimes_do_not_overflow_the_clock() {
        let mut b = Backoff::new(Duration::MAX);
        assert!(!b.wait(Some(Duration::from_secs(u64::MAX))).await, "past any deadline");
        assert!(b.wait(Some(Duration::from_secs(1))).await);
        let mut b = Backoff::new(Duration::from_secs(30));
        assert!(!b.wait(Some(Duration::MAX)).await);
        let now = Instant::now();
        assert_eq!(
            renew_at(Duration::from_secs(u64::MAX)),
            now + MAX_TOKEN_LIFETIME - Duration::from_secs(300)
        );
        assert_eq!(renew_at(Duration::from_secs(3599)), now + Duration::from_secs(3299));
        assert_eq!(renew_at(Duration::from_secs(60)), now + Duration::from_secs(30));
        assert_eq!(renew_at(Duration::ZERO), now);
        assert_eq!(
            parse_token(br#"{"access_token":"t","expires_in":18446744073709551615}"#),
            Some(("t".to_owned(), Duration::from_secs(u64::MAX)))
        );
    }

    #[test]
    fn enrolment_remembers_loopback_uris_without_their_port() {
        assert_eq!(enrolled_key("http://127.0.0.1:65535/cb"), "http://127.0.0.1/cb");
        assert_eq!(enrolled_key("http://localhost:1"), "http://localhost/");
        assert_eq!(enrolled_key("https://vscode.dev/redirect"), "https://vscode.dev/redirect");
    }

    #[test]
    fn enrol_errors_never_show_the_secret_and_say_what_to_do() {
        let e = EnrolError::Token { status: 401, detail: "invalid_client: AADSTS7000215".into() };
        assert!(e.to_string().contains("AZURE_CLIENT_SECRET"));
        assert!(EnrolError::NoClientSecret.to_string().contains("Authentication page"));
    }
}
