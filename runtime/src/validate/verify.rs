//! The checks one token must pass (the rules listed on
//! [`TokenValidator`](super::TokenValidator)): parsing, tenant, signing key, signature, issuer,
//! lifetime, audience, token type; then the permissions a route requires.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::claims::{AzureClaims, TokenKind, TokenVersion};
use super::clock::Clock;
use super::error::{AuthError, InsufficientScope, InvalidToken};
use super::jwks::{KeyCache, KeyError};
use super::jwt;
use super::requirements::Requirements;
use crate::config::{AzureOAuthConfig, rules};

/// Verifies tokens for one configuration: what the validator runs on a token its cache does not hold.
pub(super) struct Verifier {
    pub(super) config: Arc<AzureOAuthConfig>,
    pub(super) keys: KeyCache,
    pub(super) clock: Clock,
}

impl Verifier {
    /// Everything but the permissions; refusals are logged with the token's (claimed) tenant and
    /// `oid` once they are known.
    pub(super) async fn verify(&self, token: &str, req: &Requirements) -> Result<AzureClaims, AuthError> {
        let invalid = AuthError::InvalidToken;
        let parsed = jwt::parse(token).map_err(|e| refused(invalid(e), None, None))?;
        let Some(tenant) = tenant_of(&parsed.claims) else {
            return Err(refused(invalid(InvalidToken::NotEntra), None, None));
        };
        let oid = parsed.claims.get("oid").and_then(Value::as_str).map(str::to_owned);
        self.verify_parsed(parsed, &tenant, req).await.map_err(|e| refused(e, Some(&tenant), oid.as_deref()))
    }

    async fn verify_parsed(
        &self,
        parsed: jwt::Parsed<'_>,
        tenant: &str,
        req: &Requirements,
    ) -> Result<AzureClaims, AuthError> {
        use InvalidToken as E;
        let invalid = AuthError::InvalidToken;
        let version = version_of(&parsed.claims).ok_or(invalid(E::NotEntra))?;
        if !req.tenant_allowed(&self.config, tenant) {
            return Err(invalid(E::TenantNotAllowed));
        }

        let (set, key, entry) = self.keys.key(tenant, version, &parsed.kid).await.map_err(|e| match e {
            KeyError::UnknownKey => invalid(E::UnknownKey),
            KeyError::UnknownTenant => invalid(E::UnknownTenant),
            KeyError::NewTenantThrottled => invalid(E::NewTenantThrottled),
            KeyError::Unavailable => AuthError::KeysUnavailable,
        })?;
        key.key.verify_sig(parsed.signed, parsed.signature()).map_err(|_| invalid(E::Signature))?;
        let claims = parsed.claims;

        // The issuer: the metadata's, for this tenant; the tenant inside it is `tid`.
        let iss = claims.get("iss").and_then(Value::as_str).ok_or(invalid(E::Issuer))?;
        if iss != set.issuer.replace("{tenantid}", tenant) || issuer_tenant(iss).as_deref() != Some(tenant) {
            tracing::debug!(tenant, "issuer does not match the tenant's metadata");
            return Err(invalid(E::Issuer));
        }
        if let Some(key_issuer) = &key.issuer
            && key_issuer.replace("{tenantid}", tenant) != iss
        {
            tracing::debug!(tenant, "issuer does not match the signing key's issuer");
            return Err(invalid(E::Issuer));
        }
        // Entra signed a token of this tenant with these keys: the tenant is real.
        self.keys.promote(&entry);

        let exp = self.check_time(&claims)?;
        if !self.audience_of(&claims, version) {
            return Err(invalid(E::Audience));
        }
        let kind = token_kind(&claims, version)?;
        // The cache entry never outlives `exp` (the skew is only tolerance for clock drift).
        Ok(AzureClaims::new(claims, version, kind, tenant.to_owned(), exp))
    }

    /// `exp` (required) and `nbf` (if present) hold within the clock skew; the token's `exp`.
    fn check_time(&self, claims: &serde_json::Map<String, Value>) -> Result<u64, AuthError> {
        let invalid = AuthError::InvalidToken;
        let now = self.clock.unix();
        let skew = self.config.clock_skew().as_secs();
        let exp = claims.get("exp").and_then(seconds).ok_or(invalid(InvalidToken::NoExpiry))?;
        if now > exp.saturating_add(skew) {
            return Err(invalid(InvalidToken::Expired));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = seconds(nbf).ok_or(invalid(InvalidToken::Malformed))?;
            if nbf > now.saturating_add(skew) {
                return Err(invalid(InvalidToken::NotYetValid));
            }
        }
        Ok(exp)
    }

