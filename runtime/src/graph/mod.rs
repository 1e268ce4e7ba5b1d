//! Microsoft Graph client: a client-credentials token for Graph, and redirect URI enrolment on the
//! app registration (read, merge, write, read back).
//!
//! Graph's `PATCH /applications/{id}` replaces whole arrays and offers no concurrency control
//! (<https://learn.microsoft.com/graph/api/application-update>), so every write of this process
//! goes through one writer at a time: registrations that arrive together are merged into one batch,
//! written with one `PATCH` per batch and confirmed by reading the application back. Across
//! processes, a read-back that lacks a URI just written (another process's `PATCH` replaced the
//! list) is merged with what Graph now holds and written again; and once confirmed, the batch
//! looks again after twice the write's round trip (a write another process sent before ours
//! landed has landed by then), merging and rewriting what went missing.
//!
//! - [`request`](self): the one request helper (Graph calls and the token request, one retry loop);
//! - `enrol`: batching and writing; `redirect_uris`: the platforms and Entra's matching; `error`.

mod enrol;
mod error;
mod redirect_uris;
mod request;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, oneshot};
use tokio::time::Instant;

use crate::config::{AzureOAuthConfig, DEFAULT_GRAPH_RETRY_BUDGET, rules};
use crate::primitives::lock::lock;
use crate::primitives::single_flight::SingleFlight;
use crate::upstream::retry::Backoff;

pub(crate) use enrol::EnrolBudget;
pub use enrol::EnrolReport;
use enrol::Job;
pub use error::EnrolError;
use redirect_uris::enrolled_key;
pub use redirect_uris::{AppRedirectUris, RedirectPlatform};
pub(crate) use redirect_uris::{loopback_key, redirect_matches};
use request::CachedToken;

/// Entra's limit on redirect URIs per app registration (work and school accounts; 100 when
/// personal accounts are allowed). Enrolment beyond it is refused per URI, before any write.
pub const REDIRECT_URI_LIMIT: usize = 256;

/// How long a read of the app registration's redirect URIs is reused by [`GraphClient::redirect_uris`].
const SNAPSHOT_TTL: Duration = Duration::from_secs(60);
/// The longest a request in flight waits for a read of the app registration (token included).
const SNAPSHOT_READ_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a failed read of the app registration is remembered.
const FAILED_SNAPSHOT_TTL: Duration = Duration::from_secs(10);

struct Inner {
    config: Arc<AzureOAuthConfig>,
    http: reqwest::Client,
    retry_budget: Duration,
    /// The Graph token, and its fetch in flight.
    token: StdMutex<Option<CachedToken>>,
    token_flight: SingleFlight<(), Result<String, EnrolError>>,
    /// The last read of the app registration's redirect URIs (or its failure), and the read in
    /// flight.
    snapshot: StdMutex<Option<Snapshot>>,
    snapshot_flight: SingleFlight<(), Result<AppRedirectUris, EnrolError>>,
    /// URIs confirmed on the app registration by this process ([`enrolled_key`]), at most
    /// [`REDIRECT_URI_LIMIT`] (Graph holds no more).
    enrolled: StdMutex<HashSet<String>>,
    /// Enrolments waiting for the writer.
    pending: StdMutex<Vec<Job>>,
    /// Held by the one batch writing to Graph.
    writer: Mutex<()>,
}

/// A read of the app registration's redirect URIs (or its failure) and when it was made.
type Snapshot = (Instant, Result<AppRedirectUris, EnrolError>);

impl Inner {
    /// The last read, while it may be reused: a minute for a read, 10 seconds for a failure.
    fn fresh_snapshot(&self) -> Option<Result<AppRedirectUris, EnrolError>> {
        let snapshot = lock(&self.snapshot);
        let (at, read) = snapshot.as_ref()?;
        let ttl = if read.is_ok() { SNAPSHOT_TTL } else { FAILED_SNAPSHOT_TTL };
        (at.elapsed() < ttl).then(|| read.clone())
    }

    /// Replaces the last read (`None`: forgets it).
    fn set_snapshot(&self, read: Option<Result<AppRedirectUris, EnrolError>>) {
        *lock(&self.snapshot) = read.map(|read| (Instant::now(), read));
    }
}

