//! [`AzureClaims`]: the verified claims of an Entra access token, with typed accessors.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The access token format: which `ver` Entra issued (set by the app manifest's
/// `requestedAccessTokenVersion`; v1 by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// `ver` = `1.0`: issuer `https://sts.windows.net/{tid}/` (from the v1 metadata), `appid`.
    V1,
    /// `ver` = `2.0`: issuer `{authority}/{tid}/v2.0`, `azp`.
    V2,
}

impl TokenVersion {
    pub(crate) fn index(self) -> usize {
        match self {
            Self::V1 => 0,
            Self::V2 => 1,
        }
    }
}

/// Who the token speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A user signed in through a client: the token carries `scp`.
    Delegated,
    /// A daemon (client credentials): `roles` and no `scp`, or `idtyp` = `app`.
    AppOnly,
}

/// The verified claims of an access token. Cheap to clone (two `Arc`s inside): rmcp clones
/// the request parts, and these with them, several times per request.
///
/// Claims that a [`TokenValidator`](crate::TokenValidator) (or the [`AuthLayer`](crate::AuthLayer)
/// and this extractor) produced also hold the token they came from, so that
/// [`OnBehalfOf`](crate::obo::OnBehalfOf) can exchange it for a token to another API. The token
/// is never shown: not by `Debug`, not by any accessor, and it is not in the verified-token cache.
///
/// As an axum extractor it reads the claims an [`AuthLayer`](crate::AuthLayer) put into the
/// request extensions, or else validates the bearer token itself with a
/// [`TokenValidator`](crate::TokenValidator) found in the extensions (an `Extension` layer).
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_mcp_azure_oauth::AzureClaims;
///
/// async fn whoami(claims: AzureClaims) -> String {
///     format!("{} in {}", claims.user_id().unwrap_or("?"), claims.tid())
/// }
/// let app: Router = Router::new().route("/whoami", get(whoami));
/// ```
#[derive(Clone)]
pub struct AzureClaims {
    claims: Arc<Inner>,
    /// The verified bearer token these claims were read from, for the on-behalf-of exchange.
    token: Option<CallerToken>,
}

/// The caller's access token: shared, never printed.
#[derive(Clone)]
pub(crate) enum CallerToken {
    /// A token given as a string (`TokenValidator::validate`).
    Owned(Arc<str>),
    /// The request's `Authorization: Bearer …` header, shared with the request (cloning a header
    /// value received by hyper bumps a reference count) rather than copied on every request.
    Header(http::HeaderValue),
}

impl CallerToken {
    /// The token, to send as the on-behalf-of `assertion` (and nowhere else).
    pub(crate) fn expose(&self) -> &str {
        match self {
            Self::Owned(token) => token,
            // The validator accepted this header, so it reads again.
            Self::Header(value) => super::bearer::bearer_value(value).unwrap_or_default(),
        }
    }
}

struct Inner {
    raw: Map<String, Value>,
    version: TokenVersion,
    kind: TokenKind,
    tid: String,
    exp: u64,
}

impl AzureClaims {
    pub(crate) fn new(
        raw: Map<String, Value>,
        version: TokenVersion,
        kind: TokenKind,
        tid: String,
        exp: u64,
    ) -> Self {
        Self { claims: Arc::new(Inner { raw, version, kind, tid, exp }), token: None }
    }

    /// These claims, holding the token they were verified from.
    pub(crate) fn with_token(mut self, token: &str) -> Self {
        self.token = Some(CallerToken::Owned(Arc::from(token)));
        self
    }

    /// These claims, holding the bearer token of the `Authorization` header they were verified
    /// from.
    pub(crate) fn with_header_token(mut self, header: &http::HeaderValue) -> Self {
        self.token = Some(CallerToken::Header(header.clone()));
        self
    }

    /// The token these claims were verified from, when a validator produced them.
    pub(crate) fn token(&self) -> Option<&CallerToken> {
        self.token.as_ref()
    }

    /// The claims the [`AuthLayer`](crate::AuthLayer) put into a request's extensions: how an MCP
    /// tool finds its caller in the [`http::request::Parts`] that rmcp hands it through
    /// `RequestContext::extensions`.
    ///
    /// ```
    /// use axum_mcp_azure_oauth::AzureClaims;
    ///
    /// fn caller(parts: &http::request::Parts) -> Option<&AzureClaims> {
    ///     AzureClaims::from_parts(parts)
    /// }
    /// # let (parts, ()) = http::Request::new(()).into_parts();
    /// # assert!(caller(&parts).is_none());
    /// ```
    pub fn from_parts(parts: &http::request::Parts) -> Option<&Self> {
        parts.extensions.get::<Self>()
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.raw.get(name).and_then(Value::as_str)
    }

