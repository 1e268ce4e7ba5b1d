//! Compile-pass and compile-fail cases of both macros. The `.stderr` files are pinned to the
//! toolchain of the machine that generated them (rustc 1.95): regenerate with
//! `TRYBUILD=overwrite cargo test -p trybuild-cases` and read the diff like code.

#[test]
fn azure_mcp_auth() {
    let cases = trybuild::TestCases::new();
    cases.pass("cases/auth_attr/pass/*.rs");
    cases.compile_fail("cases/auth_attr/fail/*.rs");
}

#[test]
fn azure_oauth_routes() {
    let cases = trybuild::TestCases::new();
    cases.pass("cases/routes/pass/*.rs");
    cases.compile_fail("cases/routes/fail/*.rs");
}
