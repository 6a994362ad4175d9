//! How long each phase of a connection may take and how many connections a
//! listener holds: the settings `serve` enforces, shared by the AS's
//! `[listeners.limits]` and the gateway's `[listener.limits]`.

use std::time::Duration;

use serde::Deserialize;

/// Timeouts for every phase of a connection and connection-count limits.
///
/// Defaults follow nginx and Envoy: generous for real clients on slow links,
/// short enough that idle or trickling sockets cannot pile up. `docs/config.md`
/// says why each default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionLimits {
    /// TLS handshake, from accept to the end of the handshake.
    pub handshake_timeout_secs: u64,
    /// Request head: from the end of the handshake (or accept) to the first
    /// complete request, protocol detection included; on HTTP/1.1 also from
    /// the first byte of each later request to its last header.
    pub header_read_timeout_secs: u64,
    /// No request in flight (HTTP/1.1 keep-alive, HTTP/2 with no open
    /// stream) for this long: the connection is closed (HTTP/2: GOAWAY).
    pub idle_timeout_secs: u64,
    /// A request body the handler waits for and that sends nothing for this
    /// long (between two reads): the connection is closed.
    pub body_read_timeout_secs: u64,
    /// A response the client does not read for this long (between two
    /// writes, or, on HTTP/2, between two frames the client's flow-control
    /// window lets through): the connection is closed.
    pub send_timeout_secs: u64,
    /// HTTP/2 PING after this much silence while streams are open, to find
    /// dead peers; 0 sends none.
    pub http2_keep_alive_interval_secs: u64,
    /// A PING unanswered this long closes the connection.
    pub http2_keep_alive_timeout_secs: u64,
    /// Streams one HTTP/2 connection may have open at once.
    pub http2_max_concurrent_streams: u32,
    /// Open connections per listener (handshaking ones included); more are
    /// closed at once.
    pub max_connections: usize,
    /// Open connections per client address (IPv6: per /64); more are closed
    /// at once. Trusted proxies are exempt: behind one, every client shares
    /// its address.
    pub max_connections_per_ip: usize,
    /// At shutdown, how long requests in flight may take to finish after
    /// the listener stops accepting; then their connections are closed.
    pub drain_timeout_secs: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            handshake_timeout_secs: 10,
            header_read_timeout_secs: 20,
            idle_timeout_secs: 60,
            body_read_timeout_secs: 30,
            send_timeout_secs: 60,
            http2_keep_alive_interval_secs: 30,
            http2_keep_alive_timeout_secs: 20,
            http2_max_concurrent_streams: 100,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            drain_timeout_secs: 10,
        }
    }
}

impl ConnectionLimits {
    /// Checks that every limit is usable; the error names the key (relative
    /// to the limits table) and says what to write instead.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("handshake_timeout_secs", self.handshake_timeout_secs),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("send_timeout_secs", self.send_timeout_secs),
            (
                "http2_keep_alive_timeout_secs",
                self.http2_keep_alive_timeout_secs,
            ),
            (
                "http2_max_concurrent_streams",
                u64::from(self.http2_max_concurrent_streams),
            ),
            ("max_connections", self.max_connections as u64),
            ("max_connections_per_ip", self.max_connections_per_ip as u64),
            ("drain_timeout_secs", self.drain_timeout_secs),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err((
                    key,
                    "must be at least 1 (0 would disable the limit); raise it instead".into(),
                ));
            }
            // Keeps deadline arithmetic (milliseconds in a u64) far from overflow.
            if key.ends_with("_secs") && value > MAX_TIMEOUT_SECS {
                return Err((key, format!("must be at most {MAX_TIMEOUT_SECS} (one day)")));
            }
        }
        if self.http2_keep_alive_interval_secs > MAX_TIMEOUT_SECS {
            return Err((
                "http2_keep_alive_interval_secs",
                format!("must be at most {MAX_TIMEOUT_SECS} (one day); 0 turns PINGs off"),
            ));
        }
        if self.max_connections_per_ip > self.max_connections {
            return Err((
                "max_connections_per_ip",
                format!("must not exceed max_connections ({})", self.max_connections),
            ));
        }
        Ok(())
    }

    pub(crate) fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.handshake_timeout_secs)
    }

    pub(crate) fn drain_timeout(&self) -> Duration {
        Duration::from_secs(self.drain_timeout_secs)
    }
}

/// `[shutdown]` of the AS and the gateway: what happens on SIGTERM before
/// the listeners stop accepting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Seconds between SIGTERM and the listeners closing, during which
    /// `/readyz` answers 503 while every request is still served: the time
    /// a load balancer or Kubernetes needs to stop sending new traffic.
    pub delay_seconds: u64,
}

impl ShutdownSettings {
    /// The longest delay accepted: an hour.
    const MAX_DELAY_SECONDS: u64 = 3600;

    /// Checks the delay; the error is (key under `[shutdown]`, message).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.delay_seconds > Self::MAX_DELAY_SECONDS {
            return Err((
                "delay_seconds",
                format!("must be at most {} seconds", Self::MAX_DELAY_SECONDS),
            ));
        }
        Ok(())
    }

    /// The delay.
    pub fn delay(&self) -> Duration {
        Duration::from_secs(self.delay_seconds)
    }
}

/// The longest timeout accepted: one day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The limits in milliseconds, as the per-connection watchdog uses them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeoutsMs {
    pub header: u64,
    pub idle: u64,
    pub body: u64,
    pub send: u64,
    /// The shortest of the above: how often a busy connection is rechecked.
    pub min: u64,
}

impl From<&ConnectionLimits> for TimeoutsMs {
    fn from(l: &ConnectionLimits) -> Self {
        let ms = |s: u64| s.saturating_mul(1000).max(1);
        let (header, idle, body, send) = (
            ms(l.header_read_timeout_secs),
            ms(l.idle_timeout_secs),
            ms(l.body_read_timeout_secs),
            ms(l.send_timeout_secs),
        );
        Self {
            header,
            idle,
            body,
            send,
            min: header.min(idle).min(body).min(send),
        }
    }
}
