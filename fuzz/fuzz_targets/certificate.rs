//! The app's certificate credential readers: `ClientCertificate::from_pem` and `from_pkcs12` on
//! arbitrary bytes (a PEM with any blocks, a PKCS#12 file with a wrong or right password).
//!
//! Input: the first byte picks the reader (even: PEM; odd: PKCS#12, password `""` or `fuzz` by
//! its second bit), the rest is the file. Checks: no panic; what loads has a 43-character
//! base64url SHA-256 thumbprint, and its `Debug` shows no private key (nothing as long as one).
#![no_main]

use axum_mcp_azure_oauth::config::ClientCertificate;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else { return };
    let loaded = if pick % 2 == 0 {
        ClientCertificate::from_pem(file)
    } else {
        ClientCertificate::from_pkcs12(file, if pick & 2 == 0 { "" } else { "fuzz" })
    };
    match loaded {
        Ok(cert) => {
            let thumbprint = cert.thumbprint_sha256();
            assert_eq!(thumbprint.len(), 43, "{thumbprint}");
            assert!(thumbprint.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            // `Debug` names the subject, thumbprint, validity and chain length: the key's encoding
            // (a few hundred bytes of DER) never fits in what is left.
            let shown = format!("{cert:?}");
            let fields = cert.subject().len() + thumbprint.len() + 200;
            assert!(!shown.contains("PRIVATE KEY") && shown.len() <= fields, "{shown}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
