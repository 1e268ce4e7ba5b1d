//! The app credential's settings, and the one [`AppCredential`] they choose.
//!
//! Each of `client_secret`, `client_certificate_path` (or a certificate given to the builder),
//! `federated_token_file` and `managed_identity_client_id` chooses a kind; two set at once is an
//! error naming both. For each key the later source wins: [`env`](super::AzureOAuthConfigBuilder::env)
//! overrides what was set on the builder before it, a builder call after it overrides the
//! environment. A managed identity's token comes from `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` when
//! both are set (App Service, Functions, Container Apps), else from the instance metadata service.

use std::path::PathBuf;
use std::time::SystemTime;

use super::keys::{self, Key};
use super::{ClientSecret, ConfigError};
use crate::credential::{
    AppCredential, ClientCertificate, EXPIRY_WARNING, IMDS_ENDPOINT, IdentitySource, ManagedIdentity,
    check_token_file,
};

/// The token-exchange audience of a managed identity's token, by the cloud of the authority host
/// (<https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity#important-considerations-and-restrictions>).
fn exchange_audience(authority_host: &str) -> &'static str {
    if authority_host.ends_with(".microsoftonline.us") {
        "api://AzureADTokenExchangeUSGov"
    } else if authority_host.ends_with(".chinacloudapi.cn") {
        "api://AzureADTokenExchangeChina"
    } else {
        "api://AzureADTokenExchange"
    }
}

/// What the builder was given for the credential.
#[derive(Clone, Debug, Default)]
pub(super) struct CredentialSettings {
    pub(super) client_secret: Option<ClientSecret>,
    pub(super) certificate: Option<ClientCertificate>,
    pub(super) certificate_path: Option<String>,
    pub(super) certificate_password: Option<ClientSecret>,
    pub(super) send_certificate_chain: bool,
    pub(super) federated_token_file: Option<String>,
    pub(super) managed_identity_client_id: Option<String>,
    pub(super) identity_endpoint: Option<String>,
    pub(super) identity_header: Option<ClientSecret>,
    pub(super) imds_endpoint: Option<String>,
    pub(super) token_exchange_audience: Option<String>,
}

impl CredentialSettings {
    /// The keys of the kinds that are set.
    fn kinds_set(&self) -> Vec<&'static Key> {
        let set = [
            self.client_secret.is_some(),
            self.certificate.is_some() || self.certificate_path.is_some(),
            self.federated_token_file.is_some(),
            self.managed_identity_client_id.is_some(),
        ];
        keys::CREDENTIAL_KEYS.iter().zip(set).filter(|(_, on)| *on).map(|(k, _)| *k).collect()
    }

    /// The credential these settings choose (`None` when none is set), loaded and checked: a
    /// certificate read and not expired, a token file present.
    pub(super) fn build(
        self,
        authority_host: &str,
        http_timeout: std::time::Duration,
    ) -> Result<Option<AppCredential>, ConfigError> {
        if let [first, second, ..] = self.kinds_set()[..] {
            return Err(ConfigError::TwoCredentials {
                first: ConfigError::named(first),
                second: ConfigError::named(second),
            });
        }
        if let Some(secret) = self.client_secret {
            if !secret.is_well_formed() {
                return Err(ConfigError::Secret);
            }
            return Ok(Some(AppCredential::secret(secret)));
        }
        let certificate = match (self.certificate, &self.certificate_path) {
            (Some(c), _) => Some(c),
            (None, Some(path)) => Some(ClientCertificate::from_file(
                path,
                self.certificate_password.as_ref().map(ClientSecret::expose),
            )?),
            (None, None) => None,
        };
        if let Some(certificate) = certificate {
            let now = SystemTime::now();
            certificate.check_valid_at(now)?;
            let left = certificate.remaining(now);
            if left < EXPIRY_WARNING {
                tracing::warn!(
                    subject = certificate.subject(),
                    thumbprint_sha256 = certificate.thumbprint_sha256(),
                    days_left = left.as_secs() / 86_400,
                    "the app's certificate expires soon: upload its successor to the app registration and point \
                     AZURE_CLIENT_CERTIFICATE_PATH at it before it does (then restart; without AZURE_OAUTH_STATE_KEY \
                     the new key also changes the sealing key, and registered clients register again)"
                );
            }
            return Ok(Some(AppCredential::certificate(certificate, self.send_certificate_chain)));
        }
        if let Some(path) = self.federated_token_file {
            let path = PathBuf::from(path);
            check_token_file(&path)?;
            return Ok(Some(AppCredential::federated_token_file(path)));
        }
        if let Some(client_id) = self.managed_identity_client_id {
            let source = match (self.identity_endpoint, self.identity_header) {
                (Some(endpoint), Some(header)) => IdentitySource::AppService { endpoint, header },
                _ => IdentitySource::Imds {
                    endpoint: self.imds_endpoint.unwrap_or_else(|| IMDS_ENDPOINT.to_owned()),
                },
            };
            let audience =
                self.token_exchange_audience.unwrap_or_else(|| exchange_audience(authority_host).to_owned());
            let identity =
                ManagedIdentity::new(client_id.to_ascii_lowercase(), source, audience, http_timeout);
            return Ok(Some(AppCredential::managed_identity(identity)));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exchange_audience_follows_the_cloud() {
        assert_eq!(exchange_audience("https://login.microsoftonline.com"), "api://AzureADTokenExchange");
        assert_eq!(exchange_audience("https://login.microsoftonline.us"), "api://AzureADTokenExchangeUSGov");
        assert_eq!(exchange_audience("https://login.chinacloudapi.cn"), "api://AzureADTokenExchangeChina");
    }
}
