//! Minting tokens as Entra issues them: [`TokenBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::keys::{self, SigningKey};
use super::state::State;
use super::time::unix_now;
use super::{GRAPH_RESOURCE, GRAPH_ROLE, User, random_token};

#[derive(Clone, Debug)]
enum Lifetime {
    Default,
    Expired,
    ExpiresIn(Duration),
}

#[derive(Clone, Debug)]
enum KeyChoice {
    Default,
    Unknown,
    Tenant(String),
    Kid(String),
}

/// Mints a JWT signed by the emulator's keys, with the claims Entra puts in it. From
/// [`Emulator::token`](super::Emulator::token); finish with [`sign`](Self::sign).
///
/// Defaults: an access token for the app's API, of the app's `requestedAccessTokenVersion`, for
/// the signed-in user of the home tenant, with `scp` = `access_as_user`, valid for an hour, `RS256`,
/// signed by the tenant's current key.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use axum_mcp_azure_oauth::emulator::Emulator;
/// use std::time::Duration;
///
/// let emu = Emulator::start().await?;
/// let v1 = emu.token().v1().scopes("access_as_user").sign();
/// let app_only = emu.token().app_only().roles(["Tasks.Read"]).sign();
/// let expired = emu.token().expired().sign();
/// let foreign = emu.token().tenant(&emu.add_tenant()).sign();
/// let forged = emu.token().signed_with_unknown_key().sign();
/// let odd = emu.token().claim("tid", serde_json::json!("not-a-guid")).without_claim("oid").sign();
/// let early = emu.token().not_before_in(Duration::from_secs(3600)).sign();
/// # let _ = (v1, app_only, expired, foreign, forged, odd, early);
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "call .sign() to get the token"]
pub struct TokenBuilder {
    state: Arc<State>,
    version: Option<u8>,
    id_token: bool,
    graph: bool,
    tenant: Option<String>,
    audience: Option<String>,
    scopes: Option<String>,
    roles: Option<Vec<String>>,
    app_only: bool,
    user: Option<User>,
    client_id: Option<String>,
    nonce: Option<String>,
    lifetime: Lifetime,
    not_before_in: Option<Duration>,
    issuer: Option<String>,
    claims: Vec<(String, Value)>,
    without: Vec<String>,
    headers: Vec<(String, Value)>,
    kid: Option<String>,
    key: KeyChoice,
    algorithm: String,
    client_acr: &'static str,
}

