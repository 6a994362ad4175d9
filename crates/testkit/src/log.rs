//! Everything a test process logs, captured for tests that read it.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged (INFO and up) by this test process since the first
/// call, which installs the capture as the global subscriber; every test
/// in one binary shares it. Call it before starting what a test reads.
pub fn captured() -> String {
    static SINK: OnceLock<Sink> = OnceLock::new();
    let sink = SINK.get_or_init(|| {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        // Another subscriber may be installed first; then nothing is captured.
        let _ = tracing::subscriber::set_global_default(subscriber);
        sink
    });
    String::from_utf8_lossy(&sink.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}
