//! A server configured against the emulator with each kind of app credential but a secret: the
//! emulator's app trusts it (an uploaded certificate, a federated identity credential) and the
//! files the server reads are written to a temporary folder.

use std::path::PathBuf;

use axum_mcp_azure_oauth::config::AzureOAuthConfigBuilder;
use axum_mcp_azure_oauth::emulator::{Emulator, TestCertificate};

/// A sealing key, for the kinds that have nothing to derive one from.
pub const STATE_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The password of the PKCS#12 files written here.
pub const PFX_PASSWORD: &str = "pfx-pass-42";
/// The Kubernetes service account a workload identity token names.
pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:mcp:server";
/// The audience of federated assertions in the public cloud.
pub const EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Which credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A PEM file with the certificate and its key.
    Pem,
    /// A PKCS#12 file with a password.
    Pkcs12,
    /// An AKS workload identity token file.
    FederatedTokenFile,
    /// A user-assigned managed identity from App Service's `IDENTITY_ENDPOINT`.
    AppServiceIdentity,
    /// A user-assigned managed identity from the instance metadata service.
    ImdsIdentity,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 5] =
        [Self::Pem, Self::Pkcs12, Self::FederatedTokenFile, Self::AppServiceIdentity, Self::ImdsIdentity];
}

/// A configuration with one credential, and what the test may need of it.
#[derive(Debug)]
pub struct Setup {
    /// The emulator's preset without the secret, with the credential.
    pub builder: AzureOAuthConfigBuilder,
    /// Where its files are.
    pub dir: tempfile::TempDir,
    /// The certificate, for the certificate kinds.
    pub certificate: Option<TestCertificate>,
    /// The token file, for [`Kind::FederatedTokenFile`].
    pub token_file: Option<PathBuf>,
    /// The managed identity's client id, for the identity kinds.
    pub identity: Option<String>,
}

/// `emu`'s app set up to trust a credential of `kind`, and a configuration that uses it.
pub fn with_credential(emu: &Emulator, kind: Kind) -> Setup {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let builder = emu.config_without_secret();
    let mut setup = Setup { builder, dir, certificate: None, token_file: None, identity: None };
    match kind {
        Kind::Pem | Kind::Pkcs12 => {
            let cert = emu.issue_certificate();
            let (name, bytes) = match kind {
                Kind::Pem => ("app.pem", cert.pem().into_bytes()),
                _ => ("app.pfx", cert.pkcs12(PFX_PASSWORD)),
            };
            let path = setup.dir.path().join(name);
            std::fs::write(&path, bytes).expect("write the certificate");
            setup.builder = setup.builder.client_certificate_path(path.display().to_string());
            if kind == Kind::Pkcs12 {
                setup.builder = setup.builder.client_certificate_password(PFX_PASSWORD);
            }
            setup.certificate = Some(cert);
        }
        Kind::FederatedTokenFile => {
            emu.add_federated_credential(
                &emu.workload_identity_issuer(),
                WORKLOAD_SUBJECT,
                EXCHANGE_AUDIENCE,
            );
            let path = setup.dir.path().join("azure-identity-token");
            std::fs::write(&path, emu.workload_identity_token(WORKLOAD_SUBJECT)).expect("write the token");
            setup.builder =
                setup.builder.federated_token_file(path.display().to_string()).state_keys(STATE_KEY);
            setup.token_file = Some(path);
        }
        Kind::AppServiceIdentity | Kind::ImdsIdentity => {
            let (client_id, principal_id) = emu.add_managed_identity();
            emu.add_federated_credential(&emu.issuer_v2(), &principal_id, EXCHANGE_AUDIENCE);
            let builder = setup.builder.managed_identity_client_id(&client_id).state_keys(STATE_KEY);
            setup.builder = match kind {
                Kind::AppServiceIdentity => {
                    builder.identity_endpoint(emu.identity_endpoint()).identity_header(emu.identity_header())
                }
                _ => builder.imds_endpoint(emu.imds_endpoint()),
            };
            setup.identity = Some(client_id);
        }
    }
    setup
}
