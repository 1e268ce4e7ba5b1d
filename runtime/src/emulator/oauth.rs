//! `/{tenant}/oauth2/v2.0/authorize` and `/{tenant}/oauth2/v2.0/token`, with Entra's rules and
//! `AADSTS` errors. Codes marked *unverified* below are Entra's closest documented error for the
//! case; the `error` values follow RFC 6749.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{Method, StatusCode, header};
use serde_json::{Map, Value, json};

use super::entra::{TenantRef, error, error_body};
use super::mint::TokenBuilder;
use super::server::Req;
use super::{
    CodeGrant, GRAPH_APP_ID, GRAPH_RESOURCE, Platform, RefreshGrant, State, User, new_guid, random_token,
};

/// The OpenID Connect scopes, which name no resource.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The resource a scope belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    /// The app's own API (`api://{app_id}/…`).
    Api,
    /// Microsoft Graph.
    Graph,
}

/// A `scope` parameter, understood.
#[derive(Clone, Debug, Default)]
struct Scopes {
    /// `openid`, `profile`, `email`, `offline_access` as requested.
    oidc: Vec<String>,
    /// Per resource, the scope names (`.default` included) in request order.
    resources: Vec<(Resource, Vec<String>)>,
}

impl Scopes {
    fn has(&self, oidc: &str) -> bool {
        self.oidc.iter().any(|s| s == oidc)
    }
}

/// Why a scope parameter was refused: `(error, AADSTS code, message)`.
type ScopeError = (&'static str, u32, String);

fn parse_scopes(state: &State, raw: &str) -> Result<Scopes, ScopeError> {
    let app = &state.app.app_id;
    let api_prefixes = [format!("api://{app}/"), format!("{app}/")];
    let graph_prefixes =
        [format!("{GRAPH_RESOURCE}/"), format!("{}/", state.graph), format!("{GRAPH_APP_ID}/")];
    let mut out = Scopes::default();
    let invalid = |s: &str| {
        (
            "invalid_scope",
            70_011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope '{s}' is not valid."
            ),
        )
    };
    for s in raw.split(' ').filter(|s| !s.is_empty()) {
        if OIDC_SCOPES.contains(&s) {
            if !out.has(s) {
                out.oidc.push(s.to_owned());
            }
            continue;
        }
        // Resource identifiers (GUIDs, hosts) match case-insensitively; scope names exactly.
        let strip = |prefixes: &[String]| {
            prefixes.iter().find_map(|p| {
                let head = s.get(..p.len())?;
                head.eq_ignore_ascii_case(p).then(|| &s[p.len()..])
            })
        };
        let (resource, name) = if let Some(name) = strip(&api_prefixes) {
            if name != ".default" && !state.app.exposed_scopes.iter().any(|e| e == name) {
                return Err(invalid(s));
            }
            (Resource::Api, name)
        } else if let Some(name) = strip(&graph_prefixes) {
            if !is_graph_permission(name) {
                return Err(invalid(s));
            }
            (Resource::Graph, name)
        } else if !s.contains('/') && is_graph_permission(s) && s != ".default" {
            // Entra reads an unqualified scope as a Microsoft Graph permission.
            (Resource::Graph, s)
        } else if s.contains("://") || s.contains('/') {
            let resource = s.rsplit_once('/').map_or(s, |(r, _)| r);
            return Err((
                "invalid_resource",
                500_011,
                format!(
                    "The resource principal named {resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
                ),
            ));
        } else {
            return Err(invalid(s));
        };
        match out.resources.iter_mut().find(|(r, _)| *r == resource) {
            Some((_, names)) => {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            None => out.resources.push((resource, vec![name.to_owned()])),
        }
    }
    for (_, names) in &out.resources {
        if names.len() > 1 && names.iter().any(|n| n == ".default") {
            return Err((
                "invalid_scope",
                70_011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope '{}' is not valid. .default scope can't be combined with resource-specific scopes.",
                    raw
                ),
            ));
        }
    }
    Ok(out)
}

