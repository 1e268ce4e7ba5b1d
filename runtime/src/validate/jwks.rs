//! Per-tenant OpenID metadata and signing keys, fetched from the configured authority host.
//!
//! - One entry per tenant, each with a slot per token version (the v1 and v2 metadata documents
//!   name different issuers), in one of two bounded FIFOs that together hold at most
//!   `config.key_cache_tenants()` entries (2 when that is 1):
//!   - *proven* tenants, whose keys have verified a token's signature and issuer: three quarters
//!     of the capacity; evicted only in favour of other proven tenants;
//!   - *unproven* tenants (looked up for a token not yet verified, or unknown to Entra): a quarter
//!     of the capacity (at least one). A flood of forged tokens naming random tenants churns only
//!     this FIFO; the proven tenants keep their keys and their refetch throttles.
//!
//!   A tenant is promoted on its first verified token.
//! - A tenant in neither FIFO is looked up only while the global token bucket for new tenants
//!   (`new_tenant_burst`, default
//!   [`DEFAULT_NEW_TENANT_BURST`](crate::config::DEFAULT_NEW_TENANT_BURST), refilled at
//!   `new_tenant_refill_per_sec`) has a token; beyond it the
//!   token is refused ([`KeyError::NewTenantThrottled`], 401) without any fetch.
//! - Single-flight: a slot has one fetch in flight; everyone else waits for its result.
//! - An unknown `kid` refetches at most once per [`REFRESH_MIN_INTERVAL`] per slot.
//! - A failed fetch keeps the last known good keys; with none, callers get
//!   [`KeyError::Unavailable`] (503) and, for [`FAILURE_BACKOFF`], no new fetch is tried
//!   (a tenant Entra does not know is remembered for [`REFRESH_MIN_INTERVAL`]).
//! - Issuers come from the metadata documents, never from a hard-coded host.
//! - At most [`MAX_CONCURRENT_FETCHES`] fetches are in flight at once; each has the HTTP client's
//!   timeouts and a size cap.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::claims::TokenVersion;
use super::clock::Clock;
use crate::config::AzureOAuthConfig;
use crate::primitives::bounded::BoundedMap;
use crate::primitives::lock::{lock, read, write};

/// An unknown `kid` triggers a refetch at most this often per tenant and version (Identity.Web:
/// 5 minutes).
pub(crate) const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(300);
/// After a failed fetch with no keys at hand, new fetches wait this long (requests get 503).
pub(crate) const FAILURE_BACKOFF: Duration = Duration::from_secs(10);
/// Metadata and key documents larger than this are refused.
const MAX_DOCUMENT: usize = 512 * 1024;
/// Keys beyond this many in one JWKS are ignored (Entra publishes a handful).
const MAX_KEYS: usize = 64;
/// Fetches in flight at once, over all tenants: a flood of new tenants (with
/// [`TenantPolicy::Any`](crate::config::TenantPolicy::Any)) queues here instead of opening a connection each.
const MAX_CONCURRENT_FETCHES: usize = 8;
/// A signing key from the JWKS.
pub(crate) struct Key {
    pub(crate) key: ParsedPublicKey,
    /// The key's `issuer` (a template with `{tenantid}`), when Entra names one.
    pub(crate) issuer: Option<String>,
}

/// One version's metadata and keys for one tenant.
pub(crate) struct KeySet {
    /// The metadata's `issuer`, possibly the template `…/{tenantid}/…`.
    pub(crate) issuer: String,
    keys: HashMap<String, Arc<Key>>,
}

impl KeySet {
    fn key(&self, kid: &str) -> Option<Arc<Key>> {
        self.keys.get(kid).cloned()
    }
}

/// Why no key could be had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The keys were fetched, and none has this `kid` (401).
    UnknownKey,
    /// Entra answered 4xx for the tenant's metadata: no such tenant (401).
    UnknownTenant,
    /// Keys cannot be fetched right now and none are at hand (503).
    Unavailable,
    /// The tenant is not cached and too many new tenants were looked up lately (401: the token
    /// is not known to be valid; nothing was fetched).
    NewTenantThrottled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// 4xx: the tenant does not exist (or has no such metadata).
    NotFound,
    /// Network, timeout, 5xx, garbage, no usable keys.
    Transient,
}

#[derive(Default)]
struct FetchState {
    /// The last fetch attempt, successful or not.
    last_attempt: Option<Instant>,
    /// The last failure, when the last attempt failed.
    failure: Option<Failure>,
}

