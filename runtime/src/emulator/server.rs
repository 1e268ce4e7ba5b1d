//! The accept loop of both servers, and what every request goes through: read, classify, record,
//! apply a fault, dispatch to the endpoint's module.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::errors::{self, error};
use super::faults::{Endpoint, Fault, FaultKind, RecordedRequest};
use super::request::{Req, percent_decode};
use super::state::State;
use super::tenant::resolve_tenant;
use super::{authorize, discovery, graph, identity, token};

/// Which of the two servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Login,
    Graph,
}

/// Request bodies above this are refused (Entra and Graph bodies here are small).
const MAX_BODY: usize = 1 << 20;

/// Serves until the shutdown signal (or its sender's drop).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<State>,
    side: Side,
    mut shutdown: watch::Receiver<bool>,
    stopped: Arc<watch::Sender<u8>>,
) {
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    drop(listener);
                    stopped.send_modify(|n| *n += 1);
                    return;
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let counter = match side {
                    Side::Login => &state.connections[0],
                    Side::Graph => &state.connections[1],
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let state = Arc::clone(&state);
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = Arc::clone(&state);
                        async move { handle(state, side, req).await }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = shutdown.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
        }
    }
}

/// The error that makes hyper drop the connection without an answer ([`FaultKind::Outage`]).
#[derive(Debug)]
struct Outage;

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("emulated outage")
    }
}

impl std::error::Error for Outage {}

async fn handle(state: Arc<State>, side: Side, req: http::Request<Incoming>) -> Result<Response, Outage> {
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(plain_error(side, StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large"));
        }
    };
    let path = parts.uri.path().to_owned();
    let query: Vec<(String, String)> =
        parts.uri.query().and_then(|q| serde_urlencoded::from_str(q).ok()).unwrap_or_default();
    let mut req = Req {
        method: parts.method,
        path,
        query,
        form: Vec::new(),
        headers: parts.headers,
        body,
        tenant: None,
        endpoint: Endpoint::Other,
    };
    if req.is_form() {
        req.form = serde_urlencoded::from_bytes(&req.body).unwrap_or_default();
    }
    let (mut endpoint, tenant) = classify(side, &req.method, &req.path);
    if endpoint == Endpoint::Token && req.form("grant_type") == Some(token::JWT_BEARER) {
        endpoint = Endpoint::OnBehalfOf;
    }
    req.endpoint = endpoint;
    req.tenant = tenant;
    record(&state, &req);

    let fault = take_fault(&state, endpoint);
    match fault {
        Some(FaultKind::Outage) => return Err(Outage),
        Some(FaultKind::Delay(d)) => tokio::time::sleep(d).await,
        Some(FaultKind::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Ok(fault_response(&state, side, status));
        }
        Some(FaultKind::TooManyRequests(secs)) => {
            let mut resp = fault_response(&state, side, StatusCode::TOO_MANY_REQUESTS);
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return Ok(resp);
        }
        Some(FaultKind::Garbage) => {
            return Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<html><body>Sign in to continue to the network</body></html>",
            )
                .into_response());
        }
        Some(FaultKind::EmptyKeys) if matches!(endpoint, Endpoint::JwksV1 | Endpoint::JwksV2) => {
            return Ok(axum::Json(serde_json::json!({ "keys": [] })).into_response());
        }
        Some(FaultKind::ConsentRequired) if matches!(endpoint, Endpoint::Token | Endpoint::OnBehalfOf) => {
            return Ok(token::consent_required(&state).into_response(&state));
        }
        Some(FaultKind::InteractionRequired)
            if matches!(endpoint, Endpoint::Token | Endpoint::OnBehalfOf) =>
        {
            return Ok(token::interaction_required(None, Fault::STEP_UP_CLAIMS).into_response(&state));
        }
        Some(FaultKind::EmptyKeys | FaultKind::ConsentRequired | FaultKind::InteractionRequired) | None => {}
    }
    let cors = side == Side::Login
        && req.headers.contains_key(header::ORIGIN)
        && matches!(
            endpoint,
            Endpoint::Token
                | Endpoint::OnBehalfOf
                | Endpoint::OpenIdConfigurationV1
                | Endpoint::OpenIdConfigurationV2
                | Endpoint::JwksV1
                | Endpoint::JwksV2
        );
    if cors && req.method == Method::OPTIONS {
        // A browser's preflight for a cross-origin (SPA) token request or metadata fetch.
        return Ok((
            StatusCode::OK,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"),
                (
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "content-type, client-request-id, x-client-sku, x-client-ver, x-client-os, x-client-cpu",
                ),
                (header::ACCESS_CONTROL_MAX_AGE, "86400"),
            ],
        )
            .into_response());
    }
    let mut resp = match side {
        Side::Login => login(&state, &req),
        Side::Graph => graph::handle(&state, &req),
    };
    if cors {
        resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header::HeaderValue::from_static("*"));
    }
    Ok(resp)
}

