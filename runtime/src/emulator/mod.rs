//! An in-process Microsoft Entra ID (v1 + v2 endpoints) and Microsoft Graph, for tests and local runs
//! (feature `emulator`).
//!
//! [`Emulator::start`] binds two HTTP servers on `127.0.0.1` with ephemeral ports: the login
//! authority ([`Emulator::authority_host`]) and Graph ([`Emulator::graph_endpoint`]). It holds one
//! home tenant with one app registration, and behaves as Entra does, strictly:
//!
//! - per-tenant v1 and v2 OpenID metadata and JWKS (RSA 2048 keys with real self-signed `x5c`
//!   certificates, `kid` = `x5t`, v2 keys with the `issuer` template), key rotation and
//!   retirement, tenants with their own keys, `?appid=` for apps with custom signing keys;
//! - `/oauth2/v2.0/authorize` and `/oauth2/v2.0/token` with Entra's rules and `AADSTS` errors:
//!   enrolled redirect URIs (loopback ports ignored), fully qualified scopes, no `resource`, PKCE,
//!   the platform of the redirect URI deciding how a code is redeemed (`web` needs the secret, `spa`
//!   an `Origin` header, `publicClient` no secret), single-use codes, refresh tokens,
//!   client credentials;
//! - the on-behalf-of grant
//!   (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow>): the
//!   assertion checked as Entra checks it (signature, lifetime, audience = the app, a user's
//!   token, the tenant of its `tid`), the client secret, one resource per request; tokens for
//!   Microsoft Graph (v1, `aud` `https://graph.microsoft.com`) or another API
//!   ([`Emulator::add_api`]) carrying the same user; consent per resource as state
//!   ([`Emulator::grant_consent`], Graph's `User.Read` from the start; `AADSTS65001` without it)
//!   and a Conditional Access step-up per resource ([`Emulator::require_step_up`]:
//!   `interaction_required` with a `claims` challenge); exchanges counted and faulted as
//!   [`Endpoint::OnBehalfOf`];
//! - Graph's application object: `GET`/`PATCH` by `appId` alternate key, `$filter` or object id,
//!   bearer tokens checked like Graph does, `PATCH` replacing whole redirect URI arrays;
//! - Graph's `GET /v1.0/me` for the users of the directory ([`Emulator::add_user`]), with a
//!   delegated token that may read the profile (`User.Read`, `User.ReadBasic.All`, …).
//!
//! Tests mint tokens with [`Emulator::token`], inject failures with [`Emulator::set_fault`],
//! and synchronise on the request log with [`Emulator::wait_for_requests`] (no sleeps).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform};
//!
//! let emu = Emulator::start().await?;
//! let config = emu.config().build().expect("the emulator's preset is valid");
//! let token = emu.token().scopes("access_as_user").sign();
//! emu.set_fault(Endpoint::JwksV2, Fault::status(503).times(1));
//! emu.set_redirect_uris(Platform::Web, vec!["https://app.example.com/cb".into()]);
//! # let _ = (config, token);
//! # Ok(()) }
//! ```
//!
//! ## Keys
//! Every emulator in a process starts with the same RSA key, as every real tenant shares
//! Microsoft's keys (issuers still differ, by port): starting one takes microseconds. Keys for
//! [`rotate_keys`](Emulator::rotate_keys), tenants with their own keys, custom signing keys and
//! [`EmulatorBuilder::unique_keys`] come from a pool a background thread keeps filled, so they
//! are usually ready; otherwise one is generated on the spot (tens of milliseconds).
//!
//! ## Differences from the real service
//! - Redirect URIs patched through Graph are usable at once (Entra takes seconds to propagate
//!   them, with no documented figure).
//! - The configured [`User`] is signed in and consents automatically; there is no login UI.
//! - The sign-in error page (unknown client, redirect URI not enrolled, user not in the tenant)
//!   is served with status 400; the status of Entra's page is unverified.
//! - Where Entra's exact `AADSTS` code for a case is not documented, the closest documented code
//!   is used (marked *unverified* in the source).
//! - Graph serves only the application object and `/me`, and a `PATCH` of any other property than
//!   `displayName` and the three `redirectUris` arrays is refused with 400 rather than ignored.
//! - Consent is the app's, for every user and tenant (as an admin's consent), and `/authorize`
//!   does not change it. A step-up requirement is met by an assertion carrying the claims the
//!   challenge asks for (such as `acrs`), not by evaluating policies.
//! - Everything lives in memory and is forgotten when the last handle drops.

