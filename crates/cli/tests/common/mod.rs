//! Shared by the CLI tests: run the built `certbound`, keep `certbound serve`
//! and `certbound gateway` processes alive, write configs, call with curl.

#![allow(dead_code, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use certbound_testkit::config::as_toml;
use certbound_testkit::{Curl, TestPki, run};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_certbound");

pub fn certbound(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(BIN).current_dir(dir).args(args))
}

/// `certbound clients add --config CFG ARGS…`, which must succeed; returns stdout.
pub fn add_client(dir: &Path, cfg: &str, args: &[&str]) -> String {
    let (code, out, err) = certbound(
        dir,
        &[&["clients", "add", "--config", cfg][..], args].concat(),
    );
    assert_eq!(code, 0, "clients add {args:?}: {out}{err}");
    out
}

/// `clients add` for a `tls_client_auth` client `id` matched by `CN=id`,
/// with `scope` and any `more` arguments.
pub fn add_tls_client(dir: &Path, cfg: &str, id: &str, scope: &str, more: &[&str]) -> String {
    let dn = format!("CN={id}");
    let mut args = vec!["--id", id, "--auth", "tls_client_auth", "--subject-dn", &dn];
    if !scope.is_empty() {
        args.extend(["--scope", scope]);
    }
    args.extend(more);
    add_client(dir, cfg, &args)
}

/// A `certbound serve` child process; killed on drop.
pub struct Serve {
    pub child: Child,
    pub lines: mpsc::Receiver<(bool, String)>,
    pub issuer: String,
    pub mtls: String,
    pub stdout_first_line: Option<String>,
    /// Every line printed until ready.
    pub startup: Vec<String>,
}

impl Serve {
    pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(dir, "serve", args, env, "certbound ready; issuer ")
    }

    /// Runs `certbound SUBCOMMAND ARGS…` until it prints `ready_prefix`; the
    /// rest of that line lands in `issuer`.
    pub fn spawn(
        dir: &Path,
        subcommand: &str,
        args: &[&str],
        env: &[(&str, &str)],
        ready_prefix: &str,
    ) -> Self {
        let mut child = Command::new(BIN)
            .current_dir(dir)
            .arg(subcommand)
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn certbound serve");
        let (tx, rx) = mpsc::channel::<(bool, String)>();
        if let Some(err) = child.stderr.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let _ = tx.send((false, line));
                }
            });
        }
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send((true, line));
                }
            });
        }
        let mut issuer = None;
        let mut mtls = String::new();
        let mut stdout_first_line = None;
        let mut seen = Vec::new();
        while let Ok((is_stdout, line)) = rx.recv_timeout(Duration::from_secs(30)) {
            if is_stdout {
                stdout_first_line.get_or_insert(line.clone());
            } else if let Some(rest) = line.strip_prefix("mtls listener ") {
                mtls = rest.to_owned();
            } else if let Some(rest) = line.strip_prefix(ready_prefix) {
                issuer = Some(rest.to_owned());
            }
            seen.push(line);
            if issuer.is_some() && (stdout_first_line.is_some() || !args.is_empty()) {
                break;
            }
        }
        let Some(issuer) = issuer else {
            let _ = child.kill();
            panic!("certbound serve did not become ready:\n{}", seen.join("\n"));
        };
        Self {
            child,
            lines: rx,
            issuer,
            mtls,
            stdout_first_line,
            startup: seen,
        }
    }

    /// SIGTERM, wait, and return every stderr line printed after start-up.
    pub fn terminate_collecting_stderr(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let mut out = Vec::new();
        while let Ok((is_stdout, line)) = self.lines.recv_timeout(Duration::from_secs(2)) {
            if !is_stdout {
                out.push(line);
            }
        }
        out
    }

    /// SIGTERM and wait; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let status = self.child.wait().ok();
        status.and_then(|s| s.code())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn curl(args: &[&str]) -> (i32, Value) {
    let out = Curl::new().args(args).run_blocking();
    let json = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|_| Value::String(format!("{}{}", out.stdout, out.stderr)));
    (out.code, json)
}

/// A new PKI and directory holding a `certbound.toml` (SQLite in that
/// directory) with `listeners`; the config's path as a string.
pub fn fresh_config(listeners: &str) -> (TestPki, tempfile::TempDir, String) {
    fresh_config_with(listeners, certbound_testkit::sqlite_url)
}

/// [`fresh_config`] with the storage URL that `storage` gives for the new
/// directory (a PostgreSQL test database ignores it).
pub fn fresh_config_with(
    listeners: &str,
    storage: impl FnOnce(&Path) -> String,
) -> (TestPki, tempfile::TempDir, String) {
    let pki = TestPki::new();
    let tmp = tempfile::tempdir().expect("tempdir");
    let storage = storage(tmp.path());
    let config = write_config(tmp.path(), &pki, &storage, listeners);
    let cfg = config.to_string_lossy().into_owned();
    (pki, tmp, cfg)
}

pub fn write_config(dir: &Path, pki: &TestPki, storage: &str, listeners: &str) -> PathBuf {
    write_config_named(dir, "certbound.toml", pki, "", storage, listeners)
}

pub fn write_config_named(
    dir: &Path,
    name: &str,
    pki: &TestPki,
    top: &str,
    storage: &str,
    listeners: &str,
) -> PathBuf {
    let path = dir.join(name);
    let text = format!("{top}\n{}", as_toml(pki, storage, listeners, ""));
    std::fs::write(&path, text).expect("write config");
    path
}

#[allow(unused_imports)]
pub use certbound_testkit::jwt_claims as claims;
