//! No secret on disk, over real HTTP against the emulator: with a certificate (PEM and PKCS#12), a
//! federated token file or a managed identity (App Service's endpoint and the instance metadata
//! service) and no `AZURE_CLIENT_SECRET`, the broker's sign-in and refresh, the enrol mode's
//! `/token`, on-behalf-of and the Graph token all succeed; Entra's refusals (AADSTS700027, 700024,
//! 70021) and local mistakes surface as typed errors that say what to do.

use std::time::Duration;

use axum_mcp_azure_oauth::config::{ClientCertificate, CredentialError, CredentialKind, Mode};
use axum_mcp_azure_oauth::emulator::{
    Emulator, Endpoint, Fault, RecordedRequest, TestCertificate, User, UserProfile,
};
use axum_mcp_azure_oauth::graph::{EnrolError, GraphClient};
use axum_mcp_azure_oauth::obo::OboError;
use axum_mcp_azure_oauth::{AzureClaims, AzureOAuth, ConfigError};
use examples::tools::GRAPH_USER_READ;
use serde_json::Value;
use support::UNSERVED_BASE;
use support::credentials::{
    EXCHANGE_AUDIENCE, Kind, PFX_PASSWORD, STATE_KEY, WORKLOAD_SUBJECT, with_credential,
};
use support::flow::{jwt_header, jwt_payload, refresh_as, run_broker_flow, run_flow};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Asserts `sent` proved the app with an assertion of `kind`, never a secret; returns the assertion.
fn assert_assertion(sent: &RecordedRequest, kind: Kind, emu: &Emulator) -> String {
    assert!(!sent.client_secret_sent, "{kind:?}: no secret is sent");
    assert_eq!(sent.form_param("client_assertion_type"), Some(JWT_BEARER), "{kind:?}");
    let assertion = sent.form_param("client_assertion").expect("an assertion").to_owned();
    let claims = jwt_payload(&assertion);
    match kind {
        Kind::Pem | Kind::Pkcs12 => {
            assert_eq!(claims["iss"], emu.app_id());
            assert_eq!(claims["sub"], emu.app_id());
            let tenant = sent.tenant.clone().unwrap_or_default();
            assert_eq!(claims["aud"], format!("{}/{tenant}/oauth2/v2.0/token", emu.authority_host()));
            let exp = claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat");
            assert_eq!(exp, 600, "ten minutes");
            assert!(jwt_header(&assertion)["x5t#S256"].is_string());
        }
        Kind::FederatedTokenFile => {
            assert_eq!(claims["iss"], emu.workload_identity_issuer());
            assert_eq!(claims["sub"], WORKLOAD_SUBJECT);
        }
        Kind::AppServiceIdentity | Kind::ImdsIdentity => {
            assert_eq!(claims["iss"], emu.issuer_v2());
            assert_eq!(claims["aud"], EXCHANGE_AUDIENCE);
        }
    }
    assertion
}

fn last(emu: &Emulator, endpoint: Endpoint, grant_type: &str) -> RecordedRequest {
    emu.requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == endpoint && r.form_param("grant_type") == Some(grant_type))
        .unwrap_or_else(|| panic!("no {grant_type} request reached Entra"))
}

async fn caller(emu: &Emulator, auth: &AzureOAuth, user: Option<User>) -> AzureClaims {
    let mut token = emu.token().expires_in(Duration::from_secs(7200));
    if let Some(user) = user {
        token = token.user(user);
    }
    auth.validator().validate(&token.sign()).await.expect("the emulator's token is valid")
}

#[tokio::test]
async fn every_kind_signs_in_through_the_broker_and_refreshes_without_a_secret() {
    for kind in Kind::ALL {
        let emu = Emulator::start().await.expect("emulator");
        let setup = with_credential(&emu, kind);
        let built = setup.builder.clone().base_url(UNSERVED_BASE).build().expect("valid");
        assert_eq!(built.client_secret(), None);
        let served = support::endpoints::serve(setup.builder).await;
        let flow = run_broker_flow(&emu, &served.base, "http://127.0.0.1:4444/callback").await;
        assert_assertion(&flow.redemption, kind, &emu);
        assert!(flow.tokens["access_token"].is_string(), "{kind:?}");
        let sealed = flow.tokens["refresh_token"].as_str().expect("a refresh token");
        let (refreshed, sent) = refresh_as(&emu, &served.base, &flow.client_id, sealed).await;
        assert!(refreshed["access_token"].is_string(), "{kind:?}: {refreshed}");
        assert_assertion(&sent, kind, &emu);
    }
}