/// Graph permission names look like `User.Read` or `Application.ReadWrite.OwnedBy`.
fn is_graph_permission(name: &str) -> bool {
    name == ".default"
        || (name.contains('.')
            && !name.starts_with('.')
            && !name.ends_with('.')
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
}

/// The app's scopes qualified (`api://{app}/access_as_user`) or Graph's (`https://graph.microsoft.com/User.Read`).
fn qualify(state: &State, resource: Resource, name: &str) -> String {
    match resource {
        Resource::Api => format!("api://{}/{name}", state.app.app_id),
        Resource::Graph => format!("{GRAPH_RESOURCE}/{name}"),
    }
}

/// Matches a redirect URI against the enrolled ones: exact, except that the port of an `http`
/// loopback URI (`localhost`, `127.0.0.1`) is ignored.
pub(crate) fn find_platform(state: &State, redirect_uri: &str) -> Option<Platform> {
    let m = state.lock();
    Platform::ALL.into_iter().find(|p| {
        m.redirect_uris.get(p).is_some_and(|uris| uris.iter().any(|u| redirect_matches(u, redirect_uri)))
    })
}

fn redirect_matches(enrolled: &str, requested: &str) -> bool {
    if enrolled == requested {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(enrolled), url::Url::parse(requested)) else {
        return false;
    };
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("localhost" | "127.0.0.1"));
    if !(loopback(&a) && loopback(&b)) {
        return false;
    }
    let (Ok(()), Ok(())) = (a.set_port(None), b.set_port(None)) else { return false };
    a == b
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The sign-in error page Entra shows when it cannot redirect (unknown client, bad redirect URI).
pub(crate) fn error_page(state: &State, code: u32, message: &str) -> Response {
    let body = error_body(state, "", code, message);
    let text = body.get("error_description").and_then(Value::as_str).unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html><html><head><title>Sign in to your account</title></head><body>\
         <h1>Sorry, but we're having trouble signing you in.</h1>\
         <p id=\"error-code\">AADSTS{code}</p><p id=\"error-description\">{}</p></body></html>",
        html_escape(text)
    );
    let mut resp = (StatusCode::BAD_REQUEST, Html(page)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store, no-cache"));
    resp
}

/// How the authorization response reaches the client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// Sends `params` to the redirect URI.
fn respond(redirect_uri: &str, mode: ResponseMode, params: &[(&str, String)]) -> Response {
    match mode {
        ResponseMode::FormPost => {
            let mut inputs = String::new();
            for (k, v) in params {
                let _ = write!(
                    inputs,
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\"/>",
                    html_escape(k),
                    html_escape(v)
                );
            }
            Html(format!(
                "<html><head><title>Working...</title></head><body><form method=\"POST\" name=\"hiddenform\" action=\"{}\">{inputs}<noscript><p>Script is disabled. Click Submit to continue.</p><input type=\"submit\" value=\"Submit\"/></noscript></form><script>document.forms[0].submit()</script></body></html>",
                html_escape(redirect_uri)
            ))
            .into_response()
        }
        ResponseMode::Query | ResponseMode::Fragment => {
            let encoded = serde_urlencoded::to_string(params).unwrap_or_default();
            let location = if mode == ResponseMode::Fragment {
                format!("{redirect_uri}#{encoded}")
            } else if redirect_uri.contains('?') {
                format!("{redirect_uri}&{encoded}")
            } else {
                format!("{redirect_uri}?{encoded}")
            };
            let mut resp = StatusCode::FOUND.into_response();
            if let Ok(v) = header::HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store, no-cache"));
            resp
        }
    }
}

fn missing(name: &str) -> String {
    format!("The request body must contain the following parameter: '{name}'.")
}

/// Checks the client and tenant of an authorize or token request; `Err` is `(status, error, code, message)`.
fn check_client(
    state: &State,
    client_id: &str,
    tenant: &TenantRef,
) -> Result<(), (StatusCode, &'static str, u32, String)> {
    let app = &state.app;
    let not_found = |directory: &str| {
        (
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    };
    if !client_id.eq_ignore_ascii_case(&app.app_id) {
        return Err(not_found(tenant.segment()));
    }
    match tenant {
        TenantRef::Consumers => Err((
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700_016,
            "The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal.".into(),
        )),
        TenantRef::Common | TenantRef::Organizations if !app.multi_tenant => Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50_194,
            format!(
                "Application '{}' is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
                app.app_id
            ),
        )),
        TenantRef::Id(t) if !app.multi_tenant && *t != state.home => Err(not_found(t)),
        _ => Ok(()),
    }
}

