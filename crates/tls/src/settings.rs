//! A listener's settings as configuration files write them (`[tls]` and one
//! listener table), checked once when the file is read, and the one function
//! that turns them into a bound, ready-to-serve listener. The authorization
//! server and the gateway both embed these types, so a listener means the
//! same thing, with the same errors, in both files.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use http::HeaderName;
use serde::{Deserialize, Deserializer};
use tokio::net::TcpListener;

use crate::reload::{FileStamps, MAX_RELOAD_INTERVAL_SECS, ReloadableMode, TlsMaterial};
use crate::{
    App, CertificateHeader, ClientAuth, ConnectionLimits, ListenerMode, TlsError, TrustedProxies,
};

/// `[tls]`: the server certificate and the client-CA bundle, shared by a
/// process's HTTPS listeners and reloaded while it runs ([`crate::TlsReloader`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// Server certificate chain, PEM.
    pub cert: Option<PathBuf>,
    /// Server private key, PEM.
    pub key: Option<PathBuf>,
    /// CAs that client chains are validated against, PEM.
    pub client_ca: Option<PathBuf>,
    /// Seconds between checks of the files for changes; 0: reload on SIGHUP only.
    #[serde(default = "default_reload_interval_secs")]
    pub reload_interval_secs: u64,
}

/// Often enough that a rotated certificate is served within seconds, rarely
/// enough that three `stat`s cost nothing.
const DEFAULT_RELOAD_INTERVAL_SECS: u64 = 5;

fn default_reload_interval_secs() -> u64 {
    DEFAULT_RELOAD_INTERVAL_SECS
}

impl Default for TlsFiles {
    fn default() -> Self {
        Self {
            cert: None,
            key: None,
            client_ca: None,
            reload_interval_secs: DEFAULT_RELOAD_INTERVAL_SECS,
        }
    }
}

impl TlsFiles {
    /// Makes relative paths relative to `base` (the config file's directory)
    /// rather than to wherever the process happens to start.
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.cert, &mut self.key, &mut self.client_ca]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }
}

/// How a listener obtains the client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// HTTPS requesting a client certificate.
    Mtls,
    /// HTTPS that never asks for one (browsers, secret-based clients).
    Public,
    /// Plain HTTP behind a TLS-terminating proxy that forwards the certificate.
    Proxy,
}

impl ListenerKind {
    /// The name configuration files use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mtls => "mtls",
            Self::Public => "public",
            Self::Proxy => "proxy",
        }
    }
}

/// One listener table: `[listener]` in `gateway.toml`, `[listeners.mtls]`,
/// `[listeners.public]` or `[listeners.proxy]` in `certbound.toml` (where the
/// table name supplies `mode` and `[listeners.limits]` the limits).
///
/// Trusted proxies and the certificate header are parsed while the file is
/// read, so a bad entry is reported under its key and never parsed again.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSettings {
    /// Where the client certificate comes from.
    pub mode: ListenerKind,
    /// Address to bind, e.g. `127.0.0.1:8443` (port 0 picks one).
    pub addr: SocketAddr,
    /// The public `https://` URL callers use; defaults to `https://localhost:PORT`.
    #[serde(default)]
    pub url: Option<String>,
    /// Proxy mode: peers whose certificate headers are honoured (IPs or CIDR blocks).
    #[serde(default, deserialize_with = "trusted_proxies")]
    pub trusted_proxies: Option<TrustedProxies>,
    /// Proxy mode: the one header those peers send the certificate in.
    #[serde(default, deserialize_with = "certificate_header")]
    pub certificate_header: Option<CertificateHeader>,
    /// Proxy mode: the header those peers put the client's address in
    /// (`X-Forwarded-For`, `X-Real-IP`), so limits count clients, not the proxy.
    #[serde(default, deserialize_with = "client_address_header")]
    pub client_address_header: Option<HeaderName>,
    /// Timeouts and connection limits.
    #[serde(default)]
    pub limits: ConnectionLimits,
}

fn trusted_proxies<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TrustedProxies>, D::Error> {
    let entries = Vec::<String>::deserialize(d)?;
    if entries.is_empty() {
        // An empty list trusts nobody: proxy mode reports it as missing.
        return Ok(None);
    }
    TrustedProxies::parse(&entries)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn client_address_header<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HeaderName>, D::Error> {
    let name = String::deserialize(d)?;
    HeaderName::try_from(name.as_str())
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("'{name}' is not an HTTP header name")))
}

fn certificate_header<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<CertificateHeader>, D::Error> {
    let name = String::deserialize(d)?;
    CertificateHeader::parse(&name).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "'{name}' is not one of {}",
            CertificateHeader::NAMES.join(", ")
        ))
    })
}