#[tokio::test]
async fn every_kind_exchanges_on_behalf_of_and_gets_a_graph_token() {
    for kind in Kind::ALL {
        let emu = Emulator::start().await.expect("emulator");
        let setup = with_credential(&emu, kind);
        let config = setup.builder.base_url(UNSERVED_BASE).build().expect("valid");
        let auth = AzureOAuth::new(config.clone());
        let me = caller(&emu, &auth, None).await;
        let token = auth.on_behalf_of().token(&me, [GRAPH_USER_READ]).await.expect("exchanged");
        assert_eq!(jwt_payload(token.access_token())["oid"], emu.user().oid, "{kind:?}");
        assert_assertion(
            &last(&emu, Endpoint::OnBehalfOf, "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            kind,
            &emu,
        );

        let graph = GraphClient::new(config);
        graph.redirect_uris().await.expect("Graph read with the app's own token");
        assert_assertion(&last(&emu, Endpoint::Token, "client_credentials"), kind, &emu);
    }
}

#[tokio::test]
async fn enrol_mode_redeems_a_web_redirect_with_every_kind() {
    let redirect = "https://client.example.com/oauth/callback";
    for kind in Kind::ALL {
        let emu = Emulator::start().await.expect("emulator");
        let setup = with_credential(&emu, kind);
        let served =
            support::endpoints::serve(setup.builder.mode(Mode::Enrol).allowed_redirect_uris([redirect]))
                .await;
        let flow = run_flow(&emu, &served.base, redirect, None).await;
        assert!(flow.tokens["access_token"].is_string(), "{kind:?}");
        assert_assertion(&flow.redemption, kind, &emu);
        // The redirect URI went on the app registration through Graph, with the app's own token.
        assert_assertion(&last(&emu, Endpoint::Token, "client_credentials"), kind, &emu);
    }
}

#[tokio::test]
async fn entras_refusals_surface_as_typed_credential_errors() {
    let refused = |e: &OboError| match e {
        OboError::Credential(CredentialError::Refused { code, .. }) => *code,
        other => panic!("expected a refused credential, got {other:?}"),
    };
    // A certificate the app registration does not have: AADSTS700027.
    let emu = Emulator::start().await.expect("emulator");
    let stranger = TestCertificate::generate("CN=stranger").client_certificate();
    let config = emu
        .config_without_secret()
        .client_certificate(stranger)
        .base_url(UNSERVED_BASE)
        .build()
        .expect("valid");
    let auth = AzureOAuth::new(config.clone());
    let me = caller(&emu, &auth, None).await;
    let err = auth.on_behalf_of().token(&me, [GRAPH_USER_READ]).await.expect_err("refused");
    assert_eq!(refused(&err), 700_027);
    assert!(err.to_string().contains("upload the certificate"), "{err}");
    match GraphClient::new(config).redirect_uris().await {
        Err(EnrolError::Credential(CredentialError::Refused { code: 700_027, .. })) => {}
        other => panic!("{other:?}"),
    }

    // An expired federated token: AADSTS700024.
    let setup = with_credential(&emu, Kind::FederatedTokenFile);
    let path = setup.token_file.clone().expect("a token file");
    std::fs::write(&path, emu.workload_identity_token_expiring(WORKLOAD_SUBJECT, Duration::ZERO))
        .expect("write");
    let auth = AzureOAuth::new(setup.builder.base_url(UNSERVED_BASE).build().expect("valid"));
    let me = caller(&emu, &auth, None).await;
    let err = auth.on_behalf_of().token(&me, [GRAPH_USER_READ]).await.expect_err("refused");
    assert_eq!(refused(&err), 700_024);
    assert!(err.to_string().contains("clock"), "{err}");

    // A federated credential for another subject: AADSTS70021.
    std::fs::write(&path, emu.workload_identity_token("system:serviceaccount:other:intruder"))
        .expect("write");
    let err = auth.on_behalf_of().token(&me, [GRAPH_USER_READ]).await.expect_err("refused");
    assert_eq!(refused(&err), 70_021);
    assert!(err.to_string().contains("federated-credential create"), "{err}");
}

#[tokio::test]
async fn the_federated_token_file_is_read_again_after_the_kubelet_rotates_it() {
    let emu = Emulator::start().await.expect("emulator");
    let setup = with_credential(&emu, Kind::FederatedTokenFile);
    let path = setup.token_file.clone().expect("a token file");
    let auth = AzureOAuth::new(setup.builder.base_url(UNSERVED_BASE).build().expect("valid"));
    let first = std::fs::read_to_string(&path).expect("the token");
    let ada = caller(&emu, &auth, None).await;
    auth.on_behalf_of().token(&ada, [GRAPH_USER_READ]).await.expect("exchanged");
    let sent = last(&emu, Endpoint::OnBehalfOf, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(sent.form_param("client_assertion"), Some(first.as_str()));

    let rotated = emu.workload_identity_token_expiring(WORKLOAD_SUBJECT, Duration::from_secs(7200));
    assert_ne!(rotated, first);
    std::fs::write(&path, &rotated).expect("rotate");
    let grace = emu.add_user(User { name: "Grace Hopper".into(), ..User::default() }, UserProfile::default());
    let grace = caller(&emu, &auth, Some(grace)).await;
    auth.on_behalf_of().token(&grace, [GRAPH_USER_READ]).await.expect("exchanged");
    let sent = last(&emu, Endpoint::OnBehalfOf, "urn:ietf:params:oauth:grant-type:jwt-bearer");
    assert_eq!(sent.form_param("client_assertion"), Some(rotated.as_str()), "the rotated token is sent");
}

#[tokio::test]
async fn a_hundred_concurrent_first_uses_fetch_the_managed_identity_token_once() {
    let emu = Emulator::start().await.expect("emulator");
    // A slow endpoint keeps the first fetch in flight while the others arrive.
    emu.set_fault(Endpoint::ManagedIdentity, Fault::delay(Duration::from_millis(200)));
    let setup = with_credential(&emu, Kind::AppServiceIdentity);
    let auth = AzureOAuth::new(setup.builder.base_url(UNSERVED_BASE).build().expect("valid"));
    let mut callers = Vec::new();
    for n in 0..100 {
        let user =
            emu.add_user(User { name: format!("User {n}"), ..User::default() }, UserProfile::default());
        callers.push(caller(&emu, &auth, Some(user)).await);
    }
    let calls: Vec<_> = callers
        .into_iter()
        .map(|who| {
            let auth = auth.clone();
            tokio::spawn(async move { auth.on_behalf_of().token(&who, [GRAPH_USER_READ]).await })
        })
        .collect();
    for call in calls {
        call.await.expect("joined").expect("exchanged");
    }
    assert_eq!(emu.request_count(Endpoint::ManagedIdentity), 1, "one managed identity token for all");
    assert_eq!(emu.request_count(Endpoint::OnBehalfOf), 100, "one exchange per caller");
}

#[tokio::test]
async fn credential_mistakes_are_clear_errors_at_start_up_or_first_use() {
    let emu = Emulator::start().await.expect("emulator");
    let dir = tempfile::tempdir().expect("a folder");
    let cert = TestCertificate::generate("CN=mistakes");
    let build = |b: axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder| b.base_url(UNSERVED_BASE).build();
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path.display().to_string()
    };

    // Two kinds at once: both named.
    let both = build(emu.config().federated_token_file(file("t", b"x"))).expect_err("two kinds").to_string();
    assert!(both.contains("AZURE_CLIENT_SECRET") && both.contains("AZURE_FEDERATED_TOKEN_FILE"), "{both}");
    // An unreadable file, a wrong password, a certificate without its key, a key without its certificate.
    let cases = [
        (
            emu.config_without_secret()
                .client_certificate_path(dir.path().join("nope.pem").display().to_string()),
            "cannot read the certificate file",
        ),
        (
            emu.config_without_secret()
                .client_certificate_path(file("a.pfx", &cert.pkcs12(PFX_PASSWORD)))
                .client_certificate_password("wrong"),
            "does not open with the password",
        ),
        (
            emu.config_without_secret()
                .client_certificate_path(file("c.pem", cert.certificate_pem().as_bytes())),
            "holds no private key",
        ),
        (
            emu.config_without_secret().client_certificate_path(file(
                "k.pem",
                cert.pem().split("-----END CERTIFICATE-----").nth(1).unwrap_or_default().as_bytes(),
            )),
            "holds no certificate",
        ),
        (
            emu.config_without_secret()
                .client_certificate(TestCertificate::expired("CN=old").client_certificate()),
            "expired",
        ),
        (
            emu.config_without_secret().federated_token_file(dir.path().join("absent").display().to_string()),
            "federated token file",
        ),
    ];
    for (builder, says) in cases {
        let err = build(builder).expect_err(says);
        assert!(matches!(err, ConfigError::Credential(_)), "{err:?}");
        assert!(err.to_string().contains(says), "{says}: {err}");
    }
    // The broker with a managed identity and no sealing key: it says to set one.
    let no_key = build(emu.config_without_secret().managed_identity_client_id(emu.add_managed_identity().0))
        .expect_err("no key");
    assert!(no_key.to_string().contains("AZURE_OAUTH_STATE_KEY"), "{no_key}");
    // No managed identity endpoint there: the first use says so.
    let config = build(
        emu.config_without_secret()
            .managed_identity_client_id(emu.add_managed_identity().0)
            .state_keys(STATE_KEY)
            .imds_endpoint(support::offline::CLOSED),
    )
    .expect("valid");
    let auth = AzureOAuth::new(config);
    let me = caller(&emu, &auth, None).await;
    let err = auth.on_behalf_of().token(&me, [GRAPH_USER_READ]).await.expect_err("no endpoint");
    assert!(
        matches!(err, OboError::Credential(CredentialError::ManagedIdentityUnavailable { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("not running on Azure with a managed identity?"), "{err}");
}

#[tokio::test]
async fn no_key_password_or_identity_header_shows_in_debug_and_replicas_derive_one_sealing_key() {
    let emu = Emulator::start().await.expect("emulator");
    let setup = with_credential(&emu, Kind::Pkcs12);
    let cert = setup.certificate.clone().expect("a certificate");
    let config = setup.builder.clone().base_url(UNSERVED_BASE).build().expect("valid");
    assert_eq!(config.credential().map(|c| c.kind()), Some(CredentialKind::Certificate));
    let shown = format!("{config:?}");
    let key_body: String =
        cert.pem().lines().skip_while(|l| !l.contains("PRIVATE KEY")).nth(1).unwrap_or_default().into();
    assert!(!key_body.is_empty() && !shown.contains(&key_body), "{shown}");
    assert!(!shown.contains(PFX_PASSWORD), "{shown}");
    let identity = with_credential(&emu, Kind::AppServiceIdentity);
    let shown = format!("{:?}", identity.builder.base_url(UNSERVED_BASE).build().expect("valid"));
    assert!(!shown.contains(&emu.identity_header()), "{shown}");

    // Two replicas with the same certificate and no AZURE_OAUTH_STATE_KEY: a client registered at
    // one signs in at the other (they derive the same sealing key from the private key).
    let pem = ClientCertificate::from_pem(cert.pem().as_bytes()).expect("the same certificate");
    let one = support::endpoints::serve(emu.config_without_secret().client_certificate(pem.clone())).await;
    let other = support::endpoints::serve(emu.config_without_secret().client_certificate(pem)).await;
    let reg =
        support::flow::register(&one.base, &support::flow::metadata("http://127.0.0.1:4444/cb"), "unused")
            .await;
    assert_eq!(reg.status, 201, "{}", reg.text);
    let client_id = reg.json()["client_id"].as_str().expect("an id").to_owned();
    let authorize = format!(
        "{}/authorize?response_type=code&client_id={client_id}&redirect_uri=http%3A%2F%2F127.0.0.1%3A4444%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s",
        other.base
    );
    let page = reqwest::get(&authorize).await.expect("GET /authorize");
    assert_eq!(
        page.status(),
        200,
        "the other replica opens the client id: {}",
        page.text().await.unwrap_or_default()
    );
    let stranger = support::endpoints::serve(
        emu.config_without_secret()
            .client_certificate(TestCertificate::generate("CN=x").client_certificate())
            .state_keys(STATE_KEY),
    )
    .await;
    let refused = reqwest::get(authorize.replace(&other.base, &stranger.base)).await.expect("GET /authorize");
    assert_eq!(refused.status(), 400, "another key does not open it");
}

/// The emulator refuses the assertions Entra would: no `jti`, a SHA-256 thumbprint of a
/// certificate it does not have (even with the SHA-1 thumbprint of one it has), an audience that is
/// another token endpoint, a signature by another key.
#[tokio::test]
async fn the_emulator_refuses_client_assertions_entra_would() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let emu = Emulator::start().await.expect("emulator");
    let cert = emu.issue_certificate();
    let stranger = TestCertificate::generate("CN=stranger");
    let token_url = format!("{}/{}/oauth2/v2.0/token", emu.authority_host(), emu.home_tenant());
    let sha = |alg: &'static aws_lc_rs::digest::Algorithm, der: &[u8]| {
        URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(alg, der))
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("now").as_secs();
    // RS256 by hand with the certificate's PKCS#8 key, so that each header and claim is the test's.
    let sign = |key_of: &TestCertificate, s256: Option<String>, sha1: Option<String>, claims: Value| {
        let pem = key_of.pem();
        let body: String = pem
            .lines()
            .skip_while(|l| !l.contains("BEGIN PRIVATE KEY"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----"))
            .collect();
        let pkcs8 = base64::engine::general_purpose::STANDARD.decode(body).expect("PKCS#8");
        let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(&pkcs8).expect("an RSA key");
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(t) = s256 {
            header["x5t#S256"] = t.into();
        }
        if let Some(t) = sha1 {
            header["x5t"] = t.into();
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("signed");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let claims = |aud: &str, jti: bool| {
        let mut c = serde_json::json!({"aud": aud, "iss": emu.app_id(), "sub": emu.app_id(), "nbf": now, "exp": now + 600});
        if jti {
            c["jti"] = "j-1".into();
        }
        c
    };
    let ours = Some(sha(&aws_lc_rs::digest::SHA256, cert.certificate_der()));
    let cases = [
        ("a good assertion", sign(&cert, ours.clone(), None, claims(&token_url, true)), None),
        ("no jti", sign(&cert, ours.clone(), None, claims(&token_url, false)), Some(700_027)),
        (
            "another certificate's SHA-256 thumbprint beside ours in SHA-1",
            sign(
                &cert,
                Some(sha(&aws_lc_rs::digest::SHA256, stranger.certificate_der())),
                Some(sha(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.certificate_der())),
                claims(&token_url, true),
            ),
            Some(700_027),
        ),
        (
            "another token endpoint as audience",
            sign(
                &cert,
                ours.clone(),
                None,
                claims(&format!("{}/common/oauth2/v2.0/token", emu.authority_host()), true),
            ),
            Some(700_027),
        ),
        ("signed by another key", sign(&stranger, ours, None, claims(&token_url, true)), Some(700_027)),
    ];
    for (what, assertion, refused) in cases {
        let answer = reqwest::Client::new()
            .post(&token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", emu.app_id().as_str()),
                ("scope", "https://graph.microsoft.com/.default"),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .expect("sent");
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.expect("json");
        match refused {
            None => assert_eq!(status, 200, "{what}: {body}"),
            Some(code) => {
                assert_eq!(status, 401, "{what}: {body}");
                assert_eq!(body["error_codes"][0], code, "{what}: {body}");
            }
        }
    }
}
