//! The unit tests' configuration, written once.

use crate::config::{AzureOAuthConfig, AzureOAuthConfigBuilder};

/// The app id of every unit test.
pub(crate) const APP: &str = "11111111-2222-3333-4444-555555555555";
/// The home tenant of every unit test.
pub(crate) const TENANT: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
/// Its client secret (the default broker mode needs one).
pub(crate) const SECRET: &str = "unit~test.secret_value";

/// A builder with the app, the tenant, the secret and the public base URL (the default broker mode
/// needs both).
pub(crate) fn builder() -> AzureOAuthConfigBuilder {
    AzureOAuthConfig::builder().app_id(APP).tenant_id(TENANT).client_secret(SECRET).base_url(BASE)
}

/// The public base URL of every unit test.
pub(crate) const BASE: &str = "https://mcp.example.com";

/// [`builder`] with Entra and Graph on a loopback port nothing listens on: a test that reached them
/// would fail.
pub(crate) fn offline() -> AzureOAuthConfigBuilder {
    builder().authority_host("http://127.0.0.1:9").graph_endpoint("http://127.0.0.1:9")
}

/// A built configuration from `builder`.
pub(crate) fn build(builder: AzureOAuthConfigBuilder) -> AzureOAuthConfig {
    builder.build().expect("a valid test configuration")
}

/// [`builder`] at `https://mcp.example.com` with an allow-list of both kinds: an exact https URI,
/// a loopback one and Copilot Studio's prefix.
pub(crate) fn with_allow_lists() -> AzureOAuthConfig {
    build(
        builder()
            .allowed_redirect_uris(["https://vscode.dev/redirect", "http://127.0.0.1:33418/"])
            .allowed_redirect_uri_prefixes(["https://global.consent.azure-apim.net/redirect/"]),
    )
}

/// A self-signed RSA certificate with its key: PEM (certificate and key) and PKCS#12 encrypted
/// with `password`.
pub(crate) fn certificate(password: &str) -> (String, Vec<u8>) {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("an RSA key");
    let cert = rcgen::CertificateParams::new(vec!["app.example".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("a certificate");
    let chain = PrivateKeyChain::new(
        b"1".as_slice(),
        PrivateKey::from_der(&key.serialize_der()).expect("PKCS#8"),
        [Certificate::from_der(cert.der()).expect("DER")],
    );
    let mut store = KeyStore::new();
    store.add_entry("app", KeyStoreEntry::PrivateKeyChain(chain));
    (format!("{}{}", cert.pem(), key.serialize_pem()), store.writer(password).write().expect("PKCS#12"))
}
