//! The consent page: who asks, where the sign-in goes, what it may do; Allow or Deny.
//!
//! Stateless and bound to the browser that saw the page (the MCP specification's security best
//! practices, "Confused Deputy Problem"):
//! - `GET /authorize` puts the checked request, sealed with a 10-minute expiry, into the form, and
//!   binds it to a fresh random cookie (`mcp-consent-…`, `HttpOnly`, `SameSite=Lax`, `__Host-` and
//!   `Secure` over https): the sealed request holds the cookie's digest, so a form posted without
//!   the cookie (another browser, a cross-site form) is refused — CSRF protection without server
//!   state;
//! - `POST /authorize` also requires the browser's `Origin` to be this server's (or, without
//!   `Origin`, `Sec-Fetch-Site: same-origin`);
//! - "Remember" sets a sealed cookie (`mcp-approved-…`) for this client id, exact redirect URI and
//!   the scopes approved, living `consent_remember`; a request for a scope beyond them shows the
//!   page again. It lets a later request skip the page only when the browser says
//!   the navigation did not come from another site (`Sec-Fetch-Site`: `none`, `same-origin` or
//!   `same-site`); a link on another site always shows the page.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::{Reply, ResolvedClient, issuer, proceed};
use crate::endpoints::cookies::CookieJar;
use crate::endpoints::html::{self, Consent};
use crate::endpoints::params::{body_or_error, get, parse_pairs};
use crate::endpoints::seal::{Purpose, random};
use crate::endpoints::state::EndpointState;
use crate::oauth_error::ErrorCode;
use crate::primitives::digest::{same_digest, sha256_base64url as digest};

/// How long the consent page may wait for an answer.
const CONSENT_TTL: Duration = Duration::from_secs(600);
/// The consent page's CSRF cookie (suffixed per page).
const CSRF_COOKIE: &str = "mcp-consent-";
/// A remembered approval (suffixed per client and redirect URI).
const APPROVAL_COOKIE: &str = "mcp-approved-";

/// An authorization request waiting on the consent page, sealed into its form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Pending {
    #[serde(rename = "c")]
    pub(crate) client_id: String,
    #[serde(rename = "r")]
    pub(crate) redirect_uri: String,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
    /// The scopes, qualified for Entra.
    #[serde(rename = "p")]
    pub(crate) scope: String,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub(crate) code_challenge: Option<String>,
    /// What goes on to Entra as it is (broker: `prompt`, `login_hint`, `domain_hint`; enrol: the
    /// whole request, rewritten).
    #[serde(rename = "f", default)]
    pub(crate) forward: Vec<(String, String)>,
    /// The digest of this page's CSRF cookie.
    #[serde(rename = "k", default)]
    pub(crate) csrf: String,
}

/// A remembered approval.
#[derive(Serialize, Deserialize)]
struct Approval {
    /// The digest of the client id and redirect URI it approves.
    #[serde(rename = "a")]
    approved: String,
    /// The scopes approved, normalized ([`scope_set`]).
    #[serde(rename = "s", default)]
    scopes: Vec<String>,
}

impl Approval {
    /// Whether this approval is of `approved` (a client id and redirect URI) and covers every scope
    /// of `scope`.
    fn covers(&self, approved: &str, scope: &str) -> bool {
        same_digest(&self.approved, approved) && scope_set(scope).iter().all(|s| self.scopes.contains(s))
    }
}

