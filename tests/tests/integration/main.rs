//! The integration tests that share nothing process-wide, in one test binary: each file of
//! `tests/tests/` is a binary of its own that links the whole tree (the runtime, the emulator,
//! rmcp, reqwest, the example), so one binary for all of these builds and links that once.
//!
//! Apart, each in its own process, stay the tests that need one:
//! - `endpoints_logs.rs`, `example_logs.rs`, `hardening_secrets.rs` install the global `tracing`
//!   subscriber (there can be only one per process);
//! - `validator_logs.rs` captures its thread's events: `tracing`'s callsite interest is
//!   process-wide, and other tests registering callsites while it installs its subscriber could
//!   make it miss the very lines it searches;
//! - `hardening_load.rs` measures the resident memory of its process.
//!
//! The `#[azure_mcp_auth]` registry is process-wide too; `macros.rs` gives each test its own app
//! id and no other test installs one, so its tests can share this process.

mod broker;
mod broker_browser;
mod broker_cimd;
mod config;
mod credentials;
mod e2e;
mod e2e_direct;
mod e2e_typescript;
mod emulator;
mod emulator_obo;
mod endpoints;
mod endpoints_flow;
mod graph;
mod hardening_faults;
mod hardening_instances;
mod hardening_limits;
mod incremental_consent;
mod macros;
mod module_graph;
mod obo;
mod security_review;
mod tool_policy;
mod validator;
