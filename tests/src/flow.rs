//! The authorization-code + PKCE flow through this server's `/authorize` and `/token`, step by step,
//! as an MCP client and its browser run it: dynamic registration, `/authorize` and the consent page
//! (answered by an [`HttpBrowser`]), Entra's redirect, `/token`, refresh. Every answer of the
//! server is checked never to hold the client secret.
//!
//! In both modes that serve `/authorize`:
//! - `Mode::Enrol` ([`run_flow`], [`authorize_and_redeem`], [`refresh`]): every client uses the
//!   app id, and Entra redirects straight to the client's redirect URI (written to the app
//!   registration at `/register`);
//! - `Mode::Broker`, the default ([`run_broker_flow`], [`refresh_as`]): the client gets an id of
//!   its own, Entra redirects to this server's callback, which sends the client a sealed code of
//!   its own with `state` and `iss`.

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, RecordedRequest};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::browser::{HttpBrowser, Page};
use crate::http::{Answer, assert_no_secret, client, param, post};
use crate::pkce::Pkce;

/// Copilot Studio's redirect URI prefix (a connector's URI is this plus its name).
pub const COPILOT: &str = "https://global.consent.azure-apim.net/redirect/";

/// The `state` every flow here sends to `/authorize`.
pub const STATE: &str = "st4te";

/// One run of the flow: what the client and its browser saw, and the redemption as Entra received
/// it.
#[derive(Debug)]
pub struct Flow {
    /// The client id the client used (enrol: the app id; broker: the one `/register` issued).
    pub client_id: String,
    /// The consent form's hidden `request` (sealed).
    pub consent_request: String,
    /// Where the consent page's Allow sent the browser: Entra's `/authorize`, with its query.
    pub to_entra: url::Url,
    /// What reached the client's redirect URI (`code`, `state`; `iss` in broker mode).
    pub callback: url::Url,
    /// The token response the client got.
    pub tokens: Value,
    /// The redemption as Entra received it.
    pub redemption: RecordedRequest,
}

/// An emulator issuing v2 access tokens (what the flows check).
pub async fn emulator() -> Emulator {
    Emulator::builder().access_token_version(2).start().await.expect("the emulator starts")
}

/// Dynamic client registration (RFC 7591): POSTs `metadata` to `{base}/register`. The answer is
/// checked never to hold `secret`.
pub async fn register(base: &str, metadata: &Value, secret: &str) -> Answer {
    post(&format!("{base}/register"), "application/json", metadata.to_string(), secret).await
}

/// POSTs `form` to `{base}/token`. The answer is checked never to hold `secret`.
pub async fn token(base: &str, form: &[(&str, &str)], secret: &str) -> Answer {
    let response = client().post(format!("{base}/token")).form(form).send().await.expect("POST /token");
    Answer::read(response, secret).await
}

/// The registration metadata of a public client with `redirect_uri`.
pub fn metadata(redirect_uri: &str) -> Value {
    json!({
        "redirect_uris": [redirect_uri],
        "client_name": "test",
        "token_endpoint_auth_method": "none",
    })
}

/// `{base}/authorize` as an MCP client builds it: `resource`, bare scopes, [`STATE`], S256 PKCE.
fn authorize_url(base: &str, client_id: &str, redirect_uri: &str, pkce: &Pkce) -> url::Url {
    let resource = format!("{base}/mcp");
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).expect("URL");
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "access_as_user offline_access"),
        ("state", STATE),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", resource.as_str()),
    ]);
    authorize
}

/// What the browser saw, checked never to hold `secret`.
fn seen(page: Page, secret: &str) -> Page {
    assert_no_secret(&page.headers, &page.body, secret);
    page
}

/// Opens `authorize` in `browser`: the consent page (200, HTML, a sealed `request`), answered
/// Allow; the answer is a 302 to Entra's `/authorize`. Returns the sealed request and that URL.
async fn consent(
    browser: &mut HttpBrowser,
    emu: &Emulator,
    authorize: &url::Url,
    secret: &str,
) -> (String, url::Url) {
    let page = seen(browser.get(authorize).await, secret);
    assert_eq!(page.status, 200, "the consent page: {}", page.body);
    let content_type = page.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.headers.get("location").is_none(), "nothing goes anywhere before the user answers");
    let request = page.consent_request().expect("the consent form's sealed request");
    let allowed = seen(browser.answer(&page, "allow", false).await, secret);
    assert_eq!(allowed.status, 302, "Allow: {}", allowed.body);
    assert_eq!(allowed.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let to_entra = allowed.location().expect("Allow redirects");
    assert!(
        to_entra.as_str().starts_with(&emu.authority_host()),
        "Allow sends the browser to Entra: {to_entra}"
    );
    (request, to_entra)
}

