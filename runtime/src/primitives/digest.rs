//! SHA-256 (FIPS 180-4, through aws-lc-rs), as the few forms this crate needs: the raw 32 bytes, and
//! base64url without padding (RFC 4648 §5), the form of PKCE's S256 challenge (RFC 7636 §4.2).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The SHA-256 of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// The SHA-256 of `s` as base64url without padding.
pub(crate) fn sha256_base64url(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(s.as_bytes()))
}

/// Whether two digests are equal, in time that does not depend on where they differ.
pub(crate) fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_standards_examples() {
        // FIPS 180-2 Appendix B.1 ("abc").
        let abc = sha256(b"abc");
        assert_eq!(abc[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(abc[28..], [0xf2, 0x00, 0x15, 0xad]);
        // RFC 7636 Appendix B: the S256 challenge of its verifier.
        assert_eq!(
            sha256_base64url("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(same_digest("abc", "abc") && !same_digest("abc", "abd") && !same_digest("abc", "ab"));
    }
}
