//! The one way tests run curl: never through a proxy from the environment,
//! with a time limit, optionally trusting a test CA and presenting a client
//! certificate. Async, because most servers under test run in the test's
//! own runtime; [`Curl::run_blocking`] is for servers in other processes.

use std::ffi::{OsStr, OsString};
use std::process::Output;

use serde_json::Value;

use crate::{TestIdentity, TestPki, require_tool};

/// A curl command line being built.
#[derive(Debug, Clone)]
pub struct Curl {
    args: Vec<OsString>,
}

/// What one curl run gave back.
#[derive(Debug, Clone)]
pub struct CurlOutput {
    /// curl's exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output (the body, and the status when [`Curl::status`] was asked for).
    pub stdout: String,
    /// Standard error (errors, and the headers when [`Curl::headers`] was asked for).
    pub stderr: String,
}

impl Default for Curl {
    fn default() -> Self {
        Self::new()
    }
}

impl Curl {
    /// `curl -sS --noproxy '*' --max-time 20`.
    pub fn new() -> Self {
        Self {
            args: ["-sS", "--noproxy", "*", "--max-time", "20"]
                .map(OsString::from)
                .to_vec(),
        }
    }

    /// Trusts the PKI's CA.
    pub fn ca(self, pki: &TestPki) -> Self {
        self.arg("--cacert").arg(pki.ca_path())
    }

    /// Presents `who`'s certificate when there is one.
    pub fn identity(self, who: Option<&TestIdentity>) -> Self {
        match who {
            Some(id) => self
                .arg("--cert")
                .arg(&id.cert_path)
                .arg("--key")
                .arg(&id.key_path),
            None => self,
        }
    }

    /// Appends the status code on its own last line of stdout.
    pub fn status(self) -> Self {
        self.arg("-w").arg("\n%{http_code}")
    }

    /// Dumps the response headers to stderr.
    pub fn headers(self) -> Self {
        self.arg("-D").arg("/dev/stderr")
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs curl in the test's runtime.
    pub async fn run(self) -> CurlOutput {
        let out = tokio::process::Command::new(require_tool("curl"))
            .args(&self.args)
            .output()
            .await
            .expect("spawn curl");
        CurlOutput::from(out)
    }

    /// Runs curl on this thread, for servers that run in another process.
    pub fn run_blocking(self) -> CurlOutput {
        let out = std::process::Command::new(require_tool("curl"))
            .args(&self.args)
            .output()
            .expect("spawn curl");
        CurlOutput::from(out)
    }
}

impl From<Output> for CurlOutput {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl CurlOutput {
    /// With [`Curl::status`]: the status code and the body before it.
    pub fn status_and_body(&self) -> (u16, &str) {
        let (body, status) = self.stdout.rsplit_once('\n').unwrap_or(("", "0"));
        (status.trim().parse().unwrap_or(0), body)
    }

    /// With [`Curl::headers`]: the first value of header `name`, lower-cased.
    pub fn header(&self, name: &str) -> String {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.stderr
            .to_ascii_lowercase()
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    }
}

/// A body as JSON: `Null` when empty, the text as a JSON string when not JSON.
pub fn json_or_text(body: &str) -> Value {
    if body.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}
