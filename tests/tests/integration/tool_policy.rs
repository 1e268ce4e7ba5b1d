//! Per-tool permissions over real HTTP on 127.0.0.1: an MCP route behind `AuthLayer` and
//! `ToolPolicyLayer`, the Entra emulator's tokens, and a stand-in MCP service that answers with
//! the body it received (so a test sees what reached it, and that it was reached at all), or one
//! that answers `tools/list` (in JSON or as an event stream) to see what the caller is shown;
//! and the weather example's rmcp service behind the same layers, listed by rmcp's client.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum_mcp_azure_oauth::config::{ToolListing, ToolPolicy, ToolRequirement};
use axum_mcp_azure_oauth::emulator::Emulator;
use axum_mcp_azure_oauth::validate::ToolPolicyLayer;
use axum_mcp_azure_oauth::{AuthLayer, AzureOAuth};
use serde_json::{Value, json};
use support::UNSERVED_BASE;
use support::http::{Answer, send};
use support::serve::Served;
use tokio::sync::{Notify, mpsc};
use tower::Layer as _;

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
    /// Lets the streaming stand-in send the rest of its answer.
    release: Arc<Notify>,
    http: reqwest::Client,
    _served: Served,
}

async fn server() -> Server {
    // The stand-in MCP service: answers 200 with the method, the Mcp-Name header and the body.
    serve_mcp(policy(), |req, _release| async move {
        let method = req.method().to_string();
        let body: Bytes = axum::body::to_bytes(req.into_body(), usize::MAX).await.expect("the body");
        ([("x-received-method", method)], body).into_response()
    })
    .await
}

/// The route behind both layers, with `policy`, around the stand-in MCP service `answer`.
async fn serve_mcp<F, Fut>(policy: ToolPolicy, answer: F) -> Server
where
    F: Fn(Request, Arc<Notify>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let emu = Emulator::start().await.expect("the emulator starts");
    let config = emu
        .config()
        .base_url(UNSERVED_BASE)
        .required_roles(["Files.Admin", "Files.Reader"])
        .tool_policy(policy)
        .build()
        .expect("a valid configuration");
    let auth = AzureOAuth::new(config);
    let reached = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let (count, notify) = (Arc::clone(&reached), Arc::clone(&release));
    let mcp = tower::service_fn(move |req: Request| {
        count.fetch_add(1, Ordering::SeqCst);
        let answer = answer(req, Arc::clone(&notify));
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let app = Router::new()
        .route_service("/mcp", mcp)
        .layer(ToolPolicyLayer::new(auth.validator().clone()))
        .layer(AuthLayer::new(auth.validator().clone()))
        .merge(auth.router());
    let served = support::serve::serve(app).await;
    let app = emu.app_id().to_owned();
    Server {
        emu,
        url: served.base.clone(),
        app,
        reached,
        release,
        http: reqwest::Client::new(),
        _served: served,
    }
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

// ---- tools/list: what each caller is shown ----

/// The tools the listing stand-in offers: the policy's three and one outside it.
const TOOLS: [&str; 4] = ["delete_file", "search", "purge", "echo"];

/// A tool as the stand-in lists it.
fn tool(name: &str) -> Value {
    json!({"name": name, "inputSchema": {"type": "object"}})
}

/// `answer` with `purge` (listed between two tools) taken out, every other byte kept.
fn without_purge(answer: &str) -> String {
    let purge = format!("{},", tool("purge"));
    assert!(answer.contains(&purge), "purge is listed: {answer}");
    answer.replace(&purge, "")
}

/// The stand-in's answer to one message: `tools/list` gets every tool of [`TOOLS`], another
/// request an empty result, a notification nothing.
fn answer_to(message: &Value) -> Option<Value> {
    let id = message.get("id")?.clone();
    Some(if message["method"] == "tools/list" {
        let tools: Vec<Value> = TOOLS.iter().map(|t| tool(t)).collect();
        json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools}})
    } else {
        json!({"jsonrpc": "2.0", "id": id, "result": {}})
    })
}