// Layers, lowest first: a module uses only modules of lower layers (and this one).
// Clocks; what a test sets and reads:
mod faults;
mod time;

// Signing keys, test certificates:
mod certificate;
mod keys;

// What the servers share, and a request as read:
mod request;
mod state;

// Error bodies, tenants, minting and reading tokens:
mod errors;
mod jws;
mod mint;
mod tenant;

// Scopes, client assertions, clients, discovery:
mod assertion;
mod client;
mod discovery;
mod scopes;

// The endpoints:
mod authorize;
mod graph;
mod identity;
mod token;

// The accept loop and dispatch:
mod server;

// Start-up:
mod builder;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::watch;

pub use builder::EmulatorBuilder;
pub use certificate::TestCertificate;
pub use faults::{Endpoint, Fault, RecordedRequest};
pub use mint::TokenBuilder;

use crate::config::{AzureOAuthConfig, AzureOAuthConfigBuilder, ClientSecret};
use state::{KeySet, State};

/// The default v1 token issuer host (`iss` = `https://sts.windows.net/{tid}/`).
pub const DEFAULT_V1_ISSUER_HOST: &str = "https://sts.windows.net";
/// The personal Microsoft account tenant (`consumers`).
pub const CONSUMERS_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The app id of Microsoft Graph.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The resource id Graph tokens carry as `aud`.
pub const GRAPH_RESOURCE: &str = "https://graph.microsoft.com";
/// The Graph application permission client-credentials tokens of the emulated app carry.
pub const GRAPH_ROLE: &str = "Application.ReadWrite.OwnedBy";

/// A platform of the app registration, which decides how a code is redeemed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// `web`: confidential; the token request must carry the client secret.
    Web,
    /// `spa`: redeemed by a cross-origin request with an `Origin` header, no secret, PKCE.
    Spa,
    /// `publicClient`: loopback and custom-scheme redirects; no secret allowed, PKCE.
    PublicClient,
}

impl Platform {
    /// All three, in Graph's order.
    pub const ALL: [Platform; 3] = [Platform::Web, Platform::Spa, Platform::PublicClient];

    /// The property name on Graph's application object: `web`, `spa`, `publicClient`.
    pub fn graph_name(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Spa => "spa",
            Platform::PublicClient => "publicClient",
        }
    }
}

/// The user `/authorize` signs in (and the default subject of minted delegated tokens).
///
/// ```
/// use axum_mcp_azure_oauth::emulator::User;
///
/// let user = User { name: "Ada".into(), preferred_username: "ada@contoso.com".into(), ..User::default() };
/// assert_eq!(user.tenant, ""); // empty: the emulator's home tenant
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Object id (stable across apps): the claim to key users on.
    pub oid: String,
    /// Display name (`name`).
    pub name: String,
    /// Sign-in name (`preferred_username` in v2, `upn`/`unique_name` in v1). Display only.
    pub preferred_username: String,
    /// Home tenant GUID of the user; empty means the emulator's home tenant.
    pub tenant: String,
    /// App roles assigned to the user (delegated tokens carry them as `roles`).
    pub roles: Vec<String>,
}

impl Default for User {
    /// A user with a fresh random `oid` in the home tenant.
    fn default() -> Self {
        Self {
            oid: new_guid(),
            name: "Emulated User".into(),
            preferred_username: "user@contoso.onmicrosoft.com".into(),
            tenant: String::new(),
            roles: Vec::new(),
        }
    }
}

