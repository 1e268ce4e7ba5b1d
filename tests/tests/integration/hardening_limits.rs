//! Request limits and slow clients, over raw TCP and HTTP on 127.0.0.1.
//!
//! What the library guarantees: bodies of `/register` and `/token` over 64 KiB get 413 with an
//! OAuth JSON error, also when sent chunked without a length; an `Authorization` header beyond the
//! 16 KiB token limit gets 401 `invalid_token`, before any decoding. What hyper guarantees under
//! `axum::serve`: headers beyond its buffer or beyond 100 of them get 431. What the application
//! must add (SECURITY.md, "Limits"): a header read timeout — `axum::serve` has none — shown here
//! with hyper-util's connection builder, which closes a client that sends headers too slowly.

use std::time::Duration;

use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::endpoints::MAX_BODY_BYTES;
use support::UNSERVED_BASE;
use support::app::{self, App};
use support::bounded;
use support::http::{client, send};
use support::serve::Port;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(10);

async fn app() -> (Emulator, App) {
    let emu = Emulator::start().await.expect("emulator");
    let app = app::serve(
        emu.config().base_url(UNSERVED_BASE).allowed_redirect_uris(["https://vscode.dev/redirect"]),
    )
    .await;
    (emu, app)
}

/// Sends raw bytes on a new connection and reads the answer until the server closes the
/// connection (every request here makes it close); the status (0 without an answer).
async fn raw(base: &str, request: &[u8]) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    // Written while the answer is read: the server may answer (and close) before it has read
    // everything, and a failed write is then fine.
    let request = request.to_vec();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&request).await;
        writer
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    writing.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_on_register_and_token_also_when_chunked() {
    let (_emu, app) = app().await;
    let http = client();
    let big = "x".repeat(MAX_BODY_BYTES + 1);
    for (path, content_type, error) in [
        ("/register", "application/json", "invalid_client_metadata"),
        ("/token", "application/x-www-form-urlencoded", "invalid_request"),
    ] {
        // With a Content-Length.
        let r =
            http.post(format!("{}{path}", app.base)).header("content-type", content_type).body(big.clone());
        let a = bounded(BOUND, path, send(r)).await;
        assert_eq!(a.status, 413, "{path}: {}", a.text);
        assert_eq!(a.json()["error"], error, "{path}");
        // Chunked, without a length: the limit holds on the stream.
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        for _ in 0..(MAX_BODY_BYTES / 4096 + 2) {
            request.extend_from_slice(b"1000\r\n");
            request.extend_from_slice(&[b'x'; 4096]);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"0\r\n\r\n");
        let (status, answer) = bounded(BOUND, path, raw(&app.base, &request)).await;
        assert_eq!(status, 413, "{path} chunked: {answer}");
    }
    // At the limit, the body is read (and refused for what it says, not for its size).
    let prefix = "grant_type=refresh_token&refresh_token=";
    let at_limit = format!("{prefix}{}", "x".repeat(MAX_BODY_BYTES - prefix.len()));
    assert_eq!(at_limit.len(), MAX_BODY_BYTES);
    let r = http
        .post(format!("{}/token", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(at_limit);
    let a = bounded(BOUND, "/token", send(r)).await;
    assert_ne!(a.status, 413, "{}", a.text);
}

#[tokio::test]
async fn a_huge_authorization_header_or_too_many_headers_get_clear_statuses() {
    let (emu, app) = app().await;
    let http = client();
    let url = format!("{}/mcp", app.base);
    // Over the 16 KiB token limit, within hyper's buffer: 401 invalid_token, no key fetch.
    let r = http.post(&url).bearer_auth("A".repeat(100_000));
    let a = bounded(BOUND, "a 100 KB token", send(r)).await;
    assert_eq!(a.status, 401, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_token");
    assert!(a.json()["error_description"].as_str().is_some_and(|d| d.contains("too large")), "{}", a.text);
    assert_eq!(app.auth.validator().stats().metadata_fetches, 0);
    // Beyond hyper's header buffer (~400 KB): 431 from hyper, before any handler.
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 0\r\n\r\n",
        "A".repeat(1024 * 1024)
    );
    let (status, answer) = bounded(BOUND, "a 1 MB header", raw(&app.base, request.as_bytes())).await;
    assert_eq!(status, 431, "{answer}");
    // More than 100 headers: 431.
    let mut request = String::from("POST /mcp HTTP/1.1\r\nHost: x\r\n");
    for i in 0..150 {
        request.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    request.push_str(&format!("Authorization: Bearer {}\r\nContent-Length: 0\r\n\r\n", emu.token().sign()));
    let (status, answer) = bounded(BOUND, "150 headers", raw(&app.base, request.as_bytes())).await;
    assert_eq!(status, 431, "{answer}");
    // Two Authorization headers: 400 invalid_request, whatever they hold.
    let token = emu.token().sign();
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (status, answer) =
        bounded(BOUND, "two Authorization headers", raw(&app.base, request.as_bytes())).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");
}

/// SECURITY.md's recipe: serve the router with hyper-util and a header read timeout; a client
/// that sends its headers a byte at a time is disconnected, while normal clients are served.
#[tokio::test]
async fn served_with_a_header_read_timeout_a_slow_client_is_cut_off() {
    let emu = Emulator::start().await.expect("emulator");
    let auth =
        axum_mcp_azure_oauth::AzureOAuth::new(emu.config().base_url(UNSERVED_BASE).build().expect("valid"));
    let router = app::router(&auth);
    let port = Port::bind().await;
    let base = port.base().to_owned();
    let listener = port.into_listener();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_millis(500))
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    // A normal client is served.
    let r = client().get(format!("{base}/.well-known/oauth-protected-resource")).send().await.expect("GET");
    assert_eq!(r.status(), 200);
    let r = client().post(format!("{base}/mcp")).bearer_auth(emu.token().sign()).send().await.expect("POST");
    assert_eq!(r.status(), 200);
    // A slow client: one header byte at a time, never finishing. The server ends the connection
    // (with 408 or without an answer) long before the client would have finished.
    let addr = base.trim_start_matches("http://").to_owned();
    let slow = async move {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream.write_all(b"POST /register HTTP/1.1\r\nHost: x\r\n").await.expect("write");
        let mut interval = tokio::time::interval(Duration::from_millis(100));
        let mut buf = [0u8; 1024];
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    if stream.write_all(b"X").await.is_err() {
                        return None; // the server closed the connection
                    }
                }
                n = stream.read(&mut buf) => {
                    return match n {
                        Ok(0) | Err(_) => None,
                        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
                    };
                }
            }
        }
    };
    let answer = bounded(Duration::from_secs(10), "cutting off a slow client", slow).await;
    if let Some(answer) = answer {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}
