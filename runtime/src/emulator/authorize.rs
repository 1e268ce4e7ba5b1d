//! `/{tenant}/oauth2/v2.0/authorize`: Entra's checks and `AADSTS` errors, the sign-in error page,
//! and the redirect back with a code.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::response::{Html, IntoResponse, Response};
use http::{Method, StatusCode, header};
use serde_json::Value;

use super::client::check_client;
use super::errors::{error_body, missing};
use super::request::Req;
use super::scopes::{parse_scopes, qualify};
use super::state::{CodeGrant, State};
use super::tenant::TenantRef;
use super::{Platform, User, new_guid, random_token};

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
        return redirect_uri_mismatch(state, redirect_uri);
    };
    let st = param(p, "state").map(str::to_owned);
    let mode = match response_mode(p) {
        Ok(mode) => mode,
        Err((error, code, message)) => {
            return redirect_error(state, redirect_uri, ResponseMode::Query, st, error, code, &message);
        }
    };
    let fail = |error: &str, code: u32, message: &str| {
        redirect_error(state, redirect_uri, mode, st.clone(), error, code, message)
    };
    if let Err((error, code, message)) = check_response_type(p) {
        return fail(error, code, &message);
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
    let challenge = match code_challenge(p) {
        Ok(challenge) => challenge,
        Err((error, code, message)) => return fail(error, code, &message),
    };
    if challenge.is_none() && platform != Platform::Web {
        return fail(
            "invalid_request",
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    }
    let user = match signed_in_user(state, tenant) {
        Ok(user) => user,
        Err(message) => return error_page(state, 50_020, &message),
    };
    let mut all: Vec<String> = scopes.oidc.clone();
    for (resource, names) in &scopes.resources {
        all.extend(names.iter().map(|n| qualify(state, resource, n)));
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

/// An error Entra redirects with: `error`, its AADSTS number and its message.
type Refusal = (&'static str, u32, String);

/// How the answer goes back: `query` (the default), `fragment` or `form_post`.
fn response_mode(p: &[(String, String)]) -> Result<ResponseMode, Refusal> {
    match param(p, "response_mode") {
        None | Some("query") => Ok(ResponseMode::Query),
        Some("fragment") => Ok(ResponseMode::Fragment),
        Some("form_post") => Ok(ResponseMode::FormPost),
        Some(other) => Err((
            "invalid_request",
            900_061,
            format!("The response_mode '{other}' is not supported; use query, fragment or form_post."),
        )),
    }
}

/// AADSTS50011: the redirect URI is not on the app registration.
fn redirect_uri_mismatch(state: &Arc<State>, redirect_uri: &str) -> Response {
    error_page(
        state,
        50_011,
        &format!(
            "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
            state.app.app_id
        ),
    )
}

/// `response_type=code`, the only one this app enables.
fn check_response_type(p: &[(String, String)]) -> Result<(), Refusal> {
    match param(p, "response_type") {
        None | Some("") => Err(("invalid_request", 900_144, missing("response_type"))),
        Some("code") => Ok(()),
        Some(other) if other.split(' ').any(|t| t == "token" || t == "id_token") => Err((
            "unsupported_response_type",
            700_051,
            format!("response_type '{other}' is not enabled for the application."),
        )),
        Some(other) => Err((
            "unsupported_response_type",
            700_051,
            format!("The response_type '{other}' is not supported; use code."),
        )),
    }
}

/// The PKCE challenge and its method (`plain` when none is given, as Entra takes it), if any.
fn code_challenge(p: &[(String, String)]) -> Result<Option<(String, String)>, Refusal> {
    match (param(p, "code_challenge"), param(p, "code_challenge_method")) {
        (None, Some(_)) => Err(("invalid_request", 900_144, missing("code_challenge"))),
        (None, None) => Ok(None),
        (Some(c), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return Err((
                    "invalid_request",
                    501_491,
                    format!("Invalid code_challenge_method '{method}'; use S256."),
                ));
            }
            let ok_len = (43..=128).contains(&c.len());
            let ok_chars = c.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !ok_len || !ok_chars {
                return Err((
                    "invalid_request",
                    501_491,
                    "Invalid size of Code_Challenge parameter.".to_owned(),
                ));
            }
            Ok(Some((c.to_owned(), method.to_owned())))
        }
    }
}

/// The signed-in user, if the tenant of the sign-in may sign them in to this app; else the
/// AADSTS50020 message.
fn signed_in_user(state: &Arc<State>, tenant: &TenantRef) -> Result<User, String> {
    let user = state.lock().signed_in_user(&state.home);
    let user_ok = match tenant {
        TenantRef::Id(t) => user.tenant == *t,
        _ => state.app.multi_tenant || user.tenant == state.home,
    };
    if !user_ok || (!state.app.multi_tenant && user.tenant != state.home) {
        return Err(format!(
            "User account '{}' from identity provider 'https://sts.windows.net/{}/' does not exist in tenant '{}' and cannot access the application '{}' in that tenant. The account needs to be added as an external user in the tenant first.",
            user.preferred_username,
            user.tenant,
            tenant.segment(),
            state.app.app_id
        ));
    }
    Ok(user)
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
