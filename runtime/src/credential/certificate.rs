//! [`ClientCertificate`]: the app's certificate and private key, read from PEM or PKCS#12, and the
//! client assertion it signs
//! (<https://learn.microsoft.com/entra/identity-platform/certificate-credentials>).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::signature::{self, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::{PemObject as _, SectionKind};
use serde_json::json;

use super::CredentialError;
use crate::primitives::digest::sha256;

/// How long an assertion is valid: MSAL's ten minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);
/// How long before its end a certificate's expiry is warned about at start-up.
pub(crate) const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);
/// What a source given as bytes is called in errors.
const BYTES: &str = "(bytes given to the builder)";

/// The signature algorithm of client assertions: both are accepted by Entra ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`), the default.
    #[default]
    Rs256,
    /// RSASSA-PSS with SHA-256 (`PS256`).
    Ps256,
}

/// The app's certificate credential: an RSA private key and its certificate (with the chain
/// behind it, if the file holds one). Its `Debug` shows the subject and thumbprint, never the key.
///
/// ```
/// use axum_mcp_azure_oauth::config::ClientCertificate;
///
/// let err = ClientCertificate::from_pem(b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n").unwrap_err();
/// assert!(err.to_string().contains("not usable") || err.to_string().contains("no certificate"));
/// ```
#[derive(Clone)]
pub struct ClientCertificate {
    key: std::sync::Arc<RsaKeyPair>,
    /// The key as PKCS#8 DER: what a sealing key may be derived from.
    key_pkcs8: Vec<u8>,
    /// The leaf first, then the rest of the chain as given.
    chain: Vec<Vec<u8>>,
    thumbprint: String,
    subject: String,
    not_after: SystemTime,
    not_after_text: String,
    algorithm: AssertionAlgorithm,
}

impl ClientCertificate {
    /// Reads a PEM file's `CERTIFICATE` blocks and its unencrypted private key (`PRIVATE KEY` or
    /// `RSA PRIVATE KEY`), as `AZURE_CLIENT_CERTIFICATE_PATH` may name.
    ///
    /// # Errors
    /// No key, no certificate, a key that is not RSA, or a key that is not the certificate's.
    pub fn from_pem(pem: &[u8]) -> Result<Self, CredentialError> {
        Self::pem(pem, BYTES)
    }

