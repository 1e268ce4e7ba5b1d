//! The broker (the default mode) over real HTTP against the emulator: a client nobody allowed signs
//! in through the consent page and gets Entra's tokens; everything in flight is sealed and bound
//! (to the browser, the client, its redirect URI and its PKCE verifier) and refused when tampered
//! with, expired, replayed or sent by another; two replicas sharing only the secret serve one
//! sign-in.

use std::time::Duration;

use axum_mcp_azure_oauth::emulator::{Emulator, Endpoint, Fault, Platform};
use serde_json::json;
use support::broker;
use support::browser::{HttpBrowser, Page};
use support::http::{Answer, client, param, unused_loopback_redirect};
use support::pkce::Pkce;
use support::serve::Port;

/// The browser-facing error page: an HTML page with the security headers, and no redirect.
fn assert_error_page(page: &Page, status: u16, says: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.headers.get("location").is_none(), "an error page never redirects");
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    let csp = page.headers["content-security-policy"].to_str().expect("ASCII");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.body.contains(says), "the page does not say {says:?}: {}", page.body);
}

#[tokio::test]
async fn a_client_nobody_allowed_signs_in_through_the_consent_page_and_gets_entras_tokens() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();

    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &pkce)).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Allow <em>Test Client</em>"), "the client is named: {}", page.body);
    assert!(page.body.contains("<strong>127.0.0.1</strong>"), "the redirect host is emphasised");
    assert!(page.body.contains("on your own computer"), "a loopback redirect is explained");
    assert!(page.body.contains("Use 127.0.0.1 and its tools as you (access_as_user)"), "{}", page.body);
    assert!(page.body.len() < 10 * 1024, "{} bytes", page.body.len());
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0, "nothing reaches Entra before consent");

    let to_entra = browser.answer(&page, "allow", false).await;
    let entra = to_entra.location().expect("on to Entra");
    assert!(entra.as_str().starts_with(&b.emu.authority_host()), "{entra}");
    let callback = format!("{}/oauth/callback", b.base);
    assert_eq!(
        param(&entra, "redirect_uri").as_deref(),
        Some(callback.as_str()),
        "Entra sees the broker's callback"
    );
    assert_eq!(param(&entra, "client_id"), Some(b.emu.app_id()));
    assert_eq!(param(&entra, "code_challenge_method").as_deref(), Some("S256"));
    assert_ne!(param(&entra, "code_challenge"), Some(pkce.challenge.clone()), "the broker's own PKCE");
    assert!(param(&entra, "resource").is_none(), "resource never reaches Entra");
    assert_ne!(param(&entra, "state").as_deref(), Some("st4te"), "the client's state is sealed");

    let code = b.sign_in(&mut browser, &client_id, &redirect, &pkce).await;
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(tokens.header("cache-control"), Some("no-store"));
    let tokens = tokens.json();
    let access = tokens["access_token"].as_str().expect("an access token");
    assert_eq!(b.call_mcp(access).await, (200, Some(b.emu.home_tenant())), "Entra's token works here");
    assert_eq!(support::flow::jwt_payload(access)["aud"], json!(b.emu.app_id()), "audience: this app");
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");

    // The Entra redemption: at the broker's callback, with the secret and the broker's verifier.
    let redemption = b
        .emu
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.endpoint == Endpoint::Token && r.form_param("grant_type") == Some("authorization_code"))
        .expect("a redemption");
    assert_eq!(redemption.form_param("redirect_uri"), Some(callback.as_str()));
    assert!(redemption.client_secret_sent, "the broker's callback is a web redirect URI");
    assert_ne!(redemption.form_param("code_verifier"), Some(pkce.verifier.as_str()));

    // Refresh, with the sealed refresh token, by the client it was issued to.
    let again = b
        .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &client_id)])
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let fresh = again.json()["access_token"].as_str().expect("a new access token").to_owned();
    assert_eq!(b.call_mcp(&fresh).await.0, 200);

    // The app registration holds the broker's callback (web) and nothing of the client's.
    assert_eq!(b.emu.redirect_uris(Platform::Web), [callback]);
    assert!(
        b.emu.redirect_uris(Platform::PublicClient).is_empty()
            && b.emu.redirect_uris(Platform::Spa).is_empty()
    );
}

