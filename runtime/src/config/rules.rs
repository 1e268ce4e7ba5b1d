//! The configuration rules, each a `const fn`: the one source of truth for what a valid value is.
//!
//! [`AzureOAuthConfigBuilder`](super::AzureOAuthConfigBuilder) calls them at run time, and the macros
//! emit `const` items that call them, so a bad literal or `env!(…)` value fails the build with the
//! same message. Each rule returns a [`RuleError`] whose [`message`](RuleError::message) says what a
//! valid value looks like.
//!
//! ```
//! use axum_mcp_azure_oauth::config::rules;
//!
//! const _: () = assert!(rules::guid("11111111-2222-3333-4444-555555555555").is_ok());
//! assert!(rules::redirect_uri("http://[::1]:8080/cb").is_err());
//! ```

/// Why a value broke a rule. [`RuleError::message`] explains it and shows a valid value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    /// Not a GUID in its 8-4-4-4-12 hexadecimal form.
    Guid,
    /// Not an RFC 6749 §3.3 scope-token.
    ScopeToken,
    /// A scope name under `api://{app_id}/` contains `/` or is the `.default` designator.
    ScopeName,
    /// Not an absolute path such as `/mcp`.
    ResourcePath,
    /// Not `https://host[:port][/path]` (or `http` on a loopback host).
    BaseUrl,
    /// A scheme or host written with upper-case letters.
    UpperCase,
    /// Longer than Entra's 256-character limit for redirect URIs.
    RedirectUriTooLong,
    /// Contains one of the characters Entra refuses in redirect URIs.
    RedirectUriCharacter,
    /// Has a fragment (`#…`).
    RedirectUriFragment,
    /// Uses `http` on a host other than `localhost` or `127.0.0.1`.
    RedirectUriInsecureHttp,
    /// Uses the IPv6 loopback `[::1]`, which Entra does not support.
    RedirectUriIpv6Loopback,
    /// Not `https://…`, loopback `http://…`, or a custom scheme such as `cursor://…`.
    RedirectUriShape,
    /// A wildcard (`*`), which Entra does not allow in these redirect URIs.
    RedirectUriWildcard,
    /// A redirect prefix that is not `https://host/path/` ending in `/`.
    RedirectPrefix,
    /// A tenant list entry that is not a GUID, or `*` mixed with GUIDs.
    TenantList,
    /// An App ID URI that is not `api://…` or `https://…`, or names a scope (`/.default`).
    AppIdUri,
    /// A URI that a browser would read as another string (see the run-time check of the builder).
    NotCanonical,
    /// A file path with a control character, or surrounding white space.
    FilePath,
    /// Not an absolute `http://` or `https://` URL without user info or fragment.
    EndpointUrl,
    /// An empty value.
    Empty,
}

