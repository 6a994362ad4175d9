//! `certbound pki` against openssl: the thumbprint and DN we print are the
//! ones an independent implementation computes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use certbound_core::DistinguishedName;
use certbound_testkit::{require_tool, run};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_certbound");

fn certbound(args: &[&str]) -> (i32, String, String) {
    run(Command::new(BIN).args(args))
}

fn inspect_json(file: &Path) -> Value {
    let (code, out, err) = certbound(&["pki", "inspect", "--json", &file.to_string_lossy()]);
    assert_eq!(code, 0, "inspect {}: {err}", file.display());
    match serde_json::from_str(&out) {
        Ok(v) => v,
        Err(e) => panic!("inspect output is not JSON ({e}): {out}"),
    }
}

/// The acceptance pipeline, verbatim: DER → SHA-256 → base64url, padding stripped.
fn openssl_x5t(file: &Path) -> String {
    require_tool("openssl");
    require_tool("basenc");
    let script = format!(
        "openssl x509 -in '{}' -outform DER | openssl dgst -sha256 -binary | basenc --base64url",
        file.display()
    );
    let (code, out, err) = run(Command::new("bash").args(["-o", "pipefail", "-c", &script]));
    assert_eq!(code, 0, "{err}");
    out.trim().trim_end_matches('=').to_owned()
}

fn openssl_subject_rfc2253(file: &Path) -> String {
    let (code, out, err) = run(Command::new("openssl").args([
        "x509",
        "-noout",
        "-subject",
        "-nameopt",
        "RFC2253",
        "-in",
        &file.to_string_lossy(),
    ]));
    assert_eq!(code, 0, "{err}");
    out.trim().trim_start_matches("subject=").to_owned()
}

