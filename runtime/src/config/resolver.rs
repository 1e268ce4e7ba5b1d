//! [`HostResolver`]: how host names in Client ID Metadata Document URLs become addresses.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

/// The addresses of a host, or why there are none.
pub type Resolving = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves the host names of Client ID Metadata Document URLs (the system resolver unless
/// [`AzureOAuthConfigBuilder::client_metadata_resolver`](super::AzureOAuthConfigBuilder::client_metadata_resolver)
/// sets another: split-horizon DNS, DNS over HTTPS, a test's fixed table). Whatever it answers,
/// the fetch connects only to the globally routable addresses among them.
///
/// ```
/// use std::net::IpAddr;
/// use axum_mcp_azure_oauth::config::{HostResolver, Resolving};
///
/// /// Every host is 10.0.0.7: the broker then refuses every document without connecting.
/// struct Internal;
/// impl HostResolver for Internal {
///     fn resolve(&self, _host: &str) -> Resolving {
///         Box::pin(async { Ok(vec![IpAddr::from([10, 0, 0, 7])]) })
///     }
/// }
/// ```
pub trait HostResolver: Send + Sync + 'static {
    /// The addresses of `host` (a domain name, never an IP literal).
    fn resolve(&self, host: &str) -> Resolving;
}

/// The system resolver (`getaddrinfo` through Tokio).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemResolver;

impl HostResolver for SystemResolver {
    fn resolve(&self, host: &str) -> Resolving {
        let host = host.to_owned();
        Box::pin(
            async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.map(|a| a.ip()).collect()) },
        )
    }
}

/// A resolver as the configuration holds it.
#[derive(Clone)]
pub(crate) struct SharedResolver(pub(crate) Arc<dyn HostResolver>);

impl fmt::Debug for SharedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostResolver")
    }
}

impl Default for SharedResolver {
    fn default() -> Self {
        Self(Arc::new(SystemResolver))
    }
}
