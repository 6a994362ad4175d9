//! Development PKI for certbound: a CA, a server certificate for loopback,
//! and client certificates (CA-signed or self-signed) with the subject and
//! SANs RFC 8705 client authentication matches on. Files holding private
//! keys are created with mode 0600 and nothing is overwritten unless asked.

mod authority;
mod dir;
mod error;
mod files;
mod key;
mod request;

pub use authority::{CertificateAuthority, IssuedCertificate, self_signed};
pub use dir::{CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, init_dir, issue_into_dir, load_ca};
pub use error::PkiError;
pub use files::{WriteMode, write_file};
pub use key::KeyAlgorithm;
pub use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
pub use request::{CertificateRequest, Usage};