#[derive(Default)]
struct Slot {
    current: RwLock<Option<Arc<KeySet>>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl Slot {
    fn current(&self) -> Option<Arc<KeySet>> {
        read(&self.current).clone()
    }
    fn store(&self, set: Arc<KeySet>) {
        *write(&self.current) = Some(set);
    }
}

/// A tenant's cache entry (handed back by [`KeyCache::key`] for [`KeyCache::promote`]).
pub(crate) struct TenantKeys {
    tenant: String,
    slots: [Slot; 2],
    /// Its keys verified a token.
    proven: AtomicBool,
}

/// A token bucket (see [`DEFAULT_NEW_TENANT_BURST`](crate::config::DEFAULT_NEW_TENANT_BURST)).
struct Bucket {
    burst: f64,
    refill_per_sec: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    fn full(burst: u32, refill_per_sec: u32) -> Self {
        let burst = f64::from(burst);
        Self { burst, refill_per_sec: f64::from(refill_per_sec), tokens: burst, last: None }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = self.last.map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
        self.last = Some(now);
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.refill_per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The cached tenants, in two bounded FIFOs: those whose keys verified a token, and the others.
struct Tenants {
    proven: BoundedMap<String, Arc<TenantKeys>>,
    unproven: BoundedMap<String, Arc<TenantKeys>>,
    new_tenants: Bucket,
}

impl Tenants {
    fn new(config: &AzureOAuthConfig) -> Self {
        let new_tenants = Bucket::full(config.new_tenant_burst(), config.new_tenant_refill_per_sec());
        // The unproven tenants get a quarter of the cache, the proven ones the rest; each at least one.
        let unproven = (config.key_cache_tenants() / 4).max(1);
        let proven = config.key_cache_tenants().saturating_sub(unproven).max(1);
        Self { proven: BoundedMap::new(proven), unproven: BoundedMap::new(unproven), new_tenants }
    }
}

/// Inserts `entry` into `fifo`, logging the tenants it evicts.
fn insert(fifo: &mut BoundedMap<String, Arc<TenantKeys>>, entry: &Arc<TenantKeys>, what: &str) {
    for (oldest, _) in fifo.insert(entry.tenant.clone(), Arc::clone(entry)) {
        tracing::debug!(tenant = %oldest, what, "key cache full: evicted the oldest tenant");
    }
}

/// See the module documentation.
pub(crate) struct KeyCache {
    config: Arc<AzureOAuthConfig>,
    client: reqwest::Client,
    clock: Clock,
    tenants: Mutex<Tenants>,
    fetch_permits: tokio::sync::Semaphore,
    pub(crate) metadata_fetches: AtomicU64,
    pub(crate) jwks_fetches: AtomicU64,
}

/// Whether `jwks_uri` has the origin of the configured authority host (scheme, host and port), as
/// Entra's key sets do in every cloud: a metadata document cannot send the key fetch to `http`
/// or to another host.
fn same_origin_as_authority(jwks_uri: &url::Url, authority_host: &str) -> bool {
    url::Url::parse(authority_host).is_ok_and(|authority| authority.origin() == jwks_uri.origin())
}

#[derive(Deserialize)]
struct Metadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    issuer: Option<String>,
}

impl KeyCache {
    pub(crate) fn new(config: Arc<AzureOAuthConfig>, client: reqwest::Client, clock: Clock) -> Self {
        Self {
            tenants: Mutex::new(Tenants::new(&config)),
            config,
            client,
            clock,
            fetch_permits: tokio::sync::Semaphore::new(MAX_CONCURRENT_FETCHES),
            metadata_fetches: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
        }
    }

    /// How many tenants are cached.
    pub(crate) fn tenant_count(&self) -> usize {
        let t = lock(&self.tenants);
        t.proven.len() + t.unproven.len()
    }

    fn entry(&self, tenant: &str) -> Result<Arc<TenantKeys>, KeyError> {
        let mut t = lock(&self.tenants);
        if let Some(e) = t.proven.get(tenant).or_else(|| t.unproven.get(tenant)) {
            return Ok(e.clone());
        }
        if !t.new_tenants.take(self.clock.instant()) {
            tracing::debug!(tenant, "too many new tenants lately: not looked up");
            return Err(KeyError::NewTenantThrottled);
        }
        let e = Arc::new(TenantKeys {
            tenant: tenant.to_owned(),
            slots: Default::default(),
            proven: AtomicBool::new(false),
        });
        insert(&mut t.unproven, &e, "unproven");
        Ok(e)
    }

