//! The broker (the default mode) served against the emulator, and what its clients do: register,
//! build an authorization request, sign in through the consent page, redeem, refresh.

use axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder;
use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::validate::Clock;
use axum_mcp_azure_oauth::{AzureOAuth, AzureOAuthConfig};
use serde_json::json;

use crate::browser::HttpBrowser;
use crate::http::{Answer, client, param};
use crate::pkce::Pkce;
use crate::serve::{Port, Served};

/// The application (`AzureOAuth::router()` and a protected `/mcp`) in broker mode on 127.0.0.1,
/// with a manual clock its tests move.
#[derive(Debug)]
pub struct Broker {
    pub emu: Emulator,
    /// `http://127.0.0.1:PORT`, the configured base URL.
    pub base: String,
    pub auth: AzureOAuth,
    pub clock: Clock,
    _served: Served,
}

/// The broker against `emu`, with the emulator's preset configuration (its base URL set to the
/// port) changed by `configure`.
pub async fn serve(
    emu: Emulator,
    configure: impl FnOnce(AzureOAuthConfigBuilder) -> AzureOAuthConfigBuilder,
) -> Broker {
    let port = Port::bind().await;
    let config = configure(emu.config().base_url(port.base())).build().expect("a valid test configuration");
    serve_on(port, emu, config)
}

/// The broker against a fresh emulator, configured as the emulator presets it.
pub async fn start() -> Broker {
    serve(Emulator::start().await.expect("the emulator starts"), |c| c).await
}

/// The broker with `config` on `port`.
pub fn serve_on(port: Port, emu: Emulator, config: AzureOAuthConfig) -> Broker {
    let clock = Clock::manual();
    let auth = AzureOAuth::with_clock(config, clock.clone());
    let served = port.serve(crate::app::router(&auth));
    Broker { emu, base: served.base.clone(), auth, clock, _served: served }
}

impl Broker {
    /// Registers a client with these redirect URIs (RFC 7591); its client id.
    pub async fn register(&self, redirect_uris: &[&str]) -> String {
        let metadata = json!({ "redirect_uris": redirect_uris, "client_name": "Test Client", "application_type": "native" });
        let answer = crate::flow::register(&self.base, &metadata, self.emu.client_secret().expose()).await;
        assert_eq!(answer.status, 201, "{}", answer.text);
        let client_id = answer.json()["client_id"].as_str().expect("a client_id").to_owned();
        assert!(client_id.starts_with("mcp-client."), "{client_id}");
        client_id
    }

    /// The authorization request a client sends: `response_type=code`, PKCE, `state`, the API
    /// scope, `resource`.
    pub fn authorize_url(&self, client_id: &str, redirect_uri: &str, pkce: &Pkce) -> url::Url {
        self.authorize_url_for(client_id, redirect_uri, pkce, "access_as_user offline_access")
    }

    /// [`authorize_url`](Self::authorize_url) asking for `scope`.
    pub fn authorize_url_for(
        &self,
        client_id: &str,
        redirect_uri: &str,
        pkce: &Pkce,
        scope: &str,
    ) -> url::Url {
        let mut url = url::Url::parse(&format!("{}/authorize", self.base)).expect("a URL");
        url.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("scope", scope),
            ("state", "st4te"),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{}/mcp", self.base)),
        ]);
        url
    }

    /// Signs in with `browser` (approving the consent page) and returns the client's redirect:
    /// checked to carry a code, the client's `state` and this server's `iss`.
    pub async fn sign_in(
        &self,
        browser: &mut HttpBrowser,
        client_id: &str,
        redirect_uri: &str,
        pkce: &Pkce,
    ) -> String {
        let back =
            browser.sign_in(self.authorize_url(client_id, redirect_uri, pkce).as_str(), redirect_uri).await;
        assert_eq!(param(&back, "state").as_deref(), Some("st4te"), "{back}");
        assert_eq!(param(&back, "iss").as_deref(), Some(self.base.as_str()), "RFC 9207 iss: {back}");
        param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"))
    }

    /// `POST /token` with `form`, checked never to carry the client secret.
    pub async fn token(&self, form: &[(&str, &str)]) -> Answer {
        let response =
            client().post(format!("{}/token", self.base)).form(form).send().await.expect("POST /token");
        Answer::read(response, self.emu.client_secret().expose()).await
    }

    /// Redeems `code` as the client would.
    pub async fn redeem(&self, client_id: &str, redirect_uri: &str, code: &str, verifier: &str) -> Answer {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
            ("client_id", client_id),
        ])
        .await
    }

    /// Calls `/mcp` with `token`: the status and the caller's tenant.
    pub async fn call_mcp(&self, token: &str) -> (u16, Option<String>) {
        let answer = Answer::of(
            client().post(format!("{}/mcp", self.base)).bearer_auth(token).send().await.expect("POST /mcp"),
        )
        .await;
        let tid =
            (answer.status == 200).then(|| answer.json()["tid"].as_str().unwrap_or_default().to_owned());
        (answer.status, tid)
    }
}
