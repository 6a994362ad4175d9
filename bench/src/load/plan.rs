//! The command line turned into a checked plan: target, TLS connector,
//! limits and the request every worker sends.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::Full;
use tokio_rustls::TlsConnector;

use super::LoadArgs;
use super::cpu::Watched;
use crate::error::{BenchError, Result};
use crate::target::Target;
use crate::tls::{Identity, client_config};

/// What one load run does; shared read-only by every worker.
pub struct Plan {
    /// Where requests go.
    pub target: Target,
    /// The TLS client, for https targets.
    pub connector: Option<TlsConnector>,
    /// Number of workers.
    pub concurrency: u32,
    /// Measuring stops after this long, if given.
    pub duration: Option<Duration>,
    /// Measuring stops after this many requests, if given.
    pub requests: Option<u64>,
    /// Unmeasured load before measuring.
    pub warmup: Duration,
    /// With `--rate`: requests per second, all workers together.
    pub rate: Option<f64>,
    /// Per-request limit.
    pub timeout: Duration,
    /// A fresh connection per request.
    pub new_connection: bool,
    /// The request sent.
    pub request: RequestTemplate,
    /// With `--forms-file`: the bodies, each sent once, in order.
    pub forms: Option<Vec<Bytes>>,
    /// The status counted as success.
    pub expect_status: StatusCode,
    /// Processes whose CPU time the report gives per request.
    pub cpu_of: Vec<Watched>,
}

/// The request every worker sends, cloned per request.
pub struct RequestTemplate {
    /// Method.
    pub method: Method,
    /// Origin-form target.
    pub path: Uri,
    /// Every header, `Host` included.
    pub headers: HeaderMap,
    /// Body (empty for none).
    pub body: Bytes,
}

impl RequestTemplate {
    /// A fresh request ready to send, with `body` instead of the template's if given.
    pub fn build(&self, body: Option<&Bytes>) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(body.unwrap_or(&self.body).clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.path.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

fn usage(msg: impl Into<String>) -> BenchError {
    BenchError::Usage(msg.into())
}

impl Plan {
    /// Checks the options, resolves the target (loopback only) and loads TLS files.
    pub fn from_args(args: &LoadArgs) -> Result<Self> {
        if args.duration.is_none() && args.requests.is_none() {
            return Err(usage(
                "give --duration SECS and/or --requests N to say when to stop",
            ));
        }
        let target = Target::parse(&args.url)?;
        let connector = if target.tls {
            let cacert = args
                .cacert
                .as_deref()
                .ok_or_else(|| usage("an https:// URL needs --cacert PEM to trust the server"))?;
            let identity = match (&args.cert, &args.key) {
                (Some(cert), Some(key)) => Some(Identity { cert, key }),
                _ => None,
            };
            // Keep-alive reconnects may resume; new-connection mode measures
            // full handshakes only.
            let config = client_config(cacert, identity, !args.new_connection)?;
            Some(TlsConnector::from(config))
        } else {
            if args.cert.is_some() || args.cacert.is_some() {
                return Err(usage(
                    "--cert/--key/--cacert apply to https:// URLs only; this URL is http://",
                ));
            }
            None
        };
        let expect_status = StatusCode::from_u16(args.expect_status).map_err(|_| {
            usage(format!(
                "--expect-status {} is not an HTTP status",
                args.expect_status
            ))
        })?;
        let forms = args.forms_file.as_deref().map(read_forms).transpose()?;
        Ok(Self {
            request: request_template(args, &target)?,
            forms,
            target,
            connector,
            concurrency: args.concurrency,
            duration: args.duration.map(Duration::from_secs_f64),
            requests: args.requests,
            warmup: Duration::from_secs_f64(args.warmup),
            rate: args.rate,
            timeout: Duration::from_secs_f64(args.timeout),
            new_connection: args.new_connection,
            expect_status,
            cpu_of: args
                .cpu_of
                .iter()
                .map(|&pid| Watched::new(pid))
                .collect::<Result<_>>()?,
        })
    }

    /// "keep-alive" or "new-connection".
    pub fn mode(&self) -> &'static str {
        if self.new_connection {
            "new-connection"
        } else {
            "keep-alive"
        }
    }
}

/// Method, headers and body from the options.
fn request_template(args: &LoadArgs, target: &Target) -> Result<RequestTemplate> {
    // With --forms-file every request brings its own body; the template's stays empty.
    let no_body = String::new();
    let body = match (&args.form, &args.json, &args.forms_file) {
        (Some(form), _, _) => Some(("application/x-www-form-urlencoded", form)),
        (None, Some(json), _) => Some(("application/json", json)),
        (None, None, Some(_)) => Some(("application/x-www-form-urlencoded", &no_body)),
        (None, None, None) => None,
    };
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| usage(format!("--method '{m}' is not an HTTP method")))?,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    let mut headers = HeaderMap::new();
    headers.insert(HOST, header_value("Host", &target.host_header)?);
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("certbound-bench/", env!("CARGO_PKG_VERSION"))),
    );
    if let Some((content_type, _)) = body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(token) = bearer_token(args)? {
        headers.insert(
            AUTHORIZATION,
            header_value("bearer token", &format!("Bearer {token}"))?,
        );
    }
    if args.new_connection {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    // The first --header of a name replaces any default; later ones add to it.
    let mut seen = HashSet::new();
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        if seen.insert(name.clone()) {
            headers.insert(name, value);
        } else {
            headers.append(name, value);
        }
    }
    Ok(RequestTemplate {
        method,
        path: target.path.clone(),
        headers,
        body: body.map_or_else(Bytes::new, |(_, b)| Bytes::from(b.clone())),
    })
}

