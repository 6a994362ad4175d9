//! `certbound pki init | issue | inspect`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use certbound_core::CertificateIdentity;
use certbound_pki::{CertificateRequest, KeyAlgorithm, WriteMode};
use clap::{Args, Subcommand};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

/// `certbound pki …`
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create DIR with ca.pem/ca.key and a server certificate for localhost, 127.0.0.1 and ::1.
    Init {
        /// Directory to write into (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Key algorithm: ecdsa-p256, ed25519 or rsa2048.
        #[arg(long, default_value = "ecdsa-p256")]
        alg: KeyAlgorithm,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Issue NAME.pem and NAME.key in DIR, signed by DIR's CA unless --self-signed.
    Issue(IssueArgs),
    /// Print a certificate's subject, issuer, SANs, validity and x5t#S256.
    Inspect {
        /// A PEM or DER certificate file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `certbound pki issue`.
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// PKI directory made by `pki init`.
    #[arg(long)]
    dir: PathBuf,
    /// File name stem: writes NAME.pem and NAME.key.
    #[arg(long)]
    name: String,
    /// Subject CN (defaults to NAME).
    #[arg(long)]
    cn: Option<String>,
    /// Subject O.
    #[arg(long)]
    org: Option<String>,
    /// Subject OU.
    #[arg(long)]
    ou: Option<String>,
    /// DNS SAN (repeatable).
    #[arg(long)]
    dns: Vec<String>,
    /// URI SAN (repeatable).
    #[arg(long)]
    uri: Vec<String>,
    /// IP SAN (repeatable).
    #[arg(long)]
    ip: Vec<IpAddr>,
    /// Email SAN (repeatable).
    #[arg(long)]
    email: Vec<String>,
    /// Self-signed instead of CA-signed (for self_signed_tls_client_auth).
    #[arg(long)]
    self_signed: bool,
    /// Lifetime in days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Key algorithm: ecdsa-p256, ed25519 or rsa2048.
    #[arg(long, default_value = "ecdsa-p256")]
    alg: KeyAlgorithm,
    /// Issue a TLS server certificate instead of a client certificate.
    #[arg(long)]
    server: bool,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

/// Runs a `pki` subcommand.
pub fn run(cmd: PkiCommand) -> anyhow::Result<()> {
    match cmd {
        PkiCommand::Init { dir, alg, force } => {
            let files = certbound_pki::init_dir(&dir, alg, write_mode(force))
                .with_context(|| format!("pki init in {}", dir.display()))?;
            for f in files {
                println!("wrote {}", f.display());
            }
            Ok(())
        }
        PkiCommand::Issue(args) => issue(args),
        PkiCommand::Inspect { file, json } => inspect(&file, json),
    }
}

fn write_mode(force: bool) -> WriteMode {
    if force {
        WriteMode::Overwrite
    } else {
        WriteMode::CreateNew
    }
}

fn issue(args: IssueArgs) -> anyhow::Result<()> {
    let request = CertificateRequest {
        common_name: Some(args.cn.unwrap_or_else(|| args.name.clone())),
        organization: args.org,
        organizational_unit: args.ou,
        dns: args.dns,
        uri: args.uri,
        ip: args.ip,
        email: args.email,
        days: Some(args.days),
        validity: None,
        algorithm: args.alg,
        usage: if args.server {
            certbound_pki::Usage::Server
        } else {
            certbound_pki::Usage::Client
        },
        ..CertificateRequest::default()
    };
    let (issued, cert_path, key_path) = certbound_pki::issue_into_dir(
        &args.dir,
        &args.name,
        &request,
        args.self_signed,
        write_mode(args.force),
    )
    .with_context(|| format!("pki issue {} in {}", args.name, args.dir.display()))?;
    let identity = CertificateIdentity::from_der(&issued.cert_der)
        .context("reading back the issued certificate")?;
    println!("wrote {}", cert_path.display());
    println!("wrote {}", key_path.display());
    println!("subject   {}", identity.subject);
    println!("x5t#S256  {}", identity.thumbprint);
    Ok(())
}

/// Reads the first certificate of a PEM file, or a DER file as is.
fn read_certificate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let cert = CertificateDer::from_pem_slice(&bytes).map_err(|e| {
            anyhow::anyhow!(
                "{} holds no PEM CERTIFICATE block ({e}); give a certificate, not a key",
                path.display()
            )
        })?;
        return Ok(cert.to_vec());
    }
    if bytes.is_empty() {
        bail!("{} is empty; give a PEM or DER certificate", path.display());
    }
    Ok(bytes)
}

fn inspect(path: &Path, as_json: bool) -> anyhow::Result<()> {
    let der = read_certificate(path)?;
    let id = CertificateIdentity::from_der(&der)
        .with_context(|| format!("{} is not a certificate we can read", path.display()))?;
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_else(|_| t.to_string());
    let ips: Vec<String> = id.san.ip.iter().map(ToString::to_string).collect();
    if as_json {
        let doc = json!({
            "subject_dn": id.subject.to_string(),
            "issuer_dn": id.issuer.to_string(),
            "san_dns": id.san.dns,
            "san_uri": id.san.uri,
            "san_ip": ips,
            "san_email": id.san.email,
            "not_before": time(id.validity.not_before),
            "not_after": time(id.validity.not_after),
            "x5t#S256": id.thumbprint.to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("subject     {}", id.subject);
    println!("issuer      {}", id.issuer);
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(", ")
        }
    };
    println!("san dns     {}", list(&id.san.dns));
    println!("san uri     {}", list(&id.san.uri));
    println!("san ip      {}", list(&ips));
    println!("san email   {}", list(&id.san.email));
    println!("not before  {}", time(id.validity.not_before));
    println!("not after   {}", time(id.validity.not_after));
    println!("x5t#S256    {}", id.thumbprint);
    Ok(())
}
