//! A router served on an ephemeral port of 127.0.0.1 with `axum::serve`.
//!
//! Most servers under test must know their own URL before they are built (it is their configured
//! base URL), so serving takes two steps: [`Port::bind`], build with [`Port::base`], then
//! [`Port::serve`]. [`serve`] does both for a router that does not need its URL.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A port on 127.0.0.1, bound and not yet served.
#[derive(Debug)]
pub struct Port {
    listener: TcpListener,
    base: String,
    shutdown: CancellationToken,
}

impl Port {
    /// Binds an ephemeral port on 127.0.0.1.
    pub async fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a port on 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("the bound address"));
        Self { listener, base, shutdown: CancellationToken::new() }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("the bound address")
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Cancelled when the server stops (its [`Served`] is dropped): for services that must end
    /// what they hold open, such as the example's MCP streams.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves `router` until the returned handle is dropped; then stops accepting and lets open
    /// requests finish (graceful shutdown).
    #[must_use = "the server stops when the handle is dropped"]
    pub fn serve(self, router: axum::Router) -> Served {
        let Self { listener, base, shutdown } = self;
        let stop = shutdown.clone().cancelled_owned();
        tokio::spawn(axum::serve(listener, router).with_graceful_shutdown(stop).into_future());
        Served { base, shutdown }
    }

    /// The listener itself, for a test that serves connections by hand.
    pub fn into_listener(self) -> TcpListener {
        self.listener
    }
}

/// A router being served; dropping it shuts the server down.
#[derive(Debug)]
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    shutdown: CancellationToken,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Serves `router` on a new port of 127.0.0.1.
#[must_use = "the server stops when the handle is dropped"]
pub async fn serve(router: axum::Router) -> Served {
    Port::bind().await.serve(router)
}
