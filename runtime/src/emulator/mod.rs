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
//! - Graph's application object: `GET`/`PATCH` by `appId` alternate key, `$filter` or object id,
//!   bearer tokens checked like Graph does, `PATCH` replacing whole redirect URI arrays.
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
//! - Graph serves only the application object, and a `PATCH` of any other property than
//!   `displayName` and the three `redirectUris` arrays is refused with 400 rather than ignored.
//! - Everything lives in memory and is forgotten when the last handle drops.

mod entra;
mod faults;
mod graph;
mod keys;
mod mint;
mod oauth;
mod server;
mod time;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};

pub use faults::{Endpoint, Fault, RecordedRequest};
pub use mint::TokenBuilder;

use crate::{AzureOAuthConfig, AzureOAuthConfigBuilder, ClientSecret};
use keys::SigningKey;

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

/// Signing keys listed in one JWKS, and the one new tokens are signed with.
pub(crate) struct KeySet {
    pub(crate) listed: Vec<Arc<SigningKey>>,
    pub(crate) current: Arc<SigningKey>,
}

impl KeySet {
    fn new(key: Arc<SigningKey>) -> Self {
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
    inner: Mutex<Mutable>,
    pub(crate) notify: Notify,
    /// TCP connections accepted: Entra ID's side, Graph's side.
    pub(crate) connections: [AtomicUsize; 2],
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Mutable> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
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

/// Configures an [`Emulator`] before [`start`](Self::start). Every value has a default.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use axum_mcp_azure_oauth::emulator::Emulator;
///
/// let emu = Emulator::builder()
///     .app_id("11111111-2222-3333-4444-555555555555")
///     .access_token_version(1)
///     .start()
///     .await?;
/// assert_eq!(emu.app_id(), "11111111-2222-3333-4444-555555555555");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "call .start().await"]
pub struct EmulatorBuilder {
    app_id: Option<String>,
    home_tenant: Option<String>,
    client_secret: Option<ClientSecret>,
    access_token_version: u8,
    v1_issuer_host: String,
    multi_tenant: bool,
    custom_signing_keys: bool,
    unique_keys: bool,
    display_name: String,
    exposed_scopes: Vec<String>,
    app_roles: Vec<String>,
    code_lifetime: Duration,
    token_lifetime: Duration,
    redirect_uris: Vec<(Platform, String)>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            app_id: None,
            home_tenant: None,
            client_secret: None,
            access_token_version: 2,
            v1_issuer_host: DEFAULT_V1_ISSUER_HOST.into(),
            multi_tenant: false,
            custom_signing_keys: false,
            unique_keys: false,
            display_name: "MCP server (emulated)".into(),
            exposed_scopes: vec![crate::DEFAULT_API_SCOPE.into()],
            app_roles: Vec::new(),
            code_lifetime: Duration::from_secs(600),
            token_lifetime: Duration::from_secs(3599),
            redirect_uris: Vec::new(),
        }
    }
}

