//! [`AuthError`]: why a request was not authenticated, and the detailed reasons
//! ([`InvalidRequest`], [`InvalidToken`], [`InsufficientScope`]).

use crate::oauth_error::ErrorCode;

/// Why a request was not authenticated. Each variant maps to one HTTP answer (see
/// [`AuthError::status`]); its message says what the caller should do, and never carries key ids,
/// upstream errors or the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token: no `Authorization` header, or one of another scheme such as `Basic` (401
    /// with the full challenge and no error code: the client should sign in, RFC 6750 §3.1).
    #[error("no access token: send it in an `Authorization: Bearer <token>` header")]
    MissingToken,
    /// The request is malformed (400 `invalid_request`).
    #[error("{0}")]
    InvalidRequest(InvalidRequest),
    /// The token is not valid for this resource (401 `invalid_token`).
    #[error("{0}")]
    InvalidToken(InvalidToken),
    /// The token is valid but lacks the permission the resource requires (403 `insufficient_scope`).
    #[error("{0}")]
    InsufficientScope(InsufficientScope),
    /// No signing keys can be had from Entra right now (503 `temporarily_unavailable`).
    #[error(
        "the token cannot be checked right now because Entra ID's signing keys are unavailable; retry shortly"
    )]
    KeysUnavailable,
}

impl AuthError {
    /// The HTTP status of the answer.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::MissingToken | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The OAuth error code (RFC 6750 §3.1), if any.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::MissingToken => None,
            Self::InvalidRequest(_) => Some(ErrorCode::InvalidRequest),
            Self::InvalidToken(_) => Some(ErrorCode::InvalidToken),
            Self::InsufficientScope(_) => Some(ErrorCode::InsufficientScope),
            Self::KeysUnavailable => Some(ErrorCode::TemporarilyUnavailable),
        }
    }

    /// A short reason for logs (never the token).
    pub(super) fn reason(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing token",
            Self::InvalidRequest(r) => r.reason(),
            Self::InvalidToken(r) => r.reason(),
            Self::InsufficientScope(r) => r.reason(),
            Self::KeysUnavailable => "keys unavailable",
        }
    }
}

macro_rules! reasons {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => ($reason:literal, $message:literal),)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[error($message)] $variant,)*
        }
        impl $name {
            pub(super) fn reason(self) -> &'static str {
                match self { $(Self::$variant => $reason,)* }
            }
        }
    };
}

reasons! {
    /// Why the request itself is malformed.
    InvalidRequest {
        /// The `Authorization` header is not `Bearer <token>`.
        NotBearer => ("not bearer", "the Authorization header must be `Bearer <access token>`"),
        /// More than one `Authorization` header.
        SeveralHeaders => ("several authorization headers", "send exactly one Authorization header"),
        /// The token was sent in the query string (RFC 6750 §2.3, which this resource refuses).
        TokenInQuery => ("token in query", "send the access token in the Authorization header, not in the URL"),
    }
}

reasons! {
    /// Why a token is not valid for this resource.
    InvalidToken {
        /// Longer than 16 KiB.
        Oversized => ("oversized", "the access token is too large; request a new one from Entra ID"),
        /// Not a JWS in compact form, or not JSON inside.
        Malformed => ("malformed", "the access token is not a well-formed JWT; send the access token Entra ID issued, unchanged"),
        /// Signed with another algorithm than RS256 (or none).
        Algorithm => ("algorithm", "the access token is not signed the way Entra ID signs access tokens (RS256)"),
        /// `tid` is missing or not a GUID, or `ver` is not 1.0 / 2.0.
        NotEntra => ("not entra", "the access token was not issued by Microsoft Entra ID; sign in with Entra ID"),
        /// The tenant is not allowed here.
        TenantNotAllowed => ("tenant not allowed", "accounts of this organization are not allowed; sign in with an account of an allowed organization"),
        /// Entra does not know the tenant.
        UnknownTenant => ("unknown tenant", "the token's tenant is not known to Entra ID; sign in again"),
        /// The tenant is not known here yet and too many new tenants were looked up lately
        /// (nothing was fetched; see
        /// [`DEFAULT_NEW_TENANT_BURST`](crate::config::DEFAULT_NEW_TENANT_BURST)).
        NewTenantThrottled => ("unknown tenant throttled", "unknown tenant, try again later: too many new tenants are being looked up right now"),
        /// The signing key is not among the tenant's published keys.
        UnknownKey => ("unknown key", "the access token is not signed by a current Entra ID key; sign in again to get a new token"),
        /// The signature does not verify.
        Signature => ("signature", "the access token's signature is not valid; sign in again to get a new token"),
        /// `iss` is not the tenant's issuer.
        Issuer => ("issuer", "the access token was not issued by the token's tenant; sign in again"),
        /// `exp` is missing or not a number.
        NoExpiry => ("no expiry", "the access token has no valid expiry; request a new one from Entra ID"),
        /// Expired (beyond the clock skew).
        Expired => ("expired", "the access token expired; refresh it or sign in again"),
        /// `nbf` is in the future (beyond the clock skew).
        NotYetValid => ("not yet valid", "the access token is not valid yet; check the client's clock and retry"),
        /// `aud` is not this resource.
        Audience => ("audience", "the access token was issued for another resource; request a token for this server's scope"),
        /// An ID token, not an access token.
        IdToken => ("id token", "an ID token is not an access token; request an access token for this server's scope"),
    }
}

reasons! {
    /// Why a valid token lacks permission.
    InsufficientScope {
        /// A delegated token without any of the required scopes.
        Scope => ("scope", "the access token lacks the required scope; sign in again asking for it"),
        /// An app-only token, which this resource does not accept.
        AppOnly => ("app only", "app-only tokens are not accepted here; call with a signed-in user's token"),
        /// An app-only token that carries no app role at all: no application permission of this
        /// API was granted to the calling app.
        NoAppRole => ("no app role", "the calling app has no application permission (app role) assigned for this API; ask an administrator to assign it one of the API's app roles and grant admin consent, then request a new token"),
        /// An app-only token without any of the required roles.
        Role => ("role", "the app has not been granted the required app role; ask an administrator to assign it"),
    }
}