    /// Marks `entry` proven (its keys verified a token): it moves to the proven FIFO, where only
    /// other proven tenants can evict it.
    pub(crate) fn promote(&self, entry: &Arc<TenantKeys>) {
        if entry.proven.load(Ordering::Acquire) {
            return;
        }
        let mut t = lock(&self.tenants);
        if entry.proven.load(Ordering::Acquire) {
            return;
        }
        // Evicted from the unproven FIFO meanwhile or not, it is the entry with verified keys.
        t.unproven.remove(&entry.tenant);
        if !t.proven.contains_key(&entry.tenant) {
            insert(&mut t.proven, entry, "proven");
            tracing::debug!(tenant = %entry.tenant, "tenant proven: its keys verified a token");
        }
        entry.proven.store(true, Ordering::Release);
    }

    /// The key `kid` of `tenant` (a lower-case GUID the caller has allowed) for tokens of
    /// `version`, with the key set it came from and the tenant's entry (to
    /// [`promote`](Self::promote) once the token is verified).
    pub(crate) async fn key(
        &self,
        tenant: &str,
        version: TokenVersion,
        kid: &str,
    ) -> Result<(Arc<KeySet>, Arc<Key>, Arc<TenantKeys>), KeyError> {
        let entry = self.entry(tenant)?;
        let (set, key) = self.key_in(&entry, tenant, version, kid).await?;
        Ok((set, key, entry))
    }

    async fn key_in(
        &self,
        entry: &TenantKeys,
        tenant: &str,
        version: TokenVersion,
        kid: &str,
    ) -> Result<(Arc<KeySet>, Arc<Key>), KeyError> {
        let slot = &entry.slots[version.index()];
        if let Some(set) = slot.current()
            && let Some(key) = set.key(kid)
        {
            return Ok((set, key));
        }
        let mut state = slot.fetch.lock().await;
        // Whoever held the lock before may have fetched what we need.
        let current = slot.current();
        if let Some(set) = &current
            && let Some(key) = set.key(kid)
        {
            return Ok((set.clone(), key));
        }
        let now = self.clock.instant();
        if let Some(last) = state.last_attempt {
            let since = now.saturating_duration_since(last);
            match (&current, state.failure) {
                // Keys at hand, none with this kid: refetch at most once per interval.
                (Some(_), _) if since < REFRESH_MIN_INTERVAL => return Err(KeyError::UnknownKey),
                (None, Some(Failure::NotFound)) if since < REFRESH_MIN_INTERVAL => {
                    return Err(KeyError::UnknownTenant);
                }
                (None, Some(Failure::Transient)) if since < FAILURE_BACKOFF => {
                    return Err(KeyError::Unavailable);
                }
                _ => {}
            }
        }
        state.last_attempt = Some(now);
        match self.fetch(tenant, version).await {
            Ok(set) => {
                state.failure = None;
                let set = Arc::new(set);
                slot.store(set.clone());
                match set.key(kid) {
                    Some(key) => Ok((set, key)),
                    None => Err(KeyError::UnknownKey),
                }
            }
            Err(failure) => {
                state.failure = Some(failure);
                match (current, failure) {
                    (None, Failure::NotFound) => Err(KeyError::UnknownTenant),
                    _ => Err(KeyError::Unavailable),
                }
            }
        }
    }

    /// Refreshes every slot of the proven tenants that has keys (the background refresher),
    /// keeping the last known good keys on failure. Unproven tenants are not refreshed: no token
    /// of theirs verified, so their keys serve nobody yet.
    pub(crate) async fn refresh_all(&self) {
        let entries: Vec<Arc<TenantKeys>> = lock(&self.tenants).proven.values().cloned().collect();
        for entry in entries {
            for version in [TokenVersion::V1, TokenVersion::V2] {
                let slot = &entry.slots[version.index()];
                if slot.current().is_none() {
                    continue;
                }
                let mut state = slot.fetch.lock().await;
                state.last_attempt = Some(self.clock.instant());
                match self.fetch(&entry.tenant, version).await {
                    Ok(set) => {
                        state.failure = None;
                        slot.store(Arc::new(set));
                    }
                    Err(failure) => {
                        state.failure = Some(failure);
                        tracing::warn!(
                            tenant = %entry.tenant,
                            ?version,
                            "signing key refresh failed; keeping the last known good keys"
                        );
                    }
                }
            }
        }
    }

