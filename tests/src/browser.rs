//! Browsers for the sign-in flows.
//!
//! - [`Chromium`]: a real headless Chromium driven through ChromeDriver's W3C WebDriver API
//!   (Debian's `chromium` and `chromium-driver`; `.ci/run` installs them), for what only a real
//!   browser proves: the consent page renders, its buttons work, its cookies are kept, framing is
//!   refused.
//! - [`HttpBrowser`]: a cookie-keeping HTTP client that follows redirects by hand and answers
//!   consent pages, for the many flows where the browser is only a carrier (rmcp's OAuth client,
//!   hostile requests).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The W3C WebDriver element reference key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The Chromium and ChromeDriver binaries (Debian's paths, or `CHROMIUM` / `CHROMEDRIVER`).
fn binary(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A headless Chromium session. Dropping it ends the session and ChromeDriver.
#[derive(Debug)]
pub struct Chromium {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    driver: Child,
    profile: std::path::PathBuf,
}

/// Set by `.ci/run`: without Chromium the browser tests then fail instead of being skipped.
const REQUIRED: &str = "REQUIRE_BROWSER_TESTS";

impl Chromium {
    /// Starts ChromeDriver on a free loopback port and a fresh headless Chromium profile; `None`,
    /// after one line on standard error saying how to run them, when Chromium or ChromeDriver is
    /// not installed — so that `cargo test --workspace` passes on a machine with only the Rust
    /// toolchain.
    ///
    /// # Panics
    /// When they are not installed and `REQUIRE_BROWSER_TESTS` is set (`.ci/run` sets it after
    /// installing them), or when they do not start.
    pub async fn start_if_installed(test: &str) -> Option<Self> {
        let missing: Vec<String> =
            [("CHROMEDRIVER", "/usr/bin/chromedriver"), ("CHROMIUM", "/usr/bin/chromium")]
                .into_iter()
                .map(|(var, default)| binary(var, default))
                .filter(|path| !std::path::Path::new(path).exists())
                .collect();
        if missing.is_empty() {
            return Some(Self::start().await);
        }
        let why = format!(
            "the browser tests are not run: {} not found; install Debian's chromium and chromium-driver (or set \
             CHROMIUM and CHROMEDRIVER) to run them",
            missing.join(" and ")
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

    /// Starts ChromeDriver on a free loopback port and a fresh headless Chromium profile.
    ///
    /// # Panics
    /// When ChromeDriver or Chromium is not installed: install Debian's `chromium` and
    /// `chromium-driver` (`.ci/run` does).
    async fn start() -> Self {
        let chromedriver = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {chromedriver} ({e}): install Debian's chromium and chromium-driver")
            });
        // ChromeDriver says when it listens; no polling.
        let stdout = driver.stdout.take().expect("piped stdout");
        let ready = tokio::task::spawn_blocking(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .any(|line| line.contains("started successfully"))
        })
        .await
        .expect("reading ChromeDriver's output");
        assert!(ready, "ChromeDriver did not start");
        let profile = std::env::temp_dir().join(format!("mcp-chromium-{port}-{}", std::process::id()));
        let http = reqwest::Client::builder().no_proxy().build().expect("a client");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary("CHROMIUM", "/usr/bin/chromium"),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--no-default-browser-check", "--disable-quic",
                    format!("--user-data-dir={}", profile.display()), "--window-size=900,900",
                ],
            },
        }}});
        let answer: Value = http
            .post(format!("http://127.0.0.1:{port}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("ChromeDriver answers")
            .json()
            .await
            .expect("JSON");
        let id = answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}"));
        Self { http, session: format!("http://127.0.0.1:{port}/session/{id}"), driver, profile }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.session);
        let request = self.http.request(method, &url);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let answer: Value = request.send().await.expect("ChromeDriver answers").json().await.expect("JSON");
        answer["value"].clone()
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The page's HTML.
    pub async fn source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// The element `css` selects, if the page has one.
    pub async fn find(&self, css: &str) -> Option<String> {
        let found = self
            .command(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// Clicks the element `css` selects. ChromeDriver may answer before a navigation the click
    /// starts has finished (a form post followed by redirects): wait for its effect — such as a
    /// [`Landing`](crate::http::Landing) on the client's redirect URI — not for the browser's URL.
    ///
    /// # Panics
    /// When the page has no such element.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await.unwrap_or_else(|| panic!("no element {css}"));
        self.command(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// Runs `script` in the page (`return …;` to get a value).
    pub async fn execute(&self, script: &str) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []})))
            .await
    }

    /// Switches into the `index`th frame of the page (`None`: back to the top).
    pub async fn frame(&self, index: Option<u16>) {
        self.command(reqwest::Method::POST, "/frame", Some(json!({ "id": index }))).await;
    }

    /// A PNG screenshot of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let png = self.command(reqwest::Method::GET, "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("base64 PNG")
    }

    /// The cookies the browser holds for the current page: name → value.
    pub async fn cookies(&self) -> BTreeMap<String, Value> {
        let all = self.command(reqwest::Method::GET, "/cookie", None).await;
        all.as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c["name"].as_str()?.to_owned(), c.clone())))
            .collect()
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // Ending ChromeDriver ends its browser; the session needs no goodbye.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// An HTTP client that keeps cookies, follows redirects by hand and approves or denies consent pages:
/// the browser of the sign-in flows where no rendering is needed.
#[derive(Debug)]
pub struct HttpBrowser {
    http: reqwest::Client,
    /// Cookies by name (every server here is 127.0.0.1, and cookies ignore the port).
    pub cookies: BTreeMap<String, String>,
}