/// The non-empty lines of a `--forms-file` (a trailing `\r` dropped), in order.
fn read_forms(path: &Path) -> Result<Vec<Bytes>> {
    let data = Bytes::from(std::fs::read(path).map_err(|source| BenchError::ReadFile {
        path: path.to_owned(),
        source,
    })?);
    let mut forms = Vec::new();
    let mut start = 0;
    for end in (0..data.len())
        .filter(|&i| data[i] == b'\n')
        .chain(std::iter::once(data.len()))
    {
        let mut line = data.slice(start..end);
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        if !line.is_empty() {
            forms.push(line);
        }
        start = end + 1;
    }
    if forms.is_empty() {
        return Err(usage(format!(
            "--forms-file {} holds no form body (one per line)",
            path.display()
        )));
    }
    Ok(forms)
}

/// The token of --bearer or --bearer-file, if any.
fn bearer_token(args: &LoadArgs) -> Result<Option<String>> {
    let token = match (&args.bearer, &args.bearer_file) {
        (Some(token), _) => token.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|source| BenchError::ReadFile {
                path: path.clone(),
                source,
            })?
            .trim()
            .to_owned(),
        (None, None) => return Ok(None),
    };
    if token.is_empty() {
        return Err(usage("the bearer token is empty"));
    }
    Ok(Some(token))
}

fn header_value(what: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|_| {
        usage(format!(
            "{what} holds characters not allowed in a header value"
        ))
    })
}

/// `Name: value` as a header.
fn parse_header(raw: &str) -> Result<(HeaderName, HeaderValue)> {
    let (name, value) = raw
        .split_once(':')
        .ok_or_else(|| usage(format!("--header '{raw}' must look like 'Name: value'")))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
        usage(format!(
            "--header '{raw}': '{}' is not a header name",
            name.trim()
        ))
    })?;
    Ok((
        name,
        header_value(&format!("--header '{raw}'"), value.trim())?,
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse() {
        let (n, v) = parse_header("X-Test:  a b ").unwrap();
        assert_eq!(n.as_str(), "x-test");
        assert_eq!(v, "a b");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(parse_header("X: a\nb").is_err());
    }

    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        load: LoadArgs,
    }

    fn plan(args: &[&str]) -> Result<Plan> {
        use clap::Parser;
        let cmd = Cmd::try_parse_from(std::iter::once("load").chain(args.iter().copied())).unwrap();
        Plan::from_args(&cmd.load)
    }

    #[test]
    fn builds_the_request() {
        let p = plan(&[
            "--url",
            "http://127.0.0.1:9/t",
            "-n",
            "1",
            "--form",
            "a=b",
            "--bearer",
            "tok",
            "-H",
            "X-A: 1",
            "-H",
            "X-A: 2",
            "-H",
            "content-type: text/plain",
            "--new-connection",
        ])
        .unwrap();
        let req = p.request.build(None);
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "/t");
        let h = req.headers();
        assert_eq!(h[HOST], "127.0.0.1:9");
        assert_eq!(h[AUTHORIZATION], "Bearer tok");
        assert_eq!(h[CONNECTION], "close");
        assert_eq!(h[CONTENT_TYPE], "text/plain");
        assert_eq!(h.get_all("x-a").iter().count(), 2);
        assert_eq!(p.mode(), "new-connection");

        let args = [
            "--url",
            "http://127.0.0.1:9/",
            "-d",
            "1",
            "--json",
            "{}",
            "-X",
            "put",
        ];
        let req = plan(&args).unwrap().request.build(None);
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(req.headers()[CONTENT_TYPE], "application/json");
        assert!(req.headers().get(CONNECTION).is_none());
    }

    #[test]
    fn refuses_bad_combinations() {
        for args in [
            &["--url", "http://127.0.0.1:9/"][..],
            &["--url", "https://127.0.0.1:9/", "-n", "1"],
            &[
                "--url",
                "http://127.0.0.1:9/",
                "-n",
                "1",
                "--cacert",
                "x.pem",
            ],
            &[
                "--url",
                "http://127.0.0.1:9/",
                "-n",
                "1",
                "--expect-status",
                "1000",
            ],
            &["--url", "http://127.0.0.1:9/", "-n", "1", "--bearer", " "],
        ] {
            let err = plan(args).err().expect("refused");
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
    }
}
