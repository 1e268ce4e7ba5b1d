//! Procedural macros for [`axum-mcp-azure-oauth`](https://docs.rs/axum-mcp-azure-oauth).
//!
//! Use them through the runtime crate, which re-exports them.
