//! Per-tool permissions over real HTTP on 127.0.0.1: an MCP route behind `AuthLayer` and
//! `ToolPolicyLayer`, the Entra emulator's tokens, and a stand-in MCP service that answers with
//! the body it received (so a test sees what reached it, and that it was reached at all).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum_mcp_azure_oauth::config::{ToolPolicy, ToolRequirement};
use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::validate::ToolPolicyLayer;
use axum_mcp_azure_oauth::{AuthLayer, AzureOAuth};
use serde_json::{Value, json};
use support::UNSERVED_BASE;
use support::http::{Answer, send};
use support::serve::Served;

const PRM: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

/// The policy under test: one tool per kind of requirement.
fn policy() -> ToolPolicy {
    ToolPolicy::new()
        .tool("delete_file", ToolRequirement::new().all_scopes(["Files.ReadWrite"]))
        .tool("search", ToolRequirement::new().any_scope(["Files.Read", "Files.ReadWrite"]))
        .tool("purge", ToolRequirement::new().any_role(["Files.Admin"]))
        .max_body_bytes(4096)
}

struct Server {
    emu: Emulator,
    url: String,
    app: String,
    /// Requests the stand-in MCP service received.
    reached: Arc<AtomicUsize>,
    http: reqwest::Client,
    _served: Served,
}

async fn server() -> Server {
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu
        .config()
        .base_url(UNSERVED_BASE)
        .required_roles(["Files.Admin", "Files.Reader"])
        .tool_policy(policy())
        .build()
        .expect("a valid configuration");
    let auth = AzureOAuth::new(config);
    let reached = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&reached);
    // The stand-in MCP service: answers 200 with the method, the Mcp-Name header and the body.
    let mcp = tower::service_fn(move |req: Request| {
        let count = Arc::clone(&count);
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            let method = req.method().to_string();
            let body: Bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.expect("the body");
            let answer: Response = ([("x-received-method", method)], body).into_response();
            Ok::<_, std::convert::Infallible>(answer)
        }
    });
    let app = Router::new()
        .route_service("/mcp", mcp)
        .layer(ToolPolicyLayer::new(auth.validator().clone()))
        .layer(AuthLayer::new(auth.validator().clone()))
        .merge(auth.router());
    let served = support::serve::serve(app).await;
    let app = emu.app_id().to_owned();
    Server { emu, url: served.base.clone(), app, reached, http: reqwest::Client::new(), _served: served }
}

fn call(id: u64, tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": {"path": "/a"}}})
}

impl Server {
    async fn post(&self, token: &str, body: &Value) -> Answer {
        self.post_raw(token, body.to_string(), None).await
    }

