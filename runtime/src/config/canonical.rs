//! The one canonical form of a URI a browser is sent to (redirect URIs and allow-list entries):
//! the URI must be exactly what the WHATWG URL parser — the `url` crate, as browsers parse —
//! serialises it to. A URI the parser would rewrite is refused rather than silently changed, so
//! that what is registered, matched, shown on the consent page and redirected to is one string:
//! `https://claude.ai%2eevil.example/cb` (the parser decodes the host to `claude.ai.evil.example`),
//! a tab or a newline (dropped), a `\` (read as `/` in http(s) URLs) and an internationalised host
//! (turned into its `xn--` form) never pass for the URI they resemble
//! (<https://url.spec.whatwg.org/#concept-basic-url-parser>, RFC 6749 §3.1.2, RFC 8252 §8.4).
//!
//! An internationalised host is accepted only in its `xn--` (punycode) form, which is what the
//! consent page then shows.

/// Why a URI is not in canonical form; the message says what to send instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotCanonical {
    #[error("it contains a control character, a space or a `\\`, which browsers drop or rewrite")]
    Character,
    #[error(
        "it contains non-ASCII characters: write an internationalised host in its xn-- (punycode) form and \
         percent-encode the rest"
    )]
    NonAscii,
    #[error("it is not an absolute URI")]
    NotAUri,
    #[error("a browser would read it as {0:?}: send that form exactly")]
    Rewritten(String),
}

/// `uri` parsed, if it is in canonical form. One difference is tolerated: an `http(s)` URI with an
/// empty path, to which the parser adds the `/` every browser sends (`http://127.0.0.1:33418`).
pub(crate) fn canonical_uri(uri: &str) -> Result<url::Url, NotCanonical> {
    if uri.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'\\') {
        return Err(NotCanonical::Character);
    }
    if !uri.is_ascii() {
        return Err(NotCanonical::NonAscii);
    }
    let url = url::Url::parse(uri).map_err(|_| NotCanonical::NotAUri)?;
    let serialised = url.as_str();
    let root_added = matches!(url.scheme(), "http" | "https")
        && url.path() == "/"
        && url.query().is_none()
        && serialised.strip_suffix('/') == Some(uri);
    if serialised != uri && !root_added {
        return Err(NotCanonical::Rewritten(serialised.to_owned()));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_parser_rewrites_is_refused_and_named() {
        for (uri, read_as) in [
            ("https://claude.ai%2eevil.example/cb", "https://claude.ai.evil.example/cb"),
            ("https://\u{441}laude.ai/cb", ""),
            ("HTTPS://claude.ai/cb", "https://claude.ai/cb"),
            ("https://Claude.ai/cb", "https://claude.ai/cb"),
            ("https://claude.ai:443/cb", "https://claude.ai/cb"),
            ("https://claude.ai/a/../cb", "https://claude.ai/cb"),
            ("https://claude.ai/a/%2e%2e/cb", "https://claude.ai/cb"),
            ("https://claude.ai/c b", ""),
        ] {
            let refused = canonical_uri(uri).expect_err(uri);
            if !read_as.is_empty() {
                assert_eq!(refused, NotCanonical::Rewritten(read_as.to_owned()), "{uri}");
            }
        }
        for hidden in
            ["https://claude.ai\t.evil.example/cb", "https://claude.ai\n/cb", "https://a.example\\@b/cb"]
        {
            assert_eq!(canonical_uri(hidden), Err(NotCanonical::Character), "{hidden:?}");
        }
        assert_eq!(canonical_uri("https://\u{441}laude.ai/cb"), Err(NotCanonical::NonAscii));
        assert_eq!(canonical_uri("/relative"), Err(NotCanonical::NotAUri));
    }

    #[test]
    fn real_clients_redirect_uris_are_canonical() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "https://vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "com.example.app:/oauth2redirect",
            "https://global.consent.azure-apim.net/redirect/my-connector",
            "https://xn--laude-0ye.ai/cb",
            "https://app.example/cb?x=1",
        ] {
            assert!(canonical_uri(ok).is_ok(), "{ok}");
        }
        let url = canonical_uri("http://127.0.0.1:33418").expect("the root path is added, nothing else");
        assert_eq!(url.as_str(), "http://127.0.0.1:33418/");
    }
}
