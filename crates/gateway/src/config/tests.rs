//! Configuration loading: defaults, errors that name the key.

use super::*;

fn with_upstream(upstream: &str) -> Result<GatewayConfig, GatewayConfigError> {
    let toml = format!(
        "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://api.example\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\n[authorization_server]\nissuer = \"https://as\"\n[[routes]]\npath_prefix = \"/api\"\nupstream = \"{upstream}\"\n"
    );
    GatewayConfig::from_toml(&toml, Path::new("/etc/gw.toml"))
}

fn with_as(lines: &str) -> Result<GatewayConfig, GatewayConfigError> {
    let toml = format!(
        "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://api.example\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\n[authorization_server]\nissuer = \"https://as\"\n{lines}\n"
    );
    GatewayConfig::from_toml(&toml, Path::new("/etc/gw.toml"))
}

#[test]
fn revocation_polling_defaults_and_errors() {
    let identity = "introspection_client_id = \"gw\"\ncert = \"gw.pem\"\nkey = \"gw.key\"";
    let poll = |lines: &str| with_as(lines).map(|c| c.authorization_server.revocation_poll());
    assert_eq!(poll("").ok(), Some(None), "no identity: off");
    assert_eq!(
        poll(identity).ok(),
        Some(Some(15)),
        "identity in jwt mode: on"
    );
    assert_eq!(
        poll(&format!("{identity}\nvalidation = \"introspection\"")).ok(),
        Some(None),
        "every token introspected: off unless asked"
    );
    assert_eq!(
        poll(&format!("{identity}\nrevocation_poll_seconds = 0")).ok(),
        Some(None)
    );
    assert_eq!(
        poll(&format!("{identity}\nrevocation_poll_seconds = 2")).ok(),
        Some(Some(2))
    );
    for (lines, key, why) in [
        (
            "revocation_poll_seconds = 5".to_owned(),
            "authorization_server.revocation_poll_seconds",
            "polling the revocation list needs introspection_client_id, cert and key: the gateway reads it as that client, registered with --may-introspect (or set 0 to turn polling off)".to_owned(),
        ),
        (
            format!("{identity}\nrevocation_poll_seconds = 3601"),
            "authorization_server.revocation_poll_seconds",
            "must be at most 3600 (0 turns polling off)".to_owned(),
        ),
        (
            format!("{identity}\nrevocation_max_stale_seconds = 20"),
            "authorization_server.revocation_max_stale_seconds",
            "must be at least twice revocation_poll_seconds (15), or 0 to never refuse tokens for a stale list".to_owned(),
        ),
        (
            format!("{identity}\nrevocation_poll_seconds = -1"),
            "authorization_server.revocation_poll_seconds",
            "TOML parse error at line 12, column 27\n   |\n12 | revocation_poll_seconds = -1\n   |                           ^^\ninvalid value: integer `-1`, expected u64\n".to_owned(),
        ),
    ] {
        match with_as(&lines) {
            Err(GatewayConfigError::Key { key: k, message, .. }) => {
                assert_eq!((k.as_str(), message.as_str()), (key, why.as_str()), "{lines}");
            }
            other => panic!("{lines}: {other:?}"),
        }
    }
    assert!(with_as(&format!("{identity}\nrevocation_max_stale_seconds = 0")).is_ok());
}

