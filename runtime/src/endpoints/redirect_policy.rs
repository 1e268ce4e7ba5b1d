//! The redirect URI policy, in one place:
//! - the operator's allow-list (exact entries, loopback entries with any port, prefixes, the
//!   server's own callback), why one is refused, whether one is known to the app registration and
//!   the platform it is redeemed as (Entra's rules: the enrol mode writes these URIs to the app);
//! - the broker's clients' redirect URIs, which never reach Entra: RFC 8252 / OAuth 2.1 rules
//!   ([`client_redirect_uri`]) and matching ([`client_redirect_matches`]).

use crate::config::{AzureOAuthConfig, canonical_uri, rules};
use crate::graph::{EnrolBudget, GraphClient, RedirectPlatform, loopback_key, redirect_matches};

/// Whether the configuration allows `uri` as a redirect URI: the server's own callback, an exact
/// entry of `ALLOWED_REDIRECT_URIS` (loopback entries with any port, as Entra matches them), or a
/// URI under an `ALLOWED_REDIRECT_URI_PREFIXES` entry without dot segments. Only a URI in
/// canonical form ([`canonical_uri`]) is allowed: what matched is what a browser goes to.
pub(crate) fn allowed_by_config(config: &AzureOAuthConfig, uri: &str) -> bool {
    if canonical_uri(uri).is_err() {
        return false;
    }
    if config.callback_url().as_deref() == Some(uri) {
        return true;
    }
    if config.allowed_redirect_uris().iter().any(|allowed| redirect_matches(allowed, uri)) {
        return true;
    }
    config.allowed_redirect_uri_prefixes().iter().any(|prefix| {
        uri.strip_prefix(prefix.as_str()).is_some_and(|rest| !rest.is_empty() && safe_suffix(rest))
    })
}

/// Whether the operator configured an allow-list (exact URIs or prefixes). When one is, it
/// narrows every client's redirect URIs, at registration and at every authorization.
pub(crate) fn operator_list(config: &AzureOAuthConfig) -> bool {
    !config.allowed_redirect_uris().is_empty() || !config.allowed_redirect_uri_prefixes().is_empty()
}

/// Whether the operator's allow-list, when there is one, allows `uri` as a client's redirect URI.
/// The callers have checked the URI's form already ([`client_redirect_uri`] at registration, the
/// canonical form at `/authorize`).
pub(crate) fn operator_allows(config: &AzureOAuthConfig, uri: &str) -> bool {
    !operator_list(config) || allowed_by_config(config, uri)
}

/// The part after a prefix is made only of RFC 3986 path and query characters (no `\`, white space
/// or control character, which browsers rewrite or drop), and has no `.` / `..` segment, encoded or
/// not, nor an encoded `/` or `\`, so that a browser cannot resolve it outside the prefix.
fn safe_suffix(rest: &str) -> bool {
    let plain = rest.bytes().all(|b| rules::is_pchar(b) || matches!(b, b'/' | b'?' | b'%'));
    let lower = rest.to_ascii_lowercase();
    let path = lower.split('?').next().unwrap_or("");
    plain
        && !path.contains("%2e")
        && !path.contains("%2f")
        && !path.contains("%5c")
        && path.split('/').all(|segment| segment != "." && segment != "..")
}

/// The budget within which `POST /register` (enrol mode) writes `uri` to the app registration: the
/// total cap for every URI, and the per-prefix cap for one admitted by a prefix rather than an
/// exact entry; none for the server's own callback.
pub(crate) fn enrol_budget(config: &AzureOAuthConfig, uri: &str) -> Option<EnrolBudget> {
    if config.callback_url().as_deref() == Some(uri) {
        return None;
    }
    let exact = config.allowed_redirect_uris().iter().any(|allowed| redirect_matches(allowed, uri));
    let prefix = config
        .allowed_redirect_uri_prefixes()
        .iter()
        .find(|prefix| !exact && uri.starts_with(prefix.as_str()))
        .map(|prefix| (prefix.clone(), config.enrol_max_per_prefix()));
    Some(EnrolBudget { prefix, total: config.enrol_max_total() })
}

/// Why a redirect URI is refused, in words an operator can act on.
pub(crate) fn refusal(config: &AzureOAuthConfig, uri: &str) -> Option<String> {
    if let Err(rule) = rules::redirect_uri(uri) {
        return Some(format!("redirect URI {uri:?} would be refused by Entra ID: {rule}"));
    }
    if let Err(why) = canonical_uri(uri) {
        return Some(format!("redirect URI {uri:?} is not in canonical form: {why}"));
    }
    if allowed_by_config(config, uri) {
        return None;
    }
    let hint = if loopback_key(uri).is_some() {
        " (loopback URIs match any port, so one entry such as http://127.0.0.1/ admits every port of that path)"
    } else {
        ""
    };
    Some(format!(
        "redirect URI {uri:?} is not allowed on this server: the operator must add it to ALLOWED_REDIRECT_URIS, or a prefix of it such as https://host/path/ to ALLOWED_REDIRECT_URI_PREFIXES{hint}"
    ))
}