#[tokio::test]
async fn an_https_client_signs_in_without_any_redirect_uri_of_its_on_the_app_registration() {
    let b = broker::start().await;
    let redirect = "https://client.example/oauth/cb";
    let client_id = b.register(&[redirect]).await;
    let pkce = Pkce::generate();
    let code = b.sign_in(&mut HttpBrowser::new(), &client_id, redirect, &pkce).await;
    let tokens = b.redeem(&client_id, redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert!(!b.emu.redirect_uris(Platform::Web).iter().any(|u| u == redirect));
}

#[tokio::test]
async fn deny_goes_back_to_the_client_with_access_denied_its_state_and_iss() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    let denied = browser.answer(&page, "deny", false).await;
    let back = denied.location().expect("back to the client");
    assert!(back.as_str().starts_with(&redirect), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&back, "iss").as_deref(), Some(b.base.as_str()));
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0);
}

#[tokio::test]
async fn unknown_clients_and_redirect_uris_get_an_error_page_never_a_redirect() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let with = |client: &str, redirect_uri: &str| b.authorize_url(client, redirect_uri, &pkce);
    let mut tampered = client_id.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    for (client, redirect_uri, says) in [
        ("not-a-client", redirect.as_str(), "not one this server issued"),
        (tampered.as_str(), redirect.as_str(), "not one this server issued"),
        (client_id.as_str(), "http://127.0.0.1:1/elsewhere", "not one of this client&#39;s redirect URIs"),
        (client_id.as_str(), "https://evil.example/cb", "not one of this client&#39;s redirect URIs"),
        ("", redirect.as_str(), "client_id is required"),
    ] {
        let page = browser.get(&with(client, redirect_uri)).await;
        assert_error_page(&page, 400, says);
    }
    let mut no_redirect = url::Url::parse(&format!("{}/authorize", b.base)).expect("URL");
    no_redirect.query_pairs_mut().append_pair("client_id", &client_id).append_pair("response_type", "code");
    assert_error_page(&browser.get(&no_redirect).await, 400, "redirect_uri is required");
    // The app's own id admits only the operator's redirect URIs (none here).
    assert_error_page(&browser.get(&with(&b.emu.app_id(), &redirect)).await, 400, "not one of this client");
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0);
}

#[tokio::test]
async fn once_the_redirect_uri_is_known_errors_go_back_to_it_with_state_and_iss() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    for (param_name, value, error) in [
        ("response_type", Some("token"), "unsupported_response_type"),
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("scope", Some("https://graph.microsoft.com/User.Read"), "invalid_scope"),
        ("resource", Some("https://other.example/mcp"), "invalid_target"),
        ("response_mode", Some("fragment"), "invalid_request"),
        // Silent authentication cannot pass a consent page not yet answered.
        ("prompt", Some("none"), "consent_required"),
    ] {
        let mut url = b.authorize_url(&client_id, &redirect, &pkce);
        let mut pairs: Vec<(String, String)> =
            url.query_pairs().into_owned().filter(|(k, _)| k != param_name).collect();
        if let Some(v) = value {
            pairs.push((param_name.to_owned(), v.to_owned()));
        }
        url.query_pairs_mut().clear().extend_pairs(pairs);
        let page = browser.get(&url).await;
        assert_eq!(page.status, 302, "{param_name}: {}", page.body);
        let back = page.location().expect("back to the client");
        assert!(back.as_str().starts_with(&redirect), "{back}");
        assert_eq!(param(&back, "error").as_deref(), Some(error), "{param_name}={value:?}");
        assert_eq!(param(&back, "state").as_deref(), Some("st4te"));
        assert_eq!(param(&back, "iss").as_deref(), Some(b.base.as_str()));
    }
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0);
}

#[tokio::test]
async fn the_consent_form_needs_its_cookie_its_own_page_and_this_origin() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    let request = page.consent_request().expect("a consent page");
    let form = |request: &str| vec![("request", request.to_owned()), ("decision", "allow".to_owned())];
    let post = |origin: Option<&str>, cookie: Option<String>, request: &str| {
        let mut r = client().post(format!("{}/authorize", b.base)).form(&form(request));
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r
    };
    let cookies = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let page_at =
        |a: Answer| Page { url: page.url.clone(), status: a.status, headers: a.headers, body: a.text };

    // Another browser (no cookie), another site, no origin at all: refused, nothing sent on.
    let no_cookie = Answer::of(post(Some(&b.base), None, &request).send().await.expect("an answer")).await;
    assert_error_page(&page_at(no_cookie), 403, "not opened in this browser");
    let cross = Answer::of(
        post(Some("https://evil.example"), Some(cookies.clone()), &request).send().await.expect("an answer"),
    )
    .await;
    assert_error_page(&page_at(cross), 403, "this server&#39;s own consent page");
    let none = Answer::of(post(None, Some(cookies.clone()), &request).send().await.expect("an answer")).await;
    assert_error_page(&page_at(none), 403, "this server&#39;s own consent page");
    // Another page's cookie does not fit this page's request.
    let mut other = HttpBrowser::new();
    other.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    let foreign = other.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let swapped =
        Answer::of(post(Some(&b.base), Some(foreign), &request).send().await.expect("an answer")).await;
    assert_error_page(&page_at(swapped), 403, "not opened in this browser");
    // An altered request does not open.
    let mut altered = request.clone().into_bytes();
    altered[30] = if altered[30] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).expect("ASCII");
    let bad =
        Answer::of(post(Some(&b.base), Some(cookies.clone()), &altered).send().await.expect("an answer"))
            .await;
    assert_error_page(&page_at(bad), 400, "expired or was altered");
    // After ten minutes the page has expired.
    b.clock.advance(Duration::from_secs(601));
    let late =
        Answer::of(post(Some(&b.base), Some(cookies), &request).send().await.expect("an answer")).await;
    assert_error_page(&page_at(late), 400, "expired or was altered");
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0, "nothing reached Entra");
}