/// The rest of a user's profile, as Microsoft Graph's `GET /v1.0/me` returns it
/// (<https://learn.microsoft.com/en-us/graph/api/user-get>): `id`, `displayName` and
/// `userPrincipalName` come from the [`User`]. `None` is sent as `null`, as Graph does for unset
/// properties.
///
/// ```
/// use axum_mcp_azure_oauth::emulator::{User, UserProfile};
///
/// let profile = UserProfile { job_title: Some("Engineer".into()), ..UserProfile::default() };
/// let derived = UserProfile::derived_from(&User { name: "Ada Lovelace".into(), ..User::default() });
/// assert_eq!(derived.given_name.as_deref(), Some("Ada"));
/// assert_eq!(derived.surname.as_deref(), Some("Lovelace"));
/// # let _ = profile;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserProfile {
    /// `givenName`.
    pub given_name: Option<String>,
    /// `surname`.
    pub surname: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// `jobTitle`.
    pub job_title: Option<String>,
    /// `mobilePhone`.
    pub mobile_phone: Option<String>,
    /// `officeLocation`.
    pub office_location: Option<String>,
    /// `preferredLanguage`, such as `en-US`.
    pub preferred_language: Option<String>,
    /// `businessPhones`.
    pub business_phones: Vec<String>,
}

impl UserProfile {
    /// The profile the emulator gives a user it is not told one for (the default user, and
    /// [`Emulator::set_user`]): `givenName` and `surname` split from `name` at its first space,
    /// `mail` = `preferred_username`.
    pub fn derived_from(user: &User) -> Self {
        let (given, surname) = match user.name.trim().split_once(' ') {
            Some((g, s)) => (Some(g.to_owned()), Some(s.trim().to_owned())),
            None if user.name.trim().is_empty() => (None, None),
            None => (Some(user.name.trim().to_owned()), None),
        };
        let mail = Some(user.preferred_username.clone()).filter(|m| m.contains('@'));
        Self { given_name: given, surname, mail, ..Self::default() }
    }
}

