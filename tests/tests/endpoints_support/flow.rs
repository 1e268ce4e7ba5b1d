//! The authorization-code + PKCE flow through the bridge, step by step, as an MCP client runs it.

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, RecordedRequest};
use serde_json::{Value, json};

use super::*;

pub const COPILOT: &str = "https://global.consent.azure-apim.net/redirect/";

/// One run of the flow; what the client got back.
pub struct Flow {
    pub tokens: Value,
    pub redemption: RecordedRequest,
}

pub async fn emulator() -> Emulator {
    Emulator::builder().access_token_version(2).start().await.expect("emulator starts")
}

/// Registers `redirect_uri`, authorizes with `resource` and a bare scope, follows the emulator's
/// redirect, and redeems the code through the bridge.
pub async fn run_flow(emu: &Emulator, base: &str, redirect_uri: &str, origin: Option<&str>) -> Flow {
    register(emu, base, redirect_uri).await;
    authorize_and_redeem(emu, base, redirect_uri, origin).await
}

pub async fn register(emu: &Emulator, base: &str, redirect_uri: &str) {
    let reg = Answer::read(
        client()
            .post(format!("{base}/register"))
            .json(&json!({ "redirect_uris": [redirect_uri], "client_name": "test", "token_endpoint_auth_method": "none" }))
            .send()
            .await
            .expect("POST /register"),
        emu.client_secret().expose(),
    )
    .await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    assert_eq!(reg.json()["client_id"], emu.app_id());
    assert_eq!(reg.json()["token_endpoint_auth_method"], "none");
}

/// The flow from `/authorize` on, for a redirect URI the app already has.
pub async fn authorize_and_redeem(
    emu: &Emulator,
    base: &str,
    redirect_uri: &str,
    origin: Option<&str>,
) -> Flow {
    let secret = emu.client_secret().expose().to_owned();
    let http = client();
    let resource = format!("{base}/mcp");

    let client_id = emu.app_id();

    let (verifier, challenge) = pkce();
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).expect("URL");
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("scope", "access_as_user offline_access"),
        ("state", "st4te"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", resource.as_str()),
    ]);
    let to_entra = Answer::read(http.get(authorize).send().await.expect("GET /authorize"), &secret).await;
    assert_eq!(to_entra.status, 302, "{}", to_entra.text);
    let entra_url = to_entra.location();
    assert!(entra_url.as_str().starts_with(&emu.authority_host()), "{entra_url}");
    let back = Answer::read(http.get(entra_url).send().await.expect("GET Entra authorize"), &secret).await;
    assert_eq!(back.status, 302, "Entra answered {}: {}", back.status, back.text);
    let callback = back.location();
    assert!(callback.as_str().starts_with(redirect_uri), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some("st4te"));
    let code = param(&callback, "code").expect("a code");

    let mut request = http.post(format!("{base}/token")).form(&[
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.as_str()),
        ("client_id", client_id.as_str()),
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
    Flow { tokens: tokens.json(), redemption }
}

/// Verifies the access token with the emulator's JWKS and checks the claims of a v2 user token
/// of the home tenant.
pub async fn check_access_token(emu: &Emulator, token: &str) {
    check_access_token_of(emu, token, &emu.home_tenant()).await;
}

/// Verifies the access token with the JWKS of `tenant` and checks the claims of a v2 user token.
pub async fn check_access_token_of(emu: &Emulator, token: &str, tenant: &str) {
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

pub async fn refresh(emu: &Emulator, base: &str, refresh_token: &str) -> (Value, RecordedRequest) {
    let a = Answer::read(
        client()
            .post(format!("{base}/token"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", emu.app_id().as_str()),
                ("scope", "access_as_user offline_access"),
                ("resource", &format!("{base}/mcp")),
            ])
            .send()
            .await
            .expect("POST /token"),
        emu.client_secret().expose(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let sent = emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == Endpoint::Token)
        .expect("refresh reached Entra");
    (a.json(), sent)
}