/// Redeems `code` at `{base}/token` as the client does (with `origin`, as a browser would send
/// it); the tokens and the redemption as Entra received it.
async fn redeem(
    emu: &Emulator,
    base: &str,
    client_id: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
    origin: Option<&str>,
) -> (Value, RecordedRequest) {
    let secret = emu.client_secret().expose().to_owned();
    let resource = format!("{base}/mcp");
    let mut request = client().post(format!("{base}/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
        ("client_id", client_id),
        ("resource", resource.as_str()),
    ]);
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    let tokens = Answer::read(request.send().await.expect("POST /token"), &secret).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let redemption = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some("authorization_code"))
        .expect("the redemption reached Entra");
    (tokens.json(), redemption)
}

/// In `Mode::Enrol`: registers `redirect_uri` (the answer's client id is the app id), authorizes
/// with `resource` and a bare scope through the consent page, follows Entra's redirect, and redeems
/// the code through the bridge (with `origin`, as a browser would send it).
pub async fn run_flow(emu: &Emulator, base: &str, redirect_uri: &str, origin: Option<&str>) -> Flow {
    let reg = register(base, &metadata(redirect_uri), emu.client_secret().expose()).await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    assert_eq!(reg.json()["client_id"], emu.app_id());
    assert_eq!(reg.json()["token_endpoint_auth_method"], "none");
    authorize_and_redeem(emu, base, redirect_uri, origin).await
}

/// In `Mode::Enrol`, the flow from `/authorize` on, for a redirect URI the app already has: the
/// consent page, then Entra's `/authorize`, which redirects straight to `redirect_uri` with the
/// code and [`STATE`].
pub async fn authorize_and_redeem(
    emu: &Emulator,
    base: &str,
    redirect_uri: &str,
    origin: Option<&str>,
) -> Flow {
    let secret = emu.client_secret().expose().to_owned();
    let client_id = emu.app_id();
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let authorize = authorize_url(base, &client_id, redirect_uri, &pkce);
    let (consent_request, to_entra) = consent(&mut browser, emu, &authorize, &secret).await;
    let back = seen(browser.get(&to_entra).await, &secret);
    assert_eq!(back.status, 302, "Entra answered {}: {}", back.status, back.body);
    let callback = back.location().expect("Entra redirects");
    assert!(callback.as_str().starts_with(redirect_uri), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some(STATE));
    let code = param(&callback, "code").expect("a code");
    let (tokens, redemption) =
        redeem(emu, base, &client_id, redirect_uri, &code, &pkce.verifier, origin).await;
    Flow { client_id, consent_request, to_entra, callback, tokens, redemption }
}

