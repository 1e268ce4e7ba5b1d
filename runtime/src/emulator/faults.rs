//! What the emulator serves ([`Endpoint`]), the faults a test can inject ([`Fault`]) and the request
//! log ([`RecordedRequest`]).

use std::fmt;
use std::time::Duration;

/// One endpoint of the emulated Entra ID or Microsoft Graph, for faults and the request log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
    OpenIdConfigurationV2,
    /// `GET /{tenant}/.well-known/openid-configuration`.
    OpenIdConfigurationV1,
    /// `GET /{tenant}/discovery/v2.0/keys`.
    JwksV2,
    /// `GET /{tenant}/discovery/keys`.
    JwksV1,
    /// `GET /{tenant}/oauth2/v2.0/authorize`.
    Authorize,
    /// `POST /{tenant}/oauth2/v2.0/token`, every grant but on-behalf-of.
    Token,
    /// `POST /{tenant}/oauth2/v2.0/token` with
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`: an on-behalf-of exchange,
    /// counted and faulted apart from [`Token`](Self::Token).
    OnBehalfOf,
    /// Any `GET /v1.0/applications…` of Graph: `(appId='…')`, `?$filter=appId eq '…'` or `/{object-id}`.
    GraphGetApplication,
    /// `PATCH /v1.0/applications(appId='…')` or `/v1.0/applications/{object-id}`.
    GraphPatchApplication,
    /// `GET /v1.0/me` of Graph: the signed-in user's profile.
    GraphMe,
    /// `GET /msi/token` (App Service's `IDENTITY_ENDPOINT`) or
    /// `GET /metadata/identity/oauth2/token` (a VM's instance metadata service): a managed
    /// identity's token.
    ManagedIdentity,
    /// Anything else either server received (answered with an error).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Status(u16),
    TooManyRequests(u64),
    Delay(Duration),
    Garbage,
    EmptyKeys,
    Outage,
    ConsentRequired,
    InteractionRequired,
}

/// A failure to inject on one [`Endpoint`] with
/// [`Emulator::set_fault`](super::Emulator::set_fault). Applies to every request until
/// [`Emulator::clear_faults`](super::Emulator::clear_faults), or `n` times with [`Fault::times`].
///
/// ```
/// use axum_mcp_azure_oauth::emulator::Fault;
/// use std::time::Duration;
///
/// let fault = Fault::status(503).times(2); // two 503s, then normal answers
/// let slow = Fault::delay(Duration::from_millis(50));
/// # let _ = (fault, slow);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) times: Option<usize>,
}

impl Fault {
    fn new(kind: FaultKind) -> Self {
        Self { kind, times: None }
    }

    /// Answer with this HTTP status and the error body Entra (OAuth JSON with `AADSTS…`) or Graph
    /// (`{"error":{"code","message"}}`) sends with it. A number that is no HTTP status gives 500.
    pub fn status(status: u16) -> Self {
        Self::new(FaultKind::Status(status))
    }