    fn metadata_url(&self, tenant: &str, version: TokenVersion) -> String {
        let authority = self.config.authority_host();
        let mut url = match version {
            TokenVersion::V2 => format!("{authority}/{tenant}/v2.0/.well-known/openid-configuration"),
            TokenVersion::V1 => format!("{authority}/{tenant}/.well-known/openid-configuration"),
        };
        if self.config.custom_signing_keys() {
            url.push_str("?appid=");
            url.push_str(self.config.app_id());
        }
        url
    }

    async fn fetch(&self, tenant: &str, version: TokenVersion) -> Result<KeySet, Failure> {
        // Never closed, so acquiring fails only in theory.
        let _permit = self.fetch_permits.acquire().await.map_err(|_| Failure::Transient)?;
        let url = self.metadata_url(tenant, version);
        self.metadata_fetches.fetch_add(1, Ordering::Relaxed);
        let metadata: Metadata = self.get_json(&url, tenant, "metadata").await?;
        let mut jwks_uri = url::Url::parse(&metadata.jwks_uri).map_err(|_| {
            tracing::warn!(tenant, "the OpenID metadata has no valid jwks_uri");
            Failure::Transient
        })?;
        if !same_origin_as_authority(&jwks_uri, self.config.authority_host()) {
            tracing::warn!(
                tenant,
                jwks_uri = %jwks_uri,
                authority_host = self.config.authority_host(),
                "the OpenID metadata's jwks_uri is not on the configured authority host (same scheme, host and \
                 port as AZURE_AUTHORITY_HOST): its keys are not fetched"
            );
            return Err(Failure::Transient);
        }
        if self.config.custom_signing_keys() && !jwks_uri.query_pairs().any(|(k, _)| k == "appid") {
            jwks_uri.query_pairs_mut().append_pair("appid", self.config.app_id());
        }
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let jwks: Jwks = self.get_json(jwks_uri.as_str(), tenant, "signing keys").await?;
        let keys: HashMap<String, Arc<Key>> =
            jwks.keys.into_iter().filter_map(parse_key).take(MAX_KEYS).collect();
        if keys.is_empty() {
            tracing::warn!(tenant, "the JWKS has no usable RS256 signing key");
            return Err(Failure::Transient);
        }
        if metadata.issuer.is_empty() {
            tracing::warn!(tenant, "the OpenID metadata has no issuer");
            return Err(Failure::Transient);
        }
        tracing::debug!(tenant, ?version, keys = keys.len(), "fetched signing keys");
        Ok(KeySet { issuer: metadata.issuer, keys })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        tenant: &str,
        what: &str,
    ) -> Result<T, Failure> {
        let mut response = self.client.get(url).send().await.map_err(|e| {
            tracing::warn!(tenant, what, error = %e, "fetching from the authority failed");
            Failure::Transient
        })?;
        let status = response.status();
        if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
            tracing::info!(tenant, what, %status, "the authority does not know this tenant");
            return Err(Failure::NotFound);
        }
        if !status.is_success() {
            tracing::warn!(tenant, what, %status, "the authority answered with an error");
            return Err(Failure::Transient);
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_DOCUMENT {
                        tracing::warn!(tenant, what, "the authority's document is too large");
                        return Err(Failure::Transient);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(tenant, what, error = %e, "reading from the authority failed");
                    return Err(Failure::Transient);
                }
            }
        }
        serde_json::from_slice(&body).map_err(|e| {
            tracing::warn!(tenant, what, error = %e, "the authority's document is not valid");
            Failure::Transient
        })
    }
}