/// In `Mode::Broker` (the default): registers `redirect_uri` (no Graph write; a client id of its
/// own), authorizes through the consent page, signs in at Entra, which redirects to this server's
/// callback, which sends the client this server's code with [`STATE`] and `iss`; then redeems it.
/// Each step is checked: Entra gets the broker's callback, state and PKCE, never the client's, nor
/// `resource`; the redemption at Entra carries the app's credential and the callback.
pub async fn run_broker_flow(emu: &Emulator, base: &str, redirect_uri: &str) -> Flow {
    let secret = emu.client_secret().expose().to_owned();
    let writes = emu.request_count(Endpoint::GraphPatchApplication);
    let reg = register(base, &metadata(redirect_uri), &secret).await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    let client_id = reg.json()["client_id"].as_str().expect("a client_id").to_owned();
    assert!(client_id.starts_with("mcp-client."), "an id of the broker's own: {client_id}");
    assert_eq!(reg.json()["token_endpoint_auth_method"], "none");
    assert_eq!(reg.json()["redirect_uris"], json!([redirect_uri]));
    assert_eq!(emu.request_count(Endpoint::GraphPatchApplication), writes, "registration wrote to Graph");

    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let authorize = authorize_url(base, &client_id, redirect_uri, &pkce);
    let (consent_request, to_entra) = consent(&mut browser, emu, &authorize, &secret).await;
    let callback_uri = format!("{base}/oauth/callback");
    assert_eq!(param(&to_entra, "client_id"), Some(emu.app_id()));
    assert_eq!(param(&to_entra, "redirect_uri").as_deref(), Some(callback_uri.as_str()));
    let sealed_state = param(&to_entra, "state").expect("a state");
    assert_ne!(sealed_state, STATE, "Entra gets the broker's sealed state, not the client's");
    assert_ne!(param(&to_entra, "code_challenge"), Some(pkce.challenge.clone()), "the broker's own PKCE");
    assert_eq!(param(&to_entra, "code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param(&to_entra, "resource"), None);

    let at_entra = seen(browser.get(&to_entra).await, &secret);
    assert_eq!(at_entra.status, 302, "Entra answered {}: {}", at_entra.status, at_entra.body);
    let to_broker = at_entra.location().expect("Entra redirects");
    assert!(to_broker.as_str().starts_with(&format!("{callback_uri}?")), "to the broker: {to_broker}");
    assert_eq!(param(&to_broker, "state"), Some(sealed_state));
    let entra_code = param(&to_broker, "code").expect("Entra's code");
    let forwarded = seen(browser.get(&to_broker).await, &secret);
    assert_eq!(forwarded.status, 302, "the callback: {}", forwarded.body);
    let callback = forwarded.location().expect("the callback redirects");
    assert!(callback.as_str().starts_with(redirect_uri), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some(STATE));
    assert_eq!(param(&callback, "iss").as_deref(), Some(base), "RFC 9207 iss");
    let code = param(&callback, "code").expect("the broker's code");
    assert_ne!(code, entra_code, "the client never sees Entra's code");

    let (tokens, redemption) = redeem(emu, base, &client_id, redirect_uri, &code, &pkce.verifier, None).await;
    assert!(
        redemption.client_secret_sent || redemption.form_param("client_assertion").is_some(),
        "the broker redeems with the app's credential"
    );
    assert_eq!(redemption.form_param("redirect_uri"), Some(callback_uri.as_str()));
    assert_eq!(redemption.form_param("code"), Some(entra_code.as_str()));
    assert_eq!(redemption.origin, None);
    Flow { client_id, consent_request, to_entra, callback, tokens, redemption }
}

/// In `Mode::Enrol`: refreshes through the bridge's `/token` with the app id; the tokens and the
/// request as Entra received it.
pub async fn refresh(emu: &Emulator, base: &str, refresh_token: &str) -> (Value, RecordedRequest) {
    refresh_as(emu, base, &emu.app_id(), refresh_token).await
}

/// Refreshes through `/token` as `client_id` (in broker mode, the id `/register` issued); the
/// tokens and the request as Entra received it.
pub async fn refresh_as(
    emu: &Emulator,
    base: &str,
    client_id: &str,
    refresh_token: &str,
) -> (Value, RecordedRequest) {
    let resource = format!("{base}/mcp");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client_id),
        ("scope", "access_as_user offline_access"),
        ("resource", resource.as_str()),
    ];
    let a = token(base, &form, emu.client_secret().expose()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let sent = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == Endpoint::Token)
        .expect("refresh reached Entra");
    (a.json(), sent)
}

/// Verifies the access token with the emulator's JWKS and checks the claims of a v2 user token
/// of the home tenant.
pub async fn check_access_token(emu: &Emulator, token: &str) {
    let tenant = emu.home_tenant();
    let jwks: jsonwebtoken::jwk::JwkSet = client()
        .get(format!("{}/{tenant}/discovery/v2.0/keys", emu.authority_host()))
        .send()
        .await
        .expect("GET JWKS")
        .json()
        .await
        .expect("JWKS JSON");
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    let kid = header.kid.expect("a kid");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).expect("key listed")).expect("RSA key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[emu.app_id()]);
    validation.set_issuer(&[format!("{}/{tenant}/v2.0", emu.authority_host())]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid Entra token").claims;
    assert_eq!(claims["tid"], tenant);
    assert_eq!(claims["ver"], "2.0");
    assert_eq!(claims["azp"], emu.app_id());
    let scp = claims["scp"].as_str().expect("a delegated token");
    assert!(scp.split(' ').any(|s| s == "access_as_user"), "{scp}");
    assert_eq!(claims["oid"], emu.user().oid);
}

/// `resource` never reached the emulator.
pub fn assert_no_resource(emu: &Emulator) {
    for r in emu.requests() {
        assert!(
            r.query_param("resource").is_none() && r.form_param("resource").is_none(),
            "resource reached Entra: {r:?}"
        );
    }
}

/// The payload of a JWT, decoded (no verification: the server did that).
pub fn jwt_payload(token: &str) -> Value {
    jwt_part(token, 1)
}

/// The header of a JWT, decoded.
pub fn jwt_header(token: &str) -> Value {
    jwt_part(token, 0)
}

fn jwt_part(token: &str, n: usize) -> Value {
    let part = token.split('.').nth(n).expect("a JWT");
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("base64url"))
        .expect("a JSON part")
}