    /// Whether `aud` (one value or an array) names this app.
    fn audience_of(&self, claims: &serde_json::Map<String, Value>, version: TokenVersion) -> bool {
        let accepted = |aud: &str| self.audience_accepted(aud, version);
        match claims.get("aud") {
            Some(Value::String(aud)) => accepted(aud),
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(accepted),
            _ => false,
        }
    }

    fn audience_accepted(&self, aud: &str, version: TokenVersion) -> bool {
        let app_id = self.config.app_id();
        // v1 tokens may carry the App ID URI with a trailing slash.
        let aud = match version {
            TokenVersion::V1 => aud.strip_suffix('/').unwrap_or(aud),
            TokenVersion::V2 => aud,
        };
        aud.eq_ignore_ascii_case(app_id)
            || aud.strip_prefix("api://").is_some_and(|rest| rest.eq_ignore_ascii_case(app_id))
            || self.config.app_id_uris().iter().any(|u| u == aud)
    }

    pub(super) fn authorize(&self, claims: &AzureClaims, req: &Requirements) -> Result<(), AuthError> {
        match claims.kind() {
            TokenKind::Delegated => {
                let ok = if req.required_scopes().is_empty() {
                    self.config.required_scopes().iter().any(|s| claims.has_scope(s))
                } else {
                    req.required_scopes().iter().any(|s| claims.has_scope(s))
                };
                if ok { Ok(()) } else { Err(AuthError::InsufficientScope(InsufficientScope::Scope)) }
            }
            TokenKind::AppOnly => {
                let ok = if req.required_roles().is_empty() {
                    if self.config.required_roles().is_empty() {
                        return Err(AuthError::InsufficientScope(InsufficientScope::AppOnly));
                    }
                    if claims.roles().next().is_none() {
                        return Err(AuthError::InsufficientScope(InsufficientScope::NoAppRole));
                    }
                    self.config.required_roles().iter().any(|r| claims.has_role(r))
                } else if claims.roles().next().is_none() {
                    return Err(AuthError::InsufficientScope(InsufficientScope::NoAppRole));
                } else {
                    req.required_roles().iter().any(|r| claims.has_role(r))
                };
                if ok { Ok(()) } else { Err(AuthError::InsufficientScope(InsufficientScope::Role)) }
            }
        }
    }
}

/// Logs a refusal at debug level (never the token) and passes the error on.
pub(super) fn refused(error: AuthError, tenant: Option<&str>, oid: Option<&str>) -> AuthError {
    tracing::debug!(tenant, oid, reason = error.reason(), "access token refused");
    error
}

/// `jwt::parse`, for the fuzz targets (`cfg(fuzzing)`, which cargo-fuzz sets).
#[cfg(fuzzing)]
pub(crate) fn fuzz_parse(token: &str) -> Result<jwt::Parsed<'_>, InvalidToken> {
    jwt::parse(token)
}

/// `tenant_of` and `version_of`, for the fuzz targets (`cfg(fuzzing)`, which cargo-fuzz sets).
#[cfg(fuzzing)]
pub(crate) fn fuzz_tenant_and_version(claims: &Map<String, Value>) -> (Option<String>, Option<TokenVersion>) {
    (tenant_of(claims), version_of(claims))
}

/// The lower-case `tid` of unverified claims, if it is a GUID.
fn tenant_of(claims: &Map<String, Value>) -> Option<String> {
    let tid = claims.get("tid")?.as_str()?;
    rules::guid(tid).ok()?;
    Some(tid.to_ascii_lowercase())
}

fn version_of(claims: &Map<String, Value>) -> Option<TokenVersion> {
    match claims.get("ver")?.as_str()? {
        "1.0" => Some(TokenVersion::V1),
        "2.0" => Some(TokenVersion::V2),
        _ => None,
    }
}

/// A JSON number claim as whole seconds.
fn seconds(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64))
}

