//! The consent page in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, which `.ci/run` installs) renders it, keeps its cookies, submits its form and
//! follows the redirects to Entra (the emulator) and back; a page that frames it gets nothing.
//!
//! `UPDATE_SCREENSHOTS=1 cargo test -p tests --test integration broker_browser` also
//! writes the consent page's screenshot to `docs/consent.png` (shown in the README).

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use axum_mcp_azure_oauth::emulator::Endpoint;
use support::broker;
use support::browser::Chromium;
use support::http::{Landing, param, unused_loopback_redirect};
use support::pkce::Pkce;
use support::serve::Port;

#[tokio::test]
async fn a_user_allows_the_client_in_a_real_browser_and_the_client_gets_a_working_code() {
    let b = broker::start().await;
    let mut landing = Landing::start().await;
    let redirect = landing.redirect_uri.clone();
    let client_id = b.register(&[&redirect]).await;
    let pkce = Pkce::generate();
    let Some(browser) = Chromium::start_if_installed(
        "a_user_allows_the_client_in_a_real_browser_and_the_client_gets_a_working_code",
    )
    .await
    else {
        return;
    };
    browser.goto(b.authorize_url(&client_id, &redirect, &pkce).as_str()).await;
    let html = browser.source().await;
    assert!(html.contains("Test Client") && html.contains("<strong>127.0.0.1</strong>"), "{html}");
    let title = browser.execute("return document.title;").await;
    assert_eq!(title, "Allow Test Client to use 127.0.0.1?");
    // Focus order: the checkbox, then Allow, then Deny; every control has a label or text.
    let order = browser
        .execute(
            "return Array.from(document.querySelectorAll('input:not([type=hidden]),button'))\
             .map(e => e.labels && e.labels.length ? e.labels[0].textContent : e.textContent);",
        )
        .await;
    assert_eq!(
        order,
        serde_json::json!(["Remember my choice for this app and address for 30 days", "Allow", "Deny"])
    );
    let cookies = browser.cookies().await;
    let csrf = cookies.iter().find(|(k, _)| k.starts_with("mcp-consent-")).expect("the CSRF cookie").1;
    assert_eq!((csrf["httpOnly"].as_bool(), csrf["sameSite"].as_str()), (Some(true), Some("Lax")));

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a screenshot: {} bytes", png.len());
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/consent.png");
        std::fs::write(&docs, &png).expect("docs/consent.png written");
    }

    browser.click("button[value=allow]").await;
    let landed = landing.next().await;
    assert!(landed.as_str().starts_with(&redirect), "the browser went back to the client: {landed}");
    assert_eq!(param(&landed, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&landed, "iss").as_deref(), Some(b.base.as_str()));
    let code = param(&landed, "code").expect("a code");
    let tokens = b.redeem(&client_id, &redirect, &code, &pkce.verifier).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    let access = tokens.json()["access_token"].as_str().expect("an access token").to_owned();
    assert_eq!(b.call_mcp(&access).await.0, 200);
}

#[tokio::test]
async fn a_user_denies_the_client_and_it_hears_access_denied() {
    let b = broker::start().await;
    let mut landing = Landing::start().await;
    let redirect = landing.redirect_uri.clone();
    let client_id = b.register(&[&redirect]).await;
    let Some(browser) =
        Chromium::start_if_installed("a_user_denies_the_client_and_it_hears_access_denied").await
    else {
        return;
    };
    browser.goto(b.authorize_url(&client_id, &redirect, &Pkce::generate()).as_str()).await;
    browser.click("button[value=deny]").await;
    let landed = landing.next().await;
    assert!(landed.as_str().starts_with(&redirect), "{landed}: {}", browser.source().await);
    assert_eq!(param(&landed, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&landed, "state").as_deref(), Some("st4te"));
    assert_eq!(param(&landed, "iss").as_deref(), Some(b.base.as_str()));
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0, "nothing went to Entra");
}

#[tokio::test]
async fn a_page_that_frames_the_consent_page_shows_nothing_of_it() {
    let b = broker::start().await;
    let redirect = unused_loopback_redirect();
    let client_id = b.register(&[&redirect]).await;
    let consent = b.authorize_url(&client_id, &redirect, &Pkce::generate());
    // The attacker's page, on another origin (localhost vs 127.0.0.1), framing the consent page.
    let port = Port::bind().await;
    let attacker = format!("http://localhost:{}/", port.addr().port());
    let page = format!(
        "<!doctype html><title>win a prize</title><iframe id=f src=\"{}\"></iframe>",
        consent.as_str().replace('&', "&amp;")
    );
    let _served = port.serve(Router::new().route("/", get(move || async move { Html(page.clone()) })));
    let Some(browser) =
        Chromium::start_if_installed("a_page_that_frames_the_consent_page_shows_nothing_of_it").await
    else {
        return;
    };
    browser.goto(&attacker).await;
    assert_eq!(browser.execute("return document.title;").await, "win a prize");
    browser.frame(Some(0)).await;
    let inside = browser.execute("return location.href;").await;
    assert!(
        inside.as_str().is_some_and(|h| h.starts_with("chrome-error://")),
        "the framed consent page must not render: {inside}"
    );
    let text = browser.execute("return document.body ? document.body.innerText : '';").await;
    assert!(
        !text.as_str().unwrap_or_default().contains("Allow"),
        "no consent button inside the frame: {text}"
    );
    browser.frame(None).await;
    assert_eq!(b.emu.request_count(Endpoint::Authorize), 0);
}