    async fn post_raw(&self, token: &str, body: String, mcp_name: Option<&str>) -> Answer {
        let mut request = self
            .http
            .post(format!("{}/mcp", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        if let Some(name) = mcp_name {
            request = request.header("mcp-name", name);
        }
        send(request).await
    }

    fn delegated(&self, scopes: &str) -> String {
        self.emu.token().scopes(scopes).sign()
    }

    fn reached(&self) -> usize {
        self.reached.load(Ordering::SeqCst)
    }

    fn scope(&self, name: &str) -> String {
        format!("api://{}/{name}", self.app)
    }

    /// Asserts a 403 `insufficient_scope` that reached no tool, and returns its description.
    fn forbidden(&self, a: &Answer, before: usize, why: &str) -> String {
        assert_eq!(a.status, 403, "{why}: {}", a.text);
        assert_eq!(a.json()["error"], "insufficient_scope", "{why}");
        assert_eq!(self.reached(), before, "{why}: the MCP service was not reached");
        a.json()["error_description"].as_str().expect("a description").to_owned()
    }
}

#[tokio::test]
async fn a_caller_with_the_tools_scope_reaches_the_tool_with_the_body_untouched() {
    let s = server().await;
    let body = call(1, "delete_file").to_string();
    let a = s.post_raw(&s.delegated("access_as_user Files.ReadWrite"), body.clone(), None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.text, body, "the MCP service got the body byte for byte");
    assert_eq!(s.reached(), 1);
    // Any one scope of an any-of list is enough; a tool outside the policy needs only the route's.
    let a = s.post(&s.delegated("access_as_user Files.Read"), &call(2, "search")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let a = s.post(&s.delegated("access_as_user"), &call(3, "echo")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(s.reached(), 3);
}

#[tokio::test]
async fn a_missing_scope_gets_the_step_up_challenge_naming_every_scope() {
    let s = server().await;
    let a = s.post(&s.delegated("access_as_user"), &call(1, "delete_file")).await;
    let description = s.forbidden(&a, 0, "no Files.ReadWrite");
    assert!(description.contains("tool `delete_file` needs the scope Files.ReadWrite"), "{description}");
    // Exactly the challenge of the MCP authorization specification: the needed scope, then the
    // held one, fully qualified; the metadata URL; no offline_access.
    assert_eq!(
        a.www(),
        format!(
            "Bearer resource_metadata=\"{PRM}\", error=\"insufficient_scope\", scope=\"{} {}\", error_description=\"{description}\"",
            s.scope("Files.ReadWrite"),
            s.scope("access_as_user"),
        )
    );
    // An any-of list: the challenge asks for its first scope.
    let a = s.post(&s.delegated("access_as_user"), &call(2, "search")).await;
    let description = s.forbidden(&a, 0, "none of Files.Read, Files.ReadWrite");
    assert!(description.contains("one of the scopes Files.Read, Files.ReadWrite"), "{description}");
    assert!(
        a.www().contains(&format!("scope=\"{} {}\"", s.scope("Files.Read"), s.scope("access_as_user"))),
        "{}",
        a.www()
    );
}

#[tokio::test]
async fn a_missing_app_role_is_named_and_no_scope_is_offered() {
    let s = server().await;
    // An app holding one of the route's roles but not the tool's.
    let app = s.emu.token().app_only().roles(["Files.Reader"]).sign();
    let a = s.post(&app, &call(1, "purge")).await;
    let description = s.forbidden(&a, 0, "no Files.Admin");
    assert!(
        description.contains("app roles Files.Admin") && description.contains("calling app"),
        "{description}"
    );
    assert!(!a.www().contains("scope=\""), "a role is not a scope to step up to: {}", a.www());
    // With the role, the tool is reached; a scope-only tool is not for apps.
    let admin = s.emu.token().app_only().roles(["Files.Admin"]).sign();
    assert_eq!(s.post(&admin, &call(2, "purge")).await.status, 200);
    let a = s.post(&admin, &call(3, "delete_file")).await;
    let description = s.forbidden(&a, 1, "an app calling a user's tool");
    assert!(description.contains("app-only token cannot call it"), "{description}");
    assert!(!a.www().contains("scope=\""), "{}", a.www());
    // A user with the role assigned may call the role-only tool; one without may not.
    let user = s.emu.token().roles(["Files.Admin"]).sign();
    assert_eq!(s.post(&user, &call(4, "purge")).await.status, 200);
    let a = s.post(&s.delegated("access_as_user Files.ReadWrite"), &call(5, "purge")).await;
    let description = s.forbidden(&a, 2, "a user without the role");
    assert!(description.contains("signed-in user"), "{description}");
}

#[tokio::test]
async fn an_app_without_any_app_role_is_told_so() {
    let s = server().await;
    let a = s
        .post(&s.emu.token().app_only().sign(), &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert_eq!(a.json()["error"], "insufficient_scope");
    let description = a.json()["error_description"].as_str().expect("a description").to_owned();
    assert!(description.contains("no application permission (app role) assigned"), "{description}");
    assert!(!a.www().contains("scope=\""), "{}", a.www());
    assert_eq!(s.reached(), 0);
}

#[tokio::test]
async fn an_mcp_name_header_must_agree_with_the_body() {
    let s = server().await;
    let token = s.delegated("access_as_user Files.ReadWrite");
    let body = call(1, "echo").to_string();
    let a = s.post_raw(&token, body.clone(), Some("delete_file")).await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_request");
    let description = a.json()["error_description"].as_str().expect("a description").to_owned();
    assert!(description.contains("Mcp-Name") && description.contains("params.name"), "{description}");
    assert_eq!(s.reached(), 0);
    let a = s.post_raw(&token, body, Some("echo")).await;
    assert_eq!(a.status, 200, "a matching header passes: {}", a.text);
    // The header cannot stand in for the body either: a privileged body is checked as such.
    let a =
        s.post_raw(&s.delegated("access_as_user"), call(2, "delete_file").to_string(), Some("echo")).await;
    assert_eq!(a.status, 400, "{}", a.text);
}

#[tokio::test]
async fn an_oversized_or_unreadable_body_is_refused_cleanly() {
    let s = server().await;
    let token = s.delegated("access_as_user Files.ReadWrite");
    let mut big = call(1, "echo");
    big["params"]["arguments"]["pad"] = json!("x".repeat(5000));
    let a = s.post(&token, &big).await;
    assert_eq!(a.status, 413, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_request");
    assert!(a.json()["error_description"].as_str().expect("a description").contains("4096 bytes"));
    // Without a Content-Length (a chunked body), the bound still holds.
    let pad = " ".repeat(3000);
    assert_eq!(post_chunked(&s.url, &token, &["[", &pad, &pad, "]"]).await, 413);
    let a = s.post_raw(&token, "{not json".into(), None).await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.json()["error"], "invalid_request");
    let a = s
        .post_raw(&token, r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#.into(), None)
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(s.reached(), 0);
}

/// POSTs `chunks` with `Transfer-Encoding: chunked` (no length known in advance) over a raw
/// connection; the status of the answer.
async fn post_chunked(url: &str, token: &str, chunks: &[&str]) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.strip_prefix("http://").expect("an http URL");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n\
         transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    for chunk in chunks {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write the request");
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.strip_prefix("HTTP/1.1 ").and_then(|r| r.get(..3)).expect("a status line");
    status.parse().expect("a status code")
}

#[tokio::test]
async fn a_batch_hiding_a_privileged_call_behind_an_allowed_one_is_refused_whole() {
    let s = server().await;
    let batch =
        json!([call(1, "echo"), {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, call(3, "delete_file")]);
    let a = s.post(&s.delegated("access_as_user"), &batch).await;
    let description = s.forbidden(&a, 0, "the batch's second call");
    assert!(description.starts_with("the batch was refused as a whole"), "{description}");
    assert!(description.contains("delete_file"), "{description}");
    let a = s.post(&s.delegated("access_as_user Files.ReadWrite"), &batch).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(s.reached(), 1);
}

#[tokio::test]
async fn requests_that_call_no_tool_pass_unaffected() {
    let s = server().await;
    let token = s.delegated("access_as_user");
    for body in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "result": {}}),
    ] {
        let a = s.post(&token, &body).await;
        assert_eq!(a.status, 200, "{body}: {}", a.text);
        assert_eq!(a.text, body.to_string());
    }
    // GET (the SSE stream) and DELETE (the session's end) are not read at all.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let a = send(s.http.request(method.clone(), format!("{}/mcp", s.url)).bearer_auth(&token)).await;
        assert_eq!(a.status, 200, "{method}: {}", a.text);
        assert_eq!(a.header("x-received-method"), Some(method.as_str()));
    }
    assert_eq!(s.reached(), 6);
    // Still authenticated: the 401 names the route's scope only.
    let a = send(s.http.post(format!("{}/mcp", s.url)).body(call(1, "delete_file").to_string())).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.www(),
        format!("Bearer resource_metadata=\"{PRM}\", scope=\"{}\"", s.scope("access_as_user"))
    );
}

#[tokio::test]
async fn protected_resource_metadata_lists_the_policys_scopes() {
    let s = server().await;
    let a = send(s.http.get(format!("{}/.well-known/oauth-protected-resource/mcp", s.url))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.json()["scopes_supported"],
        json!([s.scope("access_as_user"), s.scope("Files.ReadWrite"), s.scope("Files.Read")])
    );
    assert!(!a.text.contains("offline_access"), "{}", a.text);
}