    /// Reads a PKCS#12 (`.pfx`) file's private key and certificates with `password` (empty when it
    /// has none).
    ///
    /// # Errors
    /// A wrong password, no key, no certificate, or a key that is not RSA.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Self, CredentialError> {
        Self::pkcs12(der, password, BYTES)
    }

    /// Reads `path`: PEM when it starts with `-----BEGIN`, else PKCS#12 opened with `password`.
    ///
    /// # Errors
    /// An unreadable file, and the errors of [`from_pem`](Self::from_pem) and
    /// [`from_pkcs12`](Self::from_pkcs12).
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        password: Option<&str>,
    ) -> Result<Self, CredentialError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| CredentialError::Unreadable {
            what: "certificate file",
            path: name.clone(),
            detail: e.to_string(),
        })?;
        // A byte-order mark or white space may come before the first PEM line.
        let text = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(&bytes);
        let text_start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
        if text[text_start..].starts_with(b"-----BEGIN") {
            Self::pem(&bytes, &name)
        } else {
            Self::pkcs12(&bytes, password.unwrap_or_default(), &name)
        }
    }

    /// Signs assertions with `algorithm` instead of the default RS256.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The base64url SHA-256 thumbprint of the certificate (the assertion's `x5t#S256`).
    pub fn thumbprint_sha256(&self) -> &str {
        &self.thumbprint
    }
    /// The certificate's subject, e.g. `CN=my-mcp-server`.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// When the certificate stops being valid.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }
    /// The DER certificate (the leaf).
    pub fn certificate_der(&self) -> &[u8] {
        &self.chain[0]
    }

    fn pem(pem: &[u8], source: &str) -> Result<Self, CredentialError> {
        let mut certs = Vec::new();
        let mut key = None;
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
            let (kind, der) = section.map_err(|e| unusable(source, format!("not PEM: {e}")))?;
            match kind {
                SectionKind::Certificate => certs.push(der),
                SectionKind::PrivateKey => key = Some(key_from_pkcs8(&der, source)?),
                SectionKind::RsaPrivateKey => {
                    key = Some(RsaKeyPair::from_der(&der).map_err(|e| unusable(source, format!("{e}")))?);
                }
                SectionKind::EcPrivateKey => {
                    return Err(unusable(
                        source,
                        "an EC key: Entra ID's certificate credentials are RSA".into(),
                    ));
                }
                _ => {}
            }
        }
        if key.is_none() && String::from_utf8_lossy(pem).contains("ENCRYPTED PRIVATE KEY") {
            return Err(unusable(
                source,
                "its private key is encrypted: use an unencrypted PEM key, or a PKCS#12 file with \
                 AZURE_CLIENT_CERTIFICATE_PASSWORD"
                    .into(),
            ));
        }
        let key = key.ok_or_else(|| CredentialError::NoPrivateKey { source_name: source.to_owned() })?;
        Self::assemble(key, certs, source)
    }

    fn pkcs12(der: &[u8], password: &str, source: &str) -> Result<Self, CredentialError> {
        let archive = p12_keystore::Pkcs12Archive::from_pkcs12(der, password)
            .map_err(|_| CredentialError::WrongPassword { source_name: source.to_owned() })?;
        let key = archive
            .keys
            .first()
            .ok_or_else(|| CredentialError::NoPrivateKey { source_name: source.to_owned() })?;
        let key = key_from_pkcs8(key.key.as_der(), source)?;
        let certs = archive.certs.iter().map(|c| c.cert.as_der().to_vec()).collect();
        Self::assemble(key, certs, source)
    }

    /// The certificate whose public key is `key`'s first, then the others.
    fn assemble(key: RsaKeyPair, mut certs: Vec<Vec<u8>>, source: &str) -> Result<Self, CredentialError> {
        if certs.is_empty() {
            return Err(CredentialError::NoCertificate { source_name: source.to_owned() });
        }
        let public = key.public_key().as_ref().to_vec();
        let leaf = certs.iter().position(|der| public_key_of(der).is_some_and(|p| p == public)).ok_or_else(
            || unusable(source, "its private key does not belong to any of its certificates".into()),
        )?;
        // The leaf first, the rest in the order given (the chain as the file lists it).
        let leaf = certs.remove(leaf);
        certs.insert(0, leaf);
        let (_, cert) = x509_parser::parse_x509_certificate(&certs[0])
            .map_err(|e| unusable(source, format!("the certificate cannot be read: {e}")))?;
        let not_after_secs = u64::try_from(cert.validity().not_after.timestamp()).unwrap_or(0);
        let key_pkcs8 = key
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| unusable(source, "the private key cannot be encoded".into()))?;
        Ok(Self {
            thumbprint: URL_SAFE_NO_PAD.encode(sha256(&certs[0])),
            subject: cert.subject().to_string(),
            not_after: UNIX_EPOCH + Duration::from_secs(not_after_secs),
            not_after_text: cert.validity().not_after.to_string(),
            key: std::sync::Arc::new(key),
            key_pkcs8,
            chain: certs,
            algorithm: AssertionAlgorithm::default(),
        })
    }

    /// An error when the certificate is no longer valid at `now`.
    pub(crate) fn check_valid_at(&self, now: SystemTime) -> Result<(), CredentialError> {
        if now >= self.not_after {
            return Err(CredentialError::Expired {
                subject: self.subject.clone(),
                thumbprint: self.thumbprint.clone(),
                not_after: self.not_after_text.clone(),
            });
        }
        Ok(())
    }

    /// How long the certificate stays valid after `now` (zero once expired).
    pub(crate) fn remaining(&self, now: SystemTime) -> Duration {
        self.not_after.duration_since(now).unwrap_or_default()
    }

    /// The private key as PKCS#8 DER, for deriving a sealing key.
    pub(crate) fn key_material(&self) -> &[u8] {
        &self.key_pkcs8
    }

    /// A client assertion of app `app_id` for the token endpoint `audience`, valid for ten minutes
    /// from `now` (Unix seconds), with `x5c` when `send_chain`.
    pub(crate) fn assertion(&self, app_id: &str, audience: &str, now: u64, send_chain: bool) -> String {
        let alg = match self.algorithm {
            AssertionAlgorithm::Rs256 => "RS256",
            AssertionAlgorithm::Ps256 => "PS256",
        };
        let mut header = json!({ "alg": alg, "typ": "JWT", "x5t#S256": self.thumbprint });
        if send_chain {
            header["x5c"] = self.chain.iter().map(|der| STANDARD.encode(der)).collect();
        }
        let mut jti = [0u8; 16];
        // The system's random source fails only when the OS has none, which nothing here survives.
        SystemRandom::new().fill(&mut jti).unwrap_or_default();
        let claims = json!({
            "aud": audience,
            "iss": app_id,
            "sub": app_id,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let padding: &'static dyn signature::RsaEncoding = match self.algorithm {
            AssertionAlgorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
            AssertionAlgorithm::Ps256 => &signature::RSA_PSS_SHA256,
        };
        let mut sig = vec![0; self.key.public_modulus_len()];
        // Signing with a key aws-lc-rs accepted, into a buffer of the modulus' length, cannot fail.
        self.key.sign(padding, &SystemRandom::new(), signing_input.as_bytes(), &mut sig).unwrap_or_default();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("subject", &self.subject)
            .field("thumbprint_sha256", &self.thumbprint)
            .field("not_after", &self.not_after_text)
            .field("chain", &self.chain.len())
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The PKCS#1 `RSAPublicKey` of a DER certificate, when it is an RSA one.
pub(crate) fn public_key_of(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.public_key().subject_public_key.data.to_vec())
}

fn key_from_pkcs8(der: &[u8], source: &str) -> Result<RsaKeyPair, CredentialError> {
    RsaKeyPair::from_pkcs8(der).map_err(|e| {
        unusable(source, format!("its private key is not an RSA key aws-lc accepts ({e}): Entra ID's certificate credentials are RSA"))
    })
}

fn unusable(source: &str, detail: String) -> CredentialError {
    CredentialError::Unusable { source_name: source.to_owned(), detail }
}