/// Parameters of an authorize request: the query of a `GET`, the form of a `POST`.
fn params(req: &Req) -> &[(String, String)] {
    if req.method == Method::POST { &req.form } else { &req.query }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `GET /{tenant}/oauth2/v2.0/authorize`: validates, signs the configured user in (consent is
/// automatic) and redirects with a code.
pub(crate) fn authorize(state: &Arc<State>, req: &Req, tenant: &TenantRef) -> Response {
    if req.method != Method::GET && req.method != Method::POST {
        return error_page(state, 900_561, "The endpoint only accepts GET and POST requests.");
    }
    let p = params(req);
    let Some(client_id) = param(p, "client_id").filter(|c| !c.is_empty()) else {
        return error_page(state, 900_144, &missing("client_id"));
    };
    if let Err((_, _, code, message)) = check_client(state, client_id, tenant) {
        return error_page(state, code, &message);
    }
    let Some(redirect_uri) = param(p, "redirect_uri").filter(|r| !r.is_empty()) else {
        return error_page(state, 900_144, &missing("redirect_uri"));
    };
    let Some(platform) = find_platform(state, redirect_uri) else {
        return error_page(
            state,
            50_011,
            &format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
                state.app.app_id
            ),
        );
    };
    let st = param(p, "state").map(str::to_owned);
    let mode = match param(p, "response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some("form_post") => ResponseMode::FormPost,
        Some(other) => {
            let msg =
                format!("The response_mode '{other}' is not supported; use query, fragment or form_post.");
            return redirect_error(
                state,
                redirect_uri,
                ResponseMode::Query,
                st,
                "invalid_request",
                900_061,
                &msg,
            );
        }
    };
    let fail = |error: &str, code: u32, message: &str| {
        redirect_error(state, redirect_uri, mode, st.clone(), error, code, message)
    };
    match param(p, "response_type") {
        None | Some("") => return fail("invalid_request", 900_144, &missing("response_type")),
        Some("code") => {}
        Some(other) if other.split(' ').any(|t| t == "token" || t == "id_token") => {
            return fail(
                "unsupported_response_type",
                700_051,
                &format!("response_type '{other}' is not enabled for the application."),
            );
        }
        Some(other) => {
            return fail(
                "unsupported_response_type",
                700_051,
                &format!("The response_type '{other}' is not supported; use code."),
            );
        }
    }
    if param(p, "resource").is_some() {
        return fail(
            "invalid_target",
            9_010_010,
            "The resource parameter provided in the request doesn't match with the requested scopes.",
        );
    }
    let Some(raw_scope) = param(p, "scope").filter(|s| !s.trim().is_empty()) else {
        return fail("invalid_request", 900_144, &missing("scope"));
    };
    let scopes = match parse_scopes(state, raw_scope) {
        Ok(s) => s,
        Err((error, code, message)) => return fail(error, code, &message),
    };
    let challenge = match (param(p, "code_challenge"), param(p, "code_challenge_method")) {
        (None, Some(_)) => {
            return fail("invalid_request", 900_144, &missing("code_challenge"));
        }
        (None, None) => None,
        (Some(c), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return fail(
                    "invalid_request",
                    501_491,
                    &format!("Invalid code_challenge_method '{method}'; use S256."),
                );
            }
            let ok_len = (43..=128).contains(&c.len());
            let ok_chars = c.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !ok_len || !ok_chars {
                return fail("invalid_request", 501_491, "Invalid size of Code_Challenge parameter.");
            }
            Some((c.to_owned(), method.to_owned()))
        }
    };
    if challenge.is_none() && platform != Platform::Web {
        return fail(
            "invalid_request",
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    }
    let user = state.lock().signed_in_user(&state.home);
    let user_ok = match tenant {
        TenantRef::Id(t) => user.tenant == *t,
        _ => state.app.multi_tenant || user.tenant == state.home,
    };
    if !user_ok || (!state.app.multi_tenant && user.tenant != state.home) {
        return error_page(
            state,
            50_020,
            &format!(
                "User account '{}' from identity provider 'https://sts.windows.net/{}/' does not exist in tenant '{}' and cannot access the application '{}' in that tenant. The account needs to be added as an external user in the tenant first.",
                user.preferred_username,
                user.tenant,
                tenant.segment(),
                state.app.app_id
            ),
        );
    }
    let mut all: Vec<String> = scopes.oidc.clone();
    for (resource, names) in &scopes.resources {
        all.extend(names.iter().map(|n| qualify(state, *resource, n)));
    }
    let code = format!("1.A{}", random_token(96));
    let grant = CodeGrant {
        client_id: client_id.to_ascii_lowercase(),
        redirect_uri: redirect_uri.to_owned(),
        platform,
        scopes: all,
        challenge,
        nonce: param(p, "nonce").map(str::to_owned),
        user,
        expires: tokio::time::Instant::now() + state.code_lifetime,
    };
    state.lock().codes.insert(code.clone(), grant);
    let mut out = vec![("code", code)];
    if let Some(s) = st {
        out.push(("state", s));
    }
    out.push(("session_state", new_guid()));
    respond(redirect_uri, mode, &out)
}

#[allow(clippy::too_many_arguments)]
fn redirect_error(
    state: &State,
    redirect_uri: &str,
    mode: ResponseMode,
    st: Option<String>,
    error: &str,
    code: u32,
    message: &str,
) -> Response {
    let body = error_body(state, error, code, message);
    let description = body.get("error_description").and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut params = vec![("error", error.to_owned()), ("error_description", description)];
    if let Some(s) = st {
        params.push(("state", s));
    }
    respond(redirect_uri, mode, &params)
}

/// An error of the token endpoint.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

fn bad(error: &'static str, code: u32, message: impl Into<String>) -> TokenError {
    TokenError { status: StatusCode::BAD_REQUEST, error, code, message: message.into() }
}

fn unauthorized(code: u32, message: impl Into<String>) -> TokenError {
    TokenError { status: StatusCode::UNAUTHORIZED, error: "invalid_client", code, message: message.into() }
}

/// The client's credentials as sent.
struct Client {
    id: String,
    secret: Option<String>,
    origin: Option<String>,
}

fn client_of(req: &Req) -> Result<Client, TokenError> {
    let mut id = req.form("client_id").map(str::to_owned);
    let mut secret = req.form("client_secret").map(str::to_owned);
    if let Some(basic) = req.header("authorization").and_then(|a| {
        let (scheme, rest) = a.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    }) {
        let decoded = STANDARD.decode(basic).ok().and_then(|b| String::from_utf8(b).ok());
        let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(unauthorized(
                7_000_215,
                "Invalid client secret provided: the HTTP Basic credentials are malformed.",
            ));
        };
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        id.get_or_insert_with(|| decode(user));
        secret.get_or_insert_with(|| decode(pass));
    }
    let id =
        id.filter(|i| !i.is_empty()).ok_or_else(|| bad("invalid_request", 900_144, missing("client_id")))?;
    Ok(Client { id, secret, origin: req.header("origin").map(str::to_owned) })
}