/// An RSA signature key usable for RS256, or `None` (other key types and uses are skipped).
fn parse_key(value: serde_json::Value) -> Option<(String, Arc<Key>)> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if jwk.kty != "RSA" || jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if jwk.alg.as_deref().is_some_and(|a| a != super::jwt::ALLOWED_ALG) {
        return None;
    }
    let kid = jwk.kid.filter(|k| !k.is_empty())?;
    let n = URL_SAFE_NO_PAD.decode(jwk.n?).ok()?;
    let e = URL_SAFE_NO_PAD.decode(jwk.e?).ok()?;
    // 2048 to 8192 bits, as RS256 keys must be (checked here, not left to verification).
    let bits =
        n.iter().position(|b| *b != 0).map_or(0, |i| (n.len() - i) * 8 - n[i].leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) {
        return None;
    }
    let key = RsaPublicKeyComponents { n: &n[..], e: &e[..] }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .ok()?;
    Some((kid, Arc::new(Key { key, issuer: jwk.issuer })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fetched_only_from_the_authority_hosts_origin() {
        let uri = |u: &str| url::Url::parse(u).expect("a URL");
        let public = "https://login.microsoftonline.com";
        assert!(same_origin_as_authority(
            &uri("https://login.microsoftonline.com/t/discovery/v2.0/keys"),
            public
        ));
        for other in [
            "http://login.microsoftonline.com/t/discovery/v2.0/keys",
            "https://evil.example/t/discovery/v2.0/keys",
            "https://login.microsoftonline.com:8443/t/discovery/v2.0/keys",
            "https://login.microsoftonline.com.evil.example/keys",
        ] {
            assert!(!same_origin_as_authority(&uri(other), public), "{other}");
        }
        assert!(same_origin_as_authority(
            &uri("http://127.0.0.1:4000/t/discovery/keys"),
            "http://127.0.0.1:4000"
        ));
        assert!(!same_origin_as_authority(
            &uri("http://127.0.0.1:4001/t/discovery/keys"),
            "http://127.0.0.1:4000"
        ));
    }
    use crate::config::{DEFAULT_NEW_TENANT_BURST, DEFAULT_NEW_TENANT_REFILL_PER_SEC};
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair, RsaKeyPair};
    use serde_json::json;

    fn rsa_jwk(extra: serde_json::Value) -> serde_json::Value {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("a key");
        let n = URL_SAFE_NO_PAD.encode(pair.public_key().modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(pair.public_key().exponent().big_endian_without_leading_zero());
        let mut jwk = json!({"kty": "RSA", "kid": "k1", "n": n, "e": e});
        if let (Some(o), Some(extra)) = (jwk.as_object_mut(), extra.as_object()) {
            o.extend(extra.clone());
        }
        jwk
    }

    #[test]
    fn only_rsa_signature_keys_for_rs256_are_kept() {
        let (kid, key) = parse_key(rsa_jwk(json!({"use": "sig", "issuer": "https://x/{tenantid}/v2.0"})))
            .expect("an Entra key");
        assert_eq!(kid, "k1");
        assert_eq!(key.issuer.as_deref(), Some("https://x/{tenantid}/v2.0"));
        assert!(parse_key(rsa_jwk(json!({}))).is_some(), "use and alg are optional");
        assert!(parse_key(rsa_jwk(json!({"use": "enc"}))).is_none());
        assert!(parse_key(rsa_jwk(json!({"alg": "RS384"}))).is_none());
        assert!(parse_key(rsa_jwk(json!({"kid": ""}))).is_none());
        assert!(parse_key(rsa_jwk(json!({"kty": "EC"}))).is_none());
        assert!(parse_key(rsa_jwk(json!({"n": "not base64!"}))).is_none());
        assert!(parse_key(json!({"kty": "oct", "k": "c2VjcmV0"})).is_none());
    }

    #[test]
    fn the_new_tenant_bucket_allows_its_burst_then_its_refill_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::full(DEFAULT_NEW_TENANT_BURST, DEFAULT_NEW_TENANT_REFILL_PER_SEC);
        let taken = (0..100).filter(|_| bucket.take(start)).count();
        assert_eq!(taken, DEFAULT_NEW_TENANT_BURST as usize, "the burst, no more");
        let later = start + Duration::from_secs(5);
        let taken = (0..100).filter(|_| bucket.take(later)).count();
        assert_eq!(taken, 5 * DEFAULT_NEW_TENANT_REFILL_PER_SEC as usize, "5 seconds of refill");
        let much_later = later + Duration::from_secs(3600);
        let taken = (0..100).filter(|_| bucket.take(much_later)).count();
        assert_eq!(taken, DEFAULT_NEW_TENANT_BURST as usize, "the refill stops at the burst");
        // A clock going backwards refills nothing.
        assert!(!bucket.take(start));
    }

    #[test]
    fn keys_shorter_than_2048_bits_are_refused() {
        for n in [vec![0xffu8; 128], [vec![0x7f], vec![0xffu8; 255]].concat()] {
            let jwk = json!({"kty": "RSA", "kid": "short", "n": URL_SAFE_NO_PAD.encode(&n), "e": "AQAB"});
            assert!(parse_key(jwk).is_none(), "{} bytes", n.len());
        }
    }
}