impl RuleError {
    /// What is wrong and what a valid value looks like; usable in `const` panics.
    pub const fn message(self) -> &'static str {
        match self {
            Self::Guid => {
                "expected a GUID such as 11111111-2222-3333-4444-555555555555 (8-4-4-4-12 hexadecimal digits)"
            }
            Self::ScopeToken => {
                "expected an OAuth scope token (RFC 6749 §3.3): visible ASCII without spaces, `\"` or `\\`, such as access_as_user"
            }
            Self::ScopeName => {
                "expected the bare scope name exposed by the app, such as access_as_user (no `/`, not `.default`)"
            }
            Self::ResourcePath => {
                "expected an absolute path such as /mcp: starts with `/`, no trailing `/`, no `//`, `.` or `..` segments, no query or fragment"
            }
            Self::BaseUrl => {
                "expected https://host[:port][/path] with no query, fragment or user info (plain http only on localhost, 127.0.0.1 or [::1])"
            }
            Self::UpperCase => "write the scheme and host in lower case, e.g. https://mcp.example.com",
            Self::RedirectUriTooLong => "Entra refuses redirect URIs longer than 256 characters",
            Self::RedirectUriCharacter => {
                "Entra refuses the characters ! $ ' ( ) , ; and spaces in redirect URIs; percent-encode them"
            }
            Self::RedirectUriFragment => "a redirect URI cannot have a fragment (`#…`)",
            Self::RedirectUriInsecureHttp => {
                "Entra accepts http:// redirect URIs only on localhost or 127.0.0.1; use https://"
            }
            Self::RedirectUriIpv6Loopback => {
                "Entra does not support [::1] in redirect URIs; use http://127.0.0.1 or http://localhost"
            }
            Self::RedirectUriShape => {
                "expected https://host/path, http://localhost:port/path, http://127.0.0.1:port/path, or a custom scheme such as cursor://host/path"
            }
            Self::RedirectUriWildcard => "Entra does not allow wildcards (`*`) in these redirect URIs",
            Self::RedirectPrefix => {
                "expected an https prefix with a path that ends in `/`, such as https://global.consent.azure-apim.net/redirect/"
            }
            Self::TenantList => {
                "expected `*` (any tenant) or comma-separated tenant GUIDs such as 11111111-2222-3333-4444-555555555555"
            }
            Self::AppIdUri => {
                "expected an App ID URI such as api://my-api or https://contoso.com/my-api (not a scope like …/.default)"
            }
            Self::NotCanonical => {
                "expected the URI exactly as a browser reads it: lower-case scheme and host, no default port, no `.` or `..` segments, no percent-encoded host characters, an internationalised host in its xn-- form"
            }
            Self::FilePath => {
                "expected a file path such as /var/run/secrets/app.pem: no control characters, no surrounding white space"
            }
            Self::EndpointUrl => {
                "expected an http:// or https:// URL such as http://169.254.169.254/metadata/identity/oauth2/token, with no user info or fragment"
            }
            Self::Empty => "the value is empty",
        }
    }
}

impl core::fmt::Display for RuleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for RuleError {}

const fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// `bytes[start..end]` equals `lit`, ASCII case-sensitively.
const fn eq_at(bytes: &[u8], start: usize, lit: &[u8]) -> bool {
    if start + lit.len() > bytes.len() {
        return false;
    }
    let mut i = 0;
    while i < lit.len() {
        if bytes[start + i] != lit[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn starts_with(bytes: &[u8], lit: &[u8]) -> bool {
    eq_at(bytes, 0, lit)
}

const fn ends_with(bytes: &[u8], lit: &[u8]) -> bool {
    bytes.len() >= lit.len() && eq_at(bytes, bytes.len() - lit.len(), lit)
}

/// Position of the first `b` in `bytes[from..to]`, or `to`.
const fn find(bytes: &[u8], from: usize, to: usize, b: u8) -> usize {
    let mut i = from;
    while i < to {
        if bytes[i] == b {
            return i;
        }
        i += 1;
    }
    to
}

/// A tenant or app id: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hexadecimal, either case.
pub const fn guid(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    if b.len() != 36 {
        return Err(RuleError::Guid);
    }
    let mut i = 0;
    while i < 36 {
        let ok = match i {
            8 | 13 | 18 | 23 => b[i] == b'-',
            _ => is_hex(b[i]),
        };
        if !ok {
            return Err(RuleError::Guid);
        }
        i += 1;
    }
    Ok(())
}

/// One RFC 6749 §3.3 `scope-token`: `1*( %x21 / %x23-5B / %x5D-7E )`.
pub const fn scope_token(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E)) {
            return Err(RuleError::ScopeToken);
        }
        i += 1;
    }
    Ok(())
}

/// The name of a scope the app exposes (the part after `api://{app_id}/`), such as `access_as_user`.
pub const fn scope_name(s: &str) -> Result<(), RuleError> {
    if let Err(e) = scope_token(s) {
        return Err(e);
    }
    let b = s.as_bytes();
    if find(b, 0, b.len(), b'/') != b.len() || eq_at(b, 0, b".default") && b.len() == 8 {
        return Err(RuleError::ScopeName);
    }
    Ok(())
}