/// Dispatches a request of the login authority: discovery, authorize or token, after resolving
/// the tenant segment of its path.
fn login(state: &Arc<State>, req: &Req) -> Response {
    let tenant_segment = req.tenant.clone().unwrap_or_default();
    match req.endpoint {
        Endpoint::OpenIdConfigurationV2
        | Endpoint::OpenIdConfigurationV1
        | Endpoint::JwksV2
        | Endpoint::JwksV1 => {
            if req.method != Method::GET && req.method != Method::HEAD {
                return discovery::method_not_allowed(state);
            }
            match resolve_tenant(state, &tenant_segment) {
                Ok(tenant) => discovery::serve(state, req, &tenant),
                Err((e, code, message)) => error(state, StatusCode::BAD_REQUEST, e, code, &message),
            }
        }
        // The browser sees Entra's error page; a token client its JSON error.
        Endpoint::Authorize => match resolve_tenant(state, &tenant_segment) {
            Ok(tenant) => authorize::authorize(state, req, &tenant),
            Err((_, code, message)) => authorize::error_page(state, code, &message),
        },
        Endpoint::ManagedIdentity => identity::serve(state, req),
        Endpoint::Token | Endpoint::OnBehalfOf => match resolve_tenant(state, &tenant_segment) {
            Ok(tenant) => token::token(state, req, &tenant),
            Err((e, code, message)) => error(state, StatusCode::BAD_REQUEST, e, code, &message),
        },
        _ => error(
            state,
            StatusCode::NOT_FOUND,
            "invalid_request",
            90_010,
            &format!("The request path {} is not served by this authority.", req.path),
        ),
    }
}

fn record(state: &State, req: &Req) {
    let basic =
        req.header("authorization").is_some_and(|a| a.len() > 6 && a[..6].eq_ignore_ascii_case("basic "));
    let record = RecordedRequest {
        endpoint: req.endpoint,
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.query.clone(),
        form: req.form.clone(),
        json: req
            .header("content-type")
            .is_some_and(|c| c.trim_start().to_ascii_lowercase().starts_with("application/json"))
            .then(|| serde_json::from_slice(&req.body).ok())
            .flatten(),
        origin: req.header("origin").map(str::to_owned),
        client_secret_sent: basic || req.form("client_secret").is_some(),
        authorization_sent: req.headers.contains_key(header::AUTHORIZATION),
        tenant: req.tenant.clone(),
    };
    tracing::debug!(endpoint = ?req.endpoint, method = %req.method, path = %req.path, "entra emulator request");
    state.lock().log.push(record);
    state.notify.notify_waiters();
}

fn take_fault(state: &State, endpoint: Endpoint) -> Option<FaultKind> {
    let mut m = state.lock();
    let fault = m.faults.get_mut(&endpoint)?;
    let kind = fault.kind;
    if let Some(times) = &mut fault.times {
        if *times == 0 {
            m.faults.remove(&endpoint);
            return None;
        }
        *times -= 1;
        if *times == 0 {
            m.faults.remove(&endpoint);
        }
    }
    Some(kind)
}

