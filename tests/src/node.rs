//! The official MCP TypeScript SDK's client (`@modelcontextprotocol/sdk`, its version pinned in
//! `tests/e2e-ts/package.json`) run by Node.js from `tests/e2e-ts/client.mjs`, for end-to-end tests
//! with a client that is not written in Rust.
//!
//! The script does the OAuth client's whole part with the SDK's own code (discovery, dynamic
//! registration, PKCE, the code exchange, refresh, the 403 `insufficient_scope` step-up) and runs
//! a plan of MCP steps; the browser stays in Rust: each time the SDK sends its user to authorize,
//! the test's `on_authorize` walks the sign-in (typically
//! [`HttpBrowser::sign_in`](crate::browser::HttpBrowser::sign_in)) and hands back the URL it
//! landed on at the client's redirect URI. The protocol between them, one JSON object a line, is
//! described at the top of `client.mjs`.
//!
//! ```no_run
//! # async fn doc(server: support::example::Server) {
//! use support::browser::HttpBrowser;
//! use support::node::TsClient;
//!
//! let Some(node) = TsClient::if_installed("my_test") else { return };
//! let plan = serde_json::json!({"steps": [{"list": true}, {"call": "whoami", "args": {}}]});
//! let run = node
//!     .run(&server.mcp_url, &plan, |authorize, redirect_uri| async move {
//!         HttpBrowser::new().sign_in(authorize.as_str(), &redirect_uri).await
//!     })
//!     .await;
//! assert_eq!(run.authorizations, 1);
//! let me = &run.result(1)["structuredContent"];
//! # }
//! ```

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::Command;

/// Set by `.ci/run` after `npm ci`: without Node.js or the SDK the TypeScript tests then fail
/// instead of being skipped.
const REQUIRED: &str = "REQUIRE_NODE_TESTS";

/// The longest a whole run may take (Node's start, every sign-in, every step): a hang is a
/// failure, not a wait.
pub const RUN_BOUND: Duration = Duration::from_secs(120);

/// `tests/e2e-ts`: the script, its `package.json` and lock file, and (after `npm ci`) the SDK.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e-ts")
}

/// `node` on `PATH`, if any.
fn node_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("node")).find(|candidate| candidate.is_file())
}

/// Node.js and `tests/e2e-ts/client.mjs` with its installed SDK.
#[derive(Debug, Clone)]
pub struct TsClient {
    node: PathBuf,
    script: PathBuf,
}

/// One sign-in the SDK asked for, as the test's `on_authorize` walked it.
#[derive(Debug, Clone)]
pub struct SignIn {
    /// The authorization URL the SDK built (this server's `/authorize`, with the SDK's query).
    pub authorize: url::Url,
    /// The client's loopback redirect URI, `http://127.0.0.1:PORT/callback` (nothing listens on it).
    pub redirect_uri: String,
    /// What `on_authorize` answered: the URL the browser landed on at the redirect URI.
    pub landing: url::Url,
}

/// What one run of the script did.
#[derive(Debug)]
pub struct TsRun {
    /// One line per step of the plan, in order: `{"step": i, "result": …}` (a `CallToolResult`, or
    /// the `tools/list` result) or `{"step": i, "error": "…"}`, each with `authorizations` (the
    /// count at the end of the step) and `refusals` (the MCP endpoint's 401 and 403 answers during
    /// the step).
    pub results: Vec<Value>,
    /// How many times the SDK called `redirectToAuthorization`, as the script counted.
    pub authorizations: usize,
    /// Each sign-in, as the Rust side answered it.
    pub sign_ins: Vec<SignIn>,
    /// Everything the script wrote to standard error (the SDK's own diagnostics).
    pub stderr: String,
}

impl TsRun {
    /// The result of step `step`.
    ///
    /// # Panics
    /// When that step failed or the plan has no such step.
    pub fn result(&self, step: usize) -> &Value {
        let line = self.results.get(step).unwrap_or_else(|| panic!("no step {step}: {:?}", self.results));
        assert!(line.get("error").is_none(), "step {step} failed: {line}\nstderr:\n{}", self.stderr);
        &line["result"]
    }

    /// The error of step `step`, if it failed.
    pub fn error(&self, step: usize) -> Option<&str> {
        self.results.get(step)?.get("error")?.as_str()
    }

    /// How many authorizations the SDK had asked for by the end of step `step` (the first sign-in,
    /// at `connect`, included).
    ///
    /// # Panics
    /// When the plan has no such step.
    pub fn authorizations_by(&self, step: usize) -> usize {
        let line = self.results.get(step).unwrap_or_else(|| panic!("no step {step}: {:?}", self.results));
        line["authorizations"].as_u64().and_then(|n| usize::try_from(n).ok()).expect("a count")
    }