/// The Microsoft Graph client of the app registration (cheap to clone; clones share the token,
/// the writer and what was enrolled).
///
/// ```no_run
/// use std::sync::Arc;
/// use axum_mcp_azure_oauth::AzureOAuthConfig;
/// use axum_mcp_azure_oauth::graph::GraphClient;
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
    /// A client for the configuration's app registration, retrying for
    /// [`DEFAULT_GRAPH_RETRY_BUDGET`].
    pub fn new(config: impl Into<Arc<AzureOAuthConfig>>) -> Self {
        Self::with_retry_budget(config, DEFAULT_GRAPH_RETRY_BUDGET)
    }

    /// A client whose enrolment batches retry for at most `budget` (throttling and outages).
    pub fn with_retry_budget(config: impl Into<Arc<AzureOAuthConfig>>, budget: Duration) -> Self {
        let config = config.into();
        let http = crate::upstream::client(&config);
        Self::with_http(config, http, budget)
    }

    /// A client calling Graph (and Entra for its token) through `http`.
    pub(crate) fn with_http(config: Arc<AzureOAuthConfig>, http: reqwest::Client, budget: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                http,
                config,
                retry_budget: budget,
                token: StdMutex::new(None),
                token_flight: SingleFlight::default(),
                snapshot: StdMutex::new(None),
                snapshot_flight: SingleFlight::default(),
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
        let mut v: Vec<String> = lock(&self.inner.enrolled).iter().cloned().collect();
        v.sort();
        v
    }

    /// The app registration's redirect URIs, read from Graph at most once a minute (a failed
    /// read is remembered for 10 seconds; a read in flight is shared). One attempt of at most
    /// 3 seconds, no retries: this serves requests in flight.
    pub async fn redirect_uris(&self) -> Result<AppRedirectUris, EnrolError> {
        self.inner.config.credential().ok_or(EnrolError::NoCredential)?;
        if let Some(read) = self.inner.fresh_snapshot() {
            return read;
        }
        let inner = &self.inner;
        inner
            .snapshot_flight
            .run(&(), || async {
                // A read that finished between the look-up above and this flight's start.
                if let Some(read) = inner.fresh_snapshot() {
                    return read;
                }
                let read = tokio::time::timeout(
                    SNAPSHOT_READ_TIMEOUT,
                    inner.read_app(&mut Backoff::new(Duration::ZERO)),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(EnrolError::Unavailable("reading the app registration timed out".into()))
                })
                .map(|(_, uris)| uris);
                inner.set_snapshot(Some(read.clone()));
                read
            })
            .await
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
        let config = Arc::clone(&self.inner.config);
        self.enrol_with(uris, |uri| RedirectPlatform::for_uri(&config, uri), |_| None).await
    }

    /// [`enrol`](Self::enrol), each URI within the budget `budget_of` gives it (none: no budget).
    pub(crate) async fn enrol_within<I, S>(
        &self,
        uris: I,
        budget_of: impl Fn(&str) -> Option<EnrolBudget>,
    ) -> EnrolReport
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let config = Arc::clone(&self.inner.config);
        self.enrol_with(uris, |uri| RedirectPlatform::for_uri(&config, uri), budget_of).await
    }

    /// [`enrol`](Self::enrol) on `platform` whatever the URI (the broker's own callback is a `web`
    /// redirect URI even on a loopback host, since the broker redeems its codes with the secret).
    ///
    /// ```no_run
    /// use axum_mcp_azure_oauth::AzureOAuthConfig;
    /// use axum_mcp_azure_oauth::graph::{GraphClient, RedirectPlatform};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let graph = GraphClient::new(AzureOAuthConfig::from_env()?);
    /// let report = graph.enrol_on(RedirectPlatform::Web, ["https://mcp.example.com/oauth/callback"]).await;
    /// assert!(report.failed.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn enrol_on<I, S>(&self, platform: RedirectPlatform, uris: I) -> EnrolReport
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.enrol_with(uris, |_| platform, |_| None).await
    }

    async fn enrol_with<I, S>(
        &self,
        uris: I,
        platform_of: impl Fn(&str) -> RedirectPlatform,
        budget_of: impl Fn(&str) -> Option<EnrolBudget>,
    ) -> EnrolReport
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
            let enrolled = lock(&self.inner.enrolled);
            let mut pending = lock(&self.inner.pending);
            for (i, uri) in uris.iter().enumerate() {
                if let Err(rule) = rules::redirect_uri(uri) {
                    outcomes.push(Some(Err(EnrolError::InvalidUri(rule))));
                } else if enrolled.contains(&enrolled_key(uri)) {
                    outcomes.push(Some(Ok(())));
                } else if self.inner.config.credential().is_none() {
                    outcomes.push(Some(Err(EnrolError::NoCredential)));
                } else if let Some(full) = &full {
                    outcomes.push(Some(if full.platform_of(uri).is_some() {
                        Ok(())
                    } else {
                        Err(EnrolError::LimitReached { limit: REDIRECT_URI_LIMIT })
                    }));
                } else {
                    let (done, wait) = oneshot::channel();
                    pending.push(Job {
                        uri: uri.clone(),
                        platform: platform_of(uri),
                        budget: budget_of(uri),
                        done,
                    });
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