/// A random version-4 GUID, lower case.
pub fn new_guid() -> String {
    let mut b = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// A random URL-safe string of `bytes` random bytes (codes, refresh tokens, ids).
pub(crate) fn random_token(bytes: usize) -> String {
    use base64::Engine as _;
    let mut b = vec![0u8; bytes];
    let _ = aws_lc_rs::rand::fill(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

struct Handle {
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    stopped: watch::Receiver<u8>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// A running emulator. Cloning shares it; the servers stop when the last clone drops or on
/// [`shutdown`](Self::shutdown).
#[derive(Clone)]
pub struct Emulator {
    handle: Arc<Handle>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.handle.state;
        f.debug_struct("Emulator")
            .field("authority_host", &s.authority)
            .field("graph_endpoint", &s.graph)
            .field("home_tenant", &s.home)
            .field("app_id", &s.app.app_id)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator with defaults: random home tenant, app id and secret, v2 access tokens.
    pub async fn start() -> std::io::Result<Self> {
        Self::builder().start().await
    }

    /// Configures an emulator; see [`EmulatorBuilder`].
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    fn state(&self) -> &Arc<State> {
        &self.handle.state
    }

    /// Stops both servers now (open connections finish their current request). Further requests
    /// are refused.
    pub fn shutdown(&self) {
        self.handle.shutdown.send_replace(true);
    }

    /// Resolves once both servers have stopped listening (after [`shutdown`](Self::shutdown) or
    /// the drop of the last handle). The future holds no handle, so it can outlive them:
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emu = axum_mcp_azure_oauth::emulator::Emulator::start().await?;
    /// let stopped = emu.stopped();
    /// drop(emu);
    /// stopped.await; // the ports are closed now
    /// # Ok(()) }
    /// ```
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.handle.stopped.clone();
        async move {
            let _ = rx.wait_for(|n| *n >= 2).await;
        }
    }

    /// `http://127.0.0.1:PORT` of the login authority, no trailing slash.
    pub fn authority_host(&self) -> String {
        self.state().authority.clone()
    }

    /// `http://127.0.0.1:PORT` of Microsoft Graph, no trailing slash.
    pub fn graph_endpoint(&self) -> String {
        self.state().graph.clone()
    }

    /// The home tenant GUID.
    pub fn home_tenant(&self) -> String {
        self.state().home.clone()
    }

    /// The app (client) id.
    pub fn app_id(&self) -> String {
        self.state().app.app_id.clone()
    }

    /// The app's client secret.
    pub fn client_secret(&self) -> ClientSecret {
        self.state().app.secret.clone()
    }

    /// The object id of the application object in Graph (not the app id).
    pub fn app_object_id(&self) -> String {
        self.state().app.object_id.clone()
    }

    /// The object id of the app's service principal (`oid` of its app-only tokens).
    pub fn service_principal_id(&self) -> String {
        self.state().app.sp_object_id.clone()
    }

    /// `{authority}/{home}/v2.0`, the issuer of v2 tokens of the home tenant.
    pub fn issuer_v2(&self) -> String {
        self.state().v2_issuer(&self.state().home)
    }

    /// `https://sts.windows.net/{home}/`, the issuer of v1 tokens of the home tenant.
    pub fn issuer_v1(&self) -> String {
        self.state().v1_issuer(&self.state().home)
    }

    /// A configuration builder preset with `app_id`, `tenant_id`, `client_secret`,
    /// `authority_host` and `graph_endpoint` of this emulator.
    pub fn config(&self) -> AzureOAuthConfigBuilder {
        let s = self.state();
        AzureOAuthConfig::builder()
            .app_id(&s.app.app_id)
            .tenant_id(&s.home)
            .client_secret(s.app.secret.clone())
            .authority_host(&s.authority)
            .graph_endpoint(&s.graph)
    }

    /// The environment variables [`AzureOAuthConfig::from_env`] reads that point a server at this
    /// emulator: `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`,
    /// `AZURE_AUTHORITY_HOST` and `MICROSOFT_GRAPH_ENDPOINT`, the values [`config`](Self::config)
    /// sets. For a server configured from its environment: a child process, or
    /// `azure_oauth_routes!`'s `env` key.
    ///
    /// ```
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use axum_mcp_azure_oauth::AzureOAuthConfig;
    /// use axum_mcp_azure_oauth::emulator::Emulator;
    ///
    /// let emu = Emulator::start().await?;
    /// let vars = emu.env_vars();
    /// let lookup = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    /// let config = AzureOAuthConfig::builder().env(lookup)?.build()?;
    /// assert_eq!(config.app_id(), emu.app_id());
    /// # Ok(()) }
    /// ```
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        let s = self.state();
        vec![
            ("AZURE_CLIENT_ID", s.app.app_id.clone()),
            ("AZURE_TENANT_ID", s.home.clone()),
            ("AZURE_CLIENT_SECRET", s.app.secret.expose().to_owned()),
            ("AZURE_AUTHORITY_HOST", s.authority.clone()),
            ("MICROSOFT_GRAPH_ENDPOINT", s.graph.clone()),
        ]
    }

    /// A configuration builder preset like [`config`](Self::config) but without the client
    /// secret: for a server that proves itself with a certificate, a federated token file or a
    /// managed identity.
    pub fn config_without_secret(&self) -> AzureOAuthConfigBuilder {
        let s = self.state();
        AzureOAuthConfig::builder()
            .app_id(&s.app.app_id)
            .tenant_id(&s.home)
            .authority_host(&s.authority)
            .graph_endpoint(&s.graph)
    }

    /// Uploads a certificate's public part (DER) to the app registration: client assertions
    /// signed with its key are accepted from then on.
    ///
    /// # Panics
    /// When `der` is not an RSA certificate.
    pub fn add_certificate(&self, der: &[u8]) {
        #[allow(clippy::expect_used)]
        let cert = state::RegisteredCertificate::new(der).expect("an RSA certificate (DER)");
        self.state().lock().certificates.push(cert);
    }

    /// A new certificate, valid for a year, already uploaded to the app registration.
    pub fn issue_certificate(&self) -> TestCertificate {
        let cert = TestCertificate::generate("CN=emulated-mcp-server");
        self.add_certificate(cert.certificate_der());
        cert
    }

    /// Adds a federated identity credential to the app: tokens of `issuer` about `subject` for
    /// `audience` (usually `api://AzureADTokenExchange`) are accepted as its client assertion.
    pub fn add_federated_credential(&self, issuer: &str, subject: &str, audience: &str) {
        self.state().lock().federated.push(state::FederatedCredential {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audience: audience.to_owned(),
        });
    }

    /// Creates a user-assigned managed identity and returns its client id and principal (object)
    /// id; its tokens come from [`identity_endpoint`](Self::identity_endpoint) and
    /// [`imds_endpoint`](Self::imds_endpoint), issued by [`issuer_v2`](Self::issuer_v2) with `sub`
    /// = the principal id. Trust it with
    /// `add_federated_credential(&emu.issuer_v2(), &principal_id, "api://AzureADTokenExchange")`.
    pub fn add_managed_identity(&self) -> (String, String) {
        let (client_id, principal_id) = (new_guid(), new_guid());
        self.state().lock().identities.insert(client_id.clone(), principal_id.clone());
        (client_id, principal_id)
    }

    /// App Service's managed identity endpoint as this emulator serves it (`IDENTITY_ENDPOINT`).
    pub fn identity_endpoint(&self) -> String {
        format!("{}{}", self.state().authority, identity::APP_SERVICE_PATH)
    }

    /// The `X-IDENTITY-HEADER` value [`identity_endpoint`](Self::identity_endpoint) requires
    /// (`IDENTITY_HEADER`).
    pub fn identity_header(&self) -> String {
        self.state().identity_header.clone()
    }

    /// The instance metadata service's token endpoint as this emulator serves it.
    pub fn imds_endpoint(&self) -> String {
        format!("{}{}", self.state().authority, identity::IMDS_PATH)
    }

    /// The issuer of workload identity tokens this emulator signs (an AKS cluster's OIDC issuer).
    pub fn workload_identity_issuer(&self) -> String {
        format!("{}/workload-identity/{}", self.state().authority, self.state().home)
    }

    /// A workload identity token for `subject` (such as
    /// `system:serviceaccount:default:mcp-server`) with audience `api://AzureADTokenExchange`, as
    /// AKS projects into `AZURE_FEDERATED_TOKEN_FILE`; valid for an hour.
    pub fn workload_identity_token(&self, subject: &str) -> String {
        self.workload_identity_token_expiring(subject, std::time::Duration::from_secs(3600))
    }

    /// [`workload_identity_token`](Self::workload_identity_token) valid for `lifetime`, or
    /// already expired when `lifetime` is zero.
    pub fn workload_identity_token_expiring(&self, subject: &str, lifetime: std::time::Duration) -> String {
        let token = self
            .token()
            .v2()
            .app_only()
            .issuer(&self.workload_identity_issuer())
            .audience("api://AzureADTokenExchange");
        let token = if lifetime.is_zero() { token.expired() } else { token.expires_in(lifetime) };
        token.claim("sub", serde_json::json!(subject)).without_claim("roles").sign()
    }

    /// Adds a tenant that uses the shared keys (as real tenants do) and returns its GUID.
    pub fn add_tenant(&self) -> String {
        let tid = new_guid();
        self.state().lock().tenants.insert(tid.clone(), None);
        tid
    }

    /// Adds a tenant whose tokens are signed by keys only its own JWKS lists; returns its GUID.
    /// May block briefly to generate a key.
    pub fn add_tenant_with_own_keys(&self) -> String {
        let tid = new_guid();
        let key = keys::fresh_key();
        self.state().lock().tenants.insert(tid.clone(), Some(KeySet::new(key)));
        tid
    }

    /// Adds a signing key and makes it current for `tenant`'s own keys (a tenant added with
    /// [`add_tenant_with_own_keys`](Self::add_tenant_with_own_keys)), or for the shared keys
    /// (`None` or any other tenant). The old key stays listed until [`retire_key`](Self::retire_key).
    /// Returns the new `kid`. May block briefly to generate a key.
    pub fn rotate_keys(&self, tenant: Option<&str>) -> String {
        let key = keys::fresh_key();
        let kid = key.kid.clone();
        let mut m = self.state().lock();
        let set = match tenant.and_then(|t| m.tenants.get_mut(&t.to_ascii_lowercase())) {
            Some(Some(own)) => own,
            _ => &mut m.shared,
        };
        set.listed.push(Arc::clone(&key));
        set.current = key;
        kid
    }

    /// Stops listing the key `kid` in every JWKS. Tokens can still be signed with it through
    /// [`TokenBuilder::signing_key`]; if it was current, it stays current until the next rotation.
    pub fn retire_key(&self, kid: &str) {
        let mut m = self.state().lock();
        let m = &mut *m;
        let mut removed = Vec::new();
        let sets = std::iter::once(&mut m.shared)
            .chain(m.tenants.values_mut().flatten())
            .chain(m.app_keys.iter_mut());
        for set in sets {
            set.listed.retain(|k| {
                let keep = k.kid != kid;
                if !keep {
                    removed.push(Arc::clone(k));
                }
                keep
            });
        }
        m.retired.extend(removed);
    }

    /// The `kid` that signs the tokens of `tenant` now (`None`: the home tenant).
    pub fn current_kid(&self, tenant: Option<&str>) -> String {
        let m = self.state().lock();
        let tenant = tenant.map_or_else(|| self.state().home.clone(), str::to_ascii_lowercase);
        m.tenant_keys(&tenant).current.kid.clone()
    }

    /// Starts minting a token (an access token of the app's version for the signed-in user of the
    /// home tenant, unless told otherwise).
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(Arc::clone(self.state()))
    }

    /// Injects `fault` on `endpoint`, replacing any fault there.
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.state().lock().faults.insert(endpoint, fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.state().lock().faults.clear();
    }

    /// How many requests of `endpoint` were received (since the last [`reset_requests`](Self::reset_requests)).
    pub fn request_count(&self, endpoint: Endpoint) -> usize {
        self.state().lock().log.iter().filter(|r| r.endpoint == endpoint).count()
    }

    /// The TCP connections accepted so far: (Entra ID's side, Graph's side). A client that
    /// keeps its connections alive and shares its pool opens few.
    pub fn connections_accepted(&self) -> (usize, usize) {
        let [login, graph] = &self.state().connections;
        (login.load(Ordering::SeqCst), graph.load(Ordering::SeqCst))
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().lock().log.clone()
    }

    /// Forgets the request log.
    pub fn reset_requests(&self) {
        self.state().lock().log.clear();
    }

    /// Resolves once at least `n` requests of `endpoint` are in the log (counted as
    /// [`request_count`](Self::request_count)). Recorded before they are answered, so a request
    /// counts even when a fault drops it.
    pub async fn wait_for_requests(&self, endpoint: Endpoint, n: usize) {
        loop {
            let notified = self.state().notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.request_count(endpoint) >= n {
                return;
            }
            notified.await;
        }
    }

    /// The redirect URIs enrolled on `platform`, as Graph holds them.
    pub fn redirect_uris(&self, platform: Platform) -> Vec<String> {
        self.state().lock().redirect_uris.get(&platform).cloned().unwrap_or_default()
    }

    /// Replaces the redirect URIs of `platform` (test setup; not checked, unlike Graph's `PATCH`).
    pub fn set_redirect_uris(&self, platform: Platform, uris: Vec<String>) {
        self.state().lock().redirect_uris.insert(platform, uris);
    }

    /// Who `/authorize` signs in from now on. An empty `tenant` means the home tenant; another
    /// tenant is added (with shared keys) if unknown. The user is added to the directory as
    /// [`add_user`](Self::add_user) does, with [`UserProfile::derived_from`] unless it is there.
    pub fn set_user(&self, user: User) {
        let mut m = self.state().lock();
        if !user.tenant.is_empty() {
            m.tenants.entry(user.tenant.to_ascii_lowercase()).or_insert(None);
        }
        m.user = User { tenant: user.tenant.to_ascii_lowercase(), ..user };
        // The signed-in user is in the directory too (Graph's `/me`); keep a profile given before.
        let profile = match m.users.get(&m.user.oid) {
            Some((_, profile)) => profile.clone(),
            None => UserProfile::derived_from(&m.user),
        };
        let user = m.user.clone();
        m.add_user(&self.state().home, user, profile);
    }

    /// The user `/authorize` signs in (tenant filled in).
    pub fn user(&self) -> User {
        self.state().lock().signed_in_user(&self.state().home)
    }

    /// Adds `user` to the directory with its Graph `profile` (replacing any user with the same
    /// `oid`) and returns it with its tenant filled in (empty: the home tenant; an unknown tenant
    /// is added with shared keys). Graph's `GET /v1.0/me` answers for directory users only; mint
    /// their tokens with [`TokenBuilder::user`]. Unlike [`set_user`](Self::set_user), this does
    /// not change who `/authorize` signs in.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use axum_mcp_azure_oauth::emulator::{Emulator, User, UserProfile};
    ///
    /// let emu = Emulator::start().await?;
    /// let grace = emu.add_user(
    ///     User { name: "Grace Hopper".into(), preferred_username: "grace@contoso.com".into(), ..User::default() },
    ///     UserProfile { job_title: Some("Rear Admiral".into()), ..UserProfile::default() },
    /// );
    /// let token = emu.token().user(grace).sign();
    /// # let _ = token;
    /// # Ok(()) }
    /// ```
    pub fn add_user(&self, user: User, profile: UserProfile) -> User {
        self.state().lock().add_user(&self.state().home, user, profile)
    }

    /// Registers another web API in every tenant (an app registration with the app id `app_id`
    /// exposing the delegated `scopes`), which the app may then call on behalf of a user once it
    /// holds consent ([`grant_consent`](Self::grant_consent)). Its tokens are of
    /// `access_token_version` (1: `aud` = `api://{app_id}`; otherwise 2: `aud` = `app_id`).
    /// Returns its App ID URI, `api://{app_id}`.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// use axum_mcp_azure_oauth::emulator::Emulator;
    ///
    /// let emu = Emulator::start().await?;
    /// let tasks = emu.add_api("22222222-3333-4444-5555-666666666666", ["Tasks.Read"], 2);
    /// emu.grant_consent(&tasks, ["Tasks.Read"]);
    /// // An on-behalf-of request for `api://2222…/Tasks.Read` now succeeds.
    /// # Ok(()) }
    /// ```
    pub fn add_api<I: IntoIterator<Item = S>, S: Into<String>>(
        &self,
        app_id: &str,
        scopes: I,
        access_token_version: u8,
    ) -> String {
        let id = app_id.trim().to_ascii_lowercase();
        let api = state::DownstreamApi {
            scopes: scopes.into_iter().map(Into::into).collect(),
            token_version: if access_token_version == 1 { 1 } else { 2 },
        };
        self.state().lock().apis.insert(id.clone(), api);
        format!("api://{id}")
    }

    /// Grants the app the delegated `scopes` on `resource` for every user (as an admin's consent
    /// does): `https://graph.microsoft.com` (or Graph's app id) with `User.Read`, `Mail.Read`, …, or
    /// an API added with [`add_api`](Self::add_api) by its App ID URI or app id. Scopes may be
    /// qualified (`https://graph.microsoft.com/Mail.Read`). The emulator starts with Graph's
    /// `User.Read` consented; an on-behalf-of request for any other scope fails with
    /// `AADSTS65001` until it is granted.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emu = axum_mcp_azure_oauth::emulator::Emulator::start().await?;
    /// emu.grant_consent("https://graph.microsoft.com", ["Mail.Read", "Calendars.Read"]);
    /// emu.revoke_consent("https://graph.microsoft.com", ["User.Read"]);
    /// assert_eq!(emu.consented_scopes("https://graph.microsoft.com"), ["Mail.Read", "Calendars.Read"]);
    /// # Ok(()) }
    /// ```
    pub fn grant_consent<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, resource: &str, scopes: I) {
        let key = scopes::resource_key(self.state(), resource);
        let mut m = self.state().lock();
        let held = m.consent.entry(key).or_default();
        for scope in scopes {
            let name = scopes::scope_name(scope.as_ref());
            if !name.is_empty() && !held.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                held.push(name.to_owned());
            }
        }
    }

    /// Withdraws consent for `scopes` on `resource` (see [`grant_consent`](Self::grant_consent));
    /// scopes never granted are ignored.
    pub fn revoke_consent<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, resource: &str, scopes: I) {
        let key = scopes::resource_key(self.state(), resource);
        let revoked: Vec<String> =
            scopes.into_iter().map(|s| scopes::scope_name(s.as_ref()).to_owned()).collect();
        if let Some(held) = self.state().lock().consent.get_mut(&key) {
            held.retain(|h| !revoked.iter().any(|r| r.eq_ignore_ascii_case(h)));
        }
    }

    /// The delegated scopes the app holds consent for on `resource`, in the order granted.
    pub fn consented_scopes(&self, resource: &str) -> Vec<String> {
        let key = scopes::resource_key(self.state(), resource);
        self.state().lock().consent.get(&key).cloned().unwrap_or_default()
    }

    /// Makes on-behalf-of requests for `resource` need a step-up, as a Conditional Access policy
    /// (multifactor authentication, an authentication context) does: Entra answers
    /// `interaction_required` (`AADSTS50079`) with `claims` = `claims_challenge`
    /// (<https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-on-behalf-of-flow#error-response-example>).
    /// An assertion satisfies the requirement when it carries every claim the challenge's
    /// `access_token` member asks a `value` (or one of the `values`) of, such as `acrs` = `["c1"]`
    /// for `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`
    /// (<https://learn.microsoft.com/en-us/entra/identity-platform/claims-challenge>); mint one with
    /// [`TokenBuilder::claim`]. Until [`clear_step_up`](Self::clear_step_up).
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emu = axum_mcp_azure_oauth::emulator::Emulator::start().await?;
    /// emu.require_step_up(
    ///     "https://graph.microsoft.com",
    ///     r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
    /// );
    /// let stepped_up = emu.token().claim("acrs", serde_json::json!(["c1"])).sign();
    /// # let _ = stepped_up;
    /// # Ok(()) }
    /// ```
    pub fn require_step_up(&self, resource: &str, claims_challenge: &str) {
        let key = scopes::resource_key(self.state(), resource);
        self.state().lock().step_up.insert(key, claims_challenge.to_owned());
    }

    /// Removes the step-up requirement of `resource` (see [`require_step_up`](Self::require_step_up)).
    pub fn clear_step_up(&self, resource: &str) {
        let key = scopes::resource_key(self.state(), resource);
        self.state().lock().step_up.remove(&key);
    }
}