fn check_secret(state: &State, secret: &str) -> Result<(), TokenError> {
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        secret.as_bytes(),
        state.app.secret.expose().as_bytes(),
    )
    .is_err()
    {
        return Err(unauthorized(
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                state.app.app_id
            ),
        ));
    }
    Ok(())
}

/// The redirect URI's platform decides how a code or refresh token may be redeemed.
fn check_platform(state: &State, platform: Platform, client: &Client) -> Result<(), TokenError> {
    match platform {
        Platform::Web => {
            if let Some(origin) = &client.origin {
                return Err(cross_origin_refused(origin));
            }
            let Some(secret) = &client.secret else {
                return Err(unauthorized(
                    7_000_218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                ));
            };
            check_secret(state, secret)
        }
        Platform::Spa => {
            if client.origin.is_none() {
                return Err(bad(
                    "invalid_request",
                    9_002_327,
                    "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
                ));
            }
            if client.secret.is_some() {
                return Err(public_with_secret());
            }
            Ok(())
        }
        Platform::PublicClient => {
            if client.secret.is_some() {
                return Err(public_with_secret());
            }
            if let Some(origin) = &client.origin {
                return Err(cross_origin_refused(origin));
            }
            Ok(())
        }
    }
}

/// AADSTS9002326: a `web` or `publicClient` redemption sent with an `Origin` header.
fn cross_origin_refused(origin: &str) -> TokenError {
    bad(
        "invalid_request",
        9_002_326,
        format!(
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '{origin}'."
        ),
    )
}

