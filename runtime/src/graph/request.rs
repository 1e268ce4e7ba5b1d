//! The one request helper: Graph calls (read and patch the application) and the client-credentials
//! token they carry go through one loop that sends, judges the answer and retries within the
//! batch's budget.

use std::time::Duration;

use http::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use super::{AppRedirectUris, EnrolError, Inner};
use crate::credential::CredentialError;
use crate::primitives::lock::lock;
use crate::upstream::retry::{Attempt, Backoff};
use crate::upstream::{Answer, excerpt, send};

/// The longest a Graph token is reused, whatever `expires_in` Entra sent.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The app token for Graph and when to renew it.
pub(super) struct CachedToken {
    value: String,
    valid_until: Instant,
}

/// Where a request goes, which decides how its answer reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Microsoft Graph, with the app token.
    Graph,
    /// Entra's token endpoint (the client-credentials grant), without a token.
    TokenEndpoint,
}

impl Inner {
    pub(super) fn app_url(&self) -> String {
        format!("{}/v1.0/applications(appId='{}')", self.config.graph_endpoint(), self.config.app_id())
    }

    /// `GET /v1.0/applications(appId='…')`: the object id and the redirect URIs.
    pub(super) async fn read_app(
        &self,
        backoff: &mut Backoff,
    ) -> Result<(String, AppRedirectUris), EnrolError> {
        let url = self.app_url();
        let parse = |body: &[u8]| {
            let app: Value = serde_json::from_slice(body)
                .map_err(|e| EnrolError::InvalidResponse(format!("the application is not JSON: {e}")))?;
            AppRedirectUris::from_application(&app).ok_or_else(|| {
                EnrolError::InvalidResponse("the application has no `id` or malformed `redirectUris`".into())
            })
        };
        self.send(backoff, Target::Graph, |http, token| http.get(&url).bearer_auth(token), parse).await
    }

    /// `PATCH /v1.0/applications/{id}` with the whole arrays of the changed platforms.
    pub(super) async fn patch_app(
        &self,
        id: &str,
        body: &Value,
        backoff: &mut Backoff,
    ) -> Result<(), EnrolError> {
        let url = format!("{}/v1.0/applications/{id}", self.config.graph_endpoint());
        self.send(
            backoff,
            Target::Graph,
            |http, token| http.patch(&url).bearer_auth(token).json(body),
            |_| Ok(()),
        )
        .await
    }

    /// Sends a request until it succeeds and `parse` accepts the body, within `backoff`'s budget:
    /// retries transport errors, timeouts, 429 (honouring `Retry-After`), 5xx and unparsable answers
    /// (a proxy's HTML page), and a Graph 401 once with a fresh token. Graph requests carry the app
    /// token, fetched through this same helper.
    async fn send<T>(
        &self,
        backoff: &mut Backoff,
        target: Target,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        parse: impl Fn(&[u8]) -> Result<T, EnrolError>,
    ) -> Result<T, EnrolError> {
        let mut renewed = false;
        loop {
            let attempt = self.send_once(backoff, target, &make, &parse, &mut renewed).await;
            if let Some(result) = attempt.settle(backoff).await {
                return result;
            }
        }
    }

    /// One try of [`send`](Self::send), its answer judged.
    async fn send_once<T>(
        &self,
        backoff: &mut Backoff,
        target: Target,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        parse: impl Fn(&[u8]) -> Result<T, EnrolError>,
        renewed: &mut bool,
    ) -> Attempt<T, EnrolError> {
        let token = match target {
            // Boxed: the token is itself fetched through `send`.
            Target::Graph => match Box::pin(self.token(backoff)).await {
                Ok(token) => token,
                Err(e) => return Attempt::Fail(e),
            },
            Target::TokenEndpoint => String::new(),
        };
        let Answer { status, retry_after: wait, body } = match send(make(&self.http, &token)).await {
            Ok(answer) => answer,
            Err(e) => return Attempt::Retry(EnrolError::Unavailable(e.to_string()), None),
        };
        if status.is_success() {
            return match parse(&body) {
                Ok(value) => Attempt::Done(value),
                Err(e) => Attempt::Retry(e, None),
            };
        }
        let (detail, what) = match target {
            Target::Graph => (graph_message(&body), ""),
            Target::TokenEndpoint => (entra_message(&body), "token endpoint "),
        };
        match status {
            StatusCode::UNAUTHORIZED if target == Target::Graph && !*renewed => {
                *renewed = true;
                *lock(&self.token) = None;
                Attempt::Again
            }
            StatusCode::TOO_MANY_REQUESTS => {
                Attempt::Retry(EnrolError::Throttled { retry_after: wait }, wait)
            }
            s if s.is_server_error() => {
                Attempt::Retry(EnrolError::Unavailable(format!("{what}HTTP {}: {detail}", s.as_u16())), wait)
            }
            StatusCode::NOT_FOUND if target == Target::Graph => Attempt::Fail(EnrolError::AppNotFound),
            s if target == Target::Graph => Attempt::Fail(EnrolError::Graph { status: s.as_u16(), detail }),
            s => Attempt::Fail(match CredentialError::refused_in(&body) {
                Some(refused) => EnrolError::Credential(refused),
                None => EnrolError::Token { status: s.as_u16(), detail },
            }),
        }
    }

    /// The client-credentials token for Graph, cached until shortly before it expires; one fetch
    /// at a time (callers wait for it and share its result).
    async fn token(&self, backoff: &mut Backoff) -> Result<String, EnrolError> {
        if let Some(token) = self.cached_token() {
            return Ok(token);
        }
        self.token_flight
            .run(&(), || async {
                // A fetch that finished between the look-up above and this flight's start.
                if let Some(token) = self.cached_token() {
                    return Ok(token);
                }
                let credential = self.config.credential().ok_or(EnrolError::NoCredential)?;
                let url =
                    format!("{}/{}/oauth2/v2.0/token", self.config.authority_host(), self.config.tenant_id());
                let scope = format!("{}/.default", self.config.graph_endpoint());
                let proof =
                    credential.form(self.config.app_id(), &url).await.map_err(EnrolError::Credential)?;
                let mut form: Vec<(&str, String)> = vec![
                    ("client_id", self.config.app_id().to_owned()),
                    ("grant_type", "client_credentials".to_owned()),
                    ("scope", scope),
                ];
                form.extend(proof);
                let parse = |body: &[u8]| {
                    parse_token(body).ok_or_else(|| {
                        EnrolError::InvalidResponse("the token endpoint's answer has no access_token".into())
                    })
                };
                let (value, expires_in) = self
                    .send(backoff, Target::TokenEndpoint, |http, _| http.post(&url).form(&form), parse)
                    .await?;
                *lock(&self.token) =
                    Some(CachedToken { value: value.clone(), valid_until: renew_at(expires_in) });
                Ok(value)
            })
            .await
    }

    /// The cached token, while it is valid.
    fn cached_token(&self) -> Option<String> {
        lock(&self.token).as_ref().filter(|t| Instant::now() < t.valid_until).map(|t| t.value.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn huge_token_lifetimes_do_not_overflow_the_clock() {
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
}