#[tokio::test]
async fn a_remembered_approval_skips_the_page_only_for_navigations_from_the_same_site() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    assert!(page.body.contains("Remember my choice"), "{}", page.body);
    let approved = browser.answer(&page, "allow", true).await;
    assert_eq!(approved.status, 302);
    assert!(browser.cookies.keys().any(|k| k.starts_with("mcp-approved-")), "{:?}", browser.cookies.keys());

    // Opened again in the same browser (typed, or from the app: Sec-Fetch-Site none): straight on,
    // even silently (prompt=none); unless the client asks for the page (prompt=consent).
    let again = browser.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert!(again.location().expect("Location").as_str().starts_with(&b.emu.authority_host()));
    for (prompt, status) in [("none", 302), ("consent", 200), ("login", 302)] {
        let mut url = b.authorize_url(&client_id, &redirect, &Pkce::generate());
        url.query_pairs_mut().append_pair("prompt", prompt);
        let page = browser.get(&url).await;
        assert_eq!(page.status, status, "prompt={prompt}: {}", page.body);
        if status == 302 {
            let entra = page.location().expect("Location");
            assert_eq!(param(&entra, "prompt").as_deref(), Some(prompt), "prompt is passed on to Entra");
        }
    }
    // A link on another site: the page again.
    let cookies = browser.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let cross = client()
        .get(b.authorize_url(&client_id, &redirect, &Pkce::generate()))
        .header("cookie", &cookies)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("an answer");
    assert_eq!(cross.status(), 200, "a cross-site link always shows the consent page");
    // Another redirect URI of the same client: not approved yet.
    let other = unused_loopback_redirect();
    let client_two = b.register(&[&redirect, &other]).await;
    let page = browser.get(&b.authorize_url(&client_two, &other, &Pkce::generate())).await;
    assert_eq!(page.status, 200, "approval is per client and redirect URI");
}

#[tokio::test]
async fn the_callback_refuses_altered_expired_and_other_browsers_states() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    let entra = browser.answer(&page, "allow", false).await.location().expect("on to Entra");
    let at_entra = browser.get(&entra).await;
    let callback = at_entra.location().expect("Entra's redirect to the callback");
    assert!(callback.as_str().starts_with(&format!("{}/oauth/callback", b.base)), "{callback}");
    let state = param(&callback, "state").expect("the sealed state");

    let mut altered_state = state.clone().into_bytes();
    altered_state[40] = if altered_state[40] == b'A' { b'B' } else { b'A' };
    let mut altered = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" { (k, String::from_utf8(altered_state.clone()).expect("ASCII")) } else { (k, v) }
        })
        .collect();
    altered.query_pairs_mut().clear().extend_pairs(pairs);
    assert_error_page(&browser.get(&altered).await, 400, "not started by this server, or was altered");
    assert_error_page(&HttpBrowser::new().get(&callback).await, 400, "started in another browser");
    b.clock.advance(Duration::from_secs(601));
    assert_error_page(&browser.get(&callback).await, 400, "took too long");
}