fn public_with_secret() -> TokenError {
    unauthorized(
        700_025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) fn token(state: &Arc<State>, req: &Req, tenant: &TenantRef) -> Response {
    match token_inner(state, req, tenant) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store, no-cache"), (header::PRAGMA, "no-cache")],
            Json(Value::Object(body)),
        )
            .into_response(),
        Err(e) => error(state, e.status, e.error, e.code, &e.message),
    }
}

fn token_inner(state: &Arc<State>, req: &Req, tenant: &TenantRef) -> Result<Map<String, Value>, TokenError> {
    if req.method != Method::POST {
        return Err(TokenError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            error: "invalid_request",
            code: 900_561,
            message: format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {} request.",
                req.method
            ),
        });
    }
    if !req.is_form() {
        return Err(bad(
            "invalid_request",
            900_144,
            "The request body must be application/x-www-form-urlencoded and contain the parameter 'grant_type'.",
        ));
    }
    let grant_type = req
        .form("grant_type")
        .filter(|g| !g.is_empty())
        .ok_or_else(|| bad("invalid_request", 900_144, missing("grant_type")))?;
    let client = client_of(req)?;
    check_client(state, &client.id, tenant).map_err(|(status, error, code, message)| TokenError {
        status,
        error,
        code,
        message,
    })?;
    if req.form("resource").is_some() {
        return Err(bad(
            "invalid_target",
            9_010_010,
            "The resource parameter provided in the request doesn't match with the requested scopes.",
        ));
    }
    match grant_type {
        "authorization_code" => authorization_code(state, req, &client),
        "refresh_token" => refresh_token(state, req, &client),
        "client_credentials" => client_credentials(state, req, &client, tenant),
        other => Err(bad(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

fn required<'a>(req: &'a Req, name: &str) -> Result<&'a str, TokenError> {
    req.form(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| bad("invalid_request", 900_144, missing(name)))
}

fn authorization_code(
    state: &Arc<State>,
    req: &Req,
    client: &Client,
) -> Result<Map<String, Value>, TokenError> {
    let code = required(req, "code")?;
    let redirect_uri = required(req, "redirect_uri")?;
    let scope = required(req, "scope")?;
    let grant = {
        let m = state.lock();
        if m.redeemed.contains(code) {
            return Err(already_redeemed());
        }
        m.codes.get(code).cloned()
    };
    let Some(grant) = grant else {
        return Err(bad("invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid."));
    };
    if tokio::time::Instant::now() >= grant.expires {
        state.lock().codes.remove(code);
        return Err(bad(
            "invalid_grant",
            70_008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if !client.id.eq_ignore_ascii_case(&grant.client_id) {
        // unverified code
        return Err(bad(
            "invalid_grant",
            70_000,
            "The provided authorization code was issued to another client.",
        ));
    }
    if redirect_uri != grant.redirect_uri {
        return Err(bad(
            "invalid_grant",
            500_112,
            format!(
                "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                grant.redirect_uri
            ),
        ));
    }
    check_platform(state, grant.platform, client)?;
    if let Some((challenge, method)) = &grant.challenge {
        let Some(verifier) = req.form("code_verifier") else {
            return Err(bad(
                "invalid_grant",
                501_481,
                "The Code_Verifier is missing: the authorization request had a code_challenge.",
            ));
        };
        let computed = if method == "S256" {
            URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()))
        } else {
            verifier.to_owned()
        };
        if computed != *challenge {
            return Err(bad(
                "invalid_grant",
                501_481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            ));
        }
    }
    let requested = parse_scopes(state, scope).map_err(|(e, c, m)| bad(e, c, m))?;
    single_resource(state, &requested)?;
    // Every check passed: consume the code atomically, so that of two concurrent redemptions
    // only one succeeds.
    {
        let mut m = state.lock();
        if m.codes.remove(code).is_none() {
            return Err(already_redeemed());
        }
        m.redeemed.insert(code.to_owned());
    }
    issue(state, client, &requested, &grant.scopes, &grant.user, grant.platform, grant.nonce.as_deref())
}

fn already_redeemed() -> TokenError {
    bad(
        "invalid_grant",
        54_005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    )
}

/// A token is for one resource: scopes of two (Graph and the app's API) are refused.
fn single_resource(state: &State, requested: &Scopes) -> Result<(), TokenError> {
    if requested.resources.len() > 1 {
        let all: Vec<String> = requested
            .resources
            .iter()
            .flat_map(|(r, names)| names.iter().map(move |n| (r, n)))
            .map(|(r, n)| qualify(state, *r, n))
            .collect();
        return Err(bad(
            "invalid_scope",
            28_000,
            format!(
                "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope {} is not valid.",
                all.join(" ")
            ),
        ));
    }
    Ok(())
}

fn refresh_token(state: &Arc<State>, req: &Req, client: &Client) -> Result<Map<String, Value>, TokenError> {
    let token = required(req, "refresh_token")?;
    let scope = required(req, "scope")?;
    let Some(grant) = state.lock().refresh.get(token).cloned() else {
        return Err(bad("invalid_grant", 9_002_313, "Invalid request. Request is malformed or invalid."));
    };
    if !client.id.eq_ignore_ascii_case(&grant.client_id) {
        return Err(bad("invalid_grant", 700_003, "The refresh token was issued to another client."));
    }
    check_platform(state, grant.platform, client)?;
    let requested = parse_scopes(state, scope).map_err(|(e, c, m)| bad(e, c, m))?;
    single_resource(state, &requested)?;
    issue(state, client, &requested, &grant.scopes, &grant.user, grant.platform, None)
}

/// Builds the token response of a delegated grant: an access token for the one resource of the
/// requested scopes, a refresh token when `offline_access` was granted, an ID token for `openid`.
fn issue(
    state: &Arc<State>,
    client: &Client,
    requested: &Scopes,
    granted: &[String],
    user: &User,
    platform: Platform,
    nonce: Option<&str>,
) -> Result<Map<String, Value>, TokenError> {
    let (resource, names) =
        requested.resources.first().cloned().unwrap_or((Resource::Graph, vec!["User.Read".into()]));
    // Scopes of the resource: `.default` means every consented (here: exposed) scope.
    let names: Vec<String> = if names.iter().any(|n| n == ".default") {
        match resource {
            Resource::Api => state.app.exposed_scopes.clone(),
            Resource::Graph => vec!["User.Read".into()],
        }
    } else {
        names
    };
    let acr = if platform == Platform::Web { "1" } else { "0" };
    let tid = user.tenant.clone();
    let mut builder =
        TokenBuilder::new(Arc::clone(state)).user(user.clone()).client_id(&client.id).tenant(&tid);
    builder = match resource {
        Resource::Api => builder,
        Resource::Graph => builder.v1().audience(GRAPH_RESOURCE).signed_with_tenant_keys(&tid),
    };
    let access = builder.scopes(&names.join(" ")).client_acr(acr).expires_in(state.token_lifetime).sign();
    let expires = state.token_lifetime.as_secs();
    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert(
        "scope".into(),
        json!(names.iter().map(|n| qualify(state, resource, n)).collect::<Vec<_>>().join(" ")),
    );
    body.insert("expires_in".into(), json!(expires));
    body.insert("ext_expires_in".into(), json!(expires));
    body.insert("access_token".into(), json!(access));
    if granted.iter().any(|s| s == "offline_access") {
        let rt = format!("1.A{}", random_token(160));
        state.lock().refresh.insert(
            rt.clone(),
            RefreshGrant {
                client_id: client.id.to_ascii_lowercase(),
                platform,
                scopes: granted.to_vec(),
                user: user.clone(),
            },
        );
        body.insert("refresh_token".into(), json!(rt));
    }
    if granted.iter().any(|s| s == "openid") {
        let mut id = TokenBuilder::new(Arc::clone(state))
            .id_token()
            .user(user.clone())
            .client_id(&client.id)
            .tenant(&tid);
        if let Some(n) = nonce {
            id = id.nonce(n);
        } else {
            id = id.without_claim("nonce");
        }
        body.insert("id_token".into(), json!(id.sign()));
    }
    Ok(body)
}

fn client_credentials(
    state: &Arc<State>,
    req: &Req,
    client: &Client,
    tenant: &TenantRef,
) -> Result<Map<String, Value>, TokenError> {
    let Some(secret) = &client.secret else {
        return Err(unauthorized(
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    check_secret(state, secret)?;
    let TenantRef::Id(tid) = tenant else {
        return Err(bad(
            "invalid_request",
            50_059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.",
        ));
    };
    let scope = required(req, "scope")?.trim();
    let resource = scope.strip_suffix("/.default").filter(|_| !scope.contains(' ')).ok_or_else(|| {
        bad(
            "invalid_scope",
            1_002_012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    })?;
    let app = &state.app.app_id;
    let builder = TokenBuilder::new(Arc::clone(state)).client_id(&client.id).tenant(tid);
    let access = if [GRAPH_RESOURCE, state.graph.as_str(), GRAPH_APP_ID].contains(&resource) {
        builder.graph().signed_with_tenant_keys(tid)
    } else if resource == format!("api://{app}") || resource == app.as_str() {
        builder.app_only().roles(state.app.app_roles.clone())
    } else {
        return Err(bad(
            "invalid_resource",
            500_011,
            format!("The resource principal named {resource} was not found in the tenant named {tid}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
        ));
    }
    .expires_in(state.token_lifetime)
    .sign();
    let expires = state.token_lifetime.as_secs();
    let mut body = Map::new();
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("expires_in".into(), json!(expires));
    body.insert("ext_expires_in".into(), json!(expires));
    body.insert("access_token".into(), json!(access));
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::redirect_matches;

    #[test]
    fn loopback_ports_are_ignored_and_nothing_else() {
        assert!(redirect_matches("http://localhost/cb", "http://localhost:33418/cb"));
        assert!(redirect_matches("http://127.0.0.1:1/cb", "http://127.0.0.1:2/cb"));
        assert!(!redirect_matches("http://localhost/cb", "http://127.0.0.1/cb"));
        assert!(!redirect_matches("http://localhost/cb", "http://localhost:1/cb2"));
        assert!(!redirect_matches("https://app.example.com/cb", "https://app.example.com:8443/cb"));
        assert!(!redirect_matches("https://app.example.com/cb", "https://app.example.com/cb/"));
    }
}
