//! Opening sealed blobs: the broker's `state`, codes, refresh tokens, client ids and consent cookies
//! all come back from strangers.
//!
//! Input: the first byte picks the check; the rest is the blob (or the payload).
//! - even: the rest is opened as every kind of blob: it must never panic and never open (nothing
//!   but this server's keys seals what opens), except a blob the harness itself sealed;
//! - odd: the rest is split into a payload, sealed, opened back (round trip), and every single-bit
//!   change of the sealed blob is refused.
#![no_main]

use std::sync::LazyLock;

use axum_mcp_azure_oauth::__fuzz::Sealing;
use libfuzzer_sys::fuzz_target;

static SEALING: LazyLock<Sealing> = LazyLock::new(|| Sealing::from_client_secret("fuzz~client.secret_value"));
const NOW: u64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if mode % 2 == 0 {
        assert!(!SEALING.open_any(&text, NOW), "a blob the fuzzer made opened: {text:?}");
        return;
    }
    let mut parts = text.split('\u{0}').map(str::to_owned);
    let mut next = || parts.next().unwrap_or_default();
    let payload = (next(), next(), Some(next()), next(), next());
    let sealed = SEALING.seal(&payload, NOW);
    assert_eq!(SEALING.open(&sealed, NOW).as_ref(), Some(&payload));
    assert_eq!(SEALING.open(&sealed, NOW + 601), None, "expired");
    let bytes = sealed.as_bytes();
    for i in (0..bytes.len()).step_by(7) {
        let mut changed = bytes.to_vec();
        changed[i] = if changed[i] == b'A' { b'B' } else { b'A' };
        let changed = String::from_utf8(changed).expect("base64url is ASCII");
        assert_eq!(SEALING.open(&changed, NOW), None, "a changed blob opened");
    }
});
