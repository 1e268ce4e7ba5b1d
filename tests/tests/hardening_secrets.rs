//! Secrets, codes and tokens through a whole flow — register → authorize → token → refresh →
//! protected call — with a global subscriber at TRACE for every crate (hyper, reqwest, axum, tower
//! and this library; only the emulator, which plays Entra and holds the secrets by design, is
//! filtered out). Each secret appears in no log line and only in the responses that legitimately
//! carry it. And the `Debug` of every configuration, error and handle type redacts them.
//!
//! `endpoints_logs.rs` proves the library's own log lines for the bridge; this adds every other
//! crate's lines, the protected calls, the responses, and `Debug`. (A test binary of its own: its
//! subscriber is the global one.)

mod hardening_support;
mod log_support;

use std::sync::Arc;

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint};
use axum_mcp_azure_oauth::{
    AzureOAuth, AzureOAuthConfig, ClientSecret, EnrolError, GraphClient, OAuthEndpoints, TokenValidator,
};
use base64::Engine as _;
use hardening_support::client;
use log_support::Captured;
use serde_json::{Value, json};

/// Every answer of our server, whole.
#[derive(Default)]
struct Responses(Vec<(&'static str, String)>);

impl Responses {
    async fn record(
        &mut self,
        step: &'static str,
        r: reqwest::Response,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.expect("a body");
        let mut whole = format!("{status}\n");
        for (k, v) in &headers {
            whole.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        whole.push_str(&body);
        self.0.push((step, whole));
        (status, body, headers)
    }

    /// The steps whose answer contains `needle` (or its URL-encoded form).
    fn carrying(&self, needle: &str) -> Vec<&'static str> {
        let encoded: String = url::form_urlencoded::byte_serialize(needle.as_bytes()).collect();
        self.0.iter().filter(|(_, r)| r.contains(needle) || r.contains(&encoded)).map(|(s, _)| *s).collect()
    }
}

fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    (verifier, base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_flow_leaks_no_secret_code_or_token_into_logs_or_other_responses() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace,axum_mcp_azure_oauth::emulator=off")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // `try_init` also forwards the `log` records of crates that use `log` (reqwest, hyper-util).
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber)
        .expect("the only subscriber of this test binary");

    let emu = Emulator::builder().access_token_version(2).start().await.expect("emulator");
    let redirect = "https://global.consent.azure-apim.net/redirect/secret-flow";
    let app = hardening_support::serve(
        emu.config().allowed_redirect_uri_prefixes(["https://global.consent.azure-apim.net/redirect/"]),
    )
    .await;
    let (base, http, mut seen) = (app.base.clone(), client(), Responses::default());
    let app_id = emu.app_id();

    let r = http.post(format!("{base}/register")).json(&json!({ "redirect_uris": [redirect] })).send().await;
    let (status, body, _) = seen.record("register", r.expect("POST /register")).await;
    assert_eq!(status, 201, "{body}");

    let (verifier, challenge) = pkce();
    let r = http
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", app_id.as_str()),
            ("redirect_uri", redirect),
            ("scope", "access_as_user offline_access"),
            ("state", "st4te"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{base}/mcp")),
        ])
        .send()
        .await;
    let (status, _, headers) = seen.record("authorize", r.expect("GET /authorize")).await;
    assert_eq!(status, 302);
    let to_entra = headers["location"].to_str().expect("ASCII").to_owned();
    // Entra's own answer (not ours): the only place the code legitimately travels.
    let back = http.get(&to_entra).send().await.expect("Entra authorize");
    let callback = url::Url::parse(back.headers()["location"].to_str().expect("ASCII")).expect("URL");
    let code = param(&callback, "code").expect("a code");

    let r = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
            ("client_id", app_id.as_str()),
        ])
        .send()
        .await;
    let (status, body, _) = seen.record("redeem", r.expect("POST /token")).await;
    assert_eq!(status, 200, "{body}");
    let redeemed: Value = serde_json::from_str(&body).expect("JSON");
    let redemption =
        emu.requests().into_iter().rev().find(|r| r.endpoint == Endpoint::Token).expect("redeemed");
    assert!(redemption.client_secret_sent, "a web redirect is redeemed with the secret, server-side");

    let refresh_token = redeemed["refresh_token"].as_str().expect("refresh_token").to_owned();
    let r = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", app_id.as_str()),
        ])
        .send()
        .await;
    let (status, body, _) = seen.record("refresh", r.expect("POST /token")).await;
    assert_eq!(status, 200, "{body}");
    let refreshed: Value = serde_json::from_str(&body).expect("JSON");

    for (step, token) in [("call", &redeemed), ("call again", &refreshed)] {
        let access = token["access_token"].as_str().expect("access_token");
        let r = http.post(format!("{base}/mcp")).bearer_auth(access).send().await;
        let (status, body, _) = seen.record(step, r.expect("POST /mcp")).await;
        assert_eq!(status, 200, "{body}");
    }
    // A refused call with a token that is valid but for another audience.
    let foreign = emu.token().audience("api://someone-else").sign();
    let r = http.post(format!("{base}/mcp")).bearer_auth(&foreign).send().await;
    let (status, _, _) = seen.record("refused call", r.expect("POST /mcp")).await;
    assert_eq!(status, 401);

    let logs = captured.text();
    assert!(logs.contains("hyper") || logs.contains("reqwest"), "other crates' trace lines were captured");
    assert!(logs.contains("token request bridged"), "the library's lines were captured");

    let secret = emu.client_secret().expose().to_owned();
    let nowhere: &[&str] = &[];
    let mut checks: Vec<(&str, String, &[&str])> = vec![
        ("client secret", secret, nowhere),
        ("authorization code", code.clone(), nowhere),
        ("PKCE verifier", verifier.clone(), nowhere),
        ("refused token", foreign, nowhere),
    ];
    for (legit, answer) in [(&["redeem"][..], &redeemed), (&["refresh"][..], &refreshed)] {
        for field in ["access_token", "refresh_token", "id_token"] {
            if let Some(t) = answer[field].as_str() {
                checks.push((field, t.to_owned(), legit));
            }
        }
    }
    for (name, value, legit) in &checks {
        assert!(value.len() >= 16, "{name} is long enough to search for");
        assert!(!logs.contains(value.as_str()), "the {name} appears in a log line");
        let carrying = seen.carrying(value);
        assert!(
            carrying.iter().all(|step| legit.contains(step)),
            "the {name} appears in the {carrying:?} answer(s); only {legit:?} may carry it"
        );
        if !legit.is_empty() {
            assert!(!carrying.is_empty(), "the {name} came back where it belongs");
        }
    }
}

