//! `certbound serve` reloads its TLS files while running: on SIGHUP, and
//! when they change on disk; openssl says which certificate is served.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use certbound_testkit::config::MTLS_LISTENER;
use certbound_testkit::require_tool;
use common::{Serve, fresh_config};

/// `serial=…` of the certificate the server at `addr` presents.
fn served_serial(addr: &str) -> String {
    let out = Command::new(require_tool("openssl"))
        .args(["s_client", "-connect", addr, "-servername", "localhost"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text.find("-----BEGIN CERTIFICATE-----").unwrap_or_else(|| {
        panic!(
            "no certificate from {addr}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let end = text[begin..].find("-----END CERTIFICATE-----").unwrap() + begin + 25;
    let mut x509 = Command::new(require_tool("openssl"))
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    x509.stdin
        .take()
        .unwrap()
        .write_all(text[begin..end].as_bytes())
        .unwrap();
    let out = x509.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `serial=…` of the certificate in a PEM file.
fn file_serial(path: &Path) -> String {
    let out = Command::new(require_tool("openssl"))
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Replaces `path` as rotation tools do: written beside it, renamed over it.
fn put(path: &Path, contents: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn hangup(serve: &Serve) {
    let status = Command::new("kill")
        .args(["-HUP", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits up to 10 s for a stderr line that `wanted` accepts.
fn await_line(serve: &Serve, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match serve.lines.recv_timeout(left) {
            Ok((_, line)) if wanted(&line) => return line,
            Ok((_, line)) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line {what}; saw:\n{}", seen.join("\n"));
}

fn addr(serve: &Serve) -> String {
    serve.mtls.strip_prefix("https://").unwrap().to_owned()
}

#[test]
fn serve_reloads_its_certificate_on_sighup_and_keeps_it_when_the_new_files_are_bad() {
    let (pki, tmp, cfg) = fresh_config(MTLS_LISTENER);
    // Polling off: whatever changes, the signal changed it.
    let serve = Serve::start(
        tmp.path(),
        &["--config", &cfg],
        &[
            ("CERTBOUND_LOG", "info"),
            ("CERTBOUND_TLS__RELOAD_INTERVAL_SECS", "0"),
        ],
    );
    let cert = pki.dir().join(certbound_pki::SERVER_CERT);
    let key = pki.dir().join(certbound_pki::SERVER_KEY);
    let original = file_serial(&cert);
    assert!(original.starts_with("serial="), "{original}");
    assert_eq!(served_serial(&addr(&serve)), original);

    // A certificate file that is not one: an error naming it, and the old
    // certificate still served.
    let original_pem = std::fs::read(&cert).unwrap();
    put(&cert, b"not a certificate");
    hangup(&serve);
    let error = await_line(&serve, "reporting the bad file", |l| {
        l.contains("TLS files not reloaded")
    });
    assert!(error.contains("ERROR"), "{error}");
    assert!(error.contains(&cert.display().to_string()), "{error}");
    assert_eq!(served_serial(&addr(&serve)), original);

    // A certificate without its key: refused too.
    let rotated = pki.server("rotated");
    put(&cert, rotated.issued.cert_pem.as_bytes());
    hangup(&serve);
    let error = await_line(&serve, "reporting the mismatched key", |l| {
        l.contains("TLS files not reloaded")
    });
    assert!(error.contains("does not fit"), "{error}");
    assert!(error.contains(&key.display().to_string()), "{error}");
    assert_eq!(served_serial(&addr(&serve)), original);
    assert_ne!(std::fs::read(&cert).unwrap(), original_pem);

    // The whole pair: served from the next handshake on, logged with the
    // serial openssl reads from the file.
    put(&key, rotated.issued.key_pem.as_bytes());
    hangup(&serve);
    let reloaded = await_line(&serve, "reporting the reload", |l| {
        l.contains("TLS files reloaded")
    });
    let serial = file_serial(&cert);
    assert_ne!(serial, original);
    assert!(
        reloaded.contains(serial.trim_start_matches("serial=")),
        "{reloaded} lacks {serial}"
    );
    assert!(reloaded.contains("CN=localhost (rotated)"), "{reloaded}");
    assert!(!reloaded.contains("PRIVATE"), "{reloaded}");
    assert_eq!(served_serial(&addr(&serve)), serial);
    // Still running: SIGHUP no longer ends the process.
    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn serve_picks_up_a_rotated_certificate_without_a_signal() {
    let (pki, tmp, cfg) = fresh_config(MTLS_LISTENER);
    let serve = Serve::start(
        tmp.path(),
        &["--config", &cfg],
        &[("CERTBOUND_TLS__RELOAD_INTERVAL_SECS", "1")],
    );
    let cert = pki.dir().join(certbound_pki::SERVER_CERT);
    let original = file_serial(&cert);
    assert_eq!(served_serial(&addr(&serve)), original);
    let rotated = pki.server("rotated");
    put(
        &pki.dir().join(certbound_pki::SERVER_KEY),
        rotated.issued.key_pem.as_bytes(),
    );
    put(&cert, rotated.issued.cert_pem.as_bytes());
    let serial = file_serial(&cert);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_serial(&addr(&serve)) != serial {
        assert!(
            Instant::now() < deadline,
            "still serving {original}, not {serial}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