impl fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("version", &self.version)
            .field("id_token", &self.id_token)
            .field("tenant", &self.tenant)
            .field("audience", &self.audience)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("app_only", &self.app_only)
            .field("lifetime", &self.lifetime)
            .field("key", &self.key)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder {
    pub(crate) fn new(state: Arc<State>) -> Self {
        Self {
            state,
            version: None,
            id_token: false,
            graph: false,
            tenant: None,
            audience: None,
            scopes: None,
            roles: None,
            app_only: false,
            user: None,
            client_id: None,
            nonce: None,
            lifetime: Lifetime::Default,
            not_before_in: None,
            issuer: None,
            claims: Vec::new(),
            without: Vec::new(),
            headers: Vec::new(),
            kid: None,
            key: KeyChoice::Default,
            algorithm: "RS256".into(),
            client_acr: "1",
        }
    }

    /// A v1 token: `iss` = `https://sts.windows.net/{tid}/`, `ver` = `1.0`, `aud` = `api://{app_id}`.
    pub fn v1(mut self) -> Self {
        self.version = Some(1);
        self
    }
    /// A v2 token: `iss` = `{authority}/{tid}/v2.0`, `ver` = `2.0`, `aud` = the app id.
    pub fn v2(mut self) -> Self {
        self.version = Some(2);
        self
    }
    /// The tenant (`tid`, and the tenant in `iss`); default the user's tenant. Tokens of a tenant
    /// with its own keys are signed with those.
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.tenant = Some(tenant.to_ascii_lowercase());
        self
    }
    /// `aud`, replacing the default.
    pub fn audience(mut self, audience: &str) -> Self {
        self.audience = Some(audience.to_owned());
        self
    }
    /// `scp`, a space-separated list of delegated scopes (default `access_as_user`).
    pub fn scopes(mut self, scopes: &str) -> Self {
        self.scopes = Some(scopes.to_owned());
        self
    }
    /// `roles` (app roles of the user, or of the app with [`app_only`](Self::app_only)).
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = Some(roles.into_iter().map(Into::into).collect());
        self
    }
    /// An app-only token (client credentials): no `scp` and no user claims, `idtyp` = `app`,
    /// `oid` = `sub` = the service principal.
    pub fn app_only(mut self) -> Self {
        self.app_only = true;
        self
    }
    /// An ID token: `aud` = the client id, a `nonce` (remove it with
    /// [`without_claim("nonce")`](Self::without_claim), as Entra omits it when the authorize
    /// request had none), the user's app `roles` (or those of [`roles`](Self::roles)), no `scp`
    /// and no `azp`/`appid`. Never a valid access token.
    pub fn id_token(mut self) -> Self {
        self.id_token = true;
        self
    }
    /// A Microsoft Graph app-only token of the app (as client credentials for
    /// `https://graph.microsoft.com/.default` gives): v1, `aud` = `https://graph.microsoft.com`,
    /// `roles` = `[Application.ReadWrite.OwnedBy]` unless [`roles`](Self::roles) says otherwise.
    pub fn graph(mut self) -> Self {
        self.graph = true;
        self.app_only = true;
        self
    }
    /// The user the token is about (default: the emulator's signed-in user).
    pub fn user(mut self, user: User) -> Self {
        self.user = Some(user);
        self
    }
    /// The client the token was issued to (`azp` / `appid`); default the app itself.
    pub fn client_id(mut self, client_id: &str) -> Self {
        self.client_id = Some(client_id.to_owned());
        self
    }
    /// The `nonce` of an ID token (default a random one).
    pub fn nonce(mut self, nonce: &str) -> Self {
        self.nonce = Some(nonce.to_owned());
        self
    }
    /// Expired an hour ago (well beyond any clock skew).
    pub fn expired(mut self) -> Self {
        self.lifetime = Lifetime::Expired;
        self
    }
    /// Expires this long from now.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = Lifetime::ExpiresIn(lifetime);
        self
    }
    /// Not valid until this long from now (`nbf`).
    pub fn not_before_in(mut self, delay: Duration) -> Self {
        self.not_before_in = Some(delay);
        self
    }
    /// Sets (or replaces) a claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.push((name.to_owned(), value));
        self
    }
    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.without.push(name.to_owned());
        self
    }
    /// `iss`, replacing the default.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }
    /// Sets (or replaces) a JOSE header parameter, such as `jku` or `x5u`.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
    /// The `kid` header, replacing the signing key's own (the signature is unchanged).
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }
    /// Signed by a key no JWKS of any emulator lists (a forgery).
    pub fn signed_with_unknown_key(mut self) -> Self {
        self.key = KeyChoice::Unknown;
        self
    }
    /// Signed by `tenant`'s current key (its own keys, or the shared ones), whatever `tid` says.
    pub fn signed_with_tenant_keys(mut self, tenant: &str) -> Self {
        self.key = KeyChoice::Tenant(tenant.to_ascii_lowercase());
        self
    }
    /// Signed by the key `kid` (current, older or retired).
    ///
    /// # Panics
    /// [`sign`](Self::sign) panics if the emulator never had that key.
    pub fn signing_key(mut self, kid: &str) -> Self {
        self.key = KeyChoice::Kid(kid.to_owned());
        self
    }
    /// The JWS `alg`: `RS256` (default, the only one Entra uses), `RS384`, `RS512`, `PS256`,
    /// `PS384`, `PS512`, `HS256` (keyed with the public key: the algorithm-confusion attack) or
    /// `none` (no signature).
    ///
    /// # Panics
    /// [`sign`](Self::sign) panics on any other value.
    pub fn algorithm(mut self, alg: &str) -> Self {
        self.algorithm = alg.to_owned();
        self
    }

    /// How the client authenticated: `"1"` secret (default), `"0"` public client.
    pub(crate) fn client_acr(mut self, acr: &'static str) -> Self {
        self.client_acr = acr;
        self
    }

    fn resolved_user(&self) -> User {
        self.user.clone().unwrap_or_else(|| self.state.lock().signed_in_user(&self.state.home))
    }

    fn tid(&self, user: &User) -> String {
        self.tenant.clone().unwrap_or_else(|| {
            if user.tenant.is_empty() { self.state.home.clone() } else { user.tenant.to_ascii_lowercase() }
        })
    }

    /// The claims [`sign`](Self::sign) would sign (each call has fresh `uti` and times).
    pub fn payload(&self) -> Value {
        Value::Object(self.build_claims())
    }

    fn build_claims(&self) -> Map<String, Value> {
        let s = &self.state;
        let app_id = s.app.app_id.as_str();
        let user = self.resolved_user();
        let tid = self.tid(&user);
        let version = if self.graph {
            1
        } else if self.id_token {
            self.version.unwrap_or(2)
        } else {
            self.version.unwrap_or(s.app.token_version)
        };
        let client = self.client_id.clone().unwrap_or_else(|| app_id.to_owned());
        let now = unix_now();
        let (iat, nbf, exp) = match self.lifetime {
            Lifetime::Default => (now, now, now + s.token_lifetime.as_secs().max(1) + 1),
            Lifetime::Expired => (now - 7200, now - 7200, now - 3600),
            Lifetime::ExpiresIn(d) => (now, now, now + d.as_secs()),
        };
        let nbf = self.not_before_in.map_or(nbf, |d| now + d.as_secs());
        let iss = self.issuer.clone().unwrap_or_else(|| match version {
            1 => s.v1_issuer(&tid),
            _ => s.v2_issuer(&tid),
        });
        let aud = self.audience.clone().unwrap_or_else(|| {
            if self.graph {
                GRAPH_RESOURCE.to_owned()
            } else if self.id_token {
                client.clone()
            } else if version == 1 {
                format!("api://{app_id}")
            } else {
                app_id.to_owned()
            }
        });
        let mut c = Map::new();
        c.insert("aud".into(), json!(aud));
        c.insert("iss".into(), json!(iss));
        c.insert("iat".into(), json!(iat));
        c.insert("nbf".into(), json!(nbf));
        c.insert("exp".into(), json!(exp));
        c.insert("aio".into(), json!(random_token(40)));
        if self.app_only {
            self.app_claims(&mut c, version, &client, &tid);
        } else {
            self.user_claims(&mut c, &user, version, &client);
        }
        c.insert("rh".into(), json!(format!("0.{}.", random_token(48))));
        c.insert("tid".into(), json!(tid));
        c.insert("uti".into(), json!(random_token(16)));
        c.insert("ver".into(), json!(if version == 1 { "1.0" } else { "2.0" }));
        for (name, value) in &self.claims {
            c.insert(name.clone(), value.clone());
        }
        for name in &self.without {
            c.remove(name);
        }
        c
    }

    /// The claims of an app-only token: the client, its service principal as `oid`/`sub`,
    /// `idtyp=app`, and its app roles.
    fn app_claims(&self, c: &mut Map<String, Value>, version: u8, client: &str, tid: &str) {
        let s = &self.state;
        let oid = s.app.sp_object_id.clone();
        if version == 1 {
            c.insert("appid".into(), json!(client));
            c.insert("appidacr".into(), json!("1"));
        } else {
            c.insert("azp".into(), json!(client));
            c.insert("azpacr".into(), json!("1"));
        }
        c.insert("idp".into(), json!(s.v1_issuer(tid)));
        c.insert("idtyp".into(), json!("app"));
        c.insert("oid".into(), json!(oid));
        c.insert("sub".into(), json!(oid));
        let roles = match (&self.roles, self.graph) {
            (Some(r), _) => r.clone(),
            (None, true) => vec![GRAPH_ROLE.to_owned()],
            (None, false) => Vec::new(),
        };
        if !roles.is_empty() {
            c.insert("roles".into(), json!(roles));
        }
    }

    /// The claims of a user's token: who they are, and for an access token its scopes, roles and
    /// client; for an ID token its nonce, session and the user's app roles.
    fn user_claims(&self, c: &mut Map<String, Value>, user: &User, version: u8, client: &str) {
        let s = &self.state;
        let app_id = s.app.app_id.as_str();
        c.insert("name".into(), json!(user.name));
        c.insert("oid".into(), json!(user.oid));
        c.insert("sub".into(), json!(pairwise_sub(&user.oid, app_id)));
        if self.id_token {
            let nonce = self.nonce.clone().unwrap_or_else(|| random_token(16));
            c.insert("nonce".into(), json!(nonce));
            c.insert("sid".into(), json!(super::new_guid()));
            // Entra puts the user's app roles (for the app the ID token is for) in ID tokens too.
            let roles = self.roles.clone().unwrap_or_else(|| user.roles.clone());
            if !roles.is_empty() {
                c.insert("roles".into(), json!(roles));
            }
        } else {
            let scp = self.scopes.clone().unwrap_or_else(|| {
                s.app
                    .exposed_scopes
                    .first()
                    .cloned()
                    .unwrap_or_else(|| crate::config::DEFAULT_API_SCOPE.into())
            });
            c.insert("scp".into(), json!(scp));
            let roles = self.roles.clone().unwrap_or_else(|| user.roles.clone());
            if !roles.is_empty() {
                c.insert("roles".into(), json!(roles));
            }
            if version == 1 {
                c.insert("appid".into(), json!(client));
                c.insert("appidacr".into(), json!(self.client_acr));
                c.insert("acr".into(), json!("1"));
                c.insert("amr".into(), json!(["pwd"]));
            } else {
                c.insert("azp".into(), json!(client));
                c.insert("azpacr".into(), json!(self.client_acr));
            }
        }
        if version == 1 {
            c.insert("upn".into(), json!(user.preferred_username));
            c.insert("unique_name".into(), json!(user.preferred_username));
            c.insert("ipaddr".into(), json!("127.0.0.1"));
        } else {
            c.insert("preferred_username".into(), json!(user.preferred_username));
        }
    }

    fn signing_key_for(&self, tid: &str) -> Arc<SigningKey> {
        let m = self.state.lock();
        match &self.key {
            KeyChoice::Unknown => keys::stranger_key(),
            KeyChoice::Tenant(t) => Arc::clone(&m.tenant_keys(t).current),
            KeyChoice::Kid(kid) =>
            {
                #[allow(clippy::panic)]
                m.find_key(kid)
                    .unwrap_or_else(|| panic!("the emulator never had a signing key with kid {kid:?}"))
            }
            KeyChoice::Default => match (&m.app_keys, self.graph) {
                (Some(app), false) => Arc::clone(&app.current),
                _ => Arc::clone(&m.tenant_keys(tid).current),
            },
        }
    }

    /// Signs and returns the compact JWS.
    ///
    /// # Panics
    /// On an [`algorithm`](Self::algorithm) the emulator cannot produce, or a
    /// [`signing_key`](Self::signing_key) it never had.
    pub fn sign(self) -> String {
        let claims = self.build_claims();
        let tid = claims
            .get("tid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| self.tid(&self.resolved_user()));
        let key = self.signing_key_for(&tid);
        let mut header = Map::new();
        header.insert("typ".into(), json!("JWT"));
        header.insert("alg".into(), json!(self.algorithm));
        if claims.get("ver").and_then(Value::as_str) == Some("1.0") {
            header.insert("x5t".into(), json!(key.x5t));
        }
        header.insert("kid".into(), json!(self.kid.clone().unwrap_or_else(|| key.kid.clone())));
        for (name, value) in &self.headers {
            header.insert(name.clone(), value.clone());
        }
        let encode =
            |v: &Map<String, Value>| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap_or_default());
        let signing_input = format!("{}.{}", encode(&header), encode(&claims));
        #[allow(clippy::panic)]
        let sig =
            keys::sign(&key, &self.algorithm, signing_input.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// `sub` is pairwise: the same user has a different `sub` in every app.
fn pairwise_sub(oid: &str, app_id: &str) -> String {
    crate::primitives::digest::sha256_base64url(&format!("{oid}|{app_id}"))
}
