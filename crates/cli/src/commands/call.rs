//! `certbound call`: get a certificate-bound token and call a protected
//! resource with it over the same TLS identity, like curl.

use std::io::{Read, Write};

use anyhow::{Context, anyhow, bail};
use certbound_client::header::{self, HeaderName, HeaderValue};
use certbound_client::{CertboundClient, Method, ResourceRequest};
use clap::Args;

/// Arguments of `certbound call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// Authorization server, identity and client.
    #[command(flatten)]
    client: super::client_args::ClientArgs,
    /// HTTP method (default GET, or POST with --data).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Request body, sent as is; `@FILE` reads a file, `@-` standard input.
    #[arg(short = 'd', long = "data", value_name = "BODY")]
    data: Option<String>,
    /// Extra request header `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    /// URL of the protected resource (https).
    url: String,
}

/// Gets a token, sends the request, prints the status line to stderr and
/// the body to stdout; fails unless the status is 2xx.
pub async fn run(args: CallArgs) -> anyhow::Result<()> {
    let method = method(args.method.as_deref(), args.data.is_some())?;
    let mut request = ResourceRequest::new(method.clone(), args.url.clone());
    let mut has_content_type = false;
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        if name == header::AUTHORIZATION {
            eprintln!("ignoring -H {name}: the bound access token is sent instead");
            continue;
        }
        has_content_type |= name == header::CONTENT_TYPE;
        request = request.header(name, value);
    }
    if let Some(data) = &args.data {
        if !has_content_type {
            request = request.header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        request = request.body(body(data)?);
    }

    let tls = args.client.tls()?;
    let mut builder = CertboundClient::builder(&args.client.as_url, &args.client.client_id, tls);
    if let Some(scope) = &args.client.scope {
        builder = builder.scope(scope);
    }
    let client = builder.build()?;

    eprintln!("discovering {}", args.client.as_url);
    let endpoint = client.token_endpoint().await.map_err(|e| {
        anyhow!("{e}; check --as-url and --cacert, and that the authorization server is running")
    })?;
    eprintln!("requesting a token at {endpoint}");
    client.token().await.context("getting an access token")?;

    eprintln!("{method} {}", args.url);
    let mut response = client
        .send(request)
        .await
        .with_context(|| format!("calling {}", args.url))?;
    let status = response.status();
    eprintln!("{:?} {status}", response.version());
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut stdout = std::io::stdout();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("reading the response from {}", args.url))?
    {
        stdout
            .write_all(&chunk)
            .context("writing the response body")?;
    }
    stdout.flush().context("writing the response body")?;
    if !status.is_success() {
        match challenge {
            Some(c) => bail!("{method} {} answered {status} ({c})", args.url),
            None => bail!("{method} {} answered {status}", args.url),
        }
    }
    Ok(())
}

/// `-X`, else POST with a body and GET without.
fn method(explicit: Option<&str>, has_body: bool) -> anyhow::Result<Method> {
    match explicit {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
            anyhow!("-X {m:?} is not an HTTP method; use e.g. GET, POST, PUT, DELETE")
        }),
        None if has_body => Ok(Method::POST),
        None => Ok(Method::GET),
    }
}

/// `-H 'Name: value'`.
fn parse_header(raw: &str) -> anyhow::Result<(HeaderName, HeaderValue)> {
    let bad = || anyhow!("-H {raw:?} is not a header; use -H 'Name: value'");
    let (name, value) = raw.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

/// `-d`: the text itself, `@-` for standard input or `@FILE`.
fn body(data: &str) -> anyhow::Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading the body from standard input")?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path).with_context(|| format!("reading the body from {path}")),
        None => Ok(data.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_headers() {
        assert!(matches!(method(None, false), Ok(m) if m == Method::GET));
        assert!(matches!(method(None, true), Ok(m) if m == Method::POST));
        assert!(matches!(method(Some("put"), false), Ok(m) if m == Method::PUT));
        assert!(method(Some("no good"), false).is_err());
        assert!(matches!(
            parse_header("X-Trace:  abc "),
            Ok((n, v)) if n == "x-trace" && v == "abc"
        ));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert!(matches!(body("a=1"), Ok(b) if b == b"a=1"));
        assert!(body("@/nonexistent/certbound-body").is_err());
    }
}
