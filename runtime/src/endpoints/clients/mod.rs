//! Who a `client_id` is, for the broker: a client this server registered (the registration sealed
//! into the id itself, so every replica knows it with nothing stored), a client described by its
//! metadata document ([`metadata_document`]), or the app itself (for clients configured by hand,
//! such as the Python original's `GET /register`), limited to the operator's redirect URIs.

pub(crate) mod address;
pub(crate) mod metadata_document;

use serde::{Deserialize, Serialize};

use super::redirect_policy::{allowed_by_config, client_redirect_matches, operator_allows};
use super::seal::{Purpose, Sealer};
use crate::config::AzureOAuthConfig;
use metadata_document::{DocumentError, MetadataDocuments};

/// What the ids `POST /register` issues start with (never `https://`, which names a document).
pub(crate) const REGISTERED_PREFIX: &str = "mcp-client.";

/// The registration sealed into an issued client id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Registration {
    #[serde(rename = "r")]
    pub(crate) redirect_uris: Vec<String>,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub(crate) client_name: Option<String>,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub(crate) application_type: Option<String>,
    /// When it was issued (seconds since the Unix epoch).
    #[serde(rename = "i")]
    pub(crate) issued_at: u64,
}

impl Registration {
    /// The client id that carries this registration.
    pub(crate) fn client_id(&self, sealer: &Sealer, now: u64) -> String {
        format!("{REGISTERED_PREFIX}{}", sealer.seal(Purpose::Client, self, now, None))
    }
}

/// Where a client's description comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// `POST /register` on this server.
    Registered,
    /// A metadata document on this host.
    MetadataDocument { host: String },
    /// The app registration's own id, with the operator's redirect URIs.
    App,
}

/// A client of the broker.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    /// What it calls itself (`client_name`), if anything.
    pub(crate) name: Option<String>,
    pub(crate) origin: Origin,
    /// Its redirect URIs; `None` for the app itself (the operator's allow-list decides).
    redirect_uris: Option<Vec<String>>,
}

/// Why a `client_id` is no client: shown on the error page (never a redirect).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ClientError {
    #[error(
        "client_id is required: use the client_id POST /register returned, or your client's metadata document URL"
    )]
    Missing,
    #[error(
        "the client_id is not one this server issued (or it was issued under a sealing key that has since been \
         removed): register again with POST /register"
    )]
    Unknown,
    #[error("{0}")]
    Document(#[from] DocumentError),
}

impl Client {
    /// Whether `uri` is one of the client's redirect URIs (loopback ones whatever their port) that
    /// the operator's allow-list, when there is one, allows today; for the app itself, whether the
    /// operator allows it. Checked at every authorization, so that tightening the allow-list
    /// applies at once to clients registered before and to metadata documents.
    pub(crate) fn accepts_redirect(&self, config: &AzureOAuthConfig, uri: &str) -> bool {
        match &self.redirect_uris {
            Some(registered) => {
                registered.iter().any(|r| client_redirect_matches(r, uri)) && operator_allows(config, uri)
            }
            None => config.callback_url().as_deref() != Some(uri) && allowed_by_config(config, uri),
        }
    }

    /// The name the consent page shows.
    pub(crate) fn display_name(&self) -> &str {
        match (&self.name, &self.origin) {
            (Some(name), _) => name,
            (None, Origin::MetadataDocument { host }) => host,
            (None, Origin::App) => "a client configured on this server",
            (None, Origin::Registered) => "an unnamed client",
        }
    }
}

/// The client `client_id` names.
pub(crate) async fn resolve(
    config: &AzureOAuthConfig,
    sealer: &Sealer,
    documents: &MetadataDocuments,
    client_id: Option<&str>,
    now: u64,
) -> Result<Client, ClientError> {
    let id = client_id.filter(|id| !id.is_empty()).ok_or(ClientError::Missing)?;
    if let Some(sealed) = id.strip_prefix(REGISTERED_PREFIX) {
        let registration: Registration =
            sealer.open(Purpose::Client, sealed, now).map_err(|_| ClientError::Unknown)?;
        return Ok(Client {
            id: id.to_owned(),
            name: registration.client_name,
            origin: Origin::Registered,
            redirect_uris: Some(registration.redirect_uris),
        });
    }
    if documents.is_document_url(id) {
        let document = documents.get(id).await?;
        return Ok(Client {
            id: id.to_owned(),
            name: document.client_name.clone(),
            origin: Origin::MetadataDocument { host: document.host.clone() },
            redirect_uris: Some(document.redirect_uris.clone()),
        });
    }
    if id.eq_ignore_ascii_case(config.app_id()) {
        return Ok(Client { id: id.to_owned(), name: None, origin: Origin::App, redirect_uris: None });
    }
    Err(ClientError::Unknown)
}
