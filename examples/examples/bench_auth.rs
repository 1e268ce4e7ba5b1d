//! What authentication costs: `tools/call` on the weather server over loopback, with a
//! keep-alive load generator, in seven configurations:
//!
//! 1. authenticated, verified-token cache warm (the default configuration), calling
//!    `heat_index`. The server is configured as the example serves it, with the tools' policy
//!    (`examples::with_tool_policy`), so `mcp_layer()`'s `ToolPolicyLayer` reads and parses the
//!    body of every `POST` even though `heat_index` needs nothing beyond the route;
//! 2. the same with the verified-token cache off (`token_cache_capacity(0)`: every request pays
//!    the RS256 signature check);
//! 3. **authenticated, per-tool requirement**: the same server as 1, calling `save_location`
//!    (which needs the delegated scope `Locations.ReadWrite`) with a token that holds the scope:
//!    the requirement is checked and admits the call. Saving the same name replaces it, so the
//!    caller's store stays at one entry;
//! 4. authenticated **without a tool policy** (`mcp_layer()` with an empty policy reads no body),
//!    the same `save_location` call with the same token: 3 against 4 is what the per-tool check
//!    itself costs (body read, `method` and `params.name` parsed, the requirement checked), the
//!    tool's work being the same;
//! 5. unauthenticated (`examples::unprotected_app`: the same MCP route and layers, no
//!    `mcp_layer()`), calling `heat_index`: the baseline of every ratio;
//! 6. the same unauthenticated server sent the same `Authorization` header, which it ignores:
//!    the cost of carrying a ~1.2 KB token, apart from checking it;
//! 7. **authenticated, per-tool requirement on the baseline's own call**: `heat_index`, the
//!    call of 1 and 5, given a requirement of its own for this run (`Locations.ReadWrite`, on top
//!    of the example's policy) and called with a token that holds it: the issue's measure, an
//!    authenticated `tools/call` whose requirement is checked against the same unauthenticated
//!    call, the tool's work being equal.
//!
//! Why 3 is compared with an unauthenticated `heat_index`: without claims `save_location`
//! answers a tool error at once (saved locations belong to a signed-in user), which would make an
//! unauthenticated `save_location` a cheaper request than the one it stands for. Both tools are
//! offline and answer from memory (`save_location` also takes the store's lock and returns the
//! saved list); 4 shows how far the tools' own work differs (4 against 1 minus the check of
//! nothing), and 3 against 4 isolates the check.
//!
//! Rounds interleave the configurations (reversing the order every other round) and each
//! configuration's ratio to the baseline is the median of its per-round ratios, so that the
//! machine's other load cancels out. `--only` runs one configuration, for a profiler.
//!
//! ```text
//! cargo run --release -p examples --example bench_auth -- [--connections 8] [--seconds 1] [--rounds 15] [--only warm|off|per-tool|no-policy|gated|unauthenticated|ignored]
//! ```
//!
//! Tokens come from the in-process Entra ID emulator (`examples::demo::emulator()`, which exposes
//! `Locations.ReadWrite`; its JWKS is fetched once, before timing). Client and servers share the
//! machine: the figures compare configurations, they are not a capacity statement. Not a test:
//! nothing here runs in `cargo test`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum_mcp_azure_oauth::AzureOAuth;
use axum_mcp_azure_oauth::config::ToolRequirement;
use examples::{LOCATIONS_SCOPE, ServerOptions, WeatherServer, app, unprotected_app, with_tool_policy};

/// A call of `heat_index`, which needs nothing beyond the route.
const HEAT_INDEX: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"heat_index","arguments":{"temperature_f":90,"relative_humidity":60}}}"#;
/// A call of `save_location`, which needs the delegated scope `Locations.ReadWrite`.
const SAVE_LOCATION: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"save_location","arguments":{"name":"home","latitude":47.6062,"longitude":-122.3321}}}"#;

struct Args {
    connections: usize,
    seconds: f64,
    rounds: usize,
    /// One configuration only (for a profiler).
    only: Option<Only>,
}