/// RFC 3986 `pchar` without `%` (checked separately) and `/`.
pub(crate) const fn is_pchar(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
        )
}

/// Checks `b[from..to]` as an absolute path: segments of pchar / pct-encoded, no empty, `.` or `..`
/// segment. `allow_trailing_slash` permits one final `/`.
const fn path(b: &[u8], from: usize, to: usize, allow_trailing_slash: bool) -> bool {
    if from >= to || b[from] != b'/' {
        return false;
    }
    let mut seg_start = from + 1;
    let mut i = from + 1;
    while i <= to {
        if i == to || b[i] == b'/' {
            let len = i - seg_start;
            let last = i == to;
            if len == 0 && !(last && allow_trailing_slash && to - from > 1) && !(last && to - from == 1) {
                return false;
            }
            if (len == 1 && b[seg_start] == b'.')
                || (len == 2 && b[seg_start] == b'.' && b[seg_start + 1] == b'.')
            {
                return false;
            }
            seg_start = i + 1;
        } else if b[i] == b'%' {
            if i + 2 >= to || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                return false;
            }
            i += 2;
        } else if !is_pchar(b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// The path of the protected MCP endpoint, such as `/mcp`: absolute, not `/`, no trailing `/`.
pub const fn resource_path(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    if b.len() < 2 || !path(b, 0, b.len(), false) {
        return Err(RuleError::ResourcePath);
    }
    Ok(())
}

/// Where the authority (scheme, host, port) ends: the first `/`, `?` or `#` after `start`.
const fn authority_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < b.len() {
        if b[i] == b'/' || b[i] == b'?' || b[i] == b'#' {
            return i;
        }
        i += 1;
    }
    b.len()
}

/// The kind of host in `b[from..to]` (an authority without user info).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Host {
    Invalid,
    UpperCase,
    Name,
    Localhost,
    Ipv4Loopback,
    Ipv6Loopback,
    Ipv6Other,
}

/// Parses `host[:port]` in `b[from..to]`.
const fn host(b: &[u8], from: usize, to: usize) -> Host {
    if from >= to {
        return Host::Invalid;
    }
    // Split off the port.
    let (host_end, port_start) = if b[from] == b'[' {
        let close = find(b, from, to, b']');
        if close == to {
            return Host::Invalid;
        }
        if close + 1 == to {
            (close + 1, to)
        } else if b[close + 1] == b':' {
            (close + 1, close + 2)
        } else {
            return Host::Invalid;
        }
    } else {
        let colon = find(b, from, to, b':');
        if colon == to { (to, to) } else { (colon, colon + 1) }
    };
    if port_start < to || (host_end < to && port_start == to && b[host_end] == b':') {
        // A port was written: 1 to 5 digits, at most 65535, no leading zero (`:00080` would be
        // another spelling of `:80`, and a way to vary a URI without changing what it means).
        let digits = to - port_start;
        if digits == 0 || digits > 5 || b[port_start] == b'0' {
            return Host::Invalid;
        }
        let mut value: u32 = 0;
        let mut i = port_start;
        while i < to {
            if !b[i].is_ascii_digit() {
                return Host::Invalid;
            }
            value = value * 10 + (b[i] - b'0') as u32;
            i += 1;
        }
        if value == 0 || value > 65535 {
            return Host::Invalid;
        }
    }
    if b[from] == b'[' {
        if host_end - from == 5 && eq_at(b, from, b"[::1]") {
            return Host::Ipv6Loopback;
        }
        let mut i = from + 1;
        while i < host_end - 1 {
            let c = b[i];
            if c.is_ascii_uppercase() {
                return Host::UpperCase;
            }
            if !(is_hex(c) || c == b':' || c == b'.') {
                return Host::Invalid;
            }
            i += 1;
        }
        return Host::Ipv6Other;
    }
    if host_end == from {
        return Host::Invalid;
    }
    let mut i = from;
    let mut upper = false;
    while i < host_end {
        let c = b[i];
        if c.is_ascii_uppercase() {
            upper = true;
        } else if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
            return Host::Invalid;
        }
        i += 1;
    }
    if upper {
        return Host::UpperCase;
    }
    if b[from] == b'.' || b[from] == b'-' || b[host_end - 1] == b'-' {
        return Host::Invalid;
    }
    if host_end - from == 9 && eq_at(b, from, b"localhost") {
        return Host::Localhost;
    }
    if ipv4_loopback(b, from, host_end) {
        return Host::Ipv4Loopback;
    }
    Host::Name
}

