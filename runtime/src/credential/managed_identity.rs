//! A user-assigned managed identity's token for the token-exchange audience, used as the app's
//! client assertion through a federated identity credential
//! (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity>).
//!
//! From App Service, Functions and Container Apps (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`,
//! <https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference>)
//! when both are set, else from the VM's instance metadata service
//! (<https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http>).
//! Cached until five minutes before it expires (half its life when shorter); one fetch at a time,
//! never through a proxy (the identity header and the token stay on the host's own link).

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::{ClientSecret, CredentialError};
use crate::primitives::lock::lock;
use crate::primitives::single_flight::SingleFlight;

/// The instance metadata service's token endpoint on Azure VMs.
pub(crate) const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// Where the identity's token comes from.
#[derive(Clone)]
pub(crate) enum Source {
    /// App Service, Functions, Container Apps: `IDENTITY_ENDPOINT` with `X-IDENTITY-HEADER`.
    AppService { endpoint: String, header: ClientSecret },
    /// The VM's instance metadata service, with `Metadata: true`.
    Imds { endpoint: String },
}

impl Source {
    fn endpoint(&self) -> &str {
        match self {
            Self::AppService { endpoint, .. } | Self::Imds { endpoint } => endpoint,
        }
    }
}

/// A user-assigned managed identity and its cached token.
pub(crate) struct ManagedIdentity {
    pub(crate) client_id: String,
    pub(crate) source: Source,
    /// `api://AzureADTokenExchange` (or the sovereign cloud's).
    pub(crate) audience: String,
    /// Its own client: no proxy (the identity header and token stay on this host or link), no
    /// redirects, the configured timeout.
    http: reqwest::Client,
    cached: Mutex<Option<(String, Instant)>>,
    flight: SingleFlight<(), Result<String, CredentialError>>,
}

impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("client_id", &self.client_id)
            .field("endpoint", &self.source.endpoint())
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The answer of either endpoint: `expires_on` is Unix seconds, a string in both.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl ManagedIdentity {
    pub(crate) fn new(client_id: String, source: Source, audience: String, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Building fails only when the TLS backend cannot initialise, which no request could survive.
            .unwrap_or_else(|e| panic!("axum-mcp-azure-oauth: cannot build the HTTP client: {e}"));
        Self { client_id, source, audience, http, cached: Mutex::new(None), flight: SingleFlight::default() }
    }

    /// The identity's token: the cached one while fresh, else one fetch shared by every caller
    /// waiting for it.
    pub(crate) async fn token(&self) -> Result<String, CredentialError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        self.flight
            .run(&(), || async {
                // A fetch that finished between the look-up above and this flight's start.
                if let Some(token) = self.fresh() {
                    return Ok(token);
                }
                let (token, lifetime) = self.fetch().await?;
                let margin = Duration::from_secs(300).min(lifetime / 2);
                *lock(&self.cached) = Some((token.clone(), Instant::now() + (lifetime - margin)));
                Ok(token)
            })
            .await
    }

    fn fresh(&self) -> Option<String> {
        lock(&self.cached).as_ref().filter(|(_, renew)| Instant::now() < *renew).map(|(t, _)| t.clone())
    }

    async fn fetch(&self) -> Result<(String, Duration), CredentialError> {
        let http = &self.http;
        let endpoint = self.source.endpoint();
        let query = |version: &'static str| {
            [
                ("api-version", version),
                ("resource", self.audience.as_str()),
                ("client_id", self.client_id.as_str()),
            ]
        };
        let request = match &self.source {
            Source::AppService { header, .. } => {
                http.get(endpoint).query(&query("2019-08-01")).header("X-IDENTITY-HEADER", header.expose())
            }
            Source::Imds { .. } => http.get(endpoint).query(&query("2018-02-01")).header("Metadata", "true"),
        };
        let unavailable = |detail: String| CredentialError::ManagedIdentityUnavailable {
            endpoint: endpoint.to_owned(),
            detail,
        };
        let response = request.send().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| unavailable(e.without_url().to_string()))?;
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
            return Err(CredentialError::ManagedIdentityRefused {
                endpoint: endpoint.to_owned(),
                client_id: self.client_id.clone(),
                status: status.as_u16(),
                detail: text,
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| unavailable("the answer is not a token (JSON with access_token)".into()))?;
        Ok((answer.access_token, lifetime(answer.expires_on.as_ref(), answer.expires_in.as_ref())))
    }
}

/// A token's remaining life from `expires_on` (Unix seconds) or else `expires_in`; five minutes
/// when neither says.
fn lifetime(expires_on: Option<&serde_json::Value>, expires_in: Option<&serde_json::Value>) -> Duration {
    let number =
        |v: &serde_json::Value| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if let Some(on) = expires_on.and_then(number) {
        return Duration::from_secs(on.saturating_sub(now));
    }
    Duration::from_secs(expires_in.and_then(number).unwrap_or(300))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tokens_life_is_read_from_expires_on_or_expires_in() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
        let on = json!((now + 3600).to_string());
        assert!(lifetime(Some(&on), None).as_secs().abs_diff(3600) <= 2);
        assert_eq!(lifetime(None, Some(&json!("600"))), Duration::from_secs(600));
        assert_eq!(lifetime(None, None), Duration::from_secs(300));
        assert_eq!(lifetime(Some(&json!(now - 10)), None), Duration::ZERO);
    }
}
