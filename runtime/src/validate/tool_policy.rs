//! [`ToolPolicyLayer`]: the configuration's [`ToolPolicy`] enforced on the MCP route before a tool
//! runs, with the step-up challenge of the MCP authorization specification
//! (<https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#scope-challenge-handling>).

use std::borrow::Cow;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, Request, StatusCode, header};
use tower::{Layer, Service};

use super::challenge;
use super::claims::{AzureClaims, TokenKind};
use super::extractor::not_set_up;
use super::jsonrpc;
use super::tool_list;
use super::validator::TokenValidator;
use crate::config::{AzureOAuthConfig, ToolListing, ToolPolicy, ToolRequirement};
use crate::oauth_error::{ErrorCode, OAuthError};

/// The `Mcp-Name` request header (MCP 2026-07-28, SEP-2243): the tool a `tools/call` names, for
/// HTTP intermediaries; it must agree with the body.
const MCP_NAME: &str = "mcp-name";

/// Enforces the configuration's [`ToolPolicy`] on the MCP route: for a `POST` whose JSON-RPC
/// body (or batch) holds `tools/call`, each called tool's [`ToolRequirement`] is checked against
/// the caller's [`AzureClaims`] before the request reaches the MCP service; other requests pass
/// on with their body untouched. Place it **inside** an [`AuthLayer`](super::AuthLayer) (which
/// puts the claims in the request extensions); without claims a `POST` gets a 500 that says so.
///
/// - The tool's name is `params.name` of each `tools/call`. When the request carries an
///   `Mcp-Name` header it must equal that name (400 `invalid_request` otherwise).
/// - The body is read up to [`ToolPolicy::max_body_bytes`] (default 1 MiB): a larger one gets 413,
///   a body that is not JSON-RPC 400; only `method`, `id` and `params.name` are parsed, and the bytes
///   are handed on unchanged.
/// - A batch is refused as a whole when any call in it is.
/// - A missing scope gets 403 `WWW-Authenticate: Bearer error="insufficient_scope",
///   scope="…"` naming every scope the call needs plus those the token holds, so that the client
///   can sign in again for all of them (step-up); a missing app role gets 403
///   `insufficient_scope` naming the role in `error_description` and no scope (a new sign-in
///   cannot add a role).
///
/// The answers to `tools/list` requests show each caller the tools of the policy's
/// [`ToolListing`] (set with [`ToolPolicy::listing`]): by default not those needing an app role
/// the caller lacks, nor, to an app-only caller, those acting for a signed-in user only; a tool
/// that needs a wider delegated scope stays listed, so that the client can call it and step up.
/// Tools outside the policy are always listed. The layer remembers the `id` of each `tools/list`
/// in the body (a batch too) and takes the hidden tools out of `result.tools` of the answer with
/// that `id`, in a JSON body (`application/json`, held back whole) or in the event of an event
/// stream (`text/event-stream`, the streamable HTTP transport) that carries it; every other
/// byte passes on unchanged and in order, each other event as soon as it is complete, and
/// `Content-Length` is dropped. An answer (or event) over 4 MiB, a compressed one, one in another
/// media type or one that is not JSON-RPC passes unchanged: the listing is a convenience, while
/// `tools/call` is checked whatever the client saw.
///
/// With an empty policy the layer reads nothing and only passes requests on.
///
/// ```
/// use axum::Router;
/// use axum_mcp_azure_oauth::config::{Mode, ToolPolicy, ToolRequirement};
/// use axum_mcp_azure_oauth::validate::ToolPolicyLayer;
/// use axum_mcp_azure_oauth::{AuthLayer, AzureOAuthConfig, TokenValidator};
///
/// # fn main() -> Result<(), axum_mcp_azure_oauth::ConfigError> {
/// let config = AzureOAuthConfig::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .tenant_id("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
///     .mode(Mode::Direct)
///     .tool_policy(ToolPolicy::new().tool("delete_file", ToolRequirement::new().all_scopes(["Files.ReadWrite"])))
///     .build()?;
/// let validator = TokenValidator::new(config);
/// # let mcp_service = tower::service_fn(|_req: axum::extract::Request| async {
/// #     Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty()))
/// # });
/// // The last layer added is the outer one: AuthLayer runs first, then the tool policy.
/// let app: Router = Router::new()
///     .route_service("/mcp", mcp_service)
///     .layer(ToolPolicyLayer::new(validator.clone()))
///     .layer(AuthLayer::new(validator));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ToolPolicyLayer {
    validator: TokenValidator,
}

