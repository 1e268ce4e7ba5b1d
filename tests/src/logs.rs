//! The sink of the log tests: everything a `tracing_subscriber::fmt()` subscriber writes, kept in
//! memory to be searched for what must never be logged.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;

/// Where the subscriber of [`Captured::subscriber`] writes; read with [`Captured::text`].
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// A `fmt` subscriber without colours that writes every line `filter` (an `EnvFilter`
    /// directive such as `"trace"`) lets through here. Install it as the test needs: globally
    /// (the only test of its binary) or for the current thread.
    pub fn subscriber(&self, filter: &str) -> impl Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(self.clone()).with_ansi(false).finish()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes).expect("UTF-8 logs")
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}