#[test]
fn upstream_urls_are_checked() {
    assert!(with_upstream("http://10.0.0.1:8080/base").is_ok());
    for (bad, why) in [
        ("ftp://10.0.0.1/", "must be an http:// or https:// URL"),
        (
            "http://svc:s3cret@10.0.0.1:8080",
            "must not contain user information (user:password@)",
        ),
    ] {
        match with_upstream(bad) {
            Err(GatewayConfigError::Key { key, message, .. }) => {
                assert_eq!(
                    (key.as_str(), message.as_str()),
                    ("routes[0].upstream", why)
                );
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn no_route_may_take_the_readiness_path() {
    let with_prefix = |prefix: &str| {
        let toml = format!(
            "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://api.example\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\n[authorization_server]\nissuer = \"https://as\"\n[[routes]]\npath_prefix = \"/api\"\nupstream = \"http://10.0.0.1\"\n[[routes]]\npath_prefix = \"{prefix}\"\nupstream = \"http://10.0.0.1\"\n"
        );
        GatewayConfig::from_toml(&toml, Path::new("/etc/gw.toml"))
    };
    for prefix in ["/readyz", "/readyz/", "/READYZ", "/%72eadyz"] {
        match with_prefix(prefix) {
            Err(GatewayConfigError::Key { key, message, .. }) => assert_eq!(
                (key.as_str(), message.as_str()),
                (
                    "routes[1].path_prefix",
                    "/readyz is the gateway's readiness endpoint; route the upstream's under another prefix"
                ),
                "{prefix}"
            ),
            other => panic!("{prefix}: {other:?}"),
        }
    }
    // A catch-all, or paths under or beside it, leave /readyz to the gateway.
    for prefix in ["/", "/readyz/deep", "/readyzz", "/ready"] {
        assert!(with_prefix(prefix).is_ok(), "{prefix}");
    }
}

#[test]
fn listener_limits_default_load_and_name_the_key() {
    let c = with_upstream("http://10.0.0.1:8080").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.listener.limits,
        certbound_tls::ConnectionLimits::default()
    );
    let base = "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\nurl = \"https://gw.example\"\n[listener.limits]\n";
    let rest = "[authorization_server]\nissuer = \"https://as\"\n";
    let text = format!("{base}send_timeout_secs = 9\n{rest}");
    let c = GatewayConfig::from_toml(&text, Path::new("/etc/gw.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listener.limits.send_timeout_secs, 9);
    assert_eq!(c.listener.limits.idle_timeout_secs, 60);
    for (limits, key, message) in [
        (
            "handshake_timeout_secs = 0",
            "listener.limits.handshake_timeout_secs",
            "must be at least 1 (0 would disable the limit); raise it instead",
        ),
        (
            "max_connections = 10\nmax_connections_per_ip = 11",
            "listener.limits.max_connections_per_ip",
            "must not exceed max_connections (10)",
        ),
        ("colour = 1", "listener.limits.colour", "TOML parse error"),
    ] {
        let text = format!("{base}{limits}\n{rest}");
        match GatewayConfig::from_toml(&text, Path::new("/etc/gw.toml")) {
            Err(GatewayConfigError::Key {
                key: k, message: m, ..
            }) => {
                assert_eq!(k, key, "{limits}: {m}");
                assert!(m.starts_with(message), "{limits}: {m}");
                if k.ends_with("colour") {
                    assert!(m.contains("unknown field `colour`"), "{m}");
                }
            }
            other => panic!("{limits}: expected a key error, got {other:?}"),
        }
    }
}

#[test]
fn proxy_mode_needs_a_public_url_or_an_audience() {
    let toml = |listener: &str, policy: &str, route: &str| {
        format!(
            "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\n{listener}\n[authorization_server]\nissuer = \"https://as\"\n[policy]\n{policy}\n[[routes]]\npath_prefix = \"/api\"\nupstream = \"http://10.0.0.1\"\n{route}\n"
        )
    };
    let load = |t: String| GatewayConfig::from_toml(&t, Path::new("/etc/gw.toml"));
    match load(toml("", "", "")) {
        Err(GatewayConfigError::Key { key, message, .. }) => {
            assert_eq!(key, "listener.url");
            assert!(message.contains("or set policy.audience"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    for ok in [
        toml("url = \"https://api.example\"", "", ""),
        toml("", "audience = \"https://api.example\"", ""),
        toml("", "", "audience = \"https://orders.example\""),
    ] {
        assert!(load(ok.clone()).is_ok(), "{ok}");
    }
    for bad in [
        "http://api.example",
        "https://api.example/",
        "https://a?b",
        "https://",
    ] {
        match load(toml(&format!("url = \"{bad}\""), "", "")) {
            Err(GatewayConfigError::Key { key, .. }) => {
                assert_eq!(key, "listener.url", "{bad}")
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let c = load(toml("url = \"https://api.example\"", "", "")).map_err(|e| e.to_string());
    assert_eq!(
        c.as_ref()
            .map(|c| (c.policy.require_bound_tokens, c.default_audience(1))),
        Ok((true, "https://api.example".to_owned())),
        "bound tokens only by default; the public URL is the audience"
    );
}

fn with_env(env: &[(&str, &str)]) -> Result<GatewayConfig, GatewayConfigError> {
    let toml = "[listener]\nmode = \"proxy\"\naddr = \"127.0.0.1:9000\"\nurl = \"https://api.example\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\n[authorization_server]\nissuer = \"https://as\"\n";
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    GatewayConfig::from_toml_with_env(toml, Path::new("/etc/gw.toml"), env)
}

#[test]
fn environment_overrides_change_the_listen_address_and_nested_keys() {
    let c = with_env(&[
        ("CERTBOUND_GATEWAY__LISTENER__ADDR", "127.0.0.1:0"),
        (
            "CERTBOUND_GATEWAY__LISTENER__LIMITS__IDLE_TIMEOUT_SECS",
            "7",
        ),
        (
            "CERTBOUND_GATEWAY__LISTENER__TRUSTED_PROXIES",
            "[\"10.0.0.0/8\"]",
        ),
        ("CERTBOUND_GATEWAY__POLICY__REQUIRE_BOUND_TOKENS", "false"),
        (
            "CERTBOUND_GATEWAY__AUTHORIZATION_SERVER__ISSUER",
            "https://as.example",
        ),
        // The server's variables and the log filter are not the gateway's.
        ("CERTBOUND_LISTENERS__MTLS__ADDR", "nope"),
        ("CERTBOUND_LOG", "debug"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.listener.addr.port(), 0);
    assert_eq!(c.listener.limits.idle_timeout_secs, 7);
    let proxies = c.listener.trusted_proxies.unwrap_or_default();
    assert!(proxies.contains("10.1.1.1".parse().unwrap_or_else(|e| panic!("{e}"))));
    assert!(!proxies.contains("127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"))));
    assert!(!c.policy.require_bound_tokens);
    assert_eq!(c.authorization_server.issuer, "https://as.example");
    let c = with_env(&[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.listener.addr.port(),
        9000,
        "no variable, the file's value"
    );
}

#[test]
fn a_bad_override_names_the_variable() {
    for (var, value, message) in [
        (
            "CERTBOUND_GATEWAY__LISTENER__ADDR",
            "nope",
            "key `listener.addr`: invalid socket address syntax",
        ),
        (
            "CERTBOUND_GATEWAY__LISTENER__LIMITS__MAX_CONNECTIONS",
            "0",
            "key `listener.limits.max_connections`: must be at least 1",
        ),
        (
            "CERTBOUND_GATEWAY__LISTENER__URL",
            "http://api.example",
            "key `listener.url`: 'http://api.example' must be https://",
        ),
        (
            "CERTBOUND_GATEWAY__LISTENER__ADDR__PORT",
            "1",
            "`listener.addr` is a string, not a table, so it has no key `port`",
        ),
    ] {
        match with_env(&[(var, value)]) {
            Err(GatewayConfigError::Env { var: v, message: m }) => {
                assert_eq!(v, var);
                assert!(m.starts_with(message), "{var}: {m}");
            }
            other => panic!("{var}: expected an environment error, got {other:?}"),
        }
    }
}

#[test]
fn the_listener_mode_decides_what_it_needs() {
    let load = |listener: &str, tls: &str| {
        let t = format!(
            "[listener]\n{listener}\n[tls]\n{tls}\n[authorization_server]\nissuer = \"https://as\"\n"
        );
        GatewayConfig::from_toml(&t, Path::new("/etc/gw.toml"))
    };
    let c = load(
        "mode = \"mtls\"\naddr = \"127.0.0.1:0\"",
        "cert = \"pki/server.pem\"\nkey = \"/abs/server.key\"",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.tls.cert.as_deref(),
        Some(Path::new("/etc/pki/server.pem"))
    );
    assert_eq!(c.tls.key.as_deref(), Some(Path::new("/abs/server.key")));
    for (listener, tls, key) in [
        ("mode = \"mtls\"\naddr = \"127.0.0.1:0\"", "", "tls"),
        (
            "mode = \"public\"\naddr = \"127.0.0.1:0\"",
            "cert = \"a\"\nkey = \"b\"",
            "listener.mode",
        ),
        (
            "mode = \"mtls\"\naddr = \"127.0.0.1:0\"\ntrusted_proxies = [\"127.0.0.1\"]",
            "cert = \"a\"\nkey = \"b\"",
            "listener.trusted_proxies",
        ),
        (
            "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://x\"\ncertificate_header = \"nginx\"",
            "",
            "listener.trusted_proxies",
        ),
        (
            "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://x\"\ntrusted_proxies = [\"127.0.0.1\"]\ncertificate_header = \"nginx\"\nclient_address_header = \"X-Forwarded-For\"",
            "",
            "listener.client_address_header",
        ),
        (
            "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://x\"\ntrusted_proxies = [\"bogus\"]\ncertificate_header = \"nginx\"",
            "",
            "listener.trusted_proxies",
        ),
        (
            "mode = \"proxy\"\naddr = \"127.0.0.1:0\"\nurl = \"https://x\"\ntrusted_proxies = [\"127.0.0.1\"]",
            "",
            "listener.certificate_header",
        ),
    ] {
        match load(listener, tls) {
            Err(GatewayConfigError::Key { key: k, .. }) => assert_eq!(k, key, "{listener}"),
            other => panic!("{listener}: expected a key error for {key}, got {other:?}"),
        }
    }
}