/// The JSON answer to a body: one answer, or a batch of them.
fn json_answer(body: &Value) -> String {
    match body {
        Value::Array(messages) => Value::Array(messages.iter().filter_map(answer_to).collect()).to_string(),
        message => answer_to(message).expect("a request").to_string(),
    }
}

/// The first event the streaming stand-in sends: rmcp's priming event (an id, a retry, no data).
const PRIMING: &str = "id: 0\r\nretry: 3000\r\ndata:\r\n\r\n";
/// The second: a notification, before the answer.
const NOTIFICATION: &str = "id: 1\r\nevent: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"level\":\"info\",\"data\":\"listing tools; purge is for admins\"}}\r\n\r\n";

/// The listing stand-in: answers in JSON, or, for a request with `x-answer: sse`, as an event
/// stream: [`PRIMING`] and [`NOTIFICATION`] at once, then (once released) the answer as the
/// third event, cut into chunks at awkward places.
async fn lister(req: Request, release: Arc<Notify>) -> Response {
    let sse = req.headers().get("x-answer").is_some_and(|v| v == "sse");
    let body = axum::body::to_bytes(req.into_body(), usize::MAX).await.expect("the body");
    let body: Value = serde_json::from_slice(&body).expect("a JSON body");
    let answer = json_answer(&body);
    if !sse {
        return ([("content-type", "application/json")], answer).into_response();
    }
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        for chunk in [&PRIMING[..9], &PRIMING[9..], NOTIFICATION] {
            tx.send(Bytes::from(chunk.to_owned())).expect("the body is read");
        }
        release.notified().await;
        for chunk in cut_event(&format!("id: 2\r\nevent: message\r\ndata: {answer}\r\n\r\n")) {
            // The client may have gone; nothing to do then.
            let _ = tx.send(Bytes::from(chunk));
        }
    });
    ([("content-type", "text/event-stream"), ("cache-control", "no-cache")], Body::new(Chunks(rx)))
        .into_response()
}

/// `event` in chunks cut mid `data:`, inside the name "purge", between a CR and its LF, and
/// between the CRLF of the last line and the closing one.
fn cut_event(event: &str) -> Vec<String> {
    let data = event.find("data:").expect("a data line") + 2;
    let purge = event.find("\"purge\"").expect("purge listed") + 3;
    let last = event.len() - 3;
    let mut cuts = vec![data, purge, last, event.len() - 1, event.len() - 2];
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain([event.len()]) {
        chunks.push(event[at..cut].to_owned());
        at = cut;
    }
    chunks
}

/// A body of the chunks sent on a channel, one frame each, as they come.
struct Chunks(mpsc::UnboundedReceiver<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(http_body::Frame::data(c))))
    }
}

async fn listing_server(listing: ToolListing) -> Server {
    serve_mcp(policy().listing(listing), lister).await
}

fn list(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"})
}

/// The names in an answer's `result.tools`.
fn names(answer: &Value) -> Vec<String> {
    let tools = answer["result"]["tools"].as_array().unwrap_or_else(|| panic!("a tool list: {answer}"));
    tools.iter().map(|t| t["name"].as_str().expect("a name").to_owned()).collect()
}

impl Server {
    /// The tools a `tools/list` with `token` shows, in JSON.
    async fn listed(&self, token: &str) -> Vec<String> {
        let a = self.post(token, &list(1)).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.json()["id"], 1);
        names(&a.json())
    }
}

