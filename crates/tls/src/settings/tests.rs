//! Listener settings: what each mode needs, errors that name the key, and
//! the builder's choice of rustls or proxy setup.

use super::*;

fn parse(text: &str) -> Result<ListenerSettings, String> {
    let de = toml::Deserializer::parse(text).map_err(|e| e.to_string())?;
    serde_path_to_error::deserialize(de).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}

fn files() -> TlsFiles {
    TlsFiles {
        cert: Some("server.pem".into()),
        key: Some("server.key".into()),
        client_ca: None,
        ..TlsFiles::default()
    }
}

fn setting_error(text: &str, tls: &TlsFiles) -> (String, String) {
    let s = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    match s.validate("listener", tls) {
        Err(TlsError::Setting { key, message }) => (key, message),
        other => panic!("{text}: expected a setting error, got {other:?}"),
    }
}

#[test]
fn each_mode_loads_with_what_it_needs() {
    let mtls = parse("mode = \"mtls\"\naddr = \"127.0.0.1:0\"").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(mtls.mode, ListenerKind::Mtls);
    assert!(mtls.validate("listener", &files()).is_ok());
    let proxy = parse(
        "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\ncertificate_header = \"Envoy\"",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(proxy.certificate_header, Some(CertificateHeader::Envoy));
    let proxies = proxy.trusted_proxies.clone().unwrap_or_default();
    assert!(proxies.contains("10.1.2.3".parse().unwrap_or_else(|e| panic!("{e}"))));
    assert!(!proxies.contains("11.1.2.3".parse().unwrap_or_else(|e| panic!("{e}"))));
    // A proxy listener needs no server certificate.
    assert!(proxy.validate("listener", &TlsFiles::default()).is_ok());
}

#[test]
fn bad_values_are_reported_under_their_key_while_reading() {
    for (text, path, message) in [
        (
            "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"bogus\"]",
            "trusted_proxies",
            "trusted_proxies entry 'bogus' is not an IP address or CIDR block",
        ),
        (
            "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\ncertificate_header = \"haproxy\"",
            "certificate_header",
            "'haproxy' is not one of rfc9440, nginx, envoy",
        ),
        (
            "mode = \"tcp\"\naddr = \"127.0.0.1:0\"",
            "mode",
            "unknown variant `tcp`",
        ),
        (
            "mode = \"mtls\"\naddr = \"127.0.0.1:0\"\ncolour = 1",
            "colour",
            "unknown field",
        ),
    ] {
        let e = parse(text).err().unwrap_or_default();
        assert!(e.starts_with(&format!("{path}: ")), "{text}: {e}");
        assert!(e.contains(message), "{text}: {e}");
    }
}

#[test]
fn validation_names_the_key_and_the_fix() {
    let proxy = "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\n";
    for (text, tls, key, message) in [
        (
            "mode = \"public\"\naddr = \"127.0.0.1:0\"".to_owned(),
            TlsFiles::default(),
            "tls",
            "the public listener (listener) needs tls.cert and tls.key (PEM files); `certbound pki init` makes them",
        ),
        (
            format!("{proxy}certificate_header = \"nginx\""),
            files(),
            "listener.trusted_proxies",
            "proxy mode needs the proxy's address, e.g. [\"127.0.0.1\"]",
        ),
        (
            format!("{proxy}trusted_proxies = []\ncertificate_header = \"nginx\""),
            files(),
            "listener.trusted_proxies",
            "proxy mode needs the proxy's address, e.g. [\"127.0.0.1\"]",
        ),
        (
            format!("{proxy}trusted_proxies = [\"127.0.0.1\"]"),
            files(),
            "listener.certificate_header",
            "proxy mode needs one of rfc9440, nginx, envoy",
        ),
        (
            "mode = \"mtls\"\naddr = \"127.0.0.1:0\"\ncertificate_header = \"nginx\"".to_owned(),
            files(),
            "listener.certificate_header",
            "only proxy listeners read certificate headers; remove it from the mtls listener",
        ),
        (
            "mode = \"mtls\"\naddr = \"127.0.0.1:0\"\nurl = \"https://gw.example/\"".to_owned(),
            files(),
            "listener.url",
            "'https://gw.example/' must be https://host[:port][/path] without query, fragment or trailing slash",
        ),
        (
            "mode = \"mtls\"\naddr = \"127.0.0.1:0\"\n[limits]\nidle_timeout_secs = 0".to_owned(),
            files(),
            "listener.limits.idle_timeout_secs",
            "must be at least 1 (0 would disable the limit); raise it instead",
        ),
        (
            "mode = \"mtls\"\naddr = \"127.0.0.1:0\"".to_owned(),
            TlsFiles {
                reload_interval_secs: 86_401,
                ..files()
            },
            "tls.reload_interval_secs",
            "at most 86400 (a day); 0 reloads on SIGHUP only",
        ),
    ] {
        assert_eq!(
            setting_error(&text, &tls),
            (key.to_owned(), message.to_owned()),
            "{text}"
        );
    }
}

#[test]
fn relative_tls_paths_resolve_against_the_config_directory() {
    let mut tls = TlsFiles {
        cert: Some("pki/server.pem".into()),
        key: Some("/abs/server.key".into()),
        client_ca: Some("ca.pem".into()),
        ..TlsFiles::default()
    };
    tls.resolve_paths(Path::new("/etc/certbound"));
    assert_eq!(
        tls,
        TlsFiles {
            cert: Some("/etc/certbound/pki/server.pem".into()),
            key: Some("/abs/server.key".into()),
            client_ca: Some("/etc/certbound/ca.pem".into()),
            ..TlsFiles::default()
        }
    );
}

#[test]
fn files_are_checked_for_changes_every_five_seconds_unless_told_otherwise() {
    let read = |text: &str| -> TlsFiles { toml::from_str(text).unwrap_or_else(|e| panic!("{e}")) };
    let default = read("cert = \"a.pem\"");
    assert_eq!(
        default.reload_interval(),
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        default,
        TlsFiles {
            cert: Some("a.pem".into()),
            ..TlsFiles::default()
        }
    );
    assert_eq!(read("reload_interval_secs = 0").reload_interval(), None);
    assert_eq!(
        read("reload_interval_secs = 1").reload_interval(),
        Some(std::time::Duration::from_secs(1))
    );
}

#[tokio::test]
async fn the_builder_makes_a_proxy_listener_and_names_the_key_of_a_missing_file() {
    let proxy = parse(
        "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"rfc9440\"",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let bound = bind_listener("listener", &proxy, &TlsFiles::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(bound.local_addr().port(), 0);
    assert_eq!(
        bound.url(),
        format!("https://localhost:{}", bound.local_addr().port())
    );
    assert!(matches!(
        *bound.mode().current(),
        ListenerMode::TrustedProxy {
            header: CertificateHeader::Rfc9440,
            ..
        }
    ));

    let mtls = parse("mode = \"mtls\"\naddr = \"127.0.0.1:0\"\nurl = \"https://as.example\"")
        .unwrap_or_else(|e| panic!("{e}"));
    let missing = TlsFiles {
        cert: Some("/nonexistent/server.pem".into()),
        key: Some("/nonexistent/server.key".into()),
        client_ca: None,
        ..TlsFiles::default()
    };
    match bind_listener("listeners.mtls", &mtls, &missing).await {
        Err(TlsError::Pem { path, .. }) => assert_eq!(path, Path::new("/nonexistent/server.pem")),
        other => panic!("expected a PEM error, got {other:?}"),
    }
    match bind_listener("listeners.mtls", &mtls, &TlsFiles::default()).await {
        Err(TlsError::Setting { key, .. }) => assert_eq!(key, "tls"),
        other => panic!("expected a setting error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_port_in_use_names_the_addr_key() {
    let taken = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = taken.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let s = parse(&format!(
        "mode = \"proxy\"\naddr = \"{addr}\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\""
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    match bind_listener("listeners.proxy", &s, &TlsFiles::default()).await {
        Err(TlsError::Bind { what, .. }) => {
            assert!(what.contains("change listeners.proxy.addr"), "{what}")
        }
        other => panic!("expected a bind error, got {other:?}"),
    }
}