/// `127.x.y.z` with each part a decimal number from 0 to 255.
const fn ipv4_loopback(b: &[u8], from: usize, to: usize) -> bool {
    if !eq_at(b, from, b"127.") {
        return false;
    }
    let mut parts = 1;
    let mut i = from + 4;
    let mut value: u32 = 0;
    let mut digits = 0;
    while i <= to {
        if i == to || b[i] == b'.' {
            if digits == 0 || value > 255 {
                return false;
            }
            parts += 1;
            value = 0;
            digits = 0;
        } else if b[i].is_ascii_digit() {
            value = value * 10 + (b[i] - b'0') as u32;
            digits += 1;
            if digits > 3 {
                return false;
            }
        } else {
            return false;
        }
        i += 1;
    }
    parts == 4
}

/// The public base URL of the server (also the shape of the authority host and the Graph endpoint):
/// `https://host[:port][/path]`, or `http` on a loopback host; lower-case scheme and host; no user
/// info, query or fragment; an optional trailing `/`.
pub const fn base_url(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    let (start, https) = if starts_with(b, b"https://") {
        (8, true)
    } else if starts_with(b, b"http://") {
        (7, false)
    } else if b.len() > 8 && (eq_ignore_case(b, 0, b"https://") || eq_ignore_case(b, 0, b"http://")) {
        return Err(RuleError::UpperCase);
    } else {
        return Err(RuleError::BaseUrl);
    };
    let end = authority_end(b, start);
    if find(b, start, end, b'@') != end {
        return Err(RuleError::BaseUrl);
    }
    let kind = host(b, start, end);
    match kind {
        Host::Invalid => return Err(RuleError::BaseUrl),
        Host::UpperCase => return Err(RuleError::UpperCase),
        Host::Name | Host::Ipv6Other if !https => return Err(RuleError::BaseUrl),
        _ => {}
    }
    if end < b.len() && !path(b, end, b.len(), true) {
        return Err(RuleError::BaseUrl);
    }
    Ok(())
}