/// Which endpoint a path is, and the tenant segment of a login path.
pub(crate) fn classify(side: Side, method: &Method, path: &str) -> (Endpoint, Option<String>) {
    match side {
        Side::Graph => {
            let rest = path.strip_prefix("/v1.0/applications");
            let endpoint = match (rest, method) {
                (Some(r), &Method::GET) if r.is_empty() || r.starts_with('(') || r.starts_with('/') => {
                    Endpoint::GraphGetApplication
                }
                (Some(r), &Method::PATCH) if r.starts_with('(') || r.starts_with('/') => {
                    Endpoint::GraphPatchApplication
                }
                _ if path == "/v1.0/me" && method == Method::GET => Endpoint::GraphMe,
                _ => Endpoint::Other,
            };
            (endpoint, None)
        }
        Side::Login if path == identity::APP_SERVICE_PATH || path == identity::IMDS_PATH => {
            (Endpoint::ManagedIdentity, None)
        }
        Side::Login => {
            let trimmed = path.strip_prefix('/').unwrap_or(path);
            let Some((tenant, rest)) = trimmed.split_once('/') else {
                return (Endpoint::Other, None);
            };
            let endpoint = match rest {
                "v2.0/.well-known/openid-configuration" => Endpoint::OpenIdConfigurationV2,
                ".well-known/openid-configuration" => Endpoint::OpenIdConfigurationV1,
                "discovery/v2.0/keys" => Endpoint::JwksV2,
                "discovery/keys" => Endpoint::JwksV1,
                "oauth2/v2.0/authorize" => Endpoint::Authorize,
                "oauth2/v2.0/token" => Endpoint::Token,
                _ => Endpoint::Other,
            };
            let tenant = percent_decode(tenant);
            (endpoint, Some(tenant))
        }
    }
}

fn fault_response(state: &State, side: Side, status: StatusCode) -> Response {
    match side {
        Side::Login => {
            let (error, code, message) = match status.as_u16() {
                400 => ("invalid_request", 900_144, "The request is not valid (injected fault)."),
                401 => ("invalid_client", 7_000_215, "Invalid client secret provided (injected fault)."),
                403 => (
                    "access_denied",
                    50_105,
                    "The signed in user is not assigned to a role (injected fault).",
                ),
                404 => ("invalid_request", 90_002, "Not found (injected fault)."),
                429 => (
                    "temporarily_unavailable",
                    50_196,
                    "The server terminated an operation because it encountered a client request loop (injected fault).",
                ),
                503 | 504 => (
                    "temporarily_unavailable",
                    90_033,
                    "A transient error has occurred. Please try again (injected fault).",
                ),
                _ => ("server_error", 90_035, "An internal error occurred (injected fault)."),
            };
            errors::error(state, status, error, code, message)
        }
        Side::Graph => {
            let (code, message) = match status.as_u16() {
                400 => ("BadRequest", "Bad request (injected fault)."),
                401 => ("InvalidAuthenticationToken", "Access token validation failure (injected fault)."),
                403 => (
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation (injected fault).",
                ),
                404 => ("Request_ResourceNotFound", "Resource not found (injected fault)."),
                429 => ("TooManyRequests", "Too many requests (injected fault)."),
                503 => ("serviceNotAvailable", "The service is temporarily unavailable (injected fault)."),
                _ => ("generalException", "An unexpected error occurred (injected fault)."),
            };
            errors::graph_error(status, code, message)
        }
    }
}

fn plain_error(side: Side, status: StatusCode, message: &str) -> Response {
    match side {
        Side::Login => {
            let body = serde_json::json!({ "error": "invalid_request", "error_description": message });
            (status, axum::Json(body)).into_response()
        }
        Side::Graph => errors::graph_error(status, "BadRequest", message),
    }
}
