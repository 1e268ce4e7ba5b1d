//! The bridge's parameter handling: `GET /authorize?…` and `POST /token` (form), through the real
//! router. Entra and Graph are unreachable (connection refused), so a well-formed token request
//! ends in 502; what is checked is everything the bridge decides before and around that.
//!
//! Input: the first byte picks the endpoint (even: authorize, odd: token); the rest is the query
//! string or the form body.
#![no_main]

#[path = "common.rs"]
mod common;

use axum::body::Body;
use http::{Method, Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector % 2 == 0 {
        authorize(rest);
    } else {
        token(rest);
    }
});

fn authorize(query: &[u8]) {
    let Ok(query) = std::str::from_utf8(query) else { return };
    let Ok(uri) = http::Uri::try_from(format!("/authorize?{query}")) else { return };
    let router = if query.len() % 2 == 0 { &common::NO_SECRET } else { &common::WITH_SECRET };
    let request = Request::builder().method(Method::GET).uri(uri).body(Body::empty()).expect("request");
    let (response, body) = common::call(router, request);
    if !common::input_has_secret(query.as_bytes()) {
        common::assert_no_secret(&response, &body);
    }
    match response.status() {
        StatusCode::FOUND => {
            let location = response.headers().get(header::LOCATION).expect("a redirect has a Location");
            let location = url::Url::parse(location.to_str().expect("ASCII Location")).expect("absolute URL");
            let entra = format!("{}/{}/oauth2/v2.0/authorize", common::DEAD_AUTHORITY, common::TENANT_ID);
            let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
            if location.as_str().starts_with(&entra) {
                // Bridged to Entra: no `resource`, our client id, this API's scope, PKCE kept S256.
                assert!(pairs.iter().all(|(k, _)| k != "resource"), "resource passed to Entra");
                let get = |key: &str| {
                    pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect::<Vec<_>>()
                };
                assert_eq!(get("client_id"), [common::APP_ID]);
                assert_eq!(get("response_type"), ["code"]);
                let scope = get("scope");
                assert_eq!(scope.len(), 1);
                assert!(
                    scope[0].split(' ').any(|s| s.starts_with(&format!("api://{}/", common::APP_ID))
                        || s.starts_with(&format!("{}/", common::APP_ID))
                        || s.starts_with("api://my-api/")),
                    "no scope of this API: {scope:?}"
                );
                assert!(get("code_challenge_method").iter().all(|m| *m == "S256"));
                assert_eq!(get("redirect_uri").len(), 1);
            } else {
                // An error redirect goes only to a redirect URI the configuration allows.
                let mut target = location.clone();
                target.set_query(None);
                assert!(
                    pairs.iter().any(|(k, _)| k == "error"),
                    "a redirect that is neither Entra nor an error"
                );
                let sent: Vec<(String, String)> =
                    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
                let redirect = sent
                    .iter()
                    .find(|(k, _)| k == "redirect_uri")
                    .map(|(_, v)| v.as_str())
                    .expect("redirect_uri");
                assert!(axum_mcp_azure_oauth::rules::redirect_uri(redirect).is_ok(), "{redirect}");
            }
        }
        _ => common::assert_oauth_error(&response, &body),
    }
}

fn token(form: &[u8]) {
    let router = if form.len() % 2 == 0 { &common::NO_SECRET } else { &common::WITH_SECRET };
    let request = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://vscode.dev")
        .body(Body::from(form.to_vec()))
        .expect("request");
    let (response, body) = common::call(router, request);
    if !common::input_has_secret(form) {
        common::assert_no_secret(&response, &body);
    }
    // Entra is unreachable: a request that passes every check gets 502, any other an OAuth error.
    common::assert_oauth_error(&response, &body);
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    let error = json["error"].as_str().expect("error");
    match response.status().as_u16() {
        400 => assert!(
            matches!(
                error,
                "invalid_request" | "unsupported_grant_type" | "invalid_client" | "invalid_scope"
            ),
            "{error}"
        ),
        502 => assert_eq!(error, "server_error"),
        status => panic!("unexpected status {status} from the token bridge"),
    }
}