    /// The tenant (`tid`), a lower-case GUID.
    pub fn tid(&self) -> &str {
        &self.claims.tid
    }
    /// The user's (or the calling app's service principal's) object id, stable across apps.
    pub fn oid(&self) -> Option<&str> {
        self.str_claim("oid")
    }
    /// The subject: pairwise per app, stable.
    pub fn sub(&self) -> Option<&str> {
        self.str_claim("sub")
    }
    /// The delegated scopes (`scp`, space-separated in the token), e.g. `access_as_user`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.str_claim("scp").unwrap_or("").split(' ').filter(|s| !s.is_empty())
    }
    /// The app roles (`roles`).
    pub fn roles(&self) -> impl Iterator<Item = &str> + '_ {
        self.claims.raw.get("roles").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    }
    /// Whether `scp` holds exactly `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }
    /// Whether `roles` holds exactly `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles().any(|r| r == role)
    }
    /// `upn` (v1 tokens and some v2): for display only, never for authorization.
    pub fn upn(&self) -> Option<&str> {
        self.str_claim("upn")
    }
    /// `preferred_username` (v2): for display only, never for authorization.
    pub fn preferred_username(&self) -> Option<&str> {
        self.str_claim("preferred_username")
    }
    /// `name`, the display name, when the token carries it.
    pub fn name(&self) -> Option<&str> {
        self.str_claim("name")
    }
    /// The client the token was issued to: `azp` (v2) or `appid` (v1).
    pub fn app_id(&self) -> Option<&str> {
        self.str_claim("azp").or_else(|| self.str_claim("appid"))
    }
    /// The token format.
    pub fn version(&self) -> TokenVersion {
        self.claims.version
    }
    /// Delegated (a user) or app-only (a daemon).
    pub fn kind(&self) -> TokenKind {
        self.claims.kind
    }
    /// Expiry, in seconds since the Unix epoch.
    pub fn exp(&self) -> u64 {
        self.claims.exp
    }
    /// Every claim as sent.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.claims.raw
    }
    /// A stable user id: `oid`, else `sub`.
    pub fn user_id(&self) -> Option<&str> {
        self.oid().or_else(|| self.sub())
    }
    /// The sign-in name for display: `upn`, else `preferred_username`.
    pub fn user_principal_name(&self) -> Option<&str> {
        self.upn().or_else(|| self.preferred_username())
    }
}

impl fmt::Debug for AzureClaims {
    /// Identifiers only: no names, no e-mail addresses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureClaims")
            .field("tid", &self.tid())
            .field("oid", &self.oid())
            .field("version", &self.version())
            .field("kind", &self.kind())
            .field("exp", &self.exp())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(v: Value) -> AzureClaims {
        let Value::Object(map) = v else { panic!("object") };
        AzureClaims::new(map, TokenVersion::V1, TokenKind::Delegated, "t".into(), 9)
    }

    #[test]
    fn accessors_and_fallbacks() {
        let c = claims(serde_json::json!({
            "oid": "o", "sub": "s", "scp": "access_as_user  read", "roles": ["A", 3, "B"],
            "upn": "u@x", "preferred_username": "p@x", "appid": "a1", "name": "N"
        }));
        assert_eq!(c.user_id(), Some("o"));
        assert_eq!(c.user_principal_name(), Some("u@x"));
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["access_as_user", "read"]);
        assert_eq!(c.roles().collect::<Vec<_>>(), ["A", "B"]);
        assert!(c.has_scope("read") && !c.has_scope("access"));
        assert_eq!(c.app_id(), Some("a1"));
        let c = claims(serde_json::json!({"sub": "s", "preferred_username": "p@x", "azp": "a2"}));
        assert_eq!(c.user_id(), Some("s"));
        assert_eq!(c.user_principal_name(), Some("p@x"));
        assert_eq!(c.app_id(), Some("a2"));
        assert_eq!(c.scopes().count(), 0);
        let debug = format!("{c:?}");
        assert!(!debug.contains("p@x"), "{debug}");
        let with = c.clone().with_token("eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl");
        assert_eq!(with.token().map(CallerToken::expose), Some("eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"));
        let debug = format!("{with:?}");
        assert!(debug.contains("[redacted]") && !debug.contains("eyJ"), "{debug}");
        assert!(c.token().is_none(), "attaching the token leaves other clones alone");
        let header = http::HeaderValue::from_static("bearer  eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl ");
        let from_header = c.clone().with_header_token(&header);
        assert_eq!(from_header.token().map(CallerToken::expose), Some("eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"));
        assert!(!format!("{from_header:?}").contains("eyJ"));
    }
}
