//! The tenant segment of a login path (`common`, `organizations`, `consumers` or a tenant GUID),
//! resolved as Entra does.

use super::CONSUMERS_TENANT;
use super::state::State;
use crate::config::rules;

/// A tenant segment of a login path, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TenantRef {
    /// A tenant the emulator knows, by GUID.
    Id(String),
    /// `common`: any work/school tenant or personal accounts.
    Common,
    /// `organizations`: any work/school tenant.
    Organizations,
    /// `consumers`: personal Microsoft accounts.
    Consumers,
}

impl TenantRef {
    /// The segment to put in endpoint URLs.
    pub(crate) fn segment(&self) -> &str {
        match self {
            TenantRef::Id(t) => t,
            TenantRef::Common => "common",
            TenantRef::Organizations => "organizations",
            TenantRef::Consumers => "consumers",
        }
    }

    /// The tenant id in issuers: a GUID, or the `{tenantid}` template for multi-tenant aliases.
    pub(crate) fn issuer_tenant(&self) -> &str {
        match self {
            TenantRef::Id(t) => t,
            TenantRef::Consumers => CONSUMERS_TENANT,
            TenantRef::Common | TenantRef::Organizations => "{tenantid}",
        }
    }
}

/// Why a tenant segment was refused: `(error, AADSTS code, message)`.
pub(crate) type TenantError = (&'static str, u32, String);

/// Resolves a tenant segment as Entra does: `common`/`organizations`/`consumers`, or a known
/// tenant GUID; anything else is refused (`AADSTS90002` unknown tenant, `AADSTS900023` not a
/// tenant identifier at all).
pub(crate) fn resolve_tenant(state: &State, segment: &str) -> Result<TenantRef, TenantError> {
    let lower = segment.to_ascii_lowercase();
    match lower.as_str() {
        "common" => return Ok(TenantRef::Common),
        "organizations" => return Ok(TenantRef::Organizations),
        "consumers" => return Ok(TenantRef::Consumers),
        _ => {}
    }
    let not_found = || {
        (
            "invalid_tenant",
            90_002,
            format!(
                "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    };
    if rules::guid(&lower).is_ok() {
        if lower == CONSUMERS_TENANT || state.lock().tenants.contains_key(&lower) {
            return Ok(TenantRef::Id(lower));
        }
        return Err(not_found());
    }
    let dns_like = !lower.is_empty()
        && lower.contains('.')
        && lower.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    if dns_like {
        return Err(not_found());
    }
    Err((
        "invalid_request",
        900_023,
        format!(
            "Specified tenant identifier '{segment}' is neither a valid DNS name, nor a valid external domain."
        ),
    ))
}
