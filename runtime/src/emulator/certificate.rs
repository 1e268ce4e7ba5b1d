//! [`TestCertificate`]: a self-signed RSA certificate and its key, for an app registration of the
//! emulator to trust (as an admin uploads a certificate's public part under Certificates &
//! secrets) and for a server to sign its client assertions with.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::credential::{ClientCertificate, CredentialError};

/// A self-signed RSA 2048 certificate and its private key, in the forms a server reads them:
/// PEM (certificate and key) and PKCS#12. Its `Debug` never shows the key.
///
/// ```
/// use axum_mcp_azure_oauth::emulator::TestCertificate;
///
/// let cert = TestCertificate::generate("CN=my-mcp-server");
/// let pem = cert.pem();
/// assert!(pem.contains("BEGIN CERTIFICATE") && pem.contains("BEGIN PRIVATE KEY"));
/// assert_eq!(cert.client_certificate().subject(), "CN=my-mcp-server");
/// ```
#[derive(Clone)]
pub struct TestCertificate {
    der: Vec<u8>,
    cert_pem: String,
    key_pem: String,
    key_pkcs8: Vec<u8>,
}

impl TestCertificate {
    /// A certificate for `subject` (such as `CN=my-mcp-server`) valid from an hour ago for a year.
    pub fn generate(subject: &str) -> Self {
        Self::valid_between(
            subject,
            SystemTime::now() - Duration::from_secs(3600),
            Duration::from_secs(365 * 86_400),
        )
    }

    /// A certificate whose validity ended a day ago.
    pub fn expired(subject: &str) -> Self {
        let start = SystemTime::now() - Duration::from_secs(30 * 86_400);
        Self::valid_between(subject, start, Duration::from_secs(29 * 86_400))
    }

    /// A certificate valid from `not_before` for `lifetime`.
    ///
    /// # Panics
    /// When the subject is not a distinguished name rcgen accepts.
    pub fn valid_between(subject: &str, not_before: SystemTime, lifetime: Duration) -> Self {
        #[allow(clippy::expect_used)]
        let key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("aws-lc-rs generates RSA keys");
        let mut params = rcgen::CertificateParams::default();
        let mut name = rcgen::DistinguishedName::new();
        for part in subject.split(',') {
            let (kind, value) = part.trim().split_once('=').unwrap_or(("CN", part.trim()));
            let kind = match kind.trim() {
                "O" => rcgen::DnType::OrganizationName,
                "OU" => rcgen::DnType::OrganizationalUnitName,
                _ => rcgen::DnType::CommonName,
            };
            name.push(kind, value.trim());
        }
        params.distinguished_name = name;
        params.not_before = not_before.into();
        params.not_after = (not_before + lifetime).into();
        #[allow(clippy::expect_used)]
        let cert = params.self_signed(&key).expect("a self-signed certificate of a fresh key");
        Self {
            der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            key_pkcs8: key.serialize_der(),
        }
    }

    /// The certificate and its unencrypted private key, PEM: what `AZURE_CLIENT_CERTIFICATE_PATH`
    /// may name.
    pub fn pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }

    /// The certificate alone, PEM (its public part: what goes on the app registration).
    pub fn certificate_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The DER certificate.
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate and key as PKCS#12 (`.pfx`), encrypted with `password` (AES-256, PBKDF2).
    ///
    /// # Panics
    /// Never for a certificate this type made.
    pub fn pkcs12(&self, password: &str) -> Vec<u8> {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        #[allow(clippy::expect_used)]
        let chain = PrivateKeyChain::new(
            b"1".as_slice(),
            PrivateKey::from_der(&self.key_pkcs8).expect("a PKCS#8 key"),
            [Certificate::from_der(&self.der).expect("a DER certificate")],
        );
        let mut store = KeyStore::new();
        store.add_entry("app", KeyStoreEntry::PrivateKeyChain(chain));
        #[allow(clippy::expect_used)]
        store.writer(password).write().expect("PKCS#12 of a key and its certificate")
    }

    /// The [`ClientCertificate`] a server signs its assertions with.
    ///
    /// # Panics
    /// Never for a certificate this type made.
    pub fn client_certificate(&self) -> ClientCertificate {
        #[allow(clippy::expect_used)]
        self.try_client_certificate().expect("a certificate with its key")
    }

    fn try_client_certificate(&self) -> Result<ClientCertificate, CredentialError> {
        ClientCertificate::from_pem(self.pem().as_bytes())
    }
}

impl fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCertificate").field("der_len", &self.der.len()).finish_non_exhaustive()
    }
}
