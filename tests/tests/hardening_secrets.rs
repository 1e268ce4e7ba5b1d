//! Secrets, codes and tokens through a whole flow — register → authorize → consent → (broker:
//! callback →) token → refresh → protected call — in the default broker mode and in the enrol mode,
//! with a global subscriber at TRACE for every crate (hyper, reqwest, axum, tower and this library;
//! only the emulator, which plays Entra and holds the secrets by design, is filtered out). Each
//! secret appears in no log line and only in the responses that legitimately carry it: the broker's
//! sealed values (the consent form's `request`, the `state` sent to Entra, the code it sends the
//! client, the refresh token it seals) each in the one answer that hands it on, Entra's own code
//! and refresh token in none. And the `Debug` of every configuration, error and handle type (the
//! on-behalf-of client, its tokens and errors included) redacts them.
//!
//! `endpoints_logs.rs` proves the library's own log lines for the bridge; this adds every other
//! crate's lines, the protected calls, the responses, and `Debug`. (A test binary of its own: its
//! subscriber is the global one.)

use std::sync::Arc;

use axum_mcp_azure_oauth::config::{ClientSecret, Mode};
use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint};
use axum_mcp_azure_oauth::endpoints::OAuthEndpoints;
use axum_mcp_azure_oauth::graph::{EnrolError, GraphClient};
use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig, TokenValidator};
use serde_json::{Value, json};
use support::UNSERVED_BASE;
use support::app;
use support::browser::{HttpBrowser, Page};
use support::flow::COPILOT;
use support::http::{client, param};
use support::logs::Captured;
use support::pkce::Pkce;