/// One sign-in as [`HttpBrowser::walk`] went through it.
#[derive(Debug)]
pub struct Walk {
    /// The redirect to the client's redirect URI, with its query.
    pub landing: url::Url,
    /// The consent pages answered on the way (none when a remembered approval skipped the page).
    pub consent_pages: Vec<Page>,
}

/// What the browser saw last.
#[derive(Debug)]
pub struct Page {
    pub url: url::Url,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The hidden `request` field of a consent page.
    pub fn consent_request(&self) -> Option<String> {
        let start = self.body.find("name=\"request\" value=\"")? + "name=\"request\" value=\"".len();
        let end = self.body[start..].find('"')? + start;
        Some(self.body[start..end].replace("&quot;", "\"").replace("&amp;", "&"))
    }

    /// Checks that this is an error page (400, never a redirect: a refused client is not sent
    /// anywhere) that says `says`.
    ///
    /// # Panics
    /// When it is not.
    pub fn assert_refused(&self, says: &str) {
        assert_eq!(self.status, 400, "{}", self.body);
        assert!(self.headers.get("location").is_none(), "a refused client is never redirected to");
        assert!(self.body.contains(says), "the page does not say {says:?}: {}", self.body);
    }

    /// The `Location` of a redirect, resolved against the page's URL.
    pub fn location(&self) -> Option<url::Url> {
        let location = self.headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
        self.url.join(location).ok()
    }
}

/// [`HttpBrowser::new`]: a derived `Default` would hold reqwest's default client, which follows
/// redirects itself (and drops the cookies they set).
impl Default for HttpBrowser {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpBrowser {
    /// A browser with no cookies.
    pub fn new() -> Self {
        Self::with_headers(&[])
    }

    /// A browser that sends `headers` with every request (a forged `Host`, `X-Forwarded-*`, …).
    pub fn with_headers(headers: &[(&'static str, &str)]) -> Self {
        let mut defaults = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            defaults.insert(*name, value.parse().expect("a header value"));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .default_headers(defaults)
            .build()
            .expect("a client");
        Self { http, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, url: url::Url, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for set in headers.get_all(reqwest::header::SET_COOKIE) {
            let Some((pair, attributes)) = set.to_str().ok().map(|s| s.split_once(';').unwrap_or((s, "")))
            else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else { continue };
            if value.is_empty() || attributes.contains("Max-Age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let body = response.text().await.unwrap_or_default();
        Page { url, status, headers, body }
    }

    /// `GET url` as a top-level navigation (`Sec-Fetch-Site: none`, as a link the user opened).
    pub async fn get(&mut self, url: &url::Url) -> Page {
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header("sec-fetch-site", "none")
            .send()
            .await
            .expect("an answer");
        self.keep(url.clone(), response).await
    }

    /// Posts the consent page `page`'s form with `decision` (`allow` or `deny`), from the page's own
    /// origin; `remember` ticks "remember my choice".
    pub async fn answer(&mut self, page: &Page, decision: &str, remember: bool) -> Page {
        let request = page.consent_request().expect("a consent page");
        let action = page.url.join("/authorize").expect("the form's action");
        let mut form = vec![("request", request), ("decision", decision.to_owned())];
        if remember {
            form.push(("remember", "yes".to_owned()));
        }
        let response = self
            .http
            .post(action.clone())
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(reqwest::header::ORIGIN, page.url.origin().ascii_serialization())
            .form(&form)
            .send()
            .await
            .expect("an answer");
        self.keep(action, response).await
    }

    /// Opens `url` and follows redirects, approving the consent page when it appears, until a
    /// redirect leads to `redirect_uri` (returned, with its query) — at most ten steps.
    ///
    /// # Panics
    /// When a page is neither a redirect nor a consent page.
    pub async fn sign_in(&mut self, url: &str, redirect_uri: &str) -> url::Url {
        self.walk(url, redirect_uri, false).await.landing
    }

    /// [`sign_in`](Self::sign_in), ticking "remember my choice" on each consent page when
    /// `remember`, and keeping every consent page it answered.
    ///
    /// # Panics
    /// When a page is neither a redirect nor a consent page.
    pub async fn walk(&mut self, url: &str, redirect_uri: &str, remember: bool) -> Walk {
        let mut consent_pages = Vec::new();
        let mut page = self.get(&url::Url::parse(url).expect("a URL")).await;
        for _ in 0..10 {
            if page.status == 200 && page.consent_request().is_some() {
                let answered = self.answer(&page, "allow", remember).await;
                consent_pages.push(std::mem::replace(&mut page, answered));
                continue;
            }
            let Some(next) = page.location() else {
                panic!(
                    "{} answered {} instead of a redirect or a consent page: {}",
                    page.url, page.status, page.body
                );
            };
            if next.as_str().starts_with(redirect_uri) {
                return Walk { landing: next, consent_pages };
            }
            page = self.get(&next).await;
        }
        panic!("no redirect to {redirect_uri} after ten steps");
    }
}
