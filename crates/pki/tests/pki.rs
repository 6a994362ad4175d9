//! The dev PKI writes what it says, safely, and its certificates parse into
//! the identities RFC 8705 matching will see.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use certbound_core::{CertificateIdentity, DistinguishedName};
use certbound_pki::{
    CertificateRequest, KeyAlgorithm, PkiError, WriteMode, init_dir, issue_into_dir,
};

fn mode_of(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

#[test]
fn init_writes_ca_and_server_with_private_keys_0600() -> Result<(), PkiError> {
    let dir = tempfile::tempdir().map_err(|e| PkiError::Rsa(e.to_string()))?;
    let files = init_dir(dir.path(), KeyAlgorithm::EcdsaP256, WriteMode::CreateNew)?;
    assert_eq!(files.len(), 4);
    assert_eq!(mode_of(&dir.path().join("ca.key")), 0o600);
    assert_eq!(mode_of(&dir.path().join("server.key")), 0o600);
    assert_eq!(mode_of(&dir.path().join("ca.pem")), 0o644);

    let pem = std::fs::read(dir.path().join("server.pem")).unwrap_or_default();
    let der = rustls_der(&pem);
    let id = CertificateIdentity::from_der(&der).map_err(|e| PkiError::Rsa(e.to_string()))?;
    assert_eq!(id.san.dns, vec!["localhost".to_owned()]);
    assert_eq!(id.san.ip.len(), 2);
    assert!(
        id.issuer.matches(
            &DistinguishedName::parse("CN=certbound dev CA,O=certbound")
                .unwrap_or_else(|e| panic!("{e}"))
        )
    );

    // A second init refuses, and leaves the CA untouched.
    let before = std::fs::read(dir.path().join("ca.key")).unwrap_or_default();
    let err = init_dir(dir.path(), KeyAlgorithm::EcdsaP256, WriteMode::CreateNew).err();
    assert!(matches!(err, Some(PkiError::Exists(p)) if p.ends_with("ca.pem")));
    assert_eq!(
        std::fs::read(dir.path().join("ca.key")).unwrap_or_default(),
        before
    );

    // --force replaces it.
    init_dir(dir.path(), KeyAlgorithm::EcdsaP256, WriteMode::Overwrite)?;
    assert_ne!(
        std::fs::read(dir.path().join("ca.key")).unwrap_or_default(),
        before
    );
    assert_eq!(mode_of(&dir.path().join("ca.key")), 0o600);
    Ok(())
}

#[test]
fn issued_client_carries_subject_and_every_san_type() -> Result<(), PkiError> {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::Ed25519,
        KeyAlgorithm::Rsa2048,
    ] {
        let dir = tempfile::tempdir().map_err(|e| PkiError::Rsa(e.to_string()))?;
        init_dir(dir.path(), alg, WriteMode::CreateNew)?;
        let request = CertificateRequest {
            common_name: Some("Client A".into()),
            organization: Some("Bank, Inc.".into()),
            dns: vec!["a.example".into()],
            uri: vec!["spiffe://bank/a".into()],
            ip: vec!["10.0.0.7".parse().map_err(|_| PkiError::Rsa("ip".into()))?],
            email: vec!["a@bank.example".into()],
            algorithm: alg,
            ..CertificateRequest::default()
        };
        let (issued, cert, key) = issue_into_dir(
            dir.path(),
            "client-a",
            &request,
            false,
            WriteMode::CreateNew,
        )?;
        assert_eq!(mode_of(&key), 0o600, "{alg}");
        assert!(cert.ends_with("client-a.pem"));
        let id = CertificateIdentity::from_der(&issued.cert_der)
            .map_err(|e| PkiError::Rsa(e.to_string()))?;
        assert_eq!(
            id.subject.to_string(),
            "CN=Client A,O=Bank\\, Inc.",
            "{alg}"
        );
        assert_eq!(id.san.uri, vec!["spiffe://bank/a".to_owned()]);
        assert_eq!(id.san.email, vec!["a@bank.example".to_owned()]);
        assert_eq!(id.san.ip[0].to_string(), "10.0.0.7");

        let again = issue_into_dir(
            dir.path(),
            "client-a",
            &request,
            false,
            WriteMode::CreateNew,
        )
        .err();
        assert!(matches!(again, Some(PkiError::Exists(_))), "{alg}");
    }
    Ok(())
}

#[test]
fn bad_names_and_requests_are_refused() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let req = CertificateRequest {
        common_name: Some("x".into()),
        ..CertificateRequest::default()
    };
    for name in ["../evil", "a/b", "", ".hidden", "ca", "server"] {
        let err = issue_into_dir(dir.path(), name, &req, true, WriteMode::CreateNew).err();
        assert!(
            matches!(
                err,
                Some(PkiError::InvalidRequest {
                    field: "--name",
                    ..
                })
            ),
            "{name}"
        );
    }
    let empty = issue_into_dir(
        dir.path(),
        "e",
        &CertificateRequest::default(),
        true,
        WriteMode::CreateNew,
    )
    .err();
    assert!(matches!(
        empty,
        Some(PkiError::InvalidRequest { field: "--cn", .. })
    ));
    // No CA in the directory: a clear read error naming ca.pem.
    let no_ca = issue_into_dir(dir.path(), "c", &req, false, WriteMode::CreateNew).err();
    assert!(
        matches!(no_ca, Some(PkiError::Io { ref path, .. }) if path.ends_with("ca.pem")),
        "{no_ca:?}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path())
            .map(|d| d.count())
            .unwrap_or(99),
        0
    );
}

fn rustls_der(pem: &[u8]) -> Vec<u8> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem)
        .map(|c| c.to_vec())
        .unwrap_or_default()
}
