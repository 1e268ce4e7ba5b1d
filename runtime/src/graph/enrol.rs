//! Enrolment: pending URIs taken as one batch, written with one `PATCH`, read back, merged again
//! when another process's write replaced them.

use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{
    AppRedirectUris, EnrolError, Inner, REDIRECT_URI_LIMIT, RedirectPlatform, SNAPSHOT_TTL, enrolled_key,
    redirect_matches,
};
use crate::primitives::lock::lock;
use crate::upstream::retry::Backoff;

/// The shortest wait before a batch looks at the app registration again after its read-back
/// confirmed it (the wait is twice the write's round trip, at most the HTTP timeout; never a
/// `clamp`, which would panic for an HTTP timeout below this).
const MIN_SETTLE: Duration = Duration::from_millis(50);

/// How many times one batch merges again with what Graph holds and rewrites, when its read-back
/// shows that another process replaced URIs it had just written.
const REMERGE_ROUNDS: usize = 3;

/// What [`GraphClient::enrol`](super::GraphClient::enrol) did with each URI: enrolled (now, earlier in this process, or
/// already on the app registration) or failed with the reason. Every input URI appears once, in
/// input order within each list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnrolReport {
    /// URIs now on the app registration.
    pub enrolled: Vec<String>,
    /// URIs that could not be enrolled, and why.
    pub failed: Vec<(String, EnrolError)>,
}

/// One URI waiting for the writer.
pub(super) struct Job {
    pub(super) uri: String,
    pub(super) platform: RedirectPlatform,
    /// The budget the URI is written within, if any.
    pub(super) budget: Option<EnrolBudget>,
    pub(super) done: oneshot::Sender<Result<(), EnrolError>>,
}

/// How many redirect URIs a write may leave on the app registration: what unauthenticated
/// registration may write is bounded, so that nobody can fill the app registration (Entra holds at
/// most 256) under an allowed prefix. Checked against the app registration as read for the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnrolBudget {
    /// The allow-list prefix the URI is under, and how many URIs under it may be there.
    pub(crate) prefix: Option<(String, usize)>,
    /// How many URIs the app registration may hold in all.
    pub(crate) total: usize,
}

impl EnrolBudget {
    /// Why adding one more URI would exceed the budget: `total` URIs are there or queued, `queued`
    /// of this batch are queued.
    fn exceeded<'a>(
        &self,
        current: &'a AppRedirectUris,
        total: usize,
        queued: impl Iterator<Item = &'a str>,
    ) -> Option<EnrolError> {
        if total >= self.total {
            return Some(EnrolError::BudgetSpent {
                scope: "in all".into(),
                limit: self.total,
                setting: "AZURE_OAUTH_ENROL_MAX_TOTAL",
            });
        }
        let (prefix, limit) = self.prefix.as_ref()?;
        let under =
            current.all().map(String::as_str).chain(queued).filter(|u| u.starts_with(prefix.as_str()));
        (under.count() >= *limit).then(|| EnrolError::BudgetSpent {
            scope: format!("under {prefix}"),
            limit: *limit,
            setting: "AZURE_OAUTH_ENROL_MAX_PER_PREFIX",
        })
    }
}

impl Inner {
    /// The last read of the app registration, if it is fresh and shows it full.
    pub(super) fn full_registration(&self) -> Option<AppRedirectUris> {
        let snapshot = lock(&self.snapshot);
        match &*snapshot {
            Some((at, Ok(uris))) if at.elapsed() < SNAPSHOT_TTL && uris.total() >= REDIRECT_URI_LIMIT => {
                Some(uris.clone())
            }
            _ => None,
        }
    }

    /// Takes every waiting enrolment and writes them as one batch; batches run one at a time.
    pub(super) async fn run_pending(self: std::sync::Arc<Self>) {
        let _writer = self.writer.lock().await;
        let jobs = std::mem::take(&mut *lock(&self.pending));
        if jobs.is_empty() {
            return; // an earlier batch took them
        }
        tracing::debug!(uris = jobs.len(), "enrolling redirect URIs through Microsoft Graph");
        let results = self.write_batch(&jobs).await;
        let mut enrolled = lock(&self.enrolled);
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
            } else if let Some(spent) = job.budget.as_ref().and_then(|budget| {
                budget.exceeded(&current, total, additions.iter().map(|&j: &usize| jobs[j].uri.as_str()))
            }) {
                results.push(Some(Err(spent)));
            } else if total >= REDIRECT_URI_LIMIT {
                if additions.is_empty() && !noted_full {
                    // Full before this batch: later enrolments are refused from this read
                    // (`GraphClient::enrol`) until it is a minute old, without reading Graph.
                    noted_full = true;
                    self.set_snapshot(Some(Ok(current.clone())));
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
                    self.set_snapshot(Some(Ok(after)));
                }
                Err(e) => {
                    self.set_snapshot(None);
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
}