impl ToolPolicyLayer {
    /// Enforces the [`tool_policy`](AzureOAuthConfig::tool_policy) of the validator's
    /// configuration (whose protected resource metadata lists the same scopes).
    pub fn new(validator: TokenValidator) -> Self {
        Self { validator }
    }
}

impl<S> Layer<S> for ToolPolicyLayer {
    type Service = ToolPolicyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolPolicyService { inner, validator: self.validator.clone() }
    }
}

/// The service [`ToolPolicyLayer`] wraps around `S`.
#[derive(Clone, Debug)]
pub struct ToolPolicyService<S> {
    inner: S,
    validator: TokenValidator,
}

/// The future of [`ToolPolicyService`].
pub type ToolPolicyFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ToolPolicyService<S>
where
    S: Service<Request<Body>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: HttpBody<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<axum::BoxError>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ToolPolicyFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready serves this request; a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let req = req.map(Body::new);
        if req.method() != Method::POST || self.validator.config().tool_policy().is_empty() {
            let future = inner.call(req);
            return Box::pin(async move { future.await.map(|r| r.map(Body::new)) });
        }
        let validator = self.validator.clone();
        Box::pin(async move {
            match admit(validator.config(), req).await {
                Ok((req, None)) => inner.call(req).await.map(|r| r.map(Body::new)),
                Ok((req, Some(listing))) => {
                    let response = inner.call(req).await?.map(Body::new);
                    Ok(tool_list::filter(response, listing.ids, listing.hidden))
                }
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

/// The `tools/list` requests of a body, and the tools to take out of their answers.
#[derive(Debug)]
struct Listing {
    ids: Vec<serde_json::Value>,
    hidden: Vec<String>,
}

/// The request, its body read and put back, when every tool it calls admits the caller, with the
/// listing to filter if it asks for one that hides something; else the answer to send.
async fn admit(
    config: &AzureOAuthConfig,
    req: Request<Body>,
) -> Result<(Request<Body>, Option<Listing>), Response> {
    let policy = config.tool_policy();
    let Some(claims) = req.extensions().get::<AzureClaims>().cloned() else {
        return Err(not_set_up(
            "ToolPolicyLayer",
            "a ToolPolicyLayer found no AzureClaims in the request: add it inside an AuthLayer \
             (`.layer(ToolPolicyLayer::new(v.clone())).layer(AuthLayer::new(v))`)",
            "tool permissions cannot be checked on this server: the ToolPolicyLayer must run after the AuthLayer",
        ));
    };
    let (parts, body) = req.into_parts();
    let bytes = read_bounded(&parts.headers, body, policy.body_limit()).await?;
    match verdict(config, &parts.headers, &claims, &bytes) {
        Verdict::Refuse(refusal) => Err(refusal),
        Verdict::Pass(listing) => Ok((Request::from_parts(parts, Body::from(bytes)), listing)),
    }
}

/// The policy's verdict on one body.
enum Verdict {
    /// The answer to send instead of calling the service.
    Refuse(Response),
    /// Every tool called admits the caller; the listing to filter, if any.
    Pass(Option<Listing>),
}

/// The policy's verdict on one body.
fn verdict(config: &AzureOAuthConfig, headers: &HeaderMap, claims: &AzureClaims, body: &[u8]) -> Verdict {
    let policy = config.tool_policy();
    let calls = match jsonrpc::tool_calls(body) {
        Ok(calls) => calls,
        Err(e) => return Verdict::Refuse(bad_request(e.message())),
    };
    if let Some(problem) = mcp_name_problem(headers, &calls.names) {
        return Verdict::Refuse(bad_request(problem));
    }
    let mut refused: Vec<(&str, &ToolRequirement, Missing)> = Vec::new();
    for name in &calls.names {
        let Some((tool, requirement)) = policy.entry(name) else { continue };
        if let Err(missing) = permits(requirement, claims)
            && !refused.iter().any(|(t, ..)| *t == tool)
        {
            refused.push((tool, requirement, missing));
        }
    }
    if !refused.is_empty() {
        return Verdict::Refuse(insufficient(
            config,
            headers,
            claims,
            &calls.names,
            policy,
            &refused,
            calls.batch,
        ));
    }
    if calls.list_ids.is_empty() {
        return Verdict::Pass(None);
    }
    let hidden = hidden_tools(policy, claims);
    if hidden.is_empty() {
        return Verdict::Pass(None);
    }
    Verdict::Pass(Some(Listing { ids: calls.list_ids, hidden }))
}

/// The tools of `policy` that its [`ToolListing`] hides from `claims`.
fn hidden_tools(policy: &ToolPolicy, claims: &AzureClaims) -> Vec<String> {
    let hides = |missing: Missing| match policy.tool_listing() {
        // Signing in again can add a scope, never a role nor a user.
        ToolListing::Reachable => missing != Missing::Scope,
        ToolListing::CallableNow => true,
        ToolListing::All => false,
    };
    policy
        .tools()
        .filter(|(_, requirement)| permits(requirement, claims).is_err_and(hides))
        .map(|(tool, _)| tool.to_owned())
        .collect()
}

/// What a caller lacks for one tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Missing {
    /// A delegated scope of the requirement.
    Scope,
    /// One of the requirement's app roles.
    Role,
    /// The tool is for signed-in users (it names scopes and no role) and the caller is an app.
    User,
}

/// Whether `requirement` admits `claims` (the rules on [`ToolRequirement`]).
fn permits(requirement: &ToolRequirement, claims: &AzureClaims) -> Result<(), Missing> {
    let any_role = || requirement.roles_any().iter().any(|r| claims.has_role(r));
    let names_scope = !requirement.scopes_all().is_empty() || !requirement.scopes_any().is_empty();
    match claims.kind() {
        TokenKind::Delegated if names_scope => {
            let all = requirement.scopes_all().iter().all(|s| claims.has_scope(s));
            let any = requirement.scopes_any().is_empty()
                || requirement.scopes_any().iter().any(|s| claims.has_scope(s));
            if all && any { Ok(()) } else { Err(Missing::Scope) }
        }
        TokenKind::AppOnly if requirement.roles_any().is_empty() => Err(Missing::User),
        TokenKind::Delegated | TokenKind::AppOnly => {
            if any_role() {
                Ok(())
            } else {
                Err(Missing::Role)
            }
        }
    }
}

/// The 403 for the `refused` tools. Scopes only: the challenge names every scope the tools of
/// `called` need (of an any-of list, the one held, else the first) and those the token holds. With
/// a role missing, no scope is named: signing in again with more scopes would not help.
fn insufficient(
    config: &AzureOAuthConfig,
    headers: &HeaderMap,
    claims: &AzureClaims,
    called: &[Cow<'_, str>],
    policy: &ToolPolicy,
    refused: &[(&str, &ToolRequirement, Missing)],
    batch: bool,
) -> Response {
    let mut reasons = Vec::new();
    for (tool, requirement, missing) in refused {
        tracing::debug!(tool, reason = ?missing, tenant = claims.tid(), oid = claims.oid(), "tool call refused");
        reasons.push(match missing {
            Missing::Scope => format!("tool `{tool}` needs {}", missing_scopes(requirement, claims)),
            Missing::Role => {
                let whom = match claims.kind() {
                    TokenKind::Delegated => "the signed-in user",
                    TokenKind::AppOnly => "the calling app",
                };
                format!(
                    "tool `{tool}` needs one of the app roles {}; ask an administrator to assign one to {whom}",
                    requirement.roles_any().join(", ")
                )
            }
            Missing::User => format!(
                "tool `{tool}` acts for a signed-in user (it needs the delegated scope {}); an app-only token cannot call it",
                requirement.required_scopes().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    let mut description = reasons.join("; ");
    if batch {
        description = format!("the batch was refused as a whole: {description}");
    }
    let scope_only = refused.iter().all(|(.., m)| *m == Missing::Scope);
    if scope_only {
        description.push_str("; sign in again granting these scopes");
    }
    let scope = scope_only.then(|| step_up_scopes(config, claims, called, policy));
    challenge::challenge(
        config,
        headers,
        StatusCode::FORBIDDEN,
        Some(ErrorCode::InsufficientScope),
        &description,
        scope.as_deref(),
    )
}

/// `scope` of a step-up challenge: every scope the called tools need, then those the token holds,
/// fully qualified, without duplicates.
fn step_up_scopes(
    config: &AzureOAuthConfig,
    claims: &AzureClaims,
    called: &[Cow<'_, str>],
    policy: &ToolPolicy,
) -> String {
    let mut scopes: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let q = config.qualify_scope(s);
        if !scopes.contains(&q) {
            scopes.push(q);
        }
    };
    for name in called {
        let Some(requirement) = policy.requirement(name) else { continue };
        requirement.scopes_all().iter().for_each(|s| add(s));
        let any = requirement.scopes_any();
        if let Some(s) = any.iter().find(|s| claims.has_scope(s)).or_else(|| any.first()) {
            add(s);
        }
    }
    claims.scopes().for_each(&mut add);
    scopes.join(" ")
}

/// The scopes of `requirement` that `claims` lacks, for `error_description`.
fn missing_scopes(requirement: &ToolRequirement, claims: &AzureClaims) -> String {
    let mut parts: Vec<String> = requirement
        .scopes_all()
        .iter()
        .filter(|s| !claims.has_scope(s))
        .map(|s| format!("the scope {s}"))
        .collect();
    let any = requirement.scopes_any();
    if !any.is_empty() && !any.iter().any(|s| claims.has_scope(s)) {
        parts.push(format!("one of the scopes {}", any.join(", ")));
    }
    parts.join(" and ")
}

/// At most this many characters of a client's value are echoed in an error.
const ECHO_MAX: usize = 64;

/// `value`, cut to [`ECHO_MAX`] characters, to quote in an error.
fn echo(value: &str) -> String {
    let mut out: String = value.chars().take(ECHO_MAX).collect();
    if out.len() < value.len() {
        out.push('…');
    }
    out
}

/// What is wrong with the `Mcp-Name` header, if one is sent: it must be one, visible ASCII, and
/// equal to the tool of every `tools/call` in the body (`names`).
fn mcp_name_problem(headers: &HeaderMap, names: &[Cow<'_, str>]) -> Option<Cow<'static, str>> {
    let mut values = headers.get_all(MCP_NAME).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return Some("send at most one Mcp-Name header".into());
    }
    let Ok(header) = value.to_str() else {
        return Some(
            "the Mcp-Name header is not visible ASCII text: send the tool's name as in params.name".into(),
        );
    };
    let name = names.iter().find(|n| n.as_ref() != header)?;
    Some(
        format!(
            "the Mcp-Name header {:?} does not match the tools/call params.name {:?}: send the same tool name in both",
            echo(header),
            echo(name)
        )
        .into(),
    )
}

/// 400 `invalid_request` saying what is wrong with the request.
fn bad_request(description: impl Into<String>) -> Response {
    OAuthError::bad_request(ErrorCode::InvalidRequest, description).into_response()
}

/// The whole body, refused with 413 when it is (or says it is) larger than `limit` bytes and with
/// 400 when it cannot be read; a body of one chunk is not copied.
async fn read_bounded(headers: &HeaderMap, mut body: Body, limit: usize) -> Result<Bytes, Response> {
    let too_large = || {
        OAuthError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!(
                "the request body is larger than the {limit} bytes this server reads to check a tool call's \
                 permissions; send a smaller request"
            ),
        )
        .into_response()
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| {
            tracing::debug!(error = %e, "request body unreadable");
            OAuthError::bad_request(
                ErrorCode::InvalidRequest,
                "the request body could not be read; send it again",
            )
            .into_response()
        })?;
        let Ok(data) = frame.into_data() else { continue };
        let len = first.as_ref().map_or(0, Bytes::len) + rest.len() + data.len();
        if len > limit {
            return Err(too_large());
        }
        match &first {
            None if rest.is_empty() => first = Some(data),
            _ => {
                if let Some(f) = first.take() {
                    rest.extend_from_slice(&f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(rest)))
}
