//! Compile-pass and compile-fail cases of the macros (`cases/{auth_attr,routes}/{pass,fail}/*.rs`),
//! checked as trybuild checks them, but against the workspace's own build.
//!
//! trybuild builds a project of its own in `target/tests/trybuild`, with rustflags of its own, so
//! the whole dependency tree of the runtime crate (aws-lc's C library included) compiles a second
//! time. Here instead:
//!
//! 1. `cargo build --workspace --tests --message-format=json`, in the profile of the running test:
//!    within `cargo test --workspace` everything is already fresh (cargo releases its build lock
//!    before running tests), so this only tells where the runtime's library is; the `axum` and
//!    `serde_json` the cases use are the ones that library links;
//! 2. `rustc` compiles each case as a binary against exactly those libraries (`--extern`), from the
//!    workspace root, as cargo compiles the workspace's members;
//! 3. a `pass` case must compile and then run successfully; a `fail` case must fail to compile with
//!    the diagnostics of its `.stderr` file, normalized as trybuild normalizes them
//!    (`normalize`), so that its `.stderr` files stay valid.
//!
//! `TRYBUILD=overwrite` writes the `.stderr` files instead of comparing them; they are pinned to
//! the toolchain on the machine (rustc 1.95): read their diff like code.
//!
//! ```no_run
//! let mut cases = trybuild_cases::TestCases::new();
//! cases.pass("cases/routes/pass");
//! cases.compile_fail("cases/routes/fail");
//! // Dropping `cases` panics with every failure.
//! ```

mod diff;
mod normalize;

use std::collections::{BTreeSet, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::{env, fs};

use serde_json::Value;

/// The runtime crate: the cases use it, and the crates below as it built them.
const RUNTIME: &str = "axum_mcp_azure_oauth";

/// The other crates the cases use (this package's dev-dependencies): the builds the runtime links,
/// so that their types are the runtime's.
const ALSO: &[&str] = &["axum", "serde_json"];

/// Crates the cases use that the runtime does not link (this package's dev-dependencies too):
/// their library as this `cargo build` made it, with this package's profile.
const BESIDE: &[&str] = &["rmcp"];

/// The edition of the cases: the workspace's.
const EDITION: &str = "2024";

/// This package's directory: the case paths are relative to it.
const PACKAGE_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The workspace root, where cargo runs rustc for the workspace's members and where the harness runs
/// it too: the members' libraries name their source files relative to it, and rustc shows their
/// code in diagnostics only if it finds them.
fn workspace_dir() -> &'static Path {
    Path::new(PACKAGE_DIR).parent().unwrap_or(Path::new(PACKAGE_DIR))
}

/// This package's directory relative to the workspace root (`trybuild`).
fn package_in_workspace() -> &'static Path {
    Path::new(PACKAGE_DIR).strip_prefix(workspace_dir()).unwrap_or(Path::new(""))
}

/// Where the libraries of the workspace's build are.
#[derive(Debug)]
struct Build {
    /// `--extern name=path` for [`RUNTIME`] and each of [`ALSO`].
    externs: Vec<(String, PathBuf)>,
    /// `-L` arguments: the dependencies' directory and the native libraries' directories.
    search: Vec<String>,
    /// Where the cases' binaries go.
    out_dir: PathBuf,
}

/// The cases checked so far; dropping it panics with every failure.
#[derive(Debug, Default)]
pub struct TestCases {
    failures: Vec<String>,
    /// `TRYBUILD=overwrite`: other diagnostics than a `.stderr` file's are written to it.
    overwrite: bool,
}

impl TestCases {
    /// Nothing checked yet; the workspace's build is looked up at the first case.
    pub fn new() -> Self {
        Self { failures: Vec::new(), overwrite: env::var_os("TRYBUILD").is_some_and(|v| v == "overwrite") }
    }

    /// Every `*.rs` of `dir` (relative to this package) must compile and run successfully.
    pub fn pass(&mut self, dir: &str) {
        for case in cases(dir) {
            let result = build().and_then(|build| pass(build, &case));
            self.record(&case, result);
        }
    }

    /// Every `*.rs` of `dir` (relative to this package) must fail to compile with the diagnostics
    /// of the `.stderr` file next to it.
    pub fn compile_fail(&mut self, dir: &str) {
        for case in cases(dir) {
            let result = build().and_then(|build| compile_fail(build, &case, self.overwrite));
            self.record(&case, result);
        }
    }