/// ASCII case-insensitive comparison of `b[start..]` with a lower-case `lit`.
const fn eq_ignore_case(b: &[u8], start: usize, lit: &[u8]) -> bool {
    if start + lit.len() > b.len() {
        return false;
    }
    let mut i = 0;
    while i < lit.len() {
        if b[start + i].to_ascii_lowercase() != lit[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The scheme `b[..colon]` is `lit`.
const fn scheme_is(b: &[u8], colon: usize, lit: &[u8]) -> bool {
    colon == lit.len() && eq_at(b, 0, lit)
}

/// A redirect URI a client may register, by Entra's rules: at most 256 characters; `https`, `http`
/// only on `localhost` or `127.0.0.1` (any port), or a custom scheme for native clients
/// (`cursor://…`); never `[::1]`, a fragment, a wildcard or any of `! $ ' ( ) , ;`.
pub const fn redirect_uri(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    if b.len() > 256 {
        return Err(RuleError::RedirectUriTooLong);
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'!' | b'$' | b'\'' | b'(' | b')' | b',' | b';' | b' ' | b'"' | b'<' | b'>' | b'\\' | b'^'
            | b'`' | b'{' | b'|' | b'}' => return Err(RuleError::RedirectUriCharacter),
            b'#' => return Err(RuleError::RedirectUriFragment),
            b'*' => return Err(RuleError::RedirectUriWildcard),
            c if c < 0x21 || c > 0x7E => return Err(RuleError::RedirectUriCharacter),
            _ => {}
        }
        i += 1;
    }
    // The scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":".
    let colon = find(b, 0, b.len(), b':');
    if colon == 0 || colon == b.len() || !b[0].is_ascii_alphabetic() {
        return Err(RuleError::RedirectUriShape);
    }
    let mut upper = false;
    i = 0;
    while i < colon {
        let c = b[i];
        if c.is_ascii_uppercase() {
            upper = true;
        } else if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.') {
            return Err(RuleError::RedirectUriShape);
        }
        i += 1;
    }
    if upper {
        return Err(RuleError::UpperCase);
    }
    if scheme_is(b, colon, b"https") || scheme_is(b, colon, b"http") {
        if !eq_at(b, colon, b"://") {
            return Err(RuleError::RedirectUriShape);
        }
        let start = colon + 3;
        let end = authority_end(b, start);
        if find(b, start, end, b'@') != end {
            return Err(RuleError::RedirectUriShape);
        }
        let kind = host(b, start, end);
        match kind {
            Host::Invalid => return Err(RuleError::RedirectUriShape),
            Host::UpperCase => return Err(RuleError::UpperCase),
            Host::Ipv6Loopback => return Err(RuleError::RedirectUriIpv6Loopback),
            Host::Localhost => {}
            Host::Ipv4Loopback => {
                // Entra's loopback exception names 127.0.0.1 only.
                let is_127_0_0_1 = end - start >= 9
                    && eq_at(b, start, b"127.0.0.1")
                    && (end - start == 9 || b[start + 9] == b':');
                if !is_127_0_0_1 && !scheme_is(b, colon, b"https") {
                    return Err(RuleError::RedirectUriInsecureHttp);
                }
            }
            Host::Name | Host::Ipv6Other => {
                if !scheme_is(b, colon, b"https") {
                    return Err(RuleError::RedirectUriInsecureHttp);
                }
            }
        }
        Ok(())
    } else if scheme_is(b, colon, b"javascript")
        || scheme_is(b, colon, b"data")
        || scheme_is(b, colon, b"file")
        || scheme_is(b, colon, b"vbscript")
    {
        Err(RuleError::RedirectUriShape)
    } else if colon + 1 < b.len() {
        // A custom scheme (native clients): something must follow the colon.
        Ok(())
    } else {
        Err(RuleError::RedirectUriShape)
    }
}

/// A redirect URI prefix (for clients whose URI varies, such as Copilot Studio's
/// `https://global.consent.azure-apim.net/redirect/`): a valid `https` redirect URI whose path is
/// at least one segment and ends in `/`, so that it cannot match another host.
pub const fn redirect_prefix(s: &str) -> Result<(), RuleError> {
    if let Err(e) = redirect_uri(s) {
        return Err(e);
    }
    let b = s.as_bytes();
    if !starts_with(b, b"https://") || !ends_with(b, b"/") || find(b, 0, b.len(), b'?') != b.len() {
        return Err(RuleError::RedirectPrefix);
    }
    let end = authority_end(b, 8);
    // A path of at least one segment: more than the `/` right after the host.
    if b.len() - end < 2 {
        return Err(RuleError::RedirectPrefix);
    }
    Ok(())
}

/// `AZURE_ALLOWED_TENANT_IDS`: `*` alone (any tenant) or comma-separated tenant GUIDs (spaces around
/// the commas are ignored).
pub const fn tenant_list(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    let (from, to) = trim(b, 0, b.len());
    if from == to {
        return Err(RuleError::Empty);
    }
    if to - from == 1 && b[from] == b'*' {
        return Ok(());
    }
    let mut start = 0;
    while start <= b.len() {
        let comma = find(b, start, b.len(), b',');
        let (f, t) = trim(b, start, comma);
        if t - f != 36 {
            return Err(RuleError::TenantList);
        }
        let (_, rest) = b.split_at(f);
        let (item, _) = rest.split_at(36);
        let mut i = 0;
        while i < 36 {
            let ok = match i {
                8 | 13 | 18 | 23 => item[i] == b'-',
                _ => is_hex(item[i]),
            };
            if !ok {
                return Err(RuleError::TenantList);
            }
            i += 1;
        }
        start = comma + 1;
    }
    Ok(())
}

/// `b[from..to]` without ASCII spaces at either end.
const fn trim(b: &[u8], mut from: usize, mut to: usize) -> (usize, usize) {
    while from < to && b[from] == b' ' {
        from += 1;
    }
    while to > from && b[to - 1] == b' ' {
        to -= 1;
    }
    (from, to)
}

/// An extra accepted audience (an App ID URI set on the app registration): `api://…` or
/// `https://…`, without spaces, and never a scope such as `api://{app_id}/.default`. Judged as
/// the configuration stores it, without trailing `/`: `api://x/.default/` and `api:///` are
/// refused too, and `/.default` in any case.
pub const fn app_id_uri(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    if !(starts_with(b, b"api://") || starts_with(b, b"https://")) {
        return Err(RuleError::AppIdUri);
    }
    let rest_start = if starts_with(b, b"api://") { 6 } else { 8 };
    // Where the value ends once trailing slashes are trimmed.
    let mut end = b.len();
    while end > rest_start && b[end - 1] == b'/' {
        end -= 1;
    }
    if end == rest_start || end >= 9 && eq_ignore_case(b, end - 9, b"/.default") {
        return Err(RuleError::AppIdUri);
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] <= b' ' || b[i] > 0x7E || b[i] == b'#' {
            return Err(RuleError::AppIdUri);
        }
        i += 1;
    }
    Ok(())
}