/// Whether the claims are an access token's, and whose: delegated (`scp`) or app-only (`roles`,
/// or `idtyp=app`). Access tokens always name the client they were issued to (`azp` in v2, `appid`
/// in v1); ID tokens never do. An ID token may lack `nonce` (the authorize request had none) and
/// carry `roles` (the user's app roles), so the client claim is what tells them apart.
///
/// An access token with neither `scp` nor `roles` is an app-only token of an app that holds no
/// application permission when it says it is app-only: `idtyp` = `app`, or (v1, and v2 without
/// that optional claim) `oid` equal to `sub`, which only app-only tokens have — both are then the
/// service principal's object id
/// (<https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>,
/// <https://learn.microsoft.com/entra/identity-platform/claims-validation>). It is then refused
/// for the missing app role (403), not as an ID token.
fn token_kind(
    claims: &serde_json::Map<String, Value>,
    version: TokenVersion,
) -> Result<TokenKind, AuthError> {
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str).filter(|c| !c.trim().is_empty());
    let has_scp = str_claim("scp").is_some();
    let has_roles = claims.get("roles").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
    let app_idtyp = claims.get("idtyp").and_then(Value::as_str) == Some("app");
    let client_claim = match version {
        TokenVersion::V1 => "appid",
        TokenVersion::V2 => "azp",
    };
    if str_claim(client_claim).is_none() || claims.contains_key("nonce") {
        return Err(AuthError::InvalidToken(InvalidToken::IdToken));
    }
    if !has_scp && !has_roles {
        let service_principal = str_claim("oid").is_some_and(|oid| str_claim("sub") == Some(oid));
        return if app_idtyp || service_principal {
            Ok(TokenKind::AppOnly)
        } else {
            Err(AuthError::InvalidToken(InvalidToken::IdToken))
        };
    }
    Ok(if app_idtyp || !has_scp { TokenKind::AppOnly } else { TokenKind::Delegated })
}

/// The path segment of `iss` that is a GUID (the tenant Entra put in it), lower case.
fn issuer_tenant(iss: &str) -> Option<String> {
    let rest = iss.split_once("://")?.1;
    rest.split('/').find(|seg| rules::guid(seg).is_ok()).map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Arc<AzureOAuthConfig> {
        Arc::new(crate::fixtures::build(crate::fixtures::offline()))
    }

    #[test]
    fn audiences() {
        let config = config();
        let http = crate::upstream::client(&config);
        let i = Verifier {
            keys: KeyCache::new(Arc::clone(&config), http, Clock::system()),
            config,
            clock: Clock::system(),
        };
        let app = "11111111-2222-3333-4444-555555555555";
        for (aud, version, ok) in [
            (app, TokenVersion::V2, true),
            ("api://11111111-2222-3333-4444-555555555555", TokenVersion::V2, true),
            ("api://11111111-2222-3333-4444-555555555555/", TokenVersion::V1, true),
            ("api://11111111-2222-3333-4444-555555555555/", TokenVersion::V2, false),
            ("api://11111111-2222-3333-4444-555555555555/.default", TokenVersion::V1, false),
            ("api://11111111-2222-3333-4444-555555555555//", TokenVersion::V1, false),
            ("https://graph.microsoft.com", TokenVersion::V1, false),
            ("", TokenVersion::V2, false),
        ] {
            assert_eq!(i.audience_accepted(aud, version), ok, "{aud} {version:?}");
        }
    }

    #[test]
    fn app_only_tokens_without_roles_are_app_only_not_id_tokens() {
        let kind = |v: Value, version| {
            let Value::Object(map) = v else { panic!("an object") };
            token_kind(&map, version)
        };
        let id_token = Err(AuthError::InvalidToken(InvalidToken::IdToken));
        let v2 = TokenVersion::V2;
        assert_eq!(
            kind(serde_json::json!({"azp": "c", "idtyp": "app", "oid": "s", "sub": "s"}), v2),
            Ok(TokenKind::AppOnly)
        );
        assert_eq!(kind(serde_json::json!({"azp": "c", "idtyp": "app"}), v2), Ok(TokenKind::AppOnly));
        assert_eq!(
            kind(serde_json::json!({"appid": "c", "oid": "s", "sub": "s"}), TokenVersion::V1),
            Ok(TokenKind::AppOnly),
            "v1: oid = sub is the service principal"
        );
        assert_eq!(
            kind(serde_json::json!({"azp": "c", "oid": "u", "sub": "pairwise"}), v2),
            id_token,
            "a user's"
        );
        assert_eq!(
            kind(serde_json::json!({"oid": "s", "sub": "s", "idtyp": "app"}), v2),
            id_token,
            "no client"
        );
        assert_eq!(
            kind(serde_json::json!({"azp": "c", "idtyp": "app", "nonce": "n"}), v2),
            id_token,
            "a nonce"
        );
        assert_eq!(kind(serde_json::json!({"azp": "c", "oid": "", "sub": ""}), v2), id_token, "empty ids");
    }

    #[test]
    fn issuer_tenant_is_the_guid_segment() {
        let t = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        assert_eq!(issuer_tenant(&format!("https://sts.windows.net/{t}/")).as_deref(), Some(t));
        assert_eq!(issuer_tenant(&format!("https://login.microsoftonline.com/{t}/v2.0")).as_deref(), Some(t));
        assert_eq!(issuer_tenant("https://login.microsoftonline.com/{tenantid}/v2.0"), None);
    }
}
