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
    /// (another process's write landed in between), at most [`REMERGE_ROUNDS`] times. One result
    /// per job, in order.
    async fn write_batch(&self, jobs: &[Job]) -> Vec<Result<(), EnrolError>> {
        let mut backoff = Backoff::new(self.retry_budget);
        let (id, mut current) = match self.read_app(&mut backoff).await {
            Ok(app) => app,
            Err(e) => return vec![Err(e); jobs.len()],
        };
        let (additions, mut results) = self.plan(jobs, &current);
        let mut to_write = additions.clone();
        let mut refused: Vec<(String, EnrolError)> = Vec::new();
        let mut rounds = 0;
        let outcome = loop {
            if to_write.is_empty() {
                break None;
            }
            let batch: Vec<&Job> = to_write.iter().map(|&i| &jobs[i]).collect();
            let started = Instant::now();
            let written =
                self.write_each_if_refused(&id, &mut current, &batch, &mut backoff, &mut refused).await;
            let missing = |after: &AppRedirectUris| self.missing(jobs, &additions, &refused, after);
            let outcome = match written {
                Ok(after) if rounds < REMERGE_ROUNDS && missing(&after).is_empty() => {
                    Ok(self.look_again(after, started, &mut backoff).await)
                }
                other => other,
            };
            match outcome {
                Ok(after) if rounds < REMERGE_ROUNDS && !missing(&after).is_empty() => {
                    rounds += 1;
                    to_write = missing(&after);
                    tracing::debug!(
                        uris = to_write.len(),
                        "redirect URIs replaced by another writer before the read-back: merging again"
                    );
                    current = after;
                }
                other => break Some(other),
            }
        };
        match outcome {
            Some(Ok(after)) => {
                for (job, result) in jobs.iter().zip(results.iter_mut()).filter(|(_, r)| r.is_none()) {
                    *result = Some(if after.contains(job.platform, &job.uri) {
                        Ok(())
                    } else if let Some((_, e)) = refused.iter().find(|(uri, _)| *uri == job.uri) {
                        Err(e.clone())
                    } else {
                        Err(EnrolError::NotConfirmed)
                    });
                }
                self.set_snapshot(Some(Ok(after)));
            }
            Some(Err(e)) => {
                self.set_snapshot(None);
                for result in results.iter_mut().filter(|r| r.is_none()) {
                    *result = Some(Err(e.clone()));
                }
            }
            None => {}
        }
        results.into_iter().map(|r| r.unwrap_or(Err(EnrolError::Interrupted))).collect()
    }

    /// Which jobs need a write (their indexes), and the results settled without one: already on
    /// the app registration, over its budget, or beyond Entra's limit. A job whose URI is queued
    /// by an earlier job of the batch (loopback URIs differing only in their port are one URI to
    /// Entra) is settled with it.
    fn plan(
        &self,
        jobs: &[Job],
        current: &AppRedirectUris,
    ) -> (Vec<usize>, Vec<Option<Result<(), EnrolError>>>) {
        let mut total = current.total();
        let mut additions: Vec<usize> = Vec::new();
        let mut results = Vec::with_capacity(jobs.len());
        for (i, job) in jobs.iter().enumerate() {
            let queued = additions.iter().any(|&j| redirect_matches(&jobs[j].uri, &job.uri));
            let queued_uris = additions.iter().map(|&j| jobs[j].uri.as_str());
            let result = if queued {
                None
            } else if current.platform_of(&job.uri).is_some() {
                // Already there, on this or another platform (the token endpoint redeems by the
                // platform Graph reports).
                Some(Ok(()))
            } else if let Some(spent) =
                job.budget.as_ref().and_then(|b| b.exceeded(current, total, queued_uris))
            {
                Some(Err(spent))
            } else if total >= REDIRECT_URI_LIMIT {
                if additions.is_empty() {
                    // Full before this batch: later enrolments are refused from this read
                    // (`GraphClient::enrol`) until it is a minute old, without reading Graph.
                    self.set_snapshot(Some(Ok(current.clone())));
                }
                Some(Err(EnrolError::LimitReached { limit: REDIRECT_URI_LIMIT }))
            } else {
                total += 1;
                additions.push(i);
                None
            };
            results.push(result);
        }
        (additions, results)
    }

    /// Writes `batch`; when Graph refuses a write of several URIs as a bad request, writes each URI
    /// alone, so that one URI Graph refuses (noted in `refused`) cannot sink the others. What the
    /// app registration holds afterwards.
    async fn write_each_if_refused(
        &self,
        id: &str,
        current: &mut AppRedirectUris,
        batch: &[&Job],
        backoff: &mut Backoff,
        refused: &mut Vec<(String, EnrolError)>,
    ) -> Result<AppRedirectUris, EnrolError> {
        match self.write(id, current, batch, backoff).await {
            Err(EnrolError::Graph { status: 400, .. }) if batch.len() > 1 => {
                let mut last = None;
                for job in batch {
                    match self.write(id, current, &[job], backoff).await {
                        Ok(after) => {
                            *current = after.clone();
                            last = Some(after);
                        }
                        Err(e) => refused.push((job.uri.clone(), e)),
                    }
                }
                // What is on the app registration now decides each URI.
                match last {
                    Some(after) => Ok(after),
                    None => self.read_app(backoff).await.map(|(_, after)| after),
                }
            }
            other => other,
        }
    }

    /// A confirmed write, looked at again once a write another process sent before ours would
    /// have landed (twice our round trip, within the HTTP timeout): Graph has no ETag, so such a
    /// write replaces our URIs after our read-back. A failed second look changes nothing.
    async fn look_again(
        &self,
        after: AppRedirectUris,
        started: Instant,
        backoff: &mut Backoff,
    ) -> AppRedirectUris {
        tokio::time::sleep((started.elapsed() * 2).min(self.config.http_timeout()).max(MIN_SETTLE)).await;
        match self.read_app(backoff).await {
            Ok((_, again)) => again,
            Err(_) => after,
        }
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