#[tokio::test]
async fn codes_are_single_use_short_lived_and_bound_to_client_redirect_uri_and_verifier() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let other_client = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();
    let code = b.sign_in(&mut HttpBrowser::new(), &client_id, &redirect, &pkce).await;
    let error = |a: Answer| (a.status, a.json()["error"].as_str().unwrap_or_default().to_owned());
    let invalid_grant = (400, "invalid_grant".to_owned());
    let entra_before = b.emu.request_count(Endpoint::Token);

    assert_eq!(error(b.redeem(&other_client, &redirect, &code, &pkce.verifier).await), invalid_grant);
    assert_eq!(
        error(b.redeem(&client_id, "http://127.0.0.1:1/other", &code, &pkce.verifier).await),
        invalid_grant
    );
    assert_eq!(
        error(b.redeem(&client_id, &redirect, &code, &Pkce::generate().verifier).await),
        invalid_grant
    );
    let no_verifier = b
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(error(no_verifier), (400, "invalid_request".to_owned()));
    let no_client = b
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &pkce.verifier),
        ])
        .await;
    assert_eq!(error(no_client), (400, "invalid_request".to_owned()));
    let mut tampered = code.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ASCII");
    assert_eq!(error(b.redeem(&client_id, &redirect, &tampered, &pkce.verifier).await), invalid_grant);
    let other_resource = b
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect),
            ("code_verifier", &pkce.verifier),
            ("client_id", &client_id),
            ("resource", "https://other.example/mcp"),
        ])
        .await;
    assert_eq!(error(other_resource), (400, "invalid_target".to_owned()));
    assert_eq!(b.emu.request_count(Endpoint::Token), entra_before, "none of these reached Entra");

    let ok = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    // Entra's code inside is spent: the same code again is refused by Entra.
    let replay = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(error(replay), invalid_grant);

    // A code not redeemed within five minutes has expired.
    let pkce = Pkce::generate();
    let late = b.sign_in(&mut HttpBrowser::new(), &client_id, &redirect, &pkce).await;
    b.clock.advance(Duration::from_secs(301));
    let before = b.emu.request_count(Endpoint::Token);
    assert_eq!(error(b.redeem(&client_id, &redirect, &late, &pkce.verifier).await), invalid_grant);
    assert_eq!(b.emu.request_count(Endpoint::Token), before, "an expired code never reaches Entra");
}