/// Whether the redirect URI may be used with this app (enrol mode): in canonical form, and allowed
/// by the operator's allow-list when there is one (so that tightening it applies at once, to URIs
/// enrolled before too), else enrolled on the app registration (as Graph reports it).
pub(crate) async fn redirect_known(config: &AzureOAuthConfig, graph: &GraphClient, uri: &str) -> bool {
    if canonical_uri(uri).is_err() {
        return false;
    }
    if allowed_by_config(config, uri) {
        return true;
    }
    if operator_list(config) {
        return false;
    }
    match graph.redirect_uris().await {
        Ok(uris) => uris.platform_of(uri).is_some(),
        Err(_) => false,
    }
}

/// The platform the redirect URI is enrolled on: as Graph reports it (read at most once a
/// minute), else as this server enrols URIs the configuration allows; `None` when unknown.
pub(crate) async fn redirect_platform(
    config: &AzureOAuthConfig,
    graph: &GraphClient,
    uri: &str,
) -> Option<RedirectPlatform> {
    if rules::redirect_uri(uri).is_err() {
        return None;
    }
    if let Ok(uris) = graph.redirect_uris().await
        && let Some(platform) = uris.platform_of(uri)
    {
        return Some(platform);
    }
    allowed_by_config(config, uri).then(|| RedirectPlatform::for_uri(config, uri))
}

/// Schemes a redirect URI may never use: they run code, read files or are not navigations.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "vbscript",
    "file",
    "about",
    "blob",
    "filesystem",
    "ws",
    "wss",
    "ftp",
    "mailto",
    "tel",
];

/// Longest redirect URI a client may register with the broker.
const MAX_CLIENT_REDIRECT_URI: usize = 2000;

/// Whether `uri` may be a broker client's redirect URI, for a client of `application_type`
/// (`web`, `native`, or not given), by RFC 8252 and OAuth 2.1 (and OpenID Connect Dynamic
/// Registration for `application_type`):
/// - `https` with a host and no user information;
/// - `http` only on a loopback host (`127.0.0.1`, `[::1]`, `localhost`), for native clients;
/// - a private-use scheme (`com.example.app:/cb`, `cursor://…`) for native clients, never one that
///   runs code or reads files (`javascript:`, `data:`, `file:` …);
/// - never a fragment or a wildcard. `web` clients may use `https` on a non-loopback host only.
///
/// The error says what is wrong, for `error_description`.
pub(crate) fn client_redirect_uri(uri: &str, application_type: Option<&str>) -> Result<(), String> {
    let refuse = |why: &str| Err(format!("redirect URI {uri:?} is not acceptable: {why}"));
    if uri.len() > MAX_CLIENT_REDIRECT_URI {
        return refuse("it is longer than 2000 characters");
    }
    if let Err(why) = canonical_uri(uri) {
        return refuse(&format!("it is not in canonical form: {why}"));
    }
    if uri.contains('#') {
        return refuse("a redirect URI must not have a fragment (RFC 6749 §3.1.2)");
    }
    if uri.contains('*') {
        return refuse("wildcards are not allowed: register every redirect URI in full");
    }
    let Ok(url) = url::Url::parse(uri) else { return refuse("it is not an absolute URI") };
    let web = application_type == Some("web");
    if matches!(url.scheme(), "http" | "https")
        && !uri
            .get(url.scheme().len()..)
            .is_some_and(|rest| rest.starts_with("://") && !rest[3..].starts_with('/'))
    {
        return refuse("an http(s) redirect URI is scheme://host/path");
    }
    match url.scheme() {
        "https" => {
            if url.host().is_none() {
                return refuse("an https redirect URI needs a host");
            }
            if !url.username().is_empty() || url.password().is_some() {
                return refuse("a redirect URI must not carry user information");
            }
            if web && loopback_host(&url) {
                return refuse(
                    "a web client's redirect URI must not be a loopback address (register it as native)",
                );
            }
            Ok(())
        }
        "http" if loopback_host(&url) => {
            if web {
                return refuse(
                    "a web client must use https (loopback http is for native clients, RFC 8252 §7.3)",
                );
            }
            Ok(())
        }
        "http" => refuse("http is allowed only on loopback (127.0.0.1, [::1], localhost): use https"),
        scheme if FORBIDDEN_SCHEMES.contains(&scheme) => refuse("this scheme cannot be a redirect URI"),
        _ if web => refuse("a web client must use https (private-use schemes are for native clients)"),
        _ => Ok(()),
    }
}