/// Every answer of our server, whole.
#[derive(Default)]
struct Responses(Vec<(&'static str, String)>);

impl Responses {
    fn keep(&mut self, step: &'static str, status: u16, headers: &reqwest::header::HeaderMap, body: &str) {
        let mut whole = format!("{status}\n");
        for (k, v) in headers {
            whole.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        whole.push_str(body);
        self.0.push((step, whole));
    }

    async fn record(
        &mut self,
        step: &'static str,
        r: reqwest::Response,
    ) -> (u16, String, reqwest::header::HeaderMap) {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.expect("a body");
        self.keep(step, status, &headers, &body);
        (status, body, headers)
    }

    /// A page our server answered the browser with.
    fn page(&mut self, step: &'static str, page: Page) -> Page {
        self.keep(step, page.status, &page.headers, &page.body);
        page
    }

    /// The steps whose answer contains `needle` (or its URL-encoded form).
    fn carrying(&self, needle: &str) -> Vec<&'static str> {
        let encoded: String = url::form_urlencoded::byte_serialize(needle.as_bytes()).collect();
        self.0.iter().filter(|(_, r)| r.contains(needle) || r.contains(&encoded)).map(|(s, _)| *s).collect()
    }
}

/// A value that must never be logged, and the steps whose answers may carry it.
type Check = (&'static str, String, &'static [&'static str]);

const NOWHERE: &[&str] = &[];
const REDEEM: &[&str] = &["redeem"];
const REFRESH: &[&str] = &["refresh"];

/// The whole flow of `mode` against a new emulator, every answer of our server in `seen`; the
/// values to look for and where each may appear.
async fn whole_flow(mode: Mode, seen: &mut Responses) -> Vec<Check> {
    let emu = Emulator::builder().access_token_version(2).start().await.expect("emulator");
    let redirect = format!("{COPILOT}secret-flow");
    let redirect = redirect.as_str();
    // The broker takes any https redirect URI; the enrol mode only those the operator allows.
    let config = match mode {
        Mode::Enrol => emu.config().mode(mode).allowed_redirect_uri_prefixes([COPILOT]),
        _ => emu.config().mode(mode),
    };
    let app = app::serve(config).await;
    let (base, http) = (app.base.clone(), client());
    let mut checks: Vec<Check> = vec![("client secret", emu.client_secret().expose().to_owned(), NOWHERE)];

    let r = http.post(format!("{base}/register")).json(&json!({ "redirect_uris": [redirect] })).send().await;
    let (status, body, _) = seen.record("register", r.expect("POST /register")).await;
    assert_eq!(status, 201, "{body}");
    let client_id = serde_json::from_str::<Value>(&body).expect("JSON")["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();

    let Pkce { verifier, challenge } = Pkce::generate();
    let mut authorize = url::Url::parse(&format!("{base}/authorize")).expect("URL");
    authorize.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect),
        ("scope", "access_as_user offline_access"),
        ("state", "st4te"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("resource", &format!("{base}/mcp")),
    ]);
    let mut browser = HttpBrowser::new();
    let consent = seen.page("authorize", browser.get(&authorize).await);
    assert_eq!(consent.status, 200, "the consent page: {}", consent.body);
    checks.push((
        "consent form's sealed request",
        consent.consent_request().expect("a consent form"),
        &["authorize"],
    ));
    let allowed = seen.page("allow", browser.answer(&consent, "allow", false).await);
    assert_eq!(allowed.status, 302, "{}", allowed.body);
    let to_entra = allowed.location().expect("to Entra");
    // Entra's own answer (not ours): where Entra's code legitimately travels.
    let at_entra = browser.get(&to_entra).await;
    let from_entra = at_entra.location().expect("Entra redirects");
    let entra_code = param(&from_entra, "code").expect("Entra's code");
    checks.push(("Entra's authorization code", entra_code.clone(), NOWHERE));
    let code = match mode {
        Mode::Broker => {
            checks.push(("broker's sealed state", param(&to_entra, "state").expect("state"), &["allow"]));
            let forwarded = seen.page("callback", browser.get(&from_entra).await);
            assert_eq!(forwarded.status, 302, "{}", forwarded.body);
            let code =
                param(&forwarded.location().expect("to the client"), "code").expect("the broker's code");
            checks.push(("broker's code", code.clone(), &["callback"]));
            code
        }
        _ => entra_code,
    };

    let r = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await;
    let (status, body, _) = seen.record("redeem", r.expect("POST /token")).await;
    assert_eq!(status, 200, "{body}");
    let redeemed: Value = serde_json::from_str(&body).expect("JSON");
    let redemption =
        emu.requests().into_iter().rev().find(|r| r.endpoint == Endpoint::Token).expect("redeemed");
    assert!(redemption.client_secret_sent, "{mode:?}: redeemed with the secret, server-side");
    checks.push(("PKCE verifier", verifier, NOWHERE));

    let refresh_token = redeemed["refresh_token"].as_str().expect("refresh_token").to_owned();
    let r = http
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await;
    let (status, body, _) = seen.record("refresh", r.expect("POST /token")).await;
    assert_eq!(status, 200, "{body}");
    let refreshed: Value = serde_json::from_str(&body).expect("JSON");
    if mode == Mode::Broker {
        let sent =
            emu.requests().into_iter().rev().find(|r| r.endpoint == Endpoint::Token).expect("refreshed");
        let entra_refresh = sent.form_param("refresh_token").expect("Entra's refresh token").to_owned();
        assert_ne!(entra_refresh, refresh_token, "the client holds the refresh token sealed");
        checks.push(("Entra's refresh token", entra_refresh, NOWHERE));
    }

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
    checks.push(("refused token", foreign, NOWHERE));

    for (legit, answer) in [(REDEEM, &redeemed), (REFRESH, &refreshed)] {
        for field in ["access_token", "refresh_token", "id_token"] {
            if let Some(t) = answer[field].as_str() {
                checks.push((field, t.to_owned(), legit));
            }
        }
    }
    checks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_flow_leaks_no_secret_code_or_token_into_logs_or_other_responses() {
    let captured = Captured::default();
    let subscriber = captured.subscriber("trace,axum_mcp_azure_oauth::emulator=off");
    // `try_init` also forwards the `log` records of crates that use `log` (reqwest, hyper-util).
    tracing_subscriber::util::SubscriberInitExt::try_init(subscriber)
        .expect("the only subscriber of this test binary");

    let mut flows = Vec::new();
    for mode in [Mode::Broker, Mode::Enrol] {
        let mut seen = Responses::default();
        let checks = whole_flow(mode, &mut seen).await;
        flows.push((mode, seen, checks));
    }

    let logs = captured.text();
    assert!(logs.contains("hyper") || logs.contains("reqwest"), "other crates' trace lines were captured");
    assert!(logs.contains("token brokered from Entra ID"), "the broker's lines were captured");
    assert!(logs.contains("token request bridged"), "the enrol bridge's lines were captured");

    for (mode, seen, checks) in &flows {
        for (name, value, legit) in checks {
            assert!(value.len() >= 16, "{mode:?}: {name} is long enough to search for");
            assert!(!logs.contains(value.as_str()), "{mode:?}: the {name} appears in a log line");
            let carrying = seen.carrying(value);
            assert!(
                carrying.iter().all(|step| legit.contains(step)),
                "{mode:?}: the {name} appears in the {carrying:?} answer(s); only {legit:?} may carry it"
            );
            if !legit.is_empty() {
                assert!(!carrying.is_empty(), "{mode:?}: the {name} came back where it belongs");
            }
        }
    }
}

#[tokio::test]
async fn debug_of_every_configuration_error_and_handle_type_redacts_secrets() {
    let emu = Emulator::start().await.expect("emulator");
    let secret = emu.client_secret().expose().to_owned();
    let builder = emu.config().base_url(UNSERVED_BASE);
    let config = builder.clone().build().expect("valid");
    let graph = GraphClient::new(Arc::new(config.clone()));
    let validator = TokenValidator::new(Arc::new(config.clone()));
    let token = emu.token().sign();
    let claims = validator.validate(&token).await.expect("a valid token");
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
    let downstream = auth
        .on_behalf_of()
        .token(&claims, ["https://graph.microsoft.com/User.Read"])
        .await
        .expect("exchanged");
    emu.set_fault(Endpoint::OnBehalfOf, axum_mcp_azure_oauth::emulator::Fault::status(401));
    let obo_error = auth
        .on_behalf_of()
        .token(&claims, ["https://graph.microsoft.com/.default"])
        .await
        .expect_err("refused");
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
        ("AzureClaims", format!("{claims:?}")),
        ("OnBehalfOf", format!("{:?}", auth.on_behalf_of())),
        ("DownstreamToken", format!("{downstream:?}")),
        ("OboError", format!("{obo_error:?} {obo_error}")),
    ];
    assert!(
        requests.iter().any(|r| r.form_param("client_secret") == Some(secret.as_str())),
        "the log holds the secret"
    );
    for (name, debug) in &debugs {
        assert!(!debug.contains(&secret), "{name} shows the client secret: {debug}");
        assert!(!debug.contains(&token), "{name} shows a token: {debug}");
        assert!(!debug.contains(downstream.access_token()), "{name} shows the downstream token: {debug}");
    }
}