impl EmulatorBuilder {
    /// The app (client) id; default a random GUID.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into().to_ascii_lowercase());
        self
    }
    /// The home tenant GUID; default a random GUID.
    pub fn home_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.home_tenant = Some(tenant.into().to_ascii_lowercase());
        self
    }
    /// The app's client secret; default a random one.
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }
    /// The manifest's `requestedAccessTokenVersion` (1 or 2; default 2): the version of access
    /// tokens for the app's API from `/token` and of [`Emulator::token`] by default. Other values
    /// are taken as 2.
    pub fn access_token_version(mut self, version: u8) -> Self {
        self.access_token_version = if version == 1 { 1 } else { 2 };
        self
    }
    /// The host of v1 issuers, default `https://sts.windows.net` (national clouds differ).
    pub fn v1_issuer_host(mut self, host: impl Into<String>) -> Self {
        self.v1_issuer_host = host.into().trim_end_matches('/').to_owned();
        self
    }
    /// Sign-in audience `AzureADMultipleOrgs` (users of any tenant; `/organizations` and
    /// `/common` allowed) instead of the default `AzureADMyOrg`.
    pub fn multi_tenant(mut self, multi_tenant: bool) -> Self {
        self.multi_tenant = multi_tenant;
        self
    }
    /// The app has custom signing keys (claims mapping): its tokens are signed by a key that only
    /// the JWKS fetched with `?appid={app_id}` lists.
    pub fn custom_signing_keys(mut self, on: bool) -> Self {
        self.custom_signing_keys = on;
        self
    }
    /// Start with a signing key no other emulator in the process has. By default every emulator
    /// starts with the same process-wide key (as every real tenant shares Microsoft's keys; issuers
    /// still differ by port), which makes starting one take microseconds; this option costs one
    /// key generation (tens of milliseconds) unless the background pool has one ready.
    /// [`Emulator::rotate_keys`] always gives the emulator a fresh key.
    pub fn unique_keys(mut self, on: bool) -> Self {
        self.unique_keys = on;
        self
    }
    /// The app's `displayName`.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = name.into();
        self
    }
    /// Delegated scopes the app exposes (default `access_as_user`); replaces the list.
    pub fn exposed_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.exposed_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// App roles granted to the app itself: client-credentials tokens for
    /// `api://{app_id}/.default` carry them (default none).
    pub fn app_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.app_roles = roles.into_iter().map(Into::into).collect();
        self
    }
    /// How long an authorization code stays redeemable (default 10 minutes, on the tokio clock).
    pub fn code_lifetime(mut self, lifetime: Duration) -> Self {
        self.code_lifetime = lifetime;
        self
    }
    /// `expires_in` of issued access tokens (default 3599 seconds).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }
    /// Enrols a redirect URI on a platform from the start.
    pub fn redirect_uri(mut self, platform: Platform, uri: impl Into<String>) -> Self {
        self.redirect_uris.push((platform, uri.into()));
        self
    }

    /// Binds both servers on `127.0.0.1` (ephemeral ports) and starts serving.
    pub async fn start(self) -> std::io::Result<Emulator> {
        let login = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let graph = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let authority = format!("http://{}", login.local_addr()?);
        let graph_endpoint = format!("http://{}", graph.local_addr()?);
        let (custom, unique) = (self.custom_signing_keys, self.unique_keys);
        let (shared, app_key) = tokio::task::spawn_blocking(move || {
            let shared = if unique { keys::fresh_key() } else { keys::common_key() };
            (shared, custom.then(keys::fresh_key))
        })
        .await
        .map_err(std::io::Error::other)?;
        let home = self.home_tenant.unwrap_or_else(new_guid);
        let mut redirect_uris: HashMap<Platform, Vec<String>> =
            Platform::ALL.into_iter().map(|p| (p, Vec::new())).collect();
        for (p, uri) in self.redirect_uris {
            redirect_uris.entry(p).or_default().push(uri);
        }
        let mutable = Mutable {
            shared: KeySet::new(shared),
            tenants: HashMap::from([(home.clone(), None)]),
            app_keys: app_key.map(KeySet::new),
            retired: Vec::new(),
            redirect_uris,
            display_name: self.display_name,
            user: User::default(),
            faults: HashMap::new(),
            log: Vec::new(),
            codes: HashMap::new(),
            redeemed: HashSet::new(),
            refresh: HashMap::new(),
        };
        let state = Arc::new(State {
            authority,
            graph: graph_endpoint,
            home,
            v1_issuer_host: self.v1_issuer_host,
            code_lifetime: self.code_lifetime,
            token_lifetime: self.token_lifetime,
            app: App {
                app_id: self.app_id.unwrap_or_else(new_guid),
                object_id: new_guid(),
                sp_object_id: new_guid(),
                secret: self.client_secret.unwrap_or_else(|| ClientSecret::new(random_token(30))),
                token_version: self.access_token_version,
                multi_tenant: self.multi_tenant,
                exposed_scopes: self.exposed_scopes,
                app_roles: self.app_roles,
            },
            inner: Mutex::new(mutable),
            notify: Notify::new(),
            connections: Default::default(),
        });
        let (shutdown, rx) = watch::channel(false);
        let (stopped_tx, stopped) = watch::channel(0u8);
        let stopped_tx = Arc::new(stopped_tx);
        tokio::spawn(server::serve(
            login,
            Arc::clone(&state),
            server::Side::Login,
            rx.clone(),
            Arc::clone(&stopped_tx),
        ));
        tokio::spawn(server::serve(graph, Arc::clone(&state), server::Side::Graph, rx, stopped_tx));
        tracing::debug!(authority = %state.authority, graph = %state.graph, "entra emulator started");
        Ok(Emulator { handle: Arc::new(Handle { state, shutdown, stopped }) })
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
    /// tenant is added (with shared keys) if unknown.
    pub fn set_user(&self, user: User) {
        let mut m = self.state().lock();
        if !user.tenant.is_empty() {
            m.tenants.entry(user.tenant.to_ascii_lowercase()).or_insert(None);
        }
        m.user = User { tenant: user.tenant.to_ascii_lowercase(), ..user };
    }

    /// The user `/authorize` signs in (tenant filled in).
    pub fn user(&self) -> User {
        self.state().lock().signed_in_user(&self.state().home)
    }
}