    /// The MCP endpoint's 401 and 403 answers during step `step`, in order: `{"status",
    /// "www_authenticate", "body"}`.
    ///
    /// # Panics
    /// When the plan has no such step.
    pub fn refusals(&self, step: usize) -> &[Value] {
        let line = self.results.get(step).unwrap_or_else(|| panic!("no step {step}: {:?}", self.results));
        line["refusals"].as_array().map_or(&[], Vec::as_slice)
    }
}

impl TsClient {
    /// Node.js and the installed SDK; `None`, after one line on standard error saying how to run
    /// these tests, when `node` is not on `PATH` or `npm ci --prefix tests/e2e-ts` has not been run
    /// — so that `cargo test --workspace` passes on a machine with only the Rust toolchain.
    ///
    /// # Panics
    /// When they are missing and `REQUIRE_NODE_TESTS` is set (`.ci/run` sets it after `npm ci`).
    pub fn if_installed(test: &str) -> Option<Self> {
        let dir = package_dir();
        let sdk = dir.join("node_modules/@modelcontextprotocol/sdk/package.json");
        let missing = match node_on_path() {
            None => "node is not on PATH",
            Some(_) if !sdk.is_file() => "@modelcontextprotocol/sdk is not installed in tests/e2e-ts",
            Some(node) => return Some(Self { node, script: dir.join("client.mjs") }),
        };
        let why = format!(
            "the MCP TypeScript SDK tests are not run: {missing}; install Node.js (20 or later) and run \
             `npm ci --prefix tests/e2e-ts` to run them"
        );
        assert!(std::env::var_os(REQUIRED).is_none(), "{test}: {REQUIRED} is set and {why}");
        // Once, straight to the process's standard error: the test harness captures `eprintln!` of
        // a passing test, and this line is for whoever ran `cargo test`.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(std::io::stderr(), "{why}");
        });
        None
    }

    /// Runs the script against `mcp_url` with `plan` (`{"scope"?, "tokens"?, "steps": […]}`, see
    /// `client.mjs`), answering each authorization the SDK asks for with `on_authorize(authorization
    /// URL, redirect URI)`: the URL the browser landed on at the redirect URI, with `code` and
    /// `state`. Bounded by [`RUN_BOUND`].
    ///
    /// # Panics
    /// When the script fails outside a step (`{"fatal": …}`, a non-zero exit, no `{"done": true}`)
    /// or takes longer than [`RUN_BOUND`]; the message holds its standard error.
    pub async fn run<F, Fut>(&self, mcp_url: &str, plan: &Value, mut on_authorize: F) -> TsRun
    where
        F: FnMut(url::Url, String) -> Fut,
        Fut: Future<Output = url::Url>,
    {
        let mut child = Command::new(&self.node)
            .arg(&self.script)
            .arg(mcp_url)
            .env("E2E_PLAN", plan.to_string())
            .current_dir(package_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e})", self.node.display()));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr_pipe.read_to_string(&mut text).await;
            text
        });

        let mut run =
            TsRun { results: Vec::new(), authorizations: 0, sign_ins: Vec::new(), stderr: String::new() };
        let mut fatal = None;
        let mut done = false;
        let talk = async {
            while let Some(line) = stdout.next_line().await.expect("the script's stdout") {
                let message: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("the script wrote a line that is not JSON ({e}): {line}"));
                if let Some(authorize) = message["authorize"].as_str() {
                    let authorize = url::Url::parse(authorize).expect("an authorization URL");
                    let redirect_uri = message["redirect_uri"].as_str().expect("a redirect_uri").to_owned();
                    let landing = on_authorize(authorize.clone(), redirect_uri.clone()).await;
                    stdin.write_all(format!("{landing}\n").as_bytes()).await.expect("the script's stdin");
                    stdin.flush().await.expect("the script's stdin");
                    run.sign_ins.push(SignIn { authorize, redirect_uri, landing });
                } else if message.get("step").is_some() {
                    run.results.push(message);
                } else if let Some(n) = message["authorizations"].as_u64() {
                    run.authorizations = usize::try_from(n).expect("a count");
                } else if message["done"] == true {
                    done = true;
                } else if let Some(why) = message["fatal"].as_str() {
                    fatal = Some(why.to_owned());
                } else {
                    panic!("the script wrote a line this harness does not know: {line}");
                }
            }
            child.wait().await.expect("the script's exit status")
        };
        let status = tokio::time::timeout(RUN_BOUND, talk).await;
        if status.is_err() {
            let _ = child.kill().await;
        }
        run.stderr = stderr.await.unwrap_or_default();
        let status = status.unwrap_or_else(|_| {
            panic!("the TypeScript client did not finish within {RUN_BOUND:?}\nstderr:\n{}", run.stderr)
        });
        if let Some(why) = fatal {
            panic!("the TypeScript client failed: {why}\nstderr:\n{}", run.stderr);
        }
        assert!(
            status.success() && done,
            "the TypeScript client ended with {status}\nstderr:\n{}",
            run.stderr
        );
        run
    }
}
