//! The client of an authorize or token request: is it the app, in a tenant it may sign in, and
//! did it authenticate as the platform of its redirect URI demands.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::StatusCode;

use super::Platform;
use super::assertion;
use super::errors::{EntraError, bad, missing, unauthorized};
use super::request::Req;
use super::state::State;
use super::tenant::TenantRef;

/// Checks the client and tenant of an authorize or token request; `Err` is `(status, error, code, message)`.
pub(crate) fn check_client(
    state: &State,
    client_id: &str,
    tenant: &TenantRef,
) -> Result<(), (StatusCode, &'static str, u32, String)> {
    let app = &state.app;
    let not_found = |directory: &str| {
        (
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    };
    if !client_id.eq_ignore_ascii_case(&app.app_id) {
        return Err(not_found(tenant.segment()));
    }
    match tenant {
        TenantRef::Consumers => Err((
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700_016,
            "The client does not exist or is not enabled for consumers. If you are the application developer, configure a new application through the App Registrations in the Azure Portal.".into(),
        )),
        TenantRef::Common | TenantRef::Organizations if !app.multi_tenant => Err((
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50_194,
            format!(
                "Application '{}' is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
                app.app_id
            ),
        )),
        TenantRef::Id(t) if !app.multi_tenant && *t != state.home => Err(not_found(t)),
        _ => Ok(()),
    }
}

/// The client's credentials as sent.
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
    /// `client_assertion` and its `client_assertion_type`.
    pub(crate) assertion: Option<(Option<String>, String)>,
    /// The token endpoint the request was sent to (a certificate assertion's audience).
    pub(crate) token_path: String,
    pub(crate) origin: Option<String>,
}

impl Client {
    /// Whether it sent a credential of any kind.
    fn authenticated(&self) -> bool {
        self.secret.is_some() || self.assertion.is_some()
    }
}

/// The client id and secret of a token request, from the form or HTTP Basic authentication
/// (RFC 6749 section 2.3.1: <https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1>).
pub(crate) fn client_of(req: &Req) -> Result<Client, EntraError> {
    let mut id = req.form("client_id").map(str::to_owned);
    let mut secret = req.form("client_secret").map(str::to_owned);
    if let Some(basic) = req.header("authorization").and_then(|a| {
        let (scheme, rest) = a.split_once(' ')?;
        scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
    }) {
        let decoded = STANDARD.decode(basic).ok().and_then(|b| String::from_utf8(b).ok());
        let Some((user, pass)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err(unauthorized(
                7_000_215,
                "Invalid client secret provided: the HTTP Basic credentials are malformed.",
            ));
        };
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        id.get_or_insert_with(|| decode(user));
        secret.get_or_insert_with(|| decode(pass));
    }
    let id =
        id.filter(|i| !i.is_empty()).ok_or_else(|| bad("invalid_request", 900_144, missing("client_id")))?;
    let assertion = req
        .form("client_assertion")
        .map(|a| (req.form("client_assertion_type").map(str::to_owned), a.to_owned()));
    Ok(Client {
        id,
        secret,
        assertion,
        token_path: req.path.clone(),
        origin: req.header("origin").map(str::to_owned),
    })
}

/// Compares the secret with the app's in constant time (else `AADSTS7000215`).
fn check_secret(state: &State, secret: &str) -> Result<(), EntraError> {
    if aws_lc_rs::constant_time::verify_slices_are_equal(
        secret.as_bytes(),
        state.app.secret.expose().as_bytes(),
    )
    .is_err()
    {
        return Err(unauthorized(
            7_000_215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                state.app.app_id
            ),
        ));
    }
    Ok(())
}

/// A confidential client's credentials: a secret or a client assertion must be sent
/// (`AADSTS7000218`), and be the app's.
pub(crate) fn check_confidential(state: &State, client: &Client) -> Result<(), EntraError> {
    match (&client.secret, &client.assertion) {
        (Some(secret), None) => check_secret(state, secret),
        (None, Some((kind, assertion))) => {
            let token_url = format!("{}{}", state.authority, client.token_path);
            assertion::check(state, kind.as_deref(), assertion, &token_url)
        }
        (Some(_), Some(_)) => Err(bad(
            "invalid_request",
            90_014,
            "A client secret and a client assertion were both presented; send one.",
        )),
        (None, None) => Err(unauthorized(
            7_000_218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}

/// The redirect URI's platform decides how a code or refresh token may be redeemed.
pub(crate) fn check_platform(state: &State, platform: Platform, client: &Client) -> Result<(), EntraError> {
    match platform {
        Platform::Web => {
            if let Some(origin) = &client.origin {
                return Err(cross_origin_refused(origin));
            }
            check_confidential(state, client)
        }
        Platform::Spa => {
            if client.origin.is_none() {
                return Err(bad(
                    "invalid_request",
                    9_002_327,
                    "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
                ));
            }
            if client.authenticated() {
                return Err(public_with_secret());
            }
            Ok(())
        }
        Platform::PublicClient => {
            if client.authenticated() {
                return Err(public_with_secret());
            }
            if let Some(origin) = &client.origin {
                return Err(cross_origin_refused(origin));
            }
            Ok(())
        }
    }
}

/// AADSTS9002326: a `web` or `publicClient` redemption sent with an `Origin` header.
fn cross_origin_refused(origin: &str) -> EntraError {
    bad(
        "invalid_request",
        9_002_326,
        format!(
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type. Request origin: '{origin}'."
        ),
    )
}

/// AADSTS700025: a public client (`spa`, `publicClient`) sent a secret.
fn public_with_secret() -> EntraError {
    unauthorized(
        700_025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
    )
}