#[derive(Clone, Copy)]
enum Only {
    Warm,
    Off,
    PerTool,
    NoPolicy,
    Gated,
    Unauthenticated,
    TokenIgnored,
}

impl Only {
    /// The start of the configuration's name.
    fn label(self) -> &'static str {
        match self {
            Self::Warm => WARM,
            Self::Off => OFF,
            Self::PerTool => PER_TOOL,
            Self::NoPolicy => NO_POLICY,
            Self::Gated => GATED,
            Self::Unauthenticated => UNAUTHENTICATED,
            Self::TokenIgnored => TOKEN_IGNORED,
        }
    }
}

const WARM: &str = "authenticated, token cache warm";
const OFF: &str = "authenticated, token cache off";
/// `save_location`, admitted by its requirement (`Locations.ReadWrite`).
const PER_TOOL: &str = "authenticated, per-tool requirement (save_location)";
/// The same call on a server without a tool policy: what the tool costs without the check.
const NO_POLICY: &str = "authenticated, save_location, no tool policy";
/// `heat_index` given a requirement for this run, admitted by it: against `UNAUTHENTICATED`, the
/// same call.
const GATED: &str = "authenticated, per-tool requirement (heat_index)";
const UNAUTHENTICATED: &str = "unauthenticated (no AuthLayer)";
/// The unauthenticated server, sent the same `Authorization` header (which it ignores): what
/// carrying a token costs client, kernel and hyper, without checking it.
const TOKEN_IGNORED: &str = "unauthenticated, token sent and ignored";

const USAGE: &str = "usage: bench_auth [--connections N] [--seconds S] [--rounds R] [--only warm|off|per-tool|no-policy|gated|unauthenticated|ignored]";

fn args() -> Result<Args, String> {
    let mut a = Args { connections: 8, seconds: 1.0, rounds: 15, only: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<f64, String> {
            it.next()
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0 && v.is_finite())
                .ok_or_else(|| format!("{name} needs a positive number; {USAGE}"))
        };
        match flag.as_str() {
            "--connections" => a.connections = value("--connections")? as usize,
            "--seconds" => a.seconds = value("--seconds")?,
            "--rounds" => a.rounds = value("--rounds")? as usize,
            "--only" => {
                a.only = Some(match it.next().as_deref() {
                    Some("warm") => Only::Warm,
                    Some("off") => Only::Off,
                    Some("per-tool") => Only::PerTool,
                    Some("no-policy") => Only::NoPolicy,
                    Some("gated") => Only::Gated,
                    Some("unauthenticated") => Only::Unauthenticated,
                    Some("ignored") => Only::TokenIgnored,
                    _ => {
                        return Err(format!(
                            "--only takes warm, off, per-tool, no-policy, gated, unauthenticated or ignored; {USAGE}"
                        ));
                    }
                });
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if a.connections == 0 || a.rounds == 0 {
        return Err(format!("--connections and --rounds need whole numbers of at least 1; {USAGE}"));
    }
    Ok(a)
}

/// One scenario's measurements, over all rounds.
#[derive(Default)]
struct Sample {
    requests: u64,
    failures: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    /// Requests/s of each round.
    round_rps: Vec<f64>,
    /// CPU time of the whole process (load generator and servers) during the rounds.
    cpu: Duration,
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). Unlike requests/s, CPU per request hardly moves with the machine's other load.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the
    // 12th and 13th, in clock ticks (100 per second on Linux).
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The median of `values` (NaN for none).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => f64::midpoint(values[n / 2 - 1], values[n / 2]),
    }
}

