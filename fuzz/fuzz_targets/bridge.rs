//! The bridge's parameter handling: `GET /authorize?…` (enrol mode with and without a secret, and the
//! broker) and `POST /token` (form, enrol mode), through the real router. Entra and Graph are
//! unreachable (connection refused) and metadata documents never resolve, so a well-formed token
//! request ends in 502; what is checked is everything the bridge decides before and around that.
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
    // What the server reads: the query as the URI parser keeps it (a raw `#` ends it).
    let query = uri.query().unwrap_or("").to_owned();
    let router = match query.len() % 3 {
        0 => &common::NO_SECRET,
        1 => &common::WITH_SECRET,
        _ => &common::BROKER,
    };
    let request = Request::builder().method(Method::GET).uri(uri).body(Body::empty()).expect("request");
    let (response, body) = common::call(router, request);
    if !common::input_has_secret(query.as_bytes()) {
        common::assert_no_secret(&response, &body);
    }
    match response.status() {
        // The consent page: nothing reaches Entra before the user allows it.
        StatusCode::OK => {
            common::assert_page(&response, &body);
            assert!(String::from_utf8_lossy(&body).contains("<form method=\"post\""), "a consent form");
        }
        // An error page: an unknown client or redirect URI is never redirected to.
        StatusCode::BAD_REQUEST => common::assert_page(&response, &body),
        // Back to the client, only with an error, only to the redirect URI it sent.
        StatusCode::FOUND => {
            let location = response.headers().get(header::LOCATION).expect("a redirect has a Location");
            let location = url::Url::parse(location.to_str().expect("ASCII Location")).expect("absolute URL");
            let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
            assert!(pairs.iter().any(|(k, _)| k == "error"), "a redirect before consent that is not an error");
            // Compared by origin: a client's loopback redirect URI on port 1xxxx shares the prefix.
            let entra = url::Url::parse(common::DEAD_AUTHORITY).expect("the authority is a URL");
            assert_ne!(location.origin(), entra.origin(), "to Entra before consent");
            let sent: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            let redirect = sent.iter().find(|(k, _)| k == "redirect_uri").map(|(_, v)| v.as_str()).expect("redirect_uri");
            let mut target = location.clone();
            target.set_query(None);
            let mut given = url::Url::parse(redirect).expect("the redirect URI sent is a URL");
            given.set_query(None);
            assert_eq!(target, given, "an error goes back to the redirect URI the client sent");
        }
        status => panic!("unexpected status {status} from /authorize"),
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
