//! Waiting for Ctrl-C or SIGTERM, for long-running commands.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Ctrl-C and SIGTERM, listened for from the moment this is made: a signal
/// that arrives while the server is still starting (after it said "ready"
/// to a supervisor, say) stops it cleanly instead of killing it.
pub struct Shutdown {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

/// Starts listening; call before the work that a signal should stop.
pub fn listen() -> Shutdown {
    Shutdown {
        interrupt: signal(SignalKind::interrupt()).ok(),
        terminate: signal(SignalKind::terminate()).ok(),
    }
}

impl Shutdown {
    /// Resolves on the next Ctrl-C or SIGTERM; by reference, so start-up
    /// and the run after it can each wait for one.
    pub async fn received(&mut self) {
        tokio::select! {
            () = next(self.interrupt.as_mut()) => {}
            () = next(self.terminate.as_mut()) => {}
        }
    }
}

/// The next delivery of `signal`; never, if it could not be listened for.
async fn next(signal: Option<&mut Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
