//! The harness itself: every case that breaks its promise is reported, and the test fails
//! (`selftest/` holds one case of each way to break it).

use std::panic::{AssertUnwindSafe, catch_unwind};

use trybuild_cases::TestCases;

/// What dropping the cases panicked with, or `None` when every case kept its promise.
fn failures(check: impl FnOnce(&mut TestCases)) -> Option<String> {
    let panic = catch_unwind(AssertUnwindSafe(|| check(&mut TestCases::new()))).err()?;
    Some(panic.downcast_ref::<String>().cloned().unwrap_or_default())
}

#[test]
fn a_pass_case_that_does_not_compile_or_fails_when_run_fails() {
    let failures = failures(|cases| cases.pass("selftest/pass")).expect("both pass cases fail");
    assert!(failures.starts_with("2 case(s) failed"), "{failures}");
    assert!(failures.contains("does_not_compile.rs: error: failed to compile"), "{failures}");
    assert!(failures.contains("panics.rs: error: compiled, but running it failed"), "{failures}");
}

#[test]
fn a_fail_case_that_compiles_fails() {
    let failures =
        failures(|cases| cases.compile_fail("selftest/fail")).expect("a fail case that compiles fails");
    assert!(failures.contains("compiles.rs: error: compiled, but should not have"), "{failures}");
    // The other case there, other_error.rs, fails too but for `TRYBUILD=overwrite`, which accepts
    // (and writes) other diagnostics: src/lib.rs tests it without overwriting.
}