#[tokio::test]
async fn by_default_a_tool_needing_a_role_is_hidden_and_one_needing_a_scope_stays_listed() {
    let s = listing_server(ToolListing::default()).await;
    // The user may step up to Files.ReadWrite (delete_file, search) but cannot get Files.Admin.
    assert_eq!(s.listed(&s.delegated("access_as_user")).await, ["delete_file", "search", "echo"]);
    // A user with the role assigned sees the role's tool.
    let admin = s.emu.token().roles(["Files.Admin"]).sign();
    assert_eq!(s.listed(&admin).await, TOOLS);
    // Nothing is hidden from this caller: the answer passes byte for byte.
    let a = s.post(&admin, &list(1)).await;
    assert_eq!(a.text, json_answer(&list(1)));
}

#[tokio::test]
async fn callable_now_hides_a_scope_gated_tool_until_the_token_carries_the_scope() {
    let s = listing_server(ToolListing::CallableNow).await;
    assert_eq!(s.listed(&s.delegated("access_as_user")).await, ["echo"]);
    assert_eq!(s.listed(&s.delegated("access_as_user Files.Read")).await, ["search", "echo"]);
    assert_eq!(
        s.listed(&s.delegated("access_as_user Files.ReadWrite")).await,
        ["delete_file", "search", "echo"]
    );
}

#[tokio::test]
async fn listing_all_shows_every_tool_unchanged() {
    let s = listing_server(ToolListing::All).await;
    let a = s.post(&s.delegated("access_as_user"), &list(1)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.text, json_answer(&list(1)), "the answer passes byte for byte");
    assert_eq!(
        a.header("content-length").map(str::to_owned),
        Some(a.text.len().to_string()),
        "nothing to filter: the length is kept"
    );
    assert_eq!(names(&a.json()), TOOLS);
}

#[tokio::test]
async fn an_app_sees_the_role_tools_it_holds_and_no_tool_acting_for_a_user() {
    let s = listing_server(ToolListing::default()).await;
    let admin = s.emu.token().app_only().roles(["Files.Admin"]).sign();
    assert_eq!(s.listed(&admin).await, ["purge", "echo"]);
    let reader = s.emu.token().app_only().roles(["Files.Reader"]).sign();
    assert_eq!(s.listed(&reader).await, ["echo"]);
}