impl Sample {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    /// The median of the rounds' requests/s: robust to a round disturbed by other load.
    fn median_rps(&self) -> f64 {
        median(self.round_rps.clone())
    }
    fn percentile(&mut self, p: f64) -> f64 {
        self.latencies_us.sort_unstable();
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

async fn start(router: Router) -> (SocketAddr, tokio_util::sync::CancellationToken) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(
        async move { axum::serve(listener, router).with_graceful_shutdown(s.cancelled_owned()).await },
    );
    (addr, stop)
}

/// `connections` workers, each with its own keep-alive connection, POST `body` (a `tools/call`)
/// in a loop for `duration`.
async fn load(
    url: &str,
    token: Option<&str>,
    body: &'static str,
    connections: usize,
    duration: Duration,
) -> Sample {
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
        let url = url.to_owned();
        // Built once: each request clones it by reference count, so the client's cost of the
        // header is no more than a real client's.
        let auth = token.map(|t| {
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).expect("ASCII token");
            value.set_sensitive(true);
            value
        });
        workers.push(tokio::spawn(async move {
            let mut s = Sample::default();
            while Instant::now() < deadline {
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(body);
                if let Some(auth) = &auth {
                    request = request.header(reqwest::header::AUTHORIZATION, auth.clone());
                }
                let t0 = Instant::now();
                let ok = match request.send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                let us = u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX);
                if ok {
                    s.requests += 1;
                    s.latencies_us.push(us);
                } else {
                    s.failures += 1;
                }
            }
            s
        }));
    }
    let mut total = Sample::default();
    for w in workers {
        let s = w.await.expect("worker");
        total.requests += s.requests;
        total.failures += s.failures;
        total.latencies_us.extend(s.latencies_us);
    }
    total.elapsed = started.elapsed();
    total
}

/// One configuration: a server, and the call sent to it with or without a token.
struct Server<'a> {
    name: &'static str,
    addr: SocketAddr,
    token: Option<&'a str>,
    body: &'static str,
    stop: tokio_util::sync::CancellationToken,
}

impl Server<'_> {
    fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

/// One request of `server`'s call, asserting that its tool answered it (not a tool error, which
/// is HTTP 200 too): a configuration that measures a refusal would measure nothing.
async fn check_answer(server: &Server<'_>) {
    let mut request = reqwest::Client::new()
        .post(server.url())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(server.body);
    if let Some(token) = server.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    let json: serde_json::Value = response.json().await.unwrap_or_default();
    assert!(
        status.is_success() && json["result"].is_object() && json["result"]["isError"] != true,
        "{}: the tool did not answer: {status} {json}",
        server.name
    );
}

/// The median over rounds of `rounds[i] / base[i]`: each round against the baseline's round run
/// next to it, so that the machine's other load cancels out of the ratio.
fn median_ratio(rounds: &[f64], base: &[f64]) -> f64 {
    median(rounds.iter().zip(base).map(|(r, b)| r / b).collect())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs (nproc), {model}")
}

/// The tool policy of an authenticated server.
#[derive(Clone, Copy)]
enum Policy {
    /// None: `mcp_layer()` reads no body.
    None,
    /// The example's (`save_location` and `clear_locations` have requirements).
    Example,
    /// The example's, and `heat_index` needs `Locations.ReadWrite` too.
    HeatIndexGated,
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    // The example's emulator app: it exposes `Locations.ReadWrite` (minted tokens are not checked
    // against it, but the servers' metadata then lists what they enforce).
    let emu = examples::demo::emulator().start().await.expect("start the Entra ID emulator");
    let token = emu
        .token()
        .scopes(&format!("{} {LOCATIONS_SCOPE}", examples::API_SCOPE))
        .expires_in(Duration::from_secs(3600))
        .sign();

    let mut servers: Vec<Server<'_>> = Vec::new();
    // (name, token cache on, the tools' policy configured, the call)
    let authenticated = [
        (WARM, true, Policy::Example, HEAT_INDEX),
        (OFF, false, Policy::Example, HEAT_INDEX),
        (PER_TOOL, true, Policy::Example, SAVE_LOCATION),
        (NO_POLICY, true, Policy::None, SAVE_LOCATION),
        (GATED, true, Policy::HeatIndexGated, HEAT_INDEX),
    ];
    for (name, cache, policy, body) in authenticated {
        let mut builder = emu.config();
        if !cache {
            builder = builder.token_cache_capacity(0);
        }
        builder = match policy {
            Policy::None => builder,
            Policy::Example => with_tool_policy(builder),
            Policy::HeatIndexGated => builder.tool_policy(
                WeatherServer::tool_policy()
                    .tool("heat_index", ToolRequirement::new().all_scopes([LOCATIONS_SCOPE])),
            ),
        };
        let policy = !matches!(policy, Policy::None);
        // The base URL must name the port, so bind first and configure after.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = builder.base_url(format!("http://{addr}")).build().expect("valid configuration");
        assert_eq!(config.tool_policy().is_empty(), !policy);
        let options = ServerOptions::new(config.base_url());
        let router = app(&AzureOAuth::new(config), &options);
        let stop = options.shutdown.clone();
        tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        servers.push(Server { name, addr, token: Some(token.as_str()), body, stop });
    }
    let options = ServerOptions::new(None);
    let (addr, stop) = start(unprotected_app(&options)).await;
    servers.push(Server { name: UNAUTHENTICATED, addr, token: None, body: HEAT_INDEX, stop: stop.clone() });
    servers.push(Server { name: TOKEN_IGNORED, addr, token: Some(token.as_str()), body: HEAT_INDEX, stop });

