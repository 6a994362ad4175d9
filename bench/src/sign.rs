//! `certbound-bench sign`: the cost of one access-token signature on this
//! machine, made the way the token endpoint makes it (`certbound-jose`'s
//! `JwsSigner` over RFC 9068 claims with `cnf.x5t#S256`).
//!
//! A token endpoint spends at least this plus what a bare TLS server spends
//! per request, so the two together bound how close to the TLS ceiling any
//! endpoint signing with this algorithm can come.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use certbound_core::{AccessTokenClaims, Confirmation, Thumbprint};
use certbound_jose::JwsSigner;
use clap::{Args, ValueEnum};
use jsonwebtoken::Algorithm;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use serde::Serialize;

use crate::error::{BenchError, Result};
use crate::load::parse_secs;
use crate::output::Format;

/// The signing algorithms certbound offers whose keys ring can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignAlg {
    /// ECDSA P-256 with SHA-256 (certbound's default).
    Es256,
    /// Ed25519.
    Eddsa,
}

/// Options of `certbound-bench sign`.
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The algorithm to sign with (a fresh key each run).
    #[arg(long, value_enum, default_value_t = SignAlg::Es256)]
    pub alg: SignAlg,
    /// Sign for this many seconds (max 600).
    #[arg(short = 'd', long, default_value_t = 1.0, value_parser = parse_secs)]
    pub duration: f64,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// What a signing run measured.
#[derive(Debug, Clone, Serialize)]
pub struct SignReport {
    /// The JWS `alg`.
    pub alg: String,
    /// Tokens signed.
    pub signatures: u64,
    /// Wall time spent signing, seconds (one thread).
    pub duration_secs: f64,
    /// Microseconds per signed token: claims to JSON, base64url, signature.
    pub us_per_signature: f64,
    /// Length of one signed token, bytes.
    pub token_bytes: usize,
}

/// Signs access tokens back to back on this thread for `args.duration`.
pub fn run(args: &SignArgs) -> Result<SignReport> {
    let signer = signer(args.alg)?;
    let now = 1_790_000_000;
    let claims = AccessTokenClaims {
        iss: "https://as.example.com".into(),
        sub: "bench-client".into(),
        aud: "https://as.example.com".into(),
        exp: now + 3600,
        iat: now,
        jti: "3f1c2a9e0b7d4c6f8a5e1d2c3b4a5968".into(),
        client_id: "bench-client".into(),
        scope: Some("read".into()),
        cnf: Some(Confirmation::for_thumbprint(Thumbprint::of_der(
            b"a certificate's DER",
        ))),
    };
    let sign = || {
        signer
            .sign_claims(&claims)
            .map_err(|e| BenchError::Sign(e.to_string()))
    };
    let token_bytes = sign()?.len();
    let limit = Duration::from_secs_f64(args.duration);
    let start = Instant::now();
    let mut signatures = 0u64;
    while start.elapsed() < limit {
        std::hint::black_box(sign()?);
        signatures += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(SignReport {
        alg: format!("{:?}", signer.algorithm()),
        signatures,
        duration_secs: (secs * 1000.0).round() / 1000.0,
        us_per_signature: if signatures > 0 {
            (secs * 1e6 / signatures as f64 * 100.0).round() / 100.0
        } else {
            0.0
        },
        token_bytes,
    })
}

/// A signer over a freshly generated key.
fn signer(alg: SignAlg) -> Result<JwsSigner> {
    let rng = SystemRandom::new();
    let (alg, pkcs8) = match alg {
        SignAlg::Es256 => (
            Algorithm::ES256,
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng),
        ),
        SignAlg::Eddsa => (Algorithm::EdDSA, Ed25519KeyPair::generate_pkcs8(&rng)),
    };
    let pkcs8 = pkcs8.map_err(|_| BenchError::Sign("ring could not generate a key".into()))?;
    JwsSigner::from_pkcs8_der(alg, pkcs8.as_ref(), "bench")
        .and_then(|s| s.with_typ("at+jwt"))
        .map_err(|e| BenchError::Sign(e.to_string()))
}

impl SignReport {
    /// The report as one line for a terminal.
    pub fn table(&self) -> String {
        format!(
            "{}: {} tokens signed in {:.3} s, {:.2} µs each ({} bytes)\n",
            self.alg, self.signatures, self.duration_secs, self.us_per_signature, self.token_bytes
        )
    }
}

/// Prints the report and writes `--output`.
pub fn emit(report: &SignReport, format: Format, output: Option<&std::path::Path>) -> Result<()> {
    crate::output::emit(report, || report.table(), format, output)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn signs_tokens_with_each_algorithm() {
        for (alg, name) in [(SignAlg::Es256, "ES256"), (SignAlg::Eddsa, "EdDSA")] {
            let report = run(&SignArgs {
                alg,
                duration: 0.05,
                format: Format::Json,
                output: None,
            })
            .unwrap();
            assert_eq!(report.alg, name);
            assert!(report.signatures > 0, "{report:?}");
            assert!(report.us_per_signature > 0.0, "{report:?}");
            assert!(report.token_bytes > 300, "{report:?}");
        }
    }

    #[test]
    fn tokens_carry_the_access_token_header() {
        for (alg, want) in [
            (SignAlg::Es256, Algorithm::ES256),
            (SignAlg::Eddsa, Algorithm::EdDSA),
        ] {
            let signer = signer(alg).unwrap();
            let token = signer
                .sign_claims(&serde_json::json!({"sub": "x"}))
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.alg, want);
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            assert_eq!(token.split('.').count(), 3);
        }
    }
}
