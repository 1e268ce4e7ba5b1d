//! The consent page's cookies (RFC 6265): read from the `Cookie` header, written as `Set-Cookie`
//! with `HttpOnly`, `SameSite=Lax`, `Path=/`, and — when the public base URL is https — `Secure`
//! and the `__Host-` prefix (RFC 6265bis §4.1.3.2: no `Domain`, so no sibling host can set or read
//! them).

use std::time::Duration;

use http::{HeaderMap, HeaderValue, header};

/// How cookies are named and flagged for one public base URL.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CookieJar {
    secure: bool,
}

impl CookieJar {
    /// The jar for a public base URL: `Secure` and `__Host-` when it is https.
    pub(crate) fn for_base(base: &str) -> Self {
        Self { secure: base.starts_with("https://") }
    }

    /// The name a cookie called `name` has on the wire.
    pub(crate) fn name(self, name: &str) -> String {
        if self.secure { format!("__Host-{name}") } else { name.to_owned() }
    }

    /// The value of the cookie `name` in the request, if it holds exactly one.
    pub(crate) fn get<'h>(self, headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
        let wanted = self.name(name);
        let mut found = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| *k == wanted)
            .map(|(_, v)| v.trim());
        let value = found.next()?;
        // Two cookies of one name (another path, an injected one): trust neither.
        found.next().is_none().then_some(value)
    }

    /// `Set-Cookie` for `name=value` living `max_age` (zero deletes it). `value` must be a cookie
    /// octet string (base64url, hex); anything else is not set.
    pub(crate) fn set(self, headers: &mut HeaderMap, name: &str, value: &str, max_age: Duration) {
        if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
            return;
        }
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
            self.name(name),
            max_age.as_secs()
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, v);
        }
    }

    /// `Set-Cookie` that deletes `name`.
    pub(crate) fn remove(self, headers: &mut HeaderMap, name: &str) {
        self.set(headers, name, "", Duration::ZERO);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(value).expect("ascii"));
        h
    }

    #[test]
    fn https_cookies_are_host_only_and_secure() {
        let jar = CookieJar::for_base("https://mcp.example.com");
        let mut h = HeaderMap::new();
        jar.set(&mut h, "mcp-consent", "abc_-.1", Duration::from_secs(600));
        assert_eq!(
            h[header::SET_COOKIE],
            "__Host-mcp-consent=abc_-.1; Path=/; Max-Age=600; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(jar.get(&cookies("a=1; __Host-mcp-consent=xyz"), "mcp-consent"), Some("xyz"));
        assert_eq!(
            jar.get(&cookies("mcp-consent=xyz"), "mcp-consent"),
            None,
            "the unprefixed name is not read"
        );
    }

    #[test]
    fn http_cookies_have_no_prefix_and_duplicates_are_refused() {
        let jar = CookieJar::for_base("http://127.0.0.1:8000");
        let mut h = HeaderMap::new();
        jar.set(&mut h, "c", "v", Duration::from_secs(1));
        jar.remove(&mut h, "d");
        let set: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            set,
            [
                "c=v; Path=/; Max-Age=1; HttpOnly; SameSite=Lax",
                "d=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
            ]
        );
        assert_eq!(jar.get(&cookies("c=1; c=2"), "c"), None);
        assert_eq!(jar.get(&cookies("cc=1;c=2"), "c"), Some("2"));
        let mut h = HeaderMap::new();
        jar.set(&mut h, "c", "v; Domain=evil", Duration::from_secs(1));
        assert!(h.is_empty(), "a value that is not a cookie octet string is never set");
    }
}