/// Whether the URL's host is a loopback one.
fn loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether a request's redirect URI matches one a broker client registered: the same string, or
/// for a loopback `http` URI the same but for the port, which a native client picks when it
/// starts (RFC 8252 §7.3, OAuth 2.1 §4.1.1: the registered one may have any port or none).
pub(crate) fn client_redirect_matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(mut a), Ok(mut b)) = (url::Url::parse(registered), url::Url::parse(requested)) else {
        return false;
    };
    if a.scheme() != "http" || !loopback_host(&a) || a.host() != b.host() || b.scheme() != "http" {
        return false;
    }
    // Ports set to the same value; everything else compared as serialised.
    a.set_port(None).is_ok() && b.set_port(None).is_ok() && a.as_str() == b.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AzureOAuthConfig {
        crate::fixtures::with_allow_lists()
    }

    #[test]
    fn allow_list_exact_loopback_prefix_and_own_callback() {
        let c = config();
        assert!(allowed_by_config(&c, "https://vscode.dev/redirect"));
        assert!(allowed_by_config(&c, "http://127.0.0.1:5555/"), "loopback port ignored");
        assert!(allowed_by_config(&c, "http://127.0.0.1/"));
        assert!(allowed_by_config(&c, "https://global.consent.azure-apim.net/redirect/my-connector"));
        assert!(allowed_by_config(&c, "https://mcp.example.com/oauth/callback"));
        for refused in [
            "https://vscode.dev/redirect/",
            "http://localhost:5555/",
            "http://127.0.0.1:5555/other",
            "https://global.consent.azure-apim.net/redirect/",
            "https://global.consent.azure-apim.net/redirect/../evil",
            "https://global.consent.azure-apim.net/redirect/%2e%2e/evil",
            "https://global.consent.azure-apim.net/redirectx",
            "https://evil.example/oauth/callback",
            "https://global.consent.azure-apim.net/redirect/..\\x",
            "https://global.consent.azure-apim.net/redirect/.\t./x",
            "https://global.consent.azure-apim.net/redirect/a\n/../../x",
            "https://global.consent.azure-apim.net/redirect/a%5c..%5cx",
            "https://global.consent.azure-apim.net/redirect/a b",
        ] {
            assert!(!allowed_by_config(&c, refused), "{refused:?}");
        }
    }

    #[test]
    fn refusals_name_the_uri_the_rule_and_the_variable() {
        let c = config();
        let why = refusal(&c, "http://[::1]:8080/cb").expect("refused");
        assert!(why.contains("[::1]") && why.contains("Entra"), "{why}");
        let why = refusal(&c, "https://claude.ai/api/mcp/auth_callback").expect("refused");
        assert!(why.contains("ALLOWED_REDIRECT_URIS") && why.contains("claude.ai"), "{why}");
        assert_eq!(refusal(&c, "https://vscode.dev/redirect"), None);
    }

    #[test]
    fn broker_client_redirect_uris_follow_rfc_8252() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "http://127.0.0.1/callback",
            "http://[::1]:5000/cb",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/oauth2redirect",
            "https://global.consent.azure-apim.net/redirect/my-connector",
        ] {
            assert_eq!(client_redirect_uri(ok, None), Ok(()), "{ok}");
            assert_eq!(client_redirect_uri(ok, Some("native")), Ok(()), "native: {ok}");
        }
        for bad in [
            "http://example.com/cb",
            "http://10.0.0.1/cb",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "https://user:pw@app.example.com/cb",
            "/relative/cb",
            "https:///nohost",
        ] {
            assert!(client_redirect_uri(bad, None).is_err(), "{bad}");
        }
        assert!(client_redirect_uri("https://claude.ai/api/mcp/auth_callback", Some("web")).is_ok());
        for not_web in
            ["http://127.0.0.1:1/cb", "https://127.0.0.1/cb", "cursor://x/cb", "https://localhost/cb"]
        {
            assert!(client_redirect_uri(not_web, Some("web")).is_err(), "web: {not_web}");
        }
        let long = format!("https://a.example/{}", "x".repeat(2000));
        assert!(client_redirect_uri(&long, None).is_err());
    }

    #[test]
    fn loopback_redirect_uris_match_whatever_their_port() {
        assert!(client_redirect_matches("http://127.0.0.1/callback", "http://127.0.0.1:49152/callback"));
        assert!(client_redirect_matches("http://127.0.0.1:33418/", "http://127.0.0.1:5555/"));
        assert!(client_redirect_matches("http://[::1]:1/cb", "http://[::1]:2/cb"));
        assert!(client_redirect_matches("http://localhost/callback", "http://localhost:8080/callback"));
        assert!(!client_redirect_matches("http://localhost/callback", "http://127.0.0.1:8080/callback"));
        assert!(!client_redirect_matches("http://127.0.0.1/callback", "http://127.0.0.1:1/other"));
        assert!(!client_redirect_matches("http://127.0.0.1/cb", "https://127.0.0.1:1/cb"));
        assert!(!client_redirect_matches("https://app.example/cb", "https://app.example:444/cb"));
        assert!(!client_redirect_matches("https://app.example/cb", "https://app.example/cb/"));
        assert!(client_redirect_matches("https://app.example/cb", "https://app.example/cb"));
        assert!(!client_redirect_matches("http://127.0.0.1/cb?a=1", "http://127.0.0.1:9/cb?a=2"));
    }
}
