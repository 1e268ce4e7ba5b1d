//! How this app proves itself to Entra ID's token endpoint, for every call that needs it (the
//! broker's code redemption and refresh, the enrol mode's `/token`, on-behalf-of, Graph's
//! client-credentials token): one [`AppCredential`] of one kind.
//!
//! - a client secret (`client_secret`);
//! - a certificate: a client assertion signed with its key
//!   (<https://learn.microsoft.com/entra/identity-platform/certificate-credentials>);
//! - a federated token file (AKS workload identity), re-read at every use since the kubelet
//!   rotates it (<https://learn.microsoft.com/azure/aks/workload-identity-overview>);
//! - a user-assigned managed identity's token, as a federated identity credential
//!   (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity>).
//!
//! The last three are sent as `client_assertion` with
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (RFC 7523 §2.2,
//! <https://www.rfc-editor.org/rfc/rfc7523#section-2.2>).

mod certificate;
mod error;
mod managed_identity;
mod secret;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) use certificate::EXPIRY_WARNING;
#[cfg(feature = "emulator")]
pub(crate) use certificate::public_key_of;
pub use certificate::{AssertionAlgorithm, ClientCertificate};
pub use error::CredentialError;
pub(crate) use managed_identity::{IMDS_ENDPOINT, ManagedIdentity, Source as IdentitySource};
pub use secret::ClientSecret;

/// RFC 7523's client assertion type.
pub(crate) const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Which kind of credential the app uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// A client secret.
    Secret,
    /// A certificate and its private key.
    Certificate,
    /// A federated token file (AKS workload identity).
    FederatedTokenFile,
    /// A user-assigned managed identity trusted by a federated identity credential.
    ManagedIdentity,
}

/// The app's credential: cheap to clone (clones share the managed identity's token cache). Its
/// `Debug` names the kind and what identifies it (a thumbprint, a path, a client id), never a
/// secret, a key or a token.
#[derive(Clone)]
pub struct AppCredential(Arc<Inner>);

enum Inner {
    Secret(ClientSecret),
    Certificate { certificate: ClientCertificate, send_chain: bool },
    FederatedTokenFile(PathBuf),
    ManagedIdentity(ManagedIdentity),
}

impl AppCredential {
    pub(crate) fn secret(secret: ClientSecret) -> Self {
        Self(Arc::new(Inner::Secret(secret)))
    }
    pub(crate) fn certificate(certificate: ClientCertificate, send_chain: bool) -> Self {
        Self(Arc::new(Inner::Certificate { certificate, send_chain }))
    }
    pub(crate) fn federated_token_file(path: PathBuf) -> Self {
        Self(Arc::new(Inner::FederatedTokenFile(path)))
    }
    pub(crate) fn managed_identity(identity: ManagedIdentity) -> Self {
        Self(Arc::new(Inner::ManagedIdentity(identity)))
    }

    /// Its kind.
    pub fn kind(&self) -> CredentialKind {
        match &*self.0 {
            Inner::Secret(_) => CredentialKind::Secret,
            Inner::Certificate { .. } => CredentialKind::Certificate,
            Inner::FederatedTokenFile(_) => CredentialKind::FederatedTokenFile,
            Inner::ManagedIdentity(_) => CredentialKind::ManagedIdentity,
        }
    }

    /// The client secret, when that is the kind.
    pub fn client_secret(&self) -> Option<&ClientSecret> {
        match &*self.0 {
            Inner::Secret(s) => Some(s),
            _ => None,
        }
    }

    /// The certificate, when that is the kind.
    pub fn client_certificate(&self) -> Option<&ClientCertificate> {
        match &*self.0 {
            Inner::Certificate { certificate, .. } => Some(certificate),
            _ => None,
        }
    }

    /// What a sealing key may be derived from, with its HKDF label: the secret, or the
    /// certificate's private key. A federated or managed-identity credential has nothing that
    /// replicas share.
    pub(crate) fn sealing_material(&self) -> Option<(&[u8], &'static [u8])> {
        match &*self.0 {
            Inner::Secret(s) => Some((s.expose().as_bytes(), b"client secret")),
            Inner::Certificate { certificate, .. } => {
                Some((certificate.key_material(), b"certificate private key"))
            }
            Inner::FederatedTokenFile(_) | Inner::ManagedIdentity(_) => None,
        }
    }

    /// The form parameters that authenticate app `app_id` to the token endpoint `token_endpoint`
    /// (the assertion's audience): `client_secret`, or `client_assertion_type` and
    /// `client_assertion`. A managed identity's token is fetched (or taken from its cache) with
    /// its own client.
    pub(crate) async fn form(
        &self,
        app_id: &str,
        token_endpoint: &str,
    ) -> Result<Vec<(&'static str, String)>, CredentialError> {
        let assertion = match &*self.0 {
            Inner::Secret(s) => return Ok(vec![("client_secret", s.expose().to_owned())]),
            Inner::Certificate { certificate, send_chain } => {
                let now = SystemTime::now();
                certificate.check_valid_at(now)?;
                let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                certificate.assertion(app_id, token_endpoint, secs, *send_chain)
            }
            Inner::FederatedTokenFile(path) => read_token_file(path).await?,
            Inner::ManagedIdentity(identity) => identity.token().await?,
        };
        Ok(vec![("client_assertion_type", JWT_BEARER_ASSERTION.to_owned()), ("client_assertion", assertion)])
    }
}

/// The federated token file's current token: read at every use, since the kubelet replaces it
/// (hourly, well before it expires) and a copy kept here would outlive it.
async fn read_token_file(path: &std::path::Path) -> Result<String, CredentialError> {
    token_in(path, tokio::fs::read_to_string(path).await)
}

/// Checks at start-up that the federated token file is there.
pub(crate) fn check_token_file(path: &std::path::Path) -> Result<(), CredentialError> {
    token_in(path, std::fs::read_to_string(path)).map(drop)
}

/// The token in the federated token file's `read` text: trimmed, not empty.
fn token_in(path: &std::path::Path, read: std::io::Result<String>) -> Result<String, CredentialError> {
    let error = |detail: String| CredentialError::TokenFile { path: path.display().to_string(), detail };
    let text = read.map_err(|e| error(e.to_string()))?;
    match text.trim() {
        "" => Err(error("the file is empty".into())),
        token => Ok(token.to_owned()),
    }
}

impl fmt::Debug for AppCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Inner::Secret(s) => f.debug_tuple("Secret").field(s).finish(),
            Inner::Certificate { certificate, send_chain } => f
                .debug_struct("Certificate")
                .field("certificate", certificate)
                .field("send_chain", send_chain)
                .finish(),
            Inner::FederatedTokenFile(path) => f.debug_tuple("FederatedTokenFile").field(path).finish(),
            Inner::ManagedIdentity(identity) => f.debug_tuple("ManagedIdentity").field(identity).finish(),
        }
    }
}
