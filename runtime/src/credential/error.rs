//! [`CredentialError`]: why this app could not prove itself to Entra ID, with what to do next.

/// Why the app's credential could not be loaded or used, or why Entra ID refused it. Each message
/// says what to fix. None holds a private key, a password, an assertion or a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// A file could not be read.
    #[error(
        "cannot read the {what} {path}: {detail}; check the path and that this process may read the file"
    )]
    Unreadable {
        /// What the file is (`certificate file`, `federated token file`).
        what: &'static str,
        /// Its path.
        path: String,
        /// The operating system's reason.
        detail: String,
    },
    /// A PKCS#12 file that does not open with the password given (or is no PKCS#12 file).
    #[error(
        "the certificate {source_name} does not open with the password given, or is not a PKCS#12 file: set \
         AZURE_CLIENT_CERTIFICATE_PASSWORD to the password it was exported with, or give a PEM file with the \
         certificate and its unencrypted key"
    )]
    WrongPassword {
        /// The file (or `bytes given to the builder`).
        source_name: String,
    },
    /// The certificate has no private key with it.
    #[error(
        "the certificate {source_name} holds no private key: the app signs its assertions with it, so use a PEM file \
         with both the certificate and its unencrypted private key, or a PKCS#12 (.pfx) file exported with the key"
    )]
    NoPrivateKey {
        /// The file (or `bytes given to the builder`).
        source_name: String,
    },
    /// A private key without a certificate, or no PEM block at all.
    #[error(
        "{source_name} holds no certificate: add the certificate (PEM `CERTIFICATE` block) next to its key"
    )]
    NoCertificate {
        /// The file (or `bytes given to the builder`).
        source_name: String,
    },
    /// The key or certificate could not be read, or is not an RSA key (Entra's certificate
    /// credentials are RSA).
    #[error("the certificate {source_name} is not usable: {detail}")]
    Unusable {
        /// The file (or `bytes given to the builder`).
        source_name: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The certificate's validity has ended.
    #[error(
        "the certificate {subject} ({thumbprint}) expired at {not_after} (UTC): Entra ID refuses assertions it signs \
         (AADSTS700027); create a new one, upload it to the app registration (Certificates & secrets) and point \
         AZURE_CLIENT_CERTIFICATE_PATH at it"
    )]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// Its SHA-256 thumbprint (base64url), as the app registration shows it in hex.
        thumbprint: String,
        /// When it stopped being valid, RFC 3339.
        not_after: String,
    },
    /// The federated token file is missing or empty.
    #[error(
        "the federated token file {path} is missing or empty ({detail}): on AKS it is projected by workload identity \
         (label the pod azure.workload.identity/use=true and its service account with the app's client id); elsewhere \
         unset AZURE_FEDERATED_TOKEN_FILE"
    )]
    TokenFile {
        /// The path (`AZURE_FEDERATED_TOKEN_FILE`).
        path: String,
        /// The reason.
        detail: String,
    },
    /// No managed identity endpoint answered.
    #[error(
        "no managed identity token from {endpoint}: {detail}; not running on Azure with a managed identity? Assign the \
         user-assigned identity to this App Service, Function, Container App or VM, or choose another credential"
    )]
    ManagedIdentityUnavailable {
        /// The endpoint called.
        endpoint: String,
        /// What happened.
        detail: String,
    },
    /// The managed identity endpoint answered with an error.
    #[error(
        "the managed identity endpoint {endpoint} refused a token for identity {client_id} (HTTP {status}): {detail}; \
         check that AZURE_OAUTH_MANAGED_IDENTITY_CLIENT_ID is the client id of a user-assigned identity assigned to \
         this resource"
    )]
    ManagedIdentityRefused {
        /// The endpoint called.
        endpoint: String,
        /// The identity's client id.
        client_id: String,
        /// The HTTP status.
        status: u16,
        /// The endpoint's words.
        detail: String,
    },
    /// Entra ID refused the credential.
    #[error("Entra ID refused this app's credential (AADSTS{code}): {hint}. Entra ID said: {description}")]
    Refused {
        /// The AADSTS error code.
        code: u64,
        /// What to do about it.
        hint: &'static str,
        /// Entra's `error_description`.
        description: String,
    },
}

/// The AADSTS codes that say the app's credential itself was refused, each with what to do
/// (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>).
const REFUSALS: &[(u64, &str)] = &[
    (
        700_027,
        "the assertion's certificate is not on the app registration or its signature does not match: upload the \
         certificate's public part under Certificates & secrets, or check that the key file belongs to it",
    ),
    (
        700_024,
        "the client assertion is outside its valid time: check this machine's clock (and, for a federated credential, \
         that its token is fresh)",
    ),
    (
        70_021,
        "no federated credential on the app registration matches the assertion's issuer, subject and audience: add \
         one (az ad app federated-credential create --id <app id> --parameters <issuer, subject, audience>)",
    ),
    (
        7_000_215,
        "the client secret is wrong: copy the secret's Value (not its ID) from Certificates & secrets",
    ),
    (7_000_222, "the client secret has expired: create a new one under Certificates & secrets"),
];

impl CredentialError {
    /// The refusal Entra's `error_codes` name, if one of them says the credential was refused.
    pub(crate) fn refused(error_codes: &[u64], description: &str) -> Option<Self> {
        REFUSALS.iter().find(|(code, _)| error_codes.contains(code)).map(|&(code, hint)| Self::Refused {
            code,
            hint,
            description: description.to_owned(),
        })
    }

    /// [`refused`](Self::refused) for a token endpoint's JSON error body.
    pub(crate) fn refused_in(body: &[u8]) -> Option<Self> {
        let json: serde_json::Value = serde_json::from_slice(body).ok()?;
        let codes: Vec<u64> =
            json.get("error_codes")?.as_array()?.iter().filter_map(|c| c.as_u64()).collect();
        let description = json.get("error_description").and_then(|d| d.as_str()).unwrap_or_default();
        Self::refused(&codes, description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entras_credential_refusals_are_recognised_with_what_to_do() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS70021: No matching federated identity record found","error_codes":[70021]}"#;
        let e = CredentialError::refused_in(body).expect("a refusal");
        let text = e.to_string();
        assert!(text.contains("AADSTS70021") && text.contains("federated-credential create"), "{text}");
        assert!(CredentialError::refused(&[50_076], "MFA").is_none());
        assert!(CredentialError::refused_in(b"not json").is_none());
    }
}