    if let Some(only) = args.only {
        servers.retain(|s| s.name.starts_with(only.label()));
    }
    // Warm-up: metadata and keys fetched, the token verified once, connections open; and each
    // configuration's call answered by its tool (a tool error is also HTTP 200).
    for server in &servers {
        check_answer(server).await;
        let s = load(&server.url(), server.token, server.body, args.connections, Duration::from_millis(500))
            .await;
        assert!(
            s.failures == 0 && s.requests > 0,
            "{}: warm-up failed ({} failures)",
            server.name,
            s.failures
        );
    }

    let mut samples: Vec<Sample> = servers.iter().map(|_| Sample::default()).collect();
    let round_length = Duration::from_secs_f64(args.seconds);
    for round in 1..=args.rounds {
        // Rounds interleave the configurations, in the opposite order every other round, so that
        // background load and drift spread evenly over all of them.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for i in order {
            let Server { name, token, body, .. } = &servers[i];
            let cpu_before = process_cpu();
            let s = load(&servers[i].url(), *token, body, args.connections, round_length).await;
            let cpu = process_cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
            eprintln!("round {round}: {name}: {:.0} req/s, {} failures", s.rps(), s.failures);
            let total = &mut samples[i];
            total.cpu += cpu.unwrap_or_default();
            total.requests += s.requests;
            total.failures += s.failures;
            total.elapsed += s.elapsed;
            total.round_rps.push(s.rps());
            total.latencies_us.extend(s.latencies_us);
        }
    }

    println!("machine: {}", machine());
    println!(
        "load: {} keep-alive connections, {} rounds of {} s per configuration, tools/call over loopback\n",
        args.connections, args.rounds, args.seconds
    );
    println!(
        "| configuration | requests/s (median of rounds) | requests/s (all rounds) | p50 ms | p99 ms | failures | vs unauthenticated (median of per-round ratios) | CPU µs per request (client + server) |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let rounds_of =
        |name: &str| servers.iter().position(|s| s.name == name).map(|i| samples[i].round_rps.clone());
    let baseline = rounds_of(UNAUTHENTICATED);
    let (per_tool, no_policy) = (rounds_of(PER_TOOL), rounds_of(NO_POLICY));
    for (Server { name, .. }, s) in servers.iter().zip(samples.iter_mut()) {
        let ratio = match &baseline {
            Some(base) => format!("{:.1} %", 100.0 * median_ratio(&s.round_rps, base)),
            None => "-".to_owned(),
        };
        let cpu_per_request = s.cpu.as_secs_f64() * 1e6 / s.requests.max(1) as f64;
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} | {:.2} | {} | {ratio} | {cpu_per_request:.1} |",
            s.median_rps(),
            s.rps(),
            s.percentile(0.50),
            s.percentile(0.99),
            s.failures,
        );
    }
    if let (Some(checked), Some(unchecked)) = (per_tool, no_policy) {
        println!(
            "\nper-tool check alone: {PER_TOOL} vs {NO_POLICY} (median of per-round ratios): {:.1} %",
            100.0 * median_ratio(&checked, &unchecked)
        );
    }
    for server in &servers {
        server.stop.cancel();
    }
}
