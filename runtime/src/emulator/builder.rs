//! [`EmulatorBuilder`]: the emulator's settings, and [`start`](EmulatorBuilder::start), which binds
//! both servers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::state::{App, KeySet, Mutable, State};
use super::{
    DEFAULT_V1_ISSUER_HOST, Emulator, GRAPH_RESOURCE, Handle, Platform, User, UserProfile, keys, new_guid,
    random_token, server,
};
use crate::config::{ClientSecret, DEFAULT_API_SCOPE};

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
            exposed_scopes: vec![DEFAULT_API_SCOPE.into()],
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
        let user = User::default();
        let mut mutable = Mutable {
            shared: KeySet::new(shared),
            tenants: HashMap::from([(home.clone(), None)]),
            app_keys: app_key.map(KeySet::new),
            retired: Vec::new(),
            redirect_uris,
            display_name: self.display_name,
            user: user.clone(),
            faults: HashMap::new(),
            log: Vec::new(),
            codes: HashMap::new(),
            redeemed: HashSet::new(),
            refresh: HashMap::new(),
            users: HashMap::new(),
            apis: HashMap::new(),
            // A new app registration asks for Microsoft Graph's User.Read; the emulator starts with
            // it consented, so a zero-configuration on-behalf-of call to Graph works:
            // https://learn.microsoft.com/en-us/entra/identity-platform/quickstart-register-app
            consent: HashMap::from([(GRAPH_RESOURCE.to_owned(), vec!["User.Read".to_owned()])]),
            step_up: HashMap::new(),
            certificates: Vec::new(),
            federated: Vec::new(),
            identities: HashMap::new(),
        };
        let profile = UserProfile::derived_from(&user);
        mutable.add_user(&home, user, profile);
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
            identity_header: random_token(24),
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