    /// `429 Too Many Requests` with `Retry-After: {retry_after_secs}` and the service's error body.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(FaultKind::TooManyRequests(retry_after_secs))
    }

    /// Wait this long (on the tokio clock, so `tokio::time::pause` applies), then answer normally.
    pub fn delay(delay: Duration) -> Self {
        Self::new(FaultKind::Delay(delay))
    }

    /// `200 OK` with a body that is not JSON (an HTML page, as a captive proxy would send).
    pub fn garbage() -> Self {
        Self::new(FaultKind::Garbage)
    }

    /// On a JWKS endpoint, `200 OK` with `{"keys":[]}`; other endpoints answer normally.
    pub fn empty_keys() -> Self {
        Self::new(FaultKind::EmptyKeys)
    }

    /// Read the request, then close the connection without any answer.
    pub fn outage() -> Self {
        Self::new(FaultKind::Outage)
    }

    /// On the token endpoints ([`Endpoint::Token`], [`Endpoint::OnBehalfOf`]), Entra's answer
    /// when the user or an admin has not consented to a permission the request needs: `400`
    /// `invalid_grant` with `AADSTS65001`
    /// (<https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>). Other
    /// endpoints answer normally. For consent as state, see
    /// [`Emulator::revoke_consent`](super::Emulator::revoke_consent).
    pub fn consent_required() -> Self {
        Self::new(FaultKind::ConsentRequired)
    }

    /// On the token endpoints, Entra's answer when Conditional Access needs the user to step up:
    /// `400` `interaction_required` with `AADSTS50079` and
    /// `claims` = [`Fault::STEP_UP_CLAIMS`]
    /// (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow#error-response-example>).
    /// Other endpoints answer normally. For a requirement per resource, see
    /// [`Emulator::require_step_up`](super::Emulator::require_step_up).
    pub fn interaction_required() -> Self {
        Self::new(FaultKind::InteractionRequired)
    }

    /// The claims challenge of [`interaction_required`](Self::interaction_required): a
    /// Conditional Access authentication context, in the shape of
    /// <https://learn.microsoft.com/en-us/entra/identity-platform/claims-challenge>.
    pub const STEP_UP_CLAIMS: &'static str = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;

    /// Apply only to the next `n` requests of the endpoint, then clear.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
}

/// Form and query parameters whose values the request log's `Debug` never prints.
const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "access_token",
    "id_token",
    "assertion",
    "client_assertion",
    "password",
];

/// One request either server received, in arrival order in [`Emulator::requests`](super::Emulator::requests).
///
/// Its `Debug` redacts secrets, codes and tokens; the fields hold them as sent, for assertions.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Which endpoint it was.
    pub endpoint: Endpoint,
    /// `GET`, `POST`, `PATCH`, ….
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Form parameters of an `application/x-www-form-urlencoded` body, decoded, in order.
    pub form: Vec<(String, String)>,
    /// A JSON body (Graph `PATCH`), parsed.
    pub json: Option<serde_json::Value>,
    /// The `Origin` header, if one was sent.
    pub origin: Option<String>,
    /// Whether a client secret was sent (form `client_secret` or HTTP Basic authentication).
    pub client_secret_sent: bool,
    /// Whether an `Authorization` header was sent.
    pub authorization_sent: bool,
    /// The tenant segment of an Entra path (`common`, a GUID, …); `None` for Graph.
    pub tenant: Option<String>,
}

impl RecordedRequest {
    /// The first query parameter called `name`.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first form parameter called `name`.
    pub fn form_param(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether an `Origin` header was sent.
    pub fn has_origin(&self) -> bool {
        self.origin.is_some()
    }
}

struct Redacted<'a>(&'a [(String, String)]);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, v)| {
                let v = if SECRET_PARAMS.contains(&k.as_str()) { "[redacted]" } else { v.as_str() };
                (k.as_str(), v)
            }))
            .finish()
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("endpoint", &self.endpoint)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &Redacted(&self.query))
            .field("form", &Redacted(&self.form))
            .field("json", &self.json)
            .field("origin", &self.origin)
            .field("client_secret_sent", &self.client_secret_sent)
            .field("authorization_sent", &self.authorization_sent)
            .field("tenant", &self.tenant)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets_codes_and_tokens() {
        let r = RecordedRequest {
            endpoint: Endpoint::Token,
            method: "POST".into(),
            path: "/t/oauth2/v2.0/token".into(),
            query: vec![],
            form: vec![
                ("client_secret".into(), "hunter2".into()),
                ("code".into(), "the-code".into()),
                ("refresh_token".into(), "rt".into()),
                ("grant_type".into(), "authorization_code".into()),
            ],
            json: None,
            origin: None,
            client_secret_sent: true,
            authorization_sent: false,
            tenant: Some("common".into()),
        };
        let debug = format!("{r:?}");
        assert!(!debug.contains("hunter2") && !debug.contains("the-code") && !debug.contains("\"rt\""));
        assert!(debug.contains("authorization_code"));
        assert_eq!(r.form_param("client_secret"), Some("hunter2"));
    }
}
