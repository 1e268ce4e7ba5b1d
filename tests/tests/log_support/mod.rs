//! The sink of the log tests: everything a `tracing_subscriber::fmt()` subscriber writes, kept in
//! memory to be searched for what must never be logged.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// Give a clone to the subscriber (`.with_writer(move || sink.clone())`), read with
/// [`Captured::text`].
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
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