#[test]
fn thumbprint_matches_openssl_for_our_certs_and_openssls() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_string_lossy().into_owned();
    let (code, _, err) = certbound(&["pki", "init", "--dir", &dir]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = certbound(&[
        "pki",
        "issue",
        "--dir",
        &dir,
        "--name",
        "client-a",
        "--cn",
        "Client A",
        "--org",
        "Bank, Inc.",
        "--dns",
        "a.example",
        "--uri",
        "spiffe://bank/a",
        "--ip",
        "10.0.0.7",
        "--ip",
        "::1",
        "--email",
        "a@bank.example",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("x5t#S256"), "{out}");
    let (code, _, err) = certbound(&[
        "pki",
        "issue",
        "--dir",
        &dir,
        "--name",
        "self",
        "--self-signed",
        "--alg",
        "ed25519",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = certbound(&[
        "pki", "issue", "--dir", &dir, "--name", "legacy", "--alg", "rsa2048",
    ]);
    assert_eq!(code, 0, "{err}");

    // Certificates made by openssl itself: one RSA, one ECDSA.
    let rsa = tmp.path().join("openssl-rsa.pem");
    let ec = tmp.path().join("openssl-ec.pem");
    for (file, newkey) in [
        (&rsa, vec!["-newkey", "rsa:2048"]),
        (
            &ec,
            vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        ),
    ] {
        let key = file.with_extension("key");
        let mut args = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/C=US/O=Acme, Inc./OU=Payments+UID=7/CN=openssl client",
        ];
        args.extend(newkey);
        let (file_s, key_s) = (
            file.to_string_lossy().into_owned(),
            key.to_string_lossy().into_owned(),
        );
        args.extend([
            "-keyout",
            &key_s,
            "-out",
            &file_s,
            "-addext",
            "subjectAltName=DNS:o.example,IP:192.0.2.1,email:o@example.com,URI:https://o.example/c",
        ]);
        let (code, _, err) = run(Command::new(require_tool("openssl")).args(&args));
        assert_eq!(code, 0, "openssl req: {err}");
    }

    for name in [
        "ca.pem",
        "server.pem",
        "client-a.pem",
        "self.pem",
        "legacy.pem",
        "openssl-rsa.pem",
        "openssl-ec.pem",
    ] {
        let file = tmp.path().join(name);
        let doc = inspect_json(&file);
        assert_eq!(doc["x5t#S256"], Value::from(openssl_x5t(&file)), "{name}");
        // Same DN as openssl's RFC 2253 rendering; the order inside a
        // multi-valued RDN is not significant, so compare as DNs.
        let ours = doc["subject_dn"].as_str().unwrap_or_default();
        let theirs = openssl_subject_rfc2253(&file);
        let parse = |s: &str| DistinguishedName::parse(s).expect(s);
        assert!(
            parse(ours).matches(&parse(&theirs)),
            "{name}: {ours} vs {theirs}"
        );
        if !theirs.contains('+') {
            assert_eq!(ours, theirs, "{name}");
        }
        for key in [
            "issuer_dn",
            "san_dns",
            "san_uri",
            "san_ip",
            "san_email",
            "not_before",
            "not_after",
        ] {
            assert!(doc.get(key).is_some(), "{name} lacks {key}");
        }
    }

    let a = inspect_json(&tmp.path().join("client-a.pem"));
    assert_eq!(a["subject_dn"], "CN=Client A,O=Bank\\, Inc.");
    assert_eq!(a["issuer_dn"], "CN=certbound dev CA,O=certbound");
    assert_eq!(a["san_dns"], serde_json::json!(["a.example"]));
    assert_eq!(a["san_uri"], serde_json::json!(["spiffe://bank/a"]));
    assert_eq!(a["san_ip"], serde_json::json!(["10.0.0.7", "::1"]));
    assert_eq!(a["san_email"], serde_json::json!(["a@bank.example"]));
    let o = inspect_json(&rsa);
    assert_eq!(o["san_ip"], serde_json::json!(["192.0.2.1"]));
    assert_eq!(o["san_uri"], serde_json::json!(["https://o.example/c"]));
    assert_eq!(
        o["subject_dn"],
        "CN=openssl client,OU=Payments+UID=7,O=Acme\\, Inc.,C=US"
    );

    // DER input works too, and gives the same answer.
    let der = tmp.path().join("ec.der");
    let (code, _, err) = run(Command::new("openssl").args([
        "x509",
        "-in",
        &ec.to_string_lossy(),
        "-outform",
        "DER",
        "-out",
        &der.to_string_lossy(),
    ]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        inspect_json(&der)["x5t#S256"],
        inspect_json(&ec)["x5t#S256"]
    );
}

#[test]
fn keys_are_private_and_files_are_never_overwritten_without_force() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("pki");
    let d = dir.to_string_lossy().into_owned();
    assert_eq!(
        certbound(&["pki", "init", "--dir", &d, "--alg", "rsa2048"]).0,
        0
    );
    assert_eq!(
        certbound(&["pki", "issue", "--dir", &d, "--name", "c"]).0,
        0
    );
    for key in ["ca.key", "server.key", "c.key"] {
        let mode = std::fs::metadata(dir.join(key)).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600), "{key}");
    }
    let ca_before = std::fs::read(dir.join("ca.key")).ok();
    let (code, _, err) = certbound(&["pki", "init", "--dir", &d]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists; pass --force"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line of error: {err}");
    assert_eq!(std::fs::read(dir.join("ca.key")).ok(), ca_before);

    let c_before = std::fs::read(dir.join("c.pem")).ok();
    let (code, _, err) = certbound(&["pki", "issue", "--dir", &d, "--name", "c"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(std::fs::read(dir.join("c.pem")).ok(), c_before);
    assert_eq!(
        certbound(&["pki", "issue", "--dir", &d, "--name", "c", "--force"]).0,
        0
    );
    assert_ne!(std::fs::read(dir.join("c.pem")).ok(), c_before);

    // Bad input: one clear line, exit 1, nothing written.
    let key = dir.join("c.key").to_string_lossy().into_owned();
    let missing = dir.join("missing.pem").to_string_lossy().into_owned();
    let cases: [(&[&str], &str); 3] = [
        (&["pki", "inspect", &key], "no PEM CERTIFICATE"),
        (&["pki", "inspect", &missing], "cannot read"),
        (
            &["pki", "issue", "--dir", &d, "--name", "../x"],
            "invalid --name",
        ),
    ];
    for (args, needle) in cases {
        let (code, _, err) = certbound(args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let garbage = tmp.path().join("garbage.der");
    std::fs::write(&garbage, b"\x30\x03\x02\x01").expect("write");
    let (code, _, err) = certbound(&["pki", "inspect", &garbage.to_string_lossy()]);
    assert_eq!(code, 1);
    assert!(err.contains("not a certificate"), "{err}");
    assert!(!tmp.path().join("x.pem").exists());
}