#[tokio::test]
async fn refresh_tokens_are_sealed_to_the_client_they_were_issued_to() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let other_client = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();
    let code = b.sign_in(&mut HttpBrowser::new(), &client_id, &redirect, &pkce).await;
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await.json();
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let before = b.emu.request_count(Endpoint::Token);
    for (token, client) in [(refresh, other_client.as_str()), ("an-entra-refresh-token", client_id.as_str())]
    {
        let a = b
            .token(&[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", client)])
            .await;
        assert_eq!((a.status, a.json()["error"].clone()), (400, json!("invalid_grant")), "{}", a.text);
    }
    assert_eq!(b.emu.request_count(Endpoint::Token), before, "refused before Entra");
    let other_grant = b.token(&[("grant_type", "client_credentials"), ("client_id", &client_id)]).await;
    assert_eq!(other_grant.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn two_replicas_sharing_only_the_secret_serve_one_sign_in() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let (a_port, b_port) = (Port::bind().await, Port::bind().await);
    // Behind one load balancer both have the same public URL: A's here.
    let public = a_port.base().to_owned();
    let config = || emu.config().base_url(&public).build().expect("a valid configuration");
    let b_base = b_port.base().to_owned();
    let a = broker::serve_on(a_port, emu.clone(), config());
    let b = broker::serve_on(b_port, emu.clone(), config());
    let on_b = |url: &url::Url| url::Url::parse(&url.as_str().replace(&public, &b_base)).expect("URL");

    let redirect = unused_loopback_redirect();
    let client_id = a.register(&[&redirect]).await; // registered on A
    let pkce = Pkce::generate();
    let mut browser = HttpBrowser::new();
    let page = browser.get(&a.authorize_url(&client_id, &redirect, &pkce)).await; // authorize on A
    let entra = browser.answer(&page, "allow", false).await.location().expect("on to Entra");
    let callback = browser.get(&entra).await.location().expect("to the callback");
    let back = browser.get(&on_b(&callback)).await; // the callback on B
    let back = back.location().expect("to the client");
    assert!(back.as_str().starts_with(&redirect), "{back}");
    assert_eq!(param(&back, "iss").as_deref(), Some(public.as_str()));
    let code = param(&back, "code").expect("a code");
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await; // token on B
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_eq!(a.call_mcp(tokens.json()["access_token"].as_str().expect("a token")).await.0, 200);
    // A replica with another secret knows none of it.
    let stranger = broker::serve(emu.clone(), |c| c.client_secret("another~secret.value")).await;
    let refused = stranger.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(refused.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn registration_follows_rfc_8252_and_the_clients_application_type_with_no_graph_write() {
    let b = broker::start().await;
    let secret = b.emu.client_secret().expose().to_owned();
    let register = |metadata: serde_json::Value| {
        let (base, secret) = (b.base.clone(), secret.clone());
        async move { support::flow::register(&base, &metadata, &secret).await }
    };
    for (uris, kind) in [
        (
            json!(["http://127.0.0.1:49152/callback", "http://localhost/callback", "http://[::1]:5000/cb"]),
            "native",
        ),
        (
            json!(["cursor://anysphere.cursor-mcp/oauth/callback", "com.example.app:/oauth2redirect"]),
            "native",
        ),
        (json!(["https://vscode.dev/redirect", "http://127.0.0.1:33418/"]), "native"),
        (json!(["https://claude.ai/api/mcp/auth_callback"]), "web"),
    ] {
        let a = register(json!({ "redirect_uris": uris, "application_type": kind })).await;
        assert_eq!(a.status, 201, "{uris}: {}", a.text);
        assert_eq!(a.json()["token_endpoint_auth_method"], "none");
        assert!(a.json().get("client_secret").is_none());
        assert_eq!(a.json()["redirect_uris"], uris);
    }
    for (uris, kind) in [
        (json!(["http://example.com/cb"]), "native"),
        (json!(["https://app.example/cb#frag"]), "native"),
        (json!(["https://*.example.com/cb"]), "native"),
        (json!(["javascript:alert(1)"]), "native"),
        (json!(["http://127.0.0.1:1/cb"]), "web"),
        (json!(["cursor://anysphere.cursor-mcp/oauth/callback"]), "web"),
    ] {
        let a = register(json!({ "redirect_uris": uris, "application_type": kind })).await;
        assert_eq!(
            (a.status, a.json()["error"].clone()),
            (400, json!("invalid_redirect_uri")),
            "{uris} {kind}"
        );
    }
    assert_eq!(b.emu.request_count(Endpoint::GraphPatchApplication), 0, "the broker writes nothing to Graph");

    // With an operator list, only what it allows.
    let listed =
        broker::serve(b.emu.clone(), |c| c.allowed_redirect_uris(["https://vscode.dev/redirect"])).await;
    let ok = support::flow::register(
        &listed.base,
        &json!({"redirect_uris": ["https://vscode.dev/redirect"]}),
        &secret,
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let no = support::flow::register(
        &listed.base,
        &json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}),
        &secret,
    )
    .await;
    assert_eq!((no.status, no.json()["error"].clone()), (400, json!("invalid_redirect_uri")));
    assert!(no.json()["error_description"].as_str().expect("text").contains("ALLOWED_REDIRECT_URIS"));
}

#[tokio::test]
async fn the_metadata_advertises_iss_and_metadata_documents_also_at_path_inserted_urls() {
    let emu = Emulator::start().await.expect("the emulator starts");
    let port = Port::bind().await;
    let base = format!("{}/tenant1", port.base());
    let config = emu.config().base_url(&base).build().expect("valid");
    let b = broker::serve_on(port, emu, config);
    let root = b.base.trim_end_matches("/tenant1").to_owned();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
    ] {
        let a = Answer::of(client().get(format!("{root}{path}")).send().await.expect("GET")).await;
        assert_eq!(a.status, 200, "{path}");
        let doc = a.json();
        assert_eq!(doc["issuer"], json!(base), "{path}");
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true, "{path}");
        assert_eq!(doc["client_id_metadata_document_supported"], true, "{path}");
        assert_eq!(doc["authorization_endpoint"], json!(format!("{base}/authorize")));
    }
    let prm = Answer::of(
        client()
            .get(format!("{root}/.well-known/oauth-protected-resource/tenant1/mcp"))
            .send()
            .await
            .expect("GET"),
    )
    .await;
    assert_eq!(prm.status, 200);
    assert_eq!(prm.json()["resource"], json!(format!("{base}/mcp")));
    assert_eq!(prm.json()["authorization_servers"], json!([base]));
}

#[tokio::test]
async fn without_graph_permission_the_callback_is_not_written_and_entra_refuses_the_sign_in() {
    let emu = Emulator::start().await.expect("the emulator starts");
    emu.set_fault(Endpoint::GraphPatchApplication, Fault::status(403));
    let b = broker::serve(emu, |c| c).await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let mut browser = HttpBrowser::new();
    let page = browser.get(&b.authorize_url(&client_id, &redirect, &Pkce::generate())).await;
    let entra = browser.answer(&page, "allow", false).await.location().expect("on to Entra");
    let at_entra = browser.get(&entra).await;
    assert!(at_entra.headers.get("location").is_none(), "Entra does not redirect to an unknown callback");
    assert!(at_entra.body.contains("AADSTS50011"), "{}", at_entra.body);
    assert!(b.emu.redirect_uris(Platform::Web).is_empty());
}
