//! Compile-pass and compile-fail cases of both macros, compiled against the workspace's own build
//! (see `src/lib.rs`). The `.stderr` files are pinned to the toolchain of the machine that
//! generated them (rustc 1.95): regenerate with `TRYBUILD=overwrite cargo test -p trybuild-cases`
//! and read the diff like code.

use trybuild_cases::TestCases;

#[test]
fn azure_mcp_auth() {
    let mut cases = TestCases::new();
    cases.pass("cases/auth_attr/pass");
    cases.compile_fail("cases/auth_attr/fail");
}

#[test]
fn azure_oauth_routes() {
    let mut cases = TestCases::new();
    cases.pass("cases/routes/pass");
    cases.compile_fail("cases/routes/fail");
}

#[test]
fn azure_mcp_auth_on_tools() {
    let mut cases = TestCases::new();
    cases.pass("cases/tool_attr/pass");
    cases.compile_fail("cases/tool_attr/fail");
}
