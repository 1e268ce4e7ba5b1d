//! What every endpoint handler shares: the configuration, the Graph and HTTP clients, the sealer
//! and clock of the consent page and the broker, its metadata documents, and what the enrol
//! mode's token bridge remembers.

use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::clients::metadata_document::MetadataDocuments;
use super::refresh_platforms::RefreshPlatforms;
use super::seal::Sealer;
use crate::config::{AzureOAuthConfig, Mode};
use crate::graph::GraphClient;
use crate::validate::Clock;

/// How many refresh tokens of `web` and `spa` redemptions are remembered (as SHA-256 digests) so
/// that their refresh is sent as their platform needs.
const REMEMBERED_REFRESH_TOKENS: usize = 10_000;

/// What every endpoint handler shares: the router's state (behind an `Arc`).
pub(crate) struct EndpointState {
    pub(crate) config: Arc<AzureOAuthConfig>,
    pub(crate) graph: GraphClient,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Clock,
    /// Seals the consent page's request, the broker's state, codes, client ids and cookies; `None`
    /// in direct mode (no `/authorize`).
    pub(crate) sealer: Option<Sealer>,
    /// The broker's Client ID Metadata Documents.
    pub(crate) documents: MetadataDocuments,
    /// The platform of refresh tokens from `web` and `spa` redemptions, by digest (enrol mode).
    pub(crate) refresh_platforms: Mutex<RefreshPlatforms>,
    /// Set once the broker has made sure its callback is on the app registration.
    pub(crate) callback_checked: OnceCell<()>,
}

impl EndpointState {
    pub(crate) fn new(
        config: Arc<AzureOAuthConfig>,
        http: reqwest::Client,
        graph: GraphClient,
        clock: Clock,
    ) -> Self {
        let sealer = match config.mode() {
            Mode::Broker | Mode::Enrol => {
                config.sealing_source().and_then(|source| Sealer::new(source, config.app_id()))
            }
            Mode::Direct => None,
        };
        Self {
            documents: MetadataDocuments::new(&config),
            sealer,
            clock,
            config,
            graph,
            http,
            refresh_platforms: Mutex::new(RefreshPlatforms::new(REMEMBERED_REFRESH_TOKENS)),
            callback_checked: OnceCell::new(),
        }
    }

    /// Seconds since the Unix epoch, by the endpoints' clock.
    pub(crate) fn now(&self) -> u64 {
        self.clock.unix()
    }
}
