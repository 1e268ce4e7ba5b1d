//! What the two servers and every handle share: the app registration, the tenants and their
//! keys, issued codes and refresh tokens, faults and the request log.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::sync::Notify;

use super::faults::{Endpoint, Fault, RecordedRequest};
use super::keys::SigningKey;
use super::{Platform, User, UserProfile};
use crate::config::ClientSecret;

/// Signing keys listed in one JWKS, and the one new tokens are signed with.
pub(crate) struct KeySet {
    pub(crate) listed: Vec<Arc<SigningKey>>,
    pub(crate) current: Arc<SigningKey>,
}

impl KeySet {
    pub(crate) fn new(key: Arc<SigningKey>) -> Self {
        Self { listed: vec![Arc::clone(&key)], current: key }
    }
}

/// The app registration (fixed at start).
pub(crate) struct App {
    pub(crate) app_id: String,
    pub(crate) object_id: String,
    pub(crate) sp_object_id: String,
    pub(crate) secret: ClientSecret,
    pub(crate) token_version: u8,
    pub(crate) multi_tenant: bool,
    pub(crate) exposed_scopes: Vec<String>,
    pub(crate) app_roles: Vec<String>,
}

/// An issued, not yet redeemed authorization code.
#[derive(Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) platform: Platform,
    pub(crate) scopes: Vec<String>,
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) nonce: Option<String>,
    pub(crate) user: User,
    pub(crate) expires: tokio::time::Instant,
}

/// An issued refresh token.
#[derive(Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) platform: Platform,
    pub(crate) scopes: Vec<String>,
    pub(crate) user: User,
}

/// Everything that changes while the emulator runs.
pub(crate) struct Mutable {
    pub(crate) shared: KeySet,
    /// Known tenants; `Some` for tenants with their own keys.
    pub(crate) tenants: HashMap<String, Option<KeySet>>,
    /// The app's custom signing keys (served only with `?appid=`).
    pub(crate) app_keys: Option<KeySet>,
    /// Keys no longer listed anywhere, still usable with [`TokenBuilder::signing_key`].
    pub(crate) retired: Vec<Arc<SigningKey>>,
    pub(crate) redirect_uris: HashMap<Platform, Vec<String>>,
    pub(crate) display_name: String,
    pub(crate) user: User,
    pub(crate) faults: HashMap<Endpoint, Fault>,
    pub(crate) log: Vec<RecordedRequest>,
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) redeemed: HashSet<String>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    /// The directory: users by `oid` (tenant filled in), with their Graph profile.
    pub(crate) users: HashMap<String, (User, UserProfile)>,
    /// Other web APIs registered in the tenants, by app id (lower case).
    pub(crate) apis: HashMap<String, DownstreamApi>,
    /// Delegated permissions the app holds, per resource key (see `scopes::resource_key`).
    pub(crate) consent: HashMap<String, Vec<String>>,
    /// Conditional-Access-style step-up per resource key: the claims challenge to answer with.
    pub(crate) step_up: HashMap<String, String>,
    /// Certificates uploaded to the app registration.
    pub(crate) certificates: Vec<RegisteredCertificate>,
    /// Federated identity credentials on the app registration.
    pub(crate) federated: Vec<FederatedCredential>,
    /// User-assigned managed identities: client id → principal (object) id.
    pub(crate) identities: HashMap<String, String>,
}

/// Another web API (an app registration exposing delegated scopes) the app may call on behalf
/// of a user.
#[derive(Clone, Debug)]
pub(crate) struct DownstreamApi {
    pub(crate) scopes: Vec<String>,
    pub(crate) token_version: u8,
}

impl Mutable {
    /// The keys that sign tokens of `tenant` by default: its own, else the shared ones.
    pub(crate) fn tenant_keys(&self, tenant: &str) -> &KeySet {
        match self.tenants.get(tenant) {
            Some(Some(own)) => own,
            _ => &self.shared,
        }
    }

    /// Every key ever used, listed or not, by kid.
    pub(crate) fn find_key(&self, kid: &str) -> Option<Arc<SigningKey>> {
        let sets =
            std::iter::once(&self.shared).chain(self.tenants.values().flatten()).chain(self.app_keys.iter());
        sets.flat_map(|s| s.listed.iter().chain(std::iter::once(&s.current)))
            .chain(self.retired.iter())
            .find(|k| k.kid == kid)
            .cloned()
    }

    /// Puts `user` (tenant filled in) into the directory with `profile`, replacing any user with
    /// the same `oid`, and adds an unknown tenant (with shared keys).
    pub(crate) fn add_user(&mut self, home: &str, user: User, profile: UserProfile) -> User {
        let tenant = if user.tenant.is_empty() { home.to_owned() } else { user.tenant.to_ascii_lowercase() };
        self.tenants.entry(tenant.clone()).or_insert(None);
        let user = User { tenant, ..user };
        self.users.insert(user.oid.clone(), (user.clone(), profile));
        user
    }

    /// The user with the home tenant filled in.
    pub(crate) fn signed_in_user(&self, home: &str) -> User {
        let mut user = self.user.clone();
        if user.tenant.is_empty() {
            user.tenant = home.to_owned();
        }
        user
    }
}

/// State shared by the handles and the two servers.
pub(crate) struct State {
    pub(crate) authority: String,
    pub(crate) graph: String,
    pub(crate) home: String,
    pub(crate) v1_issuer_host: String,
    pub(crate) code_lifetime: Duration,
    pub(crate) token_lifetime: Duration,
    pub(crate) app: App,
    /// What the managed identity endpoint requires in `X-IDENTITY-HEADER`.
    pub(crate) identity_header: String,
    /// Everything mutable; use [`lock`](Self::lock).
    pub(super) inner: Mutex<Mutable>,
    pub(crate) notify: Notify,
    /// TCP connections accepted: Entra ID's side, Graph's side.
    pub(crate) connections: [AtomicUsize; 2],
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Mutable> {
        crate::primitives::lock::lock(&self.inner)
    }

    /// `https://sts.windows.net/{tid}/` (or the configured host).
    pub(crate) fn v1_issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/", self.v1_issuer_host)
    }

    /// `{authority}/{tid}/v2.0`.
    pub(crate) fn v2_issuer(&self, tid: &str) -> String {
        format!("{}/{tid}/v2.0", self.authority)
    }
}

/// A certificate uploaded to the app registration (its public part).
#[derive(Clone, Debug)]
pub(crate) struct RegisteredCertificate {
    pub(crate) x5t_s256: String,
    pub(crate) x5t: String,
    /// PKCS#1 `RSAPublicKey`.
    pub(crate) public_key: Vec<u8>,
    /// Unix seconds.
    pub(crate) not_after: u64,
}

impl RegisteredCertificate {
    /// The registration of a DER certificate; `None` when it is not an RSA certificate.
    pub(crate) fn new(der: &[u8]) -> Option<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        Some(Self {
            x5t_s256: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, der)),
            x5t: URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der)),
            public_key: crate::credential::public_key_of(der)?,
            not_after: u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0),
        })
    }
}

/// A federated identity credential on the app: tokens of `issuer` about `subject` for `audience`
/// are accepted as its assertion.
#[derive(Clone, Debug)]
pub(crate) struct FederatedCredential {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) audience: String,
}