/// A space-separated scope list as a set: lower case (Entra compares scopes without case), sorted,
/// each once.
fn scope_set(scope: &str) -> Vec<String> {
    let mut set: Vec<String> = scope.split_ascii_whitespace().map(str::to_ascii_lowercase).collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// What an approval is of: one client id and one exact redirect URI.
fn approval_of(client_id: &str, redirect_uri: &str) -> String {
    digest(&format!("{client_id}\n{redirect_uri}"))
}

/// A cookie name's suffix from a digest (16 of its characters: enough to keep pages and clients
/// apart, and the cookie's value is checked whole).
fn suffix(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

/// Whether the browser says this navigation did not come from another site (Fetch Metadata).
fn same_site_navigation(headers: &HeaderMap) -> bool {
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("none" | "same-origin" | "same-site")
    )
}

/// `GET /authorize` after the request checked out: on to Entra if this browser approved this
/// client and redirect URI before, else the consent page.
pub(super) async fn ask(
    state: &EndpointState,
    headers: &HeaderMap,
    base: &str,
    asker: &ResolvedClient,
    mut pending: Pending,
) -> Response {
    let Some(sealer) = &state.sealer else {
        return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "this server has no sealing key");
    };
    let jar = CookieJar::for_base(base);
    let now = state.now();
    let approval = approval_of(&pending.client_id, &pending.redirect_uri);
    let remembered = jar
        .get(headers, &format!("{APPROVAL_COOKIE}{}", suffix(&approval)))
        .and_then(|c| sealer.open::<Approval>(Purpose::Approval, c, now).ok())
        .is_some_and(|a| a.covers(&approval, &pending.scope));
    // `prompt` (OpenID Connect Core §3.1.2.1): `consent` asks for the page whatever was remembered,
    // `none` for no page at all.
    let prompt =
        |value: &str| pending.forward.iter().any(|(k, v)| k == "prompt" && v.split(' ').any(|p| p == value));
    if remembered && same_site_navigation(headers) && !prompt("consent") {
        tracing::debug!(client_id = %pending.client_id, "consent remembered by this browser");
        return proceed(state, base, pending).await;
    }
    if prompt("none") {
        let iss = issuer(&state.config, base);
        let reply = Reply {
            redirect_uri: &pending.redirect_uri,
            state: pending.state.as_deref(),
            iss: iss.as_deref(),
        };
        return reply.error(
            ErrorCode::ConsentRequired,
            "the user has not approved this application on this server yet",
        );
    }
    let nonce = random(32);
    pending.csrf = digest(&nonce);
    let sealed = sealer.seal(Purpose::Consent, &pending, now, Some(CONSENT_TTL));
    let server = url::Url::parse(base).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let remember_days = state.config.consent_remember().as_secs() / 86_400;
    let action = format!("{base}/authorize");
    let mut response = html::consent_page(&Consent {
        client_name: &asker.name,
        client_origin: asker.origin.clone(),
        redirect_uri: &pending.redirect_uri,
        server: &server,
        permissions: permissions(state, &pending.scope, &server),
        action: &action,
        request: &sealed,
        remember_days,
    });
    jar.set(response.headers_mut(), &format!("{CSRF_COOKIE}{}", suffix(&pending.csrf)), &nonce, CONSENT_TTL);
    response
}

/// The scopes in words.
fn permissions(state: &EndpointState, scope: &str, server: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in scope.split_ascii_whitespace() {
        out.push(match s {
            "openid" => "Sign you in".to_owned(),
            "profile" => "See your name and basic profile".to_owned(),
            "email" => "See your email address".to_owned(),
            "offline_access" => "Stay signed in, so you are not asked again each hour".to_owned(),
            other => {
                let name = other.rsplit('/').next().unwrap_or(other);
                if name == ".default" {
                    format!("Use {server} as you, with every permission its app registration has ({other})")
                } else if name == state.config.api_scope() {
                    format!("Use {server} and its tools as you ({name})")
                } else {
                    format!("Use {server} as you, with the permission {name}")
                }
            }
        });
    }
    out
}