    fn record(&mut self, case: &Path, result: Result<(), String>) {
        match result {
            Ok(()) => eprintln!("test {} ... ok", case.display()),
            Err(why) => {
                eprintln!("test {} ... FAILED\n{why}", case.display());
                self.failures.push(format!("{}: {}", case.display(), why.lines().next().unwrap_or_default()));
            }
        }
    }
}

impl Drop for TestCases {
    fn drop(&mut self) {
        if !self.failures.is_empty() && !std::thread::panicking() {
            panic!("{} case(s) failed (details above):\n{}", self.failures.len(), self.failures.join("\n"));
        }
    }
}

/// The `*.rs` files of `dir`, sorted, as paths relative to this package.
fn cases(dir: &str) -> Vec<PathBuf> {
    let entries = fs::read_dir(Path::new(PACKAGE_DIR).join(dir))
        .unwrap_or_else(|e| panic!("reading the cases in {dir}: {e}"));
    let mut cases: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.file_name()))
        .filter(|name| Path::new(name).extension().is_some_and(|ext| ext == "rs"))
        .map(|name| Path::new(dir).join(name))
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no cases in {dir}");
    cases
}

/// The workspace's build, looked up once per test binary.
fn build() -> Result<&'static Build, String> {
    static BUILD: OnceLock<Result<Build, String>> = OnceLock::new();
    BUILD.get_or_init(workspace_build).as_ref().map_err(Clone::clone)
}