/// A file path: not empty, no control characters, no surrounding white space (a copy-paste
/// mistake that would name another file).
pub const fn file_path(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    if b[0] == b' ' || b[b.len() - 1] == b' ' {
        return Err(RuleError::FilePath);
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] < 0x20 || b[i] == 0x7f {
            return Err(RuleError::FilePath);
        }
        i += 1;
    }
    Ok(())
}

/// An endpoint this server calls on its own host or network (a managed identity endpoint):
/// `http://` or `https://`, a host, no user info, no fragment, no white space.
pub const fn endpoint_url(s: &str) -> Result<(), RuleError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(RuleError::Empty);
    }
    let start = if starts_with(b, b"https://") {
        8
    } else if starts_with(b, b"http://") {
        7
    } else {
        return Err(RuleError::EndpointUrl);
    };
    let end = authority_end(b, start);
    if end == start || find(b, start, end, b'@') != end {
        return Err(RuleError::EndpointUrl);
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] <= b' ' || b[i] == 0x7f || b[i] == b'#' {
            return Err(RuleError::EndpointUrl);
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn guid_accepts_either_case_and_refuses_other_shapes() {
        assert_eq!(guid(GUID), Ok(()));
        assert_eq!(guid("ABCDEF01-2222-3333-4444-555555555555"), Ok(()));
        assert_eq!(guid(""), Err(RuleError::Empty));
        assert_eq!(guid("organizations"), Err(RuleError::Guid));
        assert_eq!(guid("11111111-2222-3333-4444-55555555555g"), Err(RuleError::Guid));
        assert_eq!(guid("11111111_2222-3333-4444-555555555555"), Err(RuleError::Guid));
        assert_eq!(guid("{11111111-2222-3333-4444-555555555555}"), Err(RuleError::Guid));
    }

    #[test]
    fn scope_rules_follow_rfc_6749_and_refuse_qualified_names() {
        assert_eq!(scope_token("access_as_user"), Ok(()));
        assert_eq!(scope_token("api://x/y"), Ok(()));
        assert_eq!(scope_token("a b"), Err(RuleError::ScopeToken));
        assert_eq!(scope_token("a\"b"), Err(RuleError::ScopeToken));
        assert_eq!(scope_token("a\\b"), Err(RuleError::ScopeToken));
        assert_eq!(scope_token("é"), Err(RuleError::ScopeToken));
        assert_eq!(scope_name("access_as_user"), Ok(()));
        assert_eq!(scope_name("api://x/access_as_user"), Err(RuleError::ScopeName));
        assert_eq!(scope_name(".default"), Err(RuleError::ScopeName));
        assert_eq!(scope_name(""), Err(RuleError::Empty));
    }

    #[test]
    fn resource_path_shapes() {
        for ok in ["/mcp", "/api/v1/mcp", "/a%20b", "/mcp-server_1.0"] {
            assert_eq!(resource_path(ok), Ok(()), "{ok}");
        }
        for bad in
            ["mcp", "/", "/mcp/", "//mcp", "/a//b", "/a/./b", "/a/../b", "/mcp?x", "/mcp#x", "/a b", "/%zz"]
        {
            assert_eq!(resource_path(bad), Err(RuleError::ResourcePath), "{bad}");
        }
    }

    #[test]
    fn base_url_shapes() {
        for ok in [
            "https://mcp.example.com",
            "https://mcp.example.com/",
            "https://mcp.example.com:8443/prefix",
            "http://localhost:8000",
            "http://127.0.0.1:1234",
            "http://[::1]:8000",
            "https://login.microsoftonline.com",
        ] {
            assert_eq!(base_url(ok), Ok(()), "{ok}");
        }
        assert_eq!(base_url("http://mcp.example.com"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("https://mcp.example.com?x=1"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("https://mcp.example.com#x"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("https://user@mcp.example.com"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("https://"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("https://host:99999"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("https://host:"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("ftp://host"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("mcp.example.com"), Err(RuleError::BaseUrl));
        assert_eq!(base_url("HTTPS://mcp.example.com"), Err(RuleError::UpperCase));
        assert_eq!(base_url("https://MCP.example.com"), Err(RuleError::UpperCase));
        assert_eq!(base_url(""), Err(RuleError::Empty));
    }

    #[test]
    fn redirect_uri_follows_entra() {
        for ok in [
            "https://global.consent.azure-apim.net/redirect/my-connector",
            "https://vscode.dev/redirect",
            "http://127.0.0.1:33418/",
            "http://127.0.0.1/",
            "http://localhost:6274/oauth/callback",
            "cursor://anysphere.cursor-mcp/oauth/callback",
            "https://claude.ai/api/mcp/auth_callback",
            "https://app.example.com/cb?tenant=x",
        ] {
            assert_eq!(redirect_uri(ok), Ok(()), "{ok}");
        }
        // Ports are 1 to 65535, written without leading zeros.
        for bad in [
            "http://127.0.0.1:00080/cb",
            "http://127.0.0.1:080/cb",
            "http://localhost:0/cb",
            "http://127.0.0.1:65536/cb",
            "http://127.0.0.1:123456/cb",
            "https://example.com:0443/cb",
        ] {
            assert_eq!(redirect_uri(bad), Err(RuleError::RedirectUriShape), "{bad}");
        }
        assert_eq!(redirect_uri("http://127.0.0.1:65535/cb"), Ok(()));
        assert_eq!(redirect_uri("http://127.0.0.1:1/cb"), Ok(()));
        let long = format!("https://example.com/{}", "a".repeat(240));
        assert_eq!(redirect_uri(&long), Err(RuleError::RedirectUriTooLong));
        for (bad, why) in [
            ("http://example.com/cb", RuleError::RedirectUriInsecureHttp),
            ("http://127.0.0.2/cb", RuleError::RedirectUriInsecureHttp),
            ("http://[::1]:8080/cb", RuleError::RedirectUriIpv6Loopback),
            ("https://example.com/cb#frag", RuleError::RedirectUriFragment),
            ("https://example.com/a,b", RuleError::RedirectUriCharacter),
            ("https://example.com/a(b)", RuleError::RedirectUriCharacter),
            ("https://example.com/a;b", RuleError::RedirectUriCharacter),
            ("https://example.com/a b", RuleError::RedirectUriCharacter),
            ("https://*.example.com/cb", RuleError::RedirectUriWildcard),
            ("javascript:alert(1)", RuleError::RedirectUriCharacter),
            ("javascript:alert", RuleError::RedirectUriShape),
            ("https:/example.com", RuleError::RedirectUriShape),
            ("HTTPS://example.com/cb", RuleError::UpperCase),
            ("https://Example.com/cb", RuleError::UpperCase),
            ("https://user@example.com/cb", RuleError::RedirectUriShape),
            ("/relative", RuleError::RedirectUriShape),
            ("", RuleError::Empty),
        ] {
            assert_eq!(redirect_uri(bad), Err(why), "{bad}");
        }
    }

    #[test]
    fn redirect_prefix_needs_a_path_ending_in_slash() {
        assert_eq!(redirect_prefix("https://global.consent.azure-apim.net/redirect/"), Ok(()));
        for bad in [
            "https://global.consent.azure-apim.net/",
            "https://global.consent.azure-apim.net",
            "https://global.consent.azure-apim.net/redirect",
            "http://localhost/cb/",
            "cursor://x/",
        ] {
            assert_eq!(redirect_prefix(bad), Err(RuleError::RedirectPrefix), "{bad}");
        }
    }

    #[test]
    fn tenant_list_is_star_or_guids() {
        assert_eq!(tenant_list("*"), Ok(()));
        assert_eq!(tenant_list(GUID), Ok(()));
        assert_eq!(tenant_list(&format!("{GUID}, {GUID}")), Ok(()));
        assert_eq!(tenant_list(&format!("*,{GUID}")), Err(RuleError::TenantList));
        assert_eq!(tenant_list("organizations"), Err(RuleError::TenantList));
        assert_eq!(tenant_list(&format!("{GUID},")), Err(RuleError::TenantList));
        assert_eq!(tenant_list("  "), Err(RuleError::Empty));
    }

    #[test]
    fn app_id_uri_refuses_scopes() {
        assert_eq!(app_id_uri("api://my-api"), Ok(()));
        assert_eq!(app_id_uri("https://contoso.com/my-api"), Ok(()));
        assert_eq!(app_id_uri(&format!("api://{GUID}/.default")), Err(RuleError::AppIdUri));
        // Trailing slashes are trimmed when the configuration is built: judged without them.
        for bad in [
            format!("api://{GUID}/.default/"),
            format!("api://{GUID}/.default//"),
            format!("api://{GUID}/.DEFAULT"),
            "https://contoso.com/my-api/.Default/".to_owned(),
            "api:///".to_owned(),
            "https:////".to_owned(),
        ] {
            assert_eq!(app_id_uri(&bad), Err(RuleError::AppIdUri), "{bad}");
        }
        assert_eq!(app_id_uri("api://my-api/"), Ok(()));
        assert_eq!(app_id_uri("api://my-api/.defaults"), Ok(()));
        assert_eq!(app_id_uri("urn:x"), Err(RuleError::AppIdUri));
        assert_eq!(app_id_uri("api://"), Err(RuleError::AppIdUri));
    }

    #[test]
    fn rules_run_in_const_context() {
        const OK: bool = guid(GUID).is_ok()
            && redirect_uri("https://vscode.dev/redirect").is_ok()
            && base_url("https://mcp.example.com").is_ok()
            && resource_path("/mcp").is_ok()
            && scope_name("access_as_user").is_ok()
            && tenant_list("*").is_ok()
            && redirect_prefix("https://global.consent.azure-apim.net/redirect/").is_ok()
            && app_id_uri("api://x").is_ok();
        const _: () = assert!(OK);
    }
}