impl ListenerSettings {
    /// Checks what the types alone cannot: the files a mode needs, the
    /// proxy settings, the URL and the limits. `key` is the listener table's
    /// dotted key (`listener`, `listeners.mtls`); errors name the offending
    /// key under it and say what to write instead.
    pub fn validate(&self, key: &str, tls: &TlsFiles) -> Result<(), TlsError> {
        let err = |k: String, message: String| TlsError::Setting { key: k, message };
        let mode = self.mode.name();
        if self.mode != ListenerKind::Proxy {
            if tls.cert.is_none() || tls.key.is_none() {
                return Err(err(
                    "tls".into(),
                    format!(
                        "the {mode} listener ({key}) needs tls.cert and tls.key (PEM files); `certbound pki init` makes them"
                    ),
                ));
            }
            if self.trusted_proxies.is_some() {
                return Err(err(
                    format!("{key}.trusted_proxies"),
                    format!(
                        "only proxy listeners read certificate headers; remove it from the {mode} listener"
                    ),
                ));
            }
            if self.certificate_header.is_some() {
                return Err(err(
                    format!("{key}.certificate_header"),
                    format!(
                        "only proxy listeners read certificate headers; remove it from the {mode} listener"
                    ),
                ));
            }
            if self.client_address_header.is_some() {
                return Err(err(
                    format!("{key}.client_address_header"),
                    format!(
                        "only proxy listeners read the client's address from a header; remove it from the {mode} listener"
                    ),
                ));
            }
        } else {
            if self.trusted_proxies.is_none() {
                return Err(err(
                    format!("{key}.trusted_proxies"),
                    "proxy mode needs the proxy's address, e.g. [\"127.0.0.1\"]".into(),
                ));
            }
            if self.certificate_header.is_none() {
                return Err(err(
                    format!("{key}.certificate_header"),
                    format!(
                        "proxy mode needs one of {}",
                        CertificateHeader::NAMES.join(", ")
                    ),
                ));
            }
        }
        if tls.reload_interval_secs > MAX_RELOAD_INTERVAL_SECS {
            return Err(err(
                "tls.reload_interval_secs".into(),
                format!("at most {MAX_RELOAD_INTERVAL_SECS} (a day); 0 reloads on SIGHUP only"),
            ));
        }
        if let Some(url) = &self.url {
            check_public_url(url).map_err(|m| err(format!("{key}.url"), m))?;
        }
        self.limits
            .validate()
            .map_err(|(k, m)| err(format!("{key}.limits.{k}"), m))
    }
}

/// Checks an `https://host[:port][/path]` URL without query, fragment or
/// trailing slash: such URLs are compared byte for byte with `iss` and `aud`.
pub fn check_public_url(url: &str) -> Result<(), String> {
    let well_formed = url
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains(['?', '#', ' ']))
        && !url.ends_with('/')
        && url.parse::<http::Uri>().is_ok();
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "'{url}' must be https://host[:port][/path] without query, fragment or trailing slash"
        ))
    }
}

/// A listener bound to its port with its TLS or proxy setup in place,
/// ready for [`BoundListener::serve`].
#[derive(Debug)]
pub struct BoundListener {
    listener: TcpListener,
    addr: SocketAddr,
    url: String,
    /// The table's dotted key, naming the listener in reload logs.
    key: String,
    mode: ReloadableMode,
    /// The files `mode` was built from, for [`crate::TlsReloader`].
    stamps: FileStamps,
    limits: ConnectionLimits,
}

/// Builds the listener `settings` describe: loads the certificate, key and
/// client-CA bundle from `tls`, makes the rustls configuration or the
/// trusted-proxy extractor, and binds the address. `key` names the table
/// in errors, as in [`ListenerSettings::validate`], which this repeats so an
/// unchecked value cannot slip through. A [`crate::TlsReloader`] made from the
/// result loads the files again the same way.
pub async fn bind_listener(
    key: &str,
    settings: &ListenerSettings,
    tls: &TlsFiles,
) -> Result<BoundListener, TlsError> {
    settings.validate(key, tls)?;
    let https = settings.mode != ListenerKind::Proxy;
    // Examined before they are read: a change while reading shows at the first poll.
    let stamps = FileStamps::read(tls, https);
    let material = TlsMaterial::load(tls, https)?;
    let client_cas = material.client_cas.clone();
    let mode = match settings.mode {
        ListenerKind::Mtls => ListenerMode::MutualTls {
            config: material.server_config(&ClientAuth::Request(client_cas.clone()))?,
            client_cas,
        },
        ListenerKind::Public => ListenerMode::Tls {
            config: material.server_config(&ClientAuth::None)?,
        },
        ListenerKind::Proxy => match (&settings.trusted_proxies, settings.certificate_header) {
            (Some(proxies), Some(header)) => ListenerMode::TrustedProxy {
                proxies: proxies.clone(),
                header,
                client_cas,
                address_header: settings.client_address_header.clone(),
            },
            // validate() has refused this already.
            _ => {
                return Err(TlsError::Setting {
                    key: key.into(),
                    message: "proxy mode needs trusted_proxies and certificate_header".into(),
                });
            }
        },
    };
    let listener = TcpListener::bind(settings.addr)
        .await
        .map_err(|source| TlsError::Bind {
            what: format!(
                "binding the {} listener to {} (is another process using the port? change {key}.addr)",
                settings.mode.name(),
                settings.addr
            ),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| TlsError::Bind {
        what: "reading the bound address".into(),
        source,
    })?;
    let url = settings
        .url
        .clone()
        .unwrap_or_else(|| format!("https://localhost:{}", addr.port()));
    Ok(BoundListener {
        listener,
        addr,
        url,
        key: key.to_owned(),
        mode: ReloadableMode::new(mode),
        stamps,
        limits: settings.limits.clone(),
    })
}

impl BoundListener {
    /// The address actually bound (the port is chosen here when the settings say 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL callers use: the configured one, else `https://localhost:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The listener's mode as it stands now (reloads replace it).
    pub fn mode(&self) -> &ReloadableMode {
        &self.mode
    }

    pub(crate) fn reload_parts(&self) -> (&str, &ReloadableMode, &FileStamps) {
        (&self.key, &self.mode, &self.stamps)
    }

    /// Serves `app` until `shutdown` completes, then drains (see [`crate::serve`]).
    pub fn serve(
        self,
        app: impl App,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = std::io::Result<()>> + Send + 'static {
        crate::serve(self.listener, self.mode, self.limits, app, shutdown)
    }
}

#[cfg(test)]
mod tests;
