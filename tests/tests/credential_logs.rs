//! The logs at TRACE (of everything but the emulator: the crate, reqwest, hyper) while the app
//! proves itself without a secret — a broker sign-in and refresh with a PKCS#12 certificate,
//! on-behalf-of with a managed identity and a federated token file, and Entra's refusal of an
//! unknown certificate — never hold a private key, the certificate's password, a client
//! assertion, a managed identity's token, the identity header or the federated token.
//!
//! Its own binary: the subscriber is the process's global one, so every callsite sees it.

use std::time::Duration;

use axum_mcp_azure_oauth::AzureOAuth;
use axum_mcp_azure_oauth::emulator::{Emulator, TestCertificate};
use examples::tools::GRAPH_USER_READ;
use support::UNSERVED_BASE;
use support::credentials::{Kind, PFX_PASSWORD, with_credential};
use support::flow::{refresh_as, run_broker_flow};
use support::logs::Captured;

#[tokio::test]
async fn credentials_without_a_secret_leave_nothing_secret_in_the_logs() {
    let buffer = Captured::default();
    tracing::subscriber::set_global_default(buffer.subscriber("trace,axum_mcp_azure_oauth::emulator=off"))
        .expect("first subscriber");
    let emu = Emulator::start().await.expect("emulator");

    let certificate = with_credential(&emu, Kind::Pkcs12);
    let pem = certificate.certificate.clone().expect("a certificate").pem();
    let served = support::endpoints::serve(certificate.builder).await;
    let flow = run_broker_flow(&emu, &served.base, "http://127.0.0.1:4444/callback").await;
    let sealed = flow.tokens["refresh_token"].as_str().expect("a refresh token");
    refresh_as(&emu, &served.base, &flow.client_id, sealed).await;

    let mut file_token = String::new();
    for kind in [Kind::AppServiceIdentity, Kind::FederatedTokenFile] {
        let setup = with_credential(&emu, kind);
        if let Some(path) = &setup.token_file {
            file_token = std::fs::read_to_string(path).expect("the token");
        }
        let auth = AzureOAuth::new(setup.builder.base_url(UNSERVED_BASE).build().expect("valid"));
        let caller = emu.token().expires_in(Duration::from_secs(3600)).sign();
        let caller = auth.validator().validate(&caller).await.expect("valid");
        auth.on_behalf_of().token(&caller, [GRAPH_USER_READ]).await.expect("exchanged");
    }
    let stranger = TestCertificate::generate("CN=stranger");
    let config = emu
        .config_without_secret()
        .client_certificate(stranger.client_certificate())
        .base_url(UNSERVED_BASE)
        .build()
        .expect("valid");
    let auth = AzureOAuth::new(config);
    let caller = auth.validator().validate(&emu.token().sign()).await.expect("valid");
    auth.on_behalf_of().token(&caller, [GRAPH_USER_READ]).await.expect_err("AADSTS700027");

    let logs = buffer.text();
    assert!(logs.contains("on-behalf-of exchange"), "the flows are logged: {logs}");
    let assertions: Vec<String> =
        emu.requests().iter().filter_map(|r| r.form_param("client_assertion").map(str::to_owned)).collect();
    assert!(
        assertions.len() >= 5,
        "redemption, refresh, Graph, two exchanges, the refused one: {}",
        assertions.len()
    );
    let private_lines = |pem: &str| -> Vec<String> {
        pem.lines()
            .skip_while(|l| !l.contains("PRIVATE KEY"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----"))
            .map(str::to_owned)
            .collect()
    };
    let mut secrets: Vec<(String, String)> = vec![
        ("the certificate's password".into(), PFX_PASSWORD.into()),
        ("the identity header".into(), emu.identity_header()),
        ("the federated token".into(), file_token),
        ("an assertion field".into(), "client_assertion=".into()),
    ];
    for (n, line) in private_lines(&pem).into_iter().chain(private_lines(&stranger.pem())).enumerate() {
        secrets.push((format!("a line of a private key ({n})"), line));
    }
    for (n, assertion) in assertions.iter().enumerate() {
        // A managed identity's token is the assertion sent.
        secrets.push((
            format!("assertion {n}'s signature"),
            assertion.rsplit('.').next().unwrap_or_default().into(),
        ));
        secrets.push((format!("assertion {n}"), assertion.clone()));
    }
    for (what, value) in secrets {
        assert!(value.len() > 8, "{what} is a real value");
        assert!(!logs.contains(&value), "{what} is in the logs");
    }
}
