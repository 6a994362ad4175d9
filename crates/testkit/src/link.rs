//! A TCP link a test can cut and restore: what a database going away looks
//! like to the server (packets unanswered), without stopping the machine's
//! shared PostgreSQL.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

#[derive(Default)]
struct LinkState {
    up: AtomicBool,
    /// Forwarding tasks of live connections, aborted on a cut.
    forwarding: Mutex<Vec<AbortHandle>>,
    /// Connections accepted while cut: held open and unanswered.
    held: Mutex<Vec<TcpStream>>,
}

/// Forwards connections to a target until cut; removed on drop.
pub struct CuttableLink {
    addr: SocketAddr,
    state: Arc<LinkState>,
    accepting: JoinHandle<()>,
}

impl CuttableLink {
    /// A link on an ephemeral loopback port to `target`, up.
    pub async fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind link");
        let addr = listener.local_addr().expect("link address");
        let state = Arc::new(LinkState::default());
        state.up.store(true, Ordering::SeqCst);
        let shared = Arc::clone(&state);
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                // Checked under the lock `cut` drains, so a connection
                // accepted as the link is cut is held, never forwarded.
                let mut forwarding = shared.forwarding.lock().expect("link lock");
                if !shared.up.load(Ordering::SeqCst) {
                    drop(forwarding);
                    shared.held.lock().expect("link lock").push(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                forwarding.retain(|t| !t.is_finished());
                forwarding.push(task.abort_handle());
            }
        });
        Self {
            addr,
            state,
            accepting,
        }
    }

    /// Where to connect instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every live connection and leaves new ones unanswered.
    pub fn cut(&self) {
        let mut forwarding = self.state.forwarding.lock().expect("link lock");
        self.state.up.store(false, Ordering::SeqCst);
        for task in forwarding.drain(..) {
            task.abort();
        }
    }

    /// Forwards again; connections held while cut are closed.
    pub fn restore(&self) {
        self.state.up.store(true, Ordering::SeqCst);
        self.state.held.lock().expect("link lock").clear();
    }
}

impl Drop for CuttableLink {
    fn drop(&mut self) {
        self.accepting.abort();
        self.cut();
    }
}
