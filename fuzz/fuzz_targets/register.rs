//! The RFC 7591 registration request body, through the real router (`POST /register`).
//!
//! No client secret is configured, so no Graph call is made: the answer is decided by parsing, the
//! metadata checks and the redirect URI allow-list. Every answer is 201 with the allowed URIs or an
//! RFC 7591 JSON error, never a 500, and never lists a URI the configuration does not allow.
#![no_main]

#[path = "common.rs"]
mod common;

use axum::body::Body;
use http::{Method, Request, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(data.to_vec()))
        .expect("a valid request");
    let (response, body) = common::call(&common::NO_SECRET, request);
    match response.status().as_u16() {
        201 => {
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON answer");
            assert_eq!(json["client_id"], common::APP_ID);
            assert_eq!(json["token_endpoint_auth_method"], "none");
            assert!(json.get("client_secret").is_none());
            let sent: serde_json::Value = serde_json::from_slice(data).expect("201 only for JSON");
            let asked = sent["redirect_uris"].as_array().expect("201 only with redirect_uris");
            for uri in json["redirect_uris"].as_array().expect("redirect_uris") {
                assert!(asked.contains(uri), "answered a URI the client did not send: {uri}");
                let uri = uri.as_str().expect("string URI");
                assert!(axum_mcp_azure_oauth::config::rules::redirect_uri(uri).is_ok(), "{uri}");
            }
        }
        400 => {
            common::assert_oauth_error(&response, &body);
            let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON answer");
            let error = json["error"].as_str().expect("error");
            assert!(matches!(error, "invalid_client_metadata" | "invalid_redirect_uri"), "{error}");
        }
        status => panic!("unexpected status {status} for a registration"),
    }
});