/// Runs `cargo build --workspace --tests --message-format=json` in the running test's profile, and
/// reads where the runtime's library and the native libraries it links are; then where the
/// runtime's own builds of [`ALSO`] are ([`linked_with`]).
fn workspace_build() -> Result<Build, String> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command.current_dir(PACKAGE_DIR).args([
        "build",
        "--workspace",
        "--tests",
        "--message-format=json",
        "--color=never",
    ]);
    // The test binary is `{target}/{profile}/deps/{name}-{hash}`.
    let exe = env::current_exe().map_err(|e| format!("locating the test binary: {e}"))?;
    match exe.parent().and_then(Path::parent).and_then(Path::file_name).and_then(|p| p.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.arg(format!("--profile={profile}"));
        }
    }
    let output = command.output().map_err(|e| format!("running {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    // The runtime may be built twice: for the target, and for the host as a dev-dependency of the
    // proc-macro crate's tests (with the host's profile and features). The cases want the former:
    // the build with this package's own profile (both are workspace members).
    let mut runtimes: Vec<(Value, PathBuf)> = Vec::new();
    let mut beside: Vec<(String, Value, PathBuf)> = Vec::new();
    let mut own_profile = None;
    let mut native = BTreeSet::new();
    let mut rebuilt = Vec::new();
    for message in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(message) else { continue };
        match message["reason"].as_str() {
            Some("compiler-artifact") => {
                let name = message["target"]["name"].as_str().unwrap_or_default().replace('-', "_");
                if message["fresh"] == false {
                    rebuilt.push(name.clone());
                }
                if message["profile"]["test"] == true {
                    continue;
                }
                if name == env!("CARGO_CRATE_NAME") {
                    own_profile = Some(message["profile"].clone());
                } else if name == RUNTIME || BESIDE.contains(&name.as_str()) {
                    let files =
                        message["filenames"].as_array().into_iter().flatten().filter_map(Value::as_str);
                    let rlibs = files.filter(|f| f.ends_with(".rlib")).map(PathBuf::from);
                    let profile = message["profile"].clone();
                    if name == RUNTIME {
                        runtimes.extend(rlibs.map(|rlib| (profile.clone(), rlib)));
                    } else {
                        beside.extend(rlibs.map(|rlib| (name.clone(), profile.clone(), rlib)));
                    }
                }
            }
            Some("build-script-executed") => {
                let paths =
                    message["linked_paths"].as_array().into_iter().flatten().filter_map(Value::as_str);
                native.extend(paths.map(str::to_owned));
            }
            _ => {}
        }
    }
    if !rebuilt.is_empty() {
        // Not an error, but why this step was slow: the running test was built by another package
        // selection (`cargo test -p …`) than `--workspace`, whose features differ.
        eprintln!("note: `cargo build --workspace --tests` rebuilt {}", rebuilt.join(", "));
    }
    if runtimes.len() > 1 {
        runtimes.retain(|(profile, _)| Some(profile) == own_profile.as_ref());
    }
    let runtime = match runtimes.as_slice() {
        [(_, rlib)] => rlib.clone(),
        [] => return Err(format!("cargo built no library `{RUNTIME}` with the profile of this package")),
        several => {
            let paths: Vec<String> = several.iter().map(|(_, p)| p.display().to_string()).collect();
            return Err(format!("cargo built `{RUNTIME}` several times alike: {}", paths.join(", ")));
        }
    };
    let deps = runtime.parent().ok_or("an rlib without a directory")?.to_owned();
    let out_dir = deps.parent().unwrap_or(&deps).join("trybuild-cases");
    fs::create_dir_all(&out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
    let mut search = vec![format!("dependency={}", deps.display())];
    search.extend(native);
    let mut build = Build { externs: vec![(RUNTIME.to_owned(), runtime)], search, out_dir };
    let linked = linked_with(&build)?;
    for name in ALSO {
        let rlib = linked.iter().find(|rlib| crate_of(rlib) == Some(*name)).ok_or_else(|| {
            format!("`{RUNTIME}` does not link `{name}`: the cases cannot use the runtime's build")
        })?;
        build.externs.push(((*name).to_owned(), rlib.clone()));
    }
    for name in BESIDE {
        let mut built = beside.iter().filter(|(n, ..)| n == name).collect::<Vec<_>>();
        if built.len() > 1 {
            // A dependency has the profile's dependency settings (opt-level), so the host's
            // build (for the proc-macro crate's tests: no debug info) is told apart by debug info.
            let debuginfo = own_profile.as_ref().map(|p| &p["debuginfo"]);
            built.retain(|(_, profile, _)| Some(&profile["debuginfo"]) == debuginfo);
        }
        match built.as_slice() {
            [(_, _, rlib)] => build.externs.push(((*name).to_owned(), rlib.clone())),
            [] => return Err(format!("cargo built no library `{name}` with the profile of this package")),
            several => {
                let paths: Vec<String> = several.iter().map(|(_, _, p)| p.display().to_string()).collect();
                return Err(format!("cargo built `{name}` several times alike: {}", paths.join(", ")));
            }
        }
    }
    Ok(build)
}

/// The rlibs a binary using the runtime links: rustc resolves the runtime's dependencies by their
/// hashes, and `--print link-args` (stable) names the files.
fn linked_with(build: &Build) -> Result<Vec<PathBuf>, String> {
    let probe = build.out_dir.join("probe.rs");
    fs::write(&probe, format!("extern crate {RUNTIME} as _;\nfn main() {{}}\n"))
        .map_err(|e| format!("writing {}: {e}", probe.display()))?;
    let mut command = rustc(build, &probe, "probe", &build.out_dir.join("probe"));
    let output =
        command.arg("--print=link-args").output().map_err(|e| format!("running {command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{command:?} failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    let link_args = String::from_utf8_lossy(&output.stdout);
    Ok(link_args
        .split_whitespace()
        .map(|a| a.trim_matches('"'))
        .filter(|a| a.ends_with(".rlib"))
        .map(PathBuf::from)
        .collect())
}

/// `axum` for `…/libaxum-0123456789abcdef.rlib`.
fn crate_of(rlib: &Path) -> Option<&str> {
    let stem = rlib.file_stem()?.to_str()?.strip_prefix("lib")?;
    Some(stem.rsplit_once('-').map_or(stem, |(name, _)| name))
}

/// `rustc` compiling `source` as the binary `binary`, against the workspace's libraries.
fn rustc(build: &Build, source: &Path, crate_name: &str, binary: &Path) -> Command {
    let mut command = Command::new(env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc")));
    command
        .current_dir(workspace_dir())
        .arg(source)
        .args(["--crate-type=bin", "--crate-name", crate_name])
        .arg(format!("--edition={EDITION}"))
        .args(["--color=never", "-C", "debuginfo=0", "-o"])
        .arg(binary);
    for (name, path) in &build.externs {
        command.arg("--extern").arg(format!("{name}={}", path.display()));
    }
    for path in &build.search {
        command.arg("-L").arg(path);
    }
    command
}

/// What compiling one case gave.
struct Compiled {
    success: bool,
    /// The diagnostics, normalized.
    stderr: String,
    binary: PathBuf,
}

/// Compiles `case` as a binary against the workspace's libraries.
fn compile(build: &Build, case: &Path) -> Result<Compiled, String> {
    let stem = case.file_stem().and_then(|s| s.to_str()).ok_or("a case without a name")?;
    let group = case.parent().map(|p| p.to_string_lossy().replace(['/', '\\'], "-")).unwrap_or_default();
    let binary = build.out_dir.join(format!("{group}-{stem}{}", env::consts::EXE_SUFFIX));
    let mut command = rustc(build, &package_in_workspace().join(case), stem, &binary);
    command.arg("--error-format=json");
    let output = command.output().map_err(|e| format!("running {command:?}: {e}"))?;
    let (package, workspace) =
        (format!("{}/", package_in_workspace().display()), format!("{}/", workspace_dir().display()));
    let context = normalize::Context {
        krate: stem,
        package: &package,
        source_dir: &format!("{PACKAGE_DIR}/"),
        workspace: &workspace,
        input_file: case,
    };
    let mut success = output.status.success();
    let mut diagnostics: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            // Not a diagnostic (rustc itself failed): shown as it is.
            diagnostics.push(normalize::trim(line));
            continue;
        };
        let level = message["level"].as_str().unwrap_or_default();
        if level == "failure-note" || !seen.insert(line.to_owned()) {
            continue;
        }
        success &= level != "error";
        let normalized = normalize::diagnostic(message["rendered"].as_str().unwrap_or_default(), &context);
        if !normalized.is_empty() {
            diagnostics.push(normalized);
        }
    }
    Ok(Compiled { success, stderr: diagnostics.join("\n"), binary })
}

fn pass(build: &Build, case: &Path) -> Result<(), String> {
    let compiled = compile(build, case)?;
    if !compiled.success {
        return Err(format!("error: failed to compile:\n{}", compiled.stderr));
    }
    let Output { status, stdout, stderr } = Command::new(&compiled.binary)
        .current_dir(PACKAGE_DIR)
        .output()
        .map_err(|e| format!("running {}: {e}", compiled.binary.display()))?;
    if !status.success() {
        return Err(format!(
            "error: compiled, but running it failed ({status}):\nSTDOUT:\n{}\nSTDERR:\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ));
    }
    Ok(())
}

fn compile_fail(build: &Build, case: &Path, overwrite: bool) -> Result<(), String> {
    let compiled = compile(build, case)?;
    if compiled.success {
        return Err(format!("error: compiled, but should not have:\n{}", compiled.stderr));
    }
    let stderr_path = Path::new(PACKAGE_DIR).join(case.with_extension("stderr"));
    let expected = fs::read_to_string(&stderr_path).map(|s| s.replace("\r\n", "\n"));
    if expected.as_deref().ok() == Some(compiled.stderr.as_str()) {
        return Ok(());
    }
    if overwrite {
        fs::write(&stderr_path, &compiled.stderr)
            .map_err(|e| format!("writing {}: {e}", stderr_path.display()))?;
        eprintln!("wrote {}", stderr_path.display());
        return Ok(());
    }
    match expected {
        Ok(expected) => Err(format!(
            "error: other diagnostics than {} (- expected, + actual; `TRYBUILD=overwrite` to accept):\n{}",
            stderr_path.display(),
            diff::lines(&expected, &compiled.stderr)
        )),
        Err(e) => Err(format!(
            "error: no {} ({e}); the diagnostics (`TRYBUILD=overwrite` writes them):\n{}",
            stderr_path.display(),
            compiled.stderr
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fail_case_with_other_diagnostics_fails_showing_the_difference() {
        let case = Path::new("selftest/mismatch/other_error.rs");
        let why = build().and_then(|build| compile_fail(build, case, false)).expect_err("other diagnostics");
        assert!(why.starts_with("error: other diagnostics than"), "{why}");
        assert!(why.contains("\n- 3 |     let _: u32 = \"a different message\";"), "{why}");
        assert!(why.contains("\n+ 3 |     let _: u32 = \"not a number\";"), "{why}");
    }
}
