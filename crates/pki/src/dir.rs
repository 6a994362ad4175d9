//! The on-disk layout of a dev PKI directory.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::files::ensure_absent;
use crate::{
    CertificateAuthority, CertificateRequest, IssuedCertificate, KeyAlgorithm, PkiError, Usage,
    WriteMode, write_file,
};

/// CA certificate file name inside a PKI directory.
pub const CA_CERT: &str = "ca.pem";
/// CA private key file name.
pub const CA_KEY: &str = "ca.key";
/// Loopback server certificate file name.
pub const SERVER_CERT: &str = "server.pem";
/// Loopback server private key file name.
pub const SERVER_KEY: &str = "server.key";

/// Creates `dir` with a new CA and a server certificate for localhost,
/// 127.0.0.1 and ::1. Returns the files written.
pub fn init_dir(
    dir: &Path,
    algorithm: KeyAlgorithm,
    mode: WriteMode,
) -> Result<Vec<PathBuf>, PkiError> {
    let paths = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY].map(|f| dir.join(f));
    ensure_absent(
        &paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        mode,
    )?;
    std::fs::create_dir_all(dir).map_err(|source| PkiError::Io {
        what: "create directory",
        path: dir.to_owned(),
        source,
    })?;
    let ca = CertificateAuthority::generate(algorithm, "certbound dev CA")?;
    let server = ca.issue(&CertificateRequest {
        common_name: Some("localhost".into()),
        dns: vec!["localhost".into()],
        ip: vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        days: Some(825),
        algorithm,
        usage: Usage::Server,
        ..CertificateRequest::default()
    })?;
    let [ca_cert, ca_key, server_cert, server_key] = &paths;
    write_pair(ca.certificate(), ca_cert, ca_key, mode)?;
    write_pair(&server, server_cert, server_key, mode)?;
    Ok(paths.to_vec())
}

/// Issues `NAME.pem` / `NAME.key` in `dir`, signed by the directory's CA
/// unless `self_signed`. Returns the certificate.
pub fn issue_into_dir(
    dir: &Path,
    name: &str,
    request: &CertificateRequest,
    self_signed: bool,
    mode: WriteMode,
) -> Result<(IssuedCertificate, PathBuf, PathBuf), PkiError> {
    validate_name(name)?;
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}.key"));
    ensure_absent(&[&cert_path, &key_path], mode)?;
    let issued = if self_signed {
        crate::self_signed(request)?
    } else {
        load_ca(dir)?.issue(request)?
    };
    write_pair(&issued, &cert_path, &key_path, mode)?;
    Ok((issued, cert_path, key_path))
}

/// Loads the CA of a PKI directory made by [`init_dir`].
pub fn load_ca(dir: &Path) -> Result<CertificateAuthority, PkiError> {
    let read = |f: &str| {
        let path = dir.join(f);
        std::fs::read_to_string(&path).map_err(|source| PkiError::Io {
            what: "read",
            path,
            source,
        })
    };
    CertificateAuthority::from_pem(&read(CA_CERT)?, &read(CA_KEY)?)
}

fn write_pair(
    cert: &IssuedCertificate,
    cert_path: &Path,
    key_path: &Path,
    mode: WriteMode,
) -> Result<(), PkiError> {
    // Key first: if it fails, no certificate points at a missing key.
    write_file(key_path, cert.key_pem.as_bytes(), true, mode)?;
    write_file(cert_path, cert.cert_pem.as_bytes(), false, mode)
}

fn validate_name(name: &str) -> Result<(), PkiError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || !ok_chars || name.starts_with('.') {
        return Err(PkiError::InvalidRequest {
            field: "--name",
            reason: format!(
                "'{name}' must be letters, digits, '-', '_' or '.' and not start with '.'"
            ),
        });
    }
    if name == "ca" || name == "server" {
        return Err(PkiError::InvalidRequest {
            field: "--name",
            reason: format!("'{name}' is reserved for the directory's own {name} certificate"),
        });
    }
    Ok(())
}