#[tokio::test]
async fn a_batch_has_only_its_tool_list_filtered() {
    let s = listing_server(ToolListing::default()).await;
    let token = s.delegated("access_as_user");
    let batch = json!([call(1, "echo"), list(2), {"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let a = s.post(&token, &batch).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.header("content-length").is_none(), "the length changed: {:?}", a.header("content-length"));
    assert_eq!(a.text, without_purge(&json_answer(&batch)), "only purge is taken out, every other byte kept");
    // A request without tools/list is not looked at: its answer keeps its length.
    let a = s.post(&token, &call(3, "echo")).await;
    let expected = json_answer(&call(3, "echo"));
    assert_eq!(a.text, expected);
    assert_eq!(a.header("content-length").map(str::to_owned), Some(expected.len().to_string()));
}

#[tokio::test]
async fn an_event_stream_answer_is_filtered_and_the_notification_before_it_passes_at_once() {
    let s = listing_server(ToolListing::default()).await;
    let mut response = s
        .http
        .post(format!("{}/mcp", s.url))
        .bearer_auth(s.delegated("access_as_user"))
        .header("accept", "application/json, text/event-stream")
        .header("x-answer", "sse")
        .json(&list(5))
        .send()
        .await
        .expect("the answer's head");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    // The stand-in sends the rest only once the test has both first events: a layer that held
    // them back would stall here (and the timeout fail the test).
    let first = format!("{PRIMING}{NOTIFICATION}");
    let mut received = Vec::new();
    while received.len() < first.len() {
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("the notification is not held back")
            .expect("the stream")
            .expect("more of the stream");
        received.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8_lossy(&received), first, "byte for byte, before the answer");
    s.release.notify_one();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the answer")
        .expect("the stream")
    {
        received.extend_from_slice(&chunk);
    }
    let answer = without_purge(&json_answer(&list(5)));
    let expected = format!("{first}id: 2\r\nevent: message\r\ndata: {answer}\r\n\r\n");
    assert_eq!(String::from_utf8_lossy(&received), expected);
}

/// The weather example's rmcp service (stateless with JSON answers, as the example serves it,
/// or with sessions and event streams, rmcp's default) behind `AuthLayer` and `ToolPolicyLayer`:
/// `heat_index` needs the app role `Weather.Admin`, `get_alerts` the scope `Weather.Alerts` (this
/// policy, not the example's own: `save_location` and `clear_locations` need nothing here).
async fn weather_server(listing: ToolListing, json: bool) -> (Emulator, String, Served) {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

    let emu = Emulator::start().await.expect("the emulator starts");
    let port = support::serve::Port::bind().await;
    let policy = ToolPolicy::new()
        .tool("heat_index", ToolRequirement::new().any_role(["Weather.Admin"]))
        .tool("get_alerts", ToolRequirement::new().all_scopes(["Weather.Alerts"]))
        .listing(listing);
    let config = emu.config().base_url(port.base()).tool_policy(policy).build().expect("valid");
    let auth = AzureOAuth::new(config);
    let mut options =
        examples::ServerOptions::new(Some(port.base())).with_nws_api_base(support::offline::CLOSED);
    options.shutdown = port.shutdown();
    let policy = ToolPolicyLayer::new(auth.validator().clone());
    let mcp = if json {
        let mcp = policy.layer(examples::mcp_service(&options, None));
        Router::new().nest_service("/mcp", auth.layer().layer(mcp))
    } else {
        let nws = examples::NwsClient::new(support::offline::CLOSED.to_owned());
        let config = StreamableHttpServerConfig::default()
            .with_sse_keep_alive(None)
            .with_cancellation_token(port.shutdown().child_token());
        let service = StreamableHttpService::new(
            move || Ok(examples::WeatherServer::new(nws.clone(), None)),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        Router::new().nest_service("/mcp", auth.layer().layer(policy.layer(service)))
    };
    let url = format!("{}/mcp", port.base());
    let served = port.serve(mcp.merge(auth.router()));
    (emu, url, served)
}

/// The tools rmcp's client lists at `url` with `token`, sorted.
async fn rmcp_listed(url: &str, token: String) -> Vec<String> {
    use rmcp::ServiceExt as _;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    let client = ().serve(transport).await.expect("initialize");
    let tools = client.list_all_tools().await.expect("tools/list");
    client.cancel().await.expect("close");
    let mut names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn rmcp_lists_the_weather_tools_the_caller_may_use_in_json_and_event_streams() {
    for json in [true, false] {
        let (emu, url, _served) = weather_server(ToolListing::default(), json).await;
        let user = emu.token().scopes("access_as_user").sign();
        assert_eq!(
            rmcp_listed(&url, user).await,
            ["clear_locations", "get_alerts", "get_forecast", "graph_me", "save_location", "whoami"],
            "json answers: {json}"
        );
        let admin = emu.token().scopes("access_as_user").roles(["Weather.Admin"]).sign();
        assert_eq!(
            rmcp_listed(&url, admin).await,
            [
                "clear_locations",
                "get_alerts",
                "get_forecast",
                "graph_me",
                "heat_index",
                "save_location",
                "whoami"
            ],
            "json answers: {json}"
        );
    }
    let (emu, url, _served) = weather_server(ToolListing::CallableNow, false).await;
    let user = emu.token().scopes("access_as_user").sign();
    assert_eq!(
        rmcp_listed(&url, user).await,
        ["clear_locations", "get_forecast", "graph_me", "save_location", "whoami"]
    );
    let alerts = emu.token().scopes("access_as_user Weather.Alerts").sign();
    assert_eq!(
        rmcp_listed(&url, alerts).await,
        ["clear_locations", "get_alerts", "get_forecast", "graph_me", "save_location", "whoami"]
    );
}
