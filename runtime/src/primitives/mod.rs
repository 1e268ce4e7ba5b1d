//! Small building blocks the modules above share, each written once and tested once: a lock that
//! survives a panicked holder, SHA-256 digests, a bounded first-in-first-out map, and single
//! flight. They use nothing of this crate.

pub(crate) mod bounded;
pub(crate) mod digest;
pub(crate) mod lock;
pub(crate) mod single_flight;