/// `POST /authorize`: checks that the form came from this server's consent page in this browser,
/// then denies (back to the client with `access_denied`) or approves (on to Entra, remembering the
/// approval when asked).
pub(super) async fn decide(
    state: &EndpointState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let forbidden = |why: &str| html::error_page(StatusCode::FORBIDDEN, why);
    let base = state.config.public_base_url(headers);
    if !from_this_origin(headers, &base) {
        return forbidden("the consent form must be sent from this server's own consent page");
    }
    let Some(sealer) = &state.sealer else {
        return html::error_page(StatusCode::INTERNAL_SERVER_ERROR, "this server has no sealing key");
    };
    let form = match body_or_error(body, ErrorCode::InvalidRequest) {
        Ok(body) => std::str::from_utf8(&body).ok().and_then(|raw| parse_pairs(raw).ok()),
        Err(_) => None,
    };
    let Some(form) = form else {
        return html::error_page(StatusCode::BAD_REQUEST, "the consent form could not be read");
    };
    let now = state.now();
    let Some(pending) =
        get(&form, "request").and_then(|r| sealer.open::<Pending>(Purpose::Consent, r, now).ok())
    else {
        return html::error_page(
            StatusCode::BAD_REQUEST,
            "this consent page has expired or was altered: start the sign-in again from the application",
        );
    };
    let jar = CookieJar::for_base(&base);
    let csrf_cookie = format!("{CSRF_COOKIE}{}", suffix(&pending.csrf));
    let bound =
        jar.get(headers, &csrf_cookie).is_some_and(|nonce| same_digest(&digest(nonce), &pending.csrf));
    if !bound {
        return forbidden(
            "this consent page was not opened in this browser: start the sign-in again from the application",
        );
    }
    let iss = issuer(&state.config, &base);
    let reply =
        Reply { redirect_uri: &pending.redirect_uri, state: pending.state.as_deref(), iss: iss.as_deref() };
    let mut response = match get(&form, "decision") {
        Some("deny") => {
            tracing::info!(client_id = %pending.client_id, "the user denied the client");
            reply.error(ErrorCode::AccessDenied, "the user did not allow this application")
        }
        Some("allow") => {
            tracing::info!(client_id = %pending.client_id, "the user approved the client");
            let remember = state.config.consent_remember();
            let approval = (get(&form, "remember") == Some("yes") && !remember.is_zero()).then(|| Approval {
                approved: approval_of(&pending.client_id, &pending.redirect_uri),
                scopes: scope_set(&pending.scope),
            });
            let mut response = proceed(state, &base, pending).await;
            if let Some(approval) = approval {
                let sealed = sealer.seal(Purpose::Approval, &approval, now, Some(remember));
                jar.set(
                    response.headers_mut(),
                    &format!("{APPROVAL_COOKIE}{}", suffix(&approval.approved)),
                    &sealed,
                    remember,
                );
            }
            response
        }
        _ => return html::error_page(StatusCode::BAD_REQUEST, "the consent form's decision is missing"),
    };
    jar.remove(response.headers_mut(), &csrf_cookie);
    response
}

/// Whether a form post came from this server's own origin: its `Origin` header, or without one
/// (or with the opaque `null` some referrer policies and privacy settings send), the browser's own
/// `Sec-Fetch-Site: same-origin`, which no page can set.
fn from_this_origin(headers: &HeaderMap, base: &str) -> bool {
    let ours = url::Url::parse(base).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
    let same_origin_fetch =
        || headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("same-origin");
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some("null") | None => same_origin_fetch(),
        Some(origin) => origin.eq_ignore_ascii_case(&ours),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("ascii"));
        }
        h
    }

    #[test]
    fn only_this_origin_may_post_the_form() {
        let base = "https://mcp.example.com";
        assert!(from_this_origin(&headers(&[("origin", "https://mcp.example.com")]), base));
        assert!(from_this_origin(&headers(&[("sec-fetch-site", "same-origin")]), base));
        assert!(from_this_origin(&headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]), base));
        for other in [
            headers(&[("origin", "https://evil.example")]),
            headers(&[("origin", "null")]),
            headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]),
            headers(&[("origin", "https://evil.example"), ("sec-fetch-site", "same-origin")]),
            headers(&[("origin", "http://mcp.example.com")]),
            headers(&[("sec-fetch-site", "cross-site")]),
            headers(&[]),
        ] {
            assert!(!from_this_origin(&other, base), "{other:?}");
        }
        assert!(from_this_origin(
            &headers(&[("origin", "http://127.0.0.1:8000")]),
            "http://127.0.0.1:8000/prefix"
        ));
    }

    #[test]
    fn a_remembered_approval_covers_its_scopes_and_no_more() {
        let approved = approval_of("client", "https://app.example/cb");
        let approval = Approval {
            approved: approved.clone(),
            scopes: scope_set("openid api://app/access_as_user offline_access openid"),
        };
        assert!(approval.covers(&approved, "offline_access API://app/access_as_user"));
        assert!(approval.covers(&approved, "openid offline_access api://app/access_as_user"));
        assert!(!approval.covers(&approved, "api://app/access_as_user api://app/Files.ReadWrite"));
        assert!(!approval.covers(&approval_of("client", "https://app.example/other"), "openid"));
    }

    #[test]
    fn remembered_consent_applies_only_to_navigations_from_the_same_site() {
        for ok in ["none", "same-origin", "same-site"] {
            assert!(same_site_navigation(&headers(&[("sec-fetch-site", ok)])), "{ok}");
        }
        assert!(!same_site_navigation(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_site_navigation(&headers(&[])), "no Fetch Metadata: the page is shown");
    }
}