#[tokio::test]
async fn debug_of_every_configuration_error_and_handle_type_redacts_secrets() {
    let emu = Emulator::start().await.expect("emulator");
    let secret = emu.client_secret().expose().to_owned();
    let builder = emu.config();
    let config = builder.clone().build().expect("valid");
    let graph = GraphClient::new(Arc::new(config.clone()));
    let validator = TokenValidator::new(Arc::new(config.clone()));
    let token = emu.token().sign();
    validator.validate(&token).await.expect("a valid token");
    // A Graph failure whose detail comes from Entra's answer to the secret.
    emu.set_fault(Endpoint::Token, axum_mcp_azure_oauth::emulator::Fault::status(401));
    let report = graph.enrol(["https://vscode.dev/redirect"]).await;
    let enrol_error: &EnrolError = &report.failed.first().expect("a failure").1;
    let config_error = AzureOAuthConfig::builder()
        .env(|name| match name {
            "AZURE_CLIENT_ID" => Some(emu.app_id()),
            "AZURE_TENANT_ID" => Some(emu.home_tenant()),
            "AZURE_CLIENT_SECRET" => Some(format!(" {secret} ")),
            _ => None,
        })
        .and_then(|b| b.build())
        .expect_err("a padded secret is refused");
    let auth = AzureOAuth::new(config.clone());
    let endpoints = OAuthEndpoints::new(Arc::new(config.clone()));
    let auth_error = validator.validate("x.y.z").await.expect_err("refused");
    let requests = emu.requests();
    let debugs = [
        ("AzureOAuthConfig", format!("{config:?}")),
        ("AzureOAuthConfigBuilder", format!("{builder:?}")),
        (
            "ClientSecret",
            format!("{:?} {}", ClientSecret::new(secret.clone()), ClientSecret::new(secret.clone())),
        ),
        ("ConfigError", format!("{config_error:?} {config_error}")),
        ("AuthError", format!("{auth_error:?} {auth_error}")),
        ("EnrolError", format!("{enrol_error:?} {enrol_error}")),
        ("AzureOAuth", format!("{auth:?}")),
        ("OAuthEndpoints", format!("{endpoints:?}")),
        ("GraphClient", format!("{graph:?}")),
        ("TokenValidator", format!("{validator:?}")),
        ("RecordedRequest", format!("{requests:?}")),
    ];
    assert!(
        requests.iter().any(|r| r.form_param("client_secret") == Some(secret.as_str())),
        "the log holds the secret"
    );
    for (name, debug) in &debugs {
        assert!(!debug.contains(&secret), "{name} shows the client secret: {debug}");
        assert!(!debug.contains(&token), "{name} shows a token: {debug}");
    }
}
