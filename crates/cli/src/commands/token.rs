//! `certbound token`: a real RFC 8705 client: discover, use the mTLS alias,
//! authenticate with the certificate, print the response.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use certbound_client::OAuthClient;
use clap::Args;
use serde_json::Value;

/// Arguments of `certbound token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Authorization server, identity and client.
    #[command(flatten)]
    client: super::client_args::ClientArgs,
    /// Also print the decoded JWT header and claims (not verified).
    #[arg(long)]
    decode: bool,
}

/// Gets and prints a token.
pub async fn run(args: TokenArgs) -> anyhow::Result<()> {
    let tls = args.client.tls()?;
    eprintln!("discovering {}", args.client.as_url);
    let client = OAuthClient::discover(&args.client.as_url, &tls).await?;
    let endpoint = client.mtls_token_endpoint().to_owned();
    eprintln!("requesting a token at {endpoint}");
    let token = client
        .client_credentials(&args.client.client_id, args.client.scope.as_deref())
        .await?;
    let mut out = token.raw.clone();
    if args.decode {
        let parts: Vec<&str> = token.access_token.split('.').collect();
        if parts.len() == 3 {
            let decode = |s: &str| -> anyhow::Result<Value> {
                let bytes = URL_SAFE_NO_PAD
                    .decode(s)
                    .context("token segment is not base64url")?;
                Ok(serde_json::from_slice(&bytes)?)
            };
            out["decoded"] =
                serde_json::json!({ "header": decode(parts[0])?, "claims": decode(parts[1])? });
        } else {
            out["decoded"] = serde_json::json!("opaque token: use introspection to see its claims");
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
