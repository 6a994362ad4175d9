//! `certbound clients add | list | show | remove`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use certbound_core::AuthMethod;
use certbound_server::ServerError;
use certbound_server::clients::{
    ClientMetadata, ClientParameter, RegisteredClient, TokenFormat, generate_secret, hash_secret,
};
use certbound_store::Store;
use clap::{Args, Subcommand};

/// `certbound clients …`
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client.
    Add(Box<AddArgs>),
    /// List clients.
    List {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show one client's metadata as JSON.
    Show {
        /// The client id.
        id: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Remove a client.
    Remove {
        /// The client id.
        id: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Arguments of `clients add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Config file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// client_id.
    #[arg(long)]
    id: String,
    /// tls_client_auth, self_signed_tls_client_auth, client_secret_basic,
    /// client_secret_post, or none (a public client: a browser or native app).
    #[arg(long)]
    auth: AuthMethod,
    /// tls_client_auth_subject_dn (RFC 4514).
    #[arg(long)]
    subject_dn: Option<String>,
    /// tls_client_auth_san_dns.
    #[arg(long)]
    san_dns: Option<String>,
    /// tls_client_auth_san_uri.
    #[arg(long)]
    san_uri: Option<String>,
    /// tls_client_auth_san_ip.
    #[arg(long)]
    san_ip: Option<String>,
    /// tls_client_auth_san_email.
    #[arg(long)]
    san_email: Option<String>,
    /// JWK Set file with the client's certificate(s) in x5c (self_signed_tls_client_auth).
    #[arg(long)]
    jwks: Option<PathBuf>,
    /// The client's self-signed certificate, PEM (self_signed_tls_client_auth).
    #[arg(long)]
    cert: Vec<PathBuf>,
    /// Generate a client secret (implied by the client_secret_* methods).
    #[arg(long)]
    secret: bool,
    /// Scopes the client may request, space-separated.
    #[arg(long, default_value = "")]
    scope: String,
    /// `aud` of its tokens.
    #[arg(long)]
    audience: Option<String>,
    /// Issue opaque tokens (validated by introspection) instead of JWTs.
    #[arg(long)]
    opaque: bool,
    /// Do not bind tokens to the client certificate.
    #[arg(long)]
    no_bound_tokens: bool,
    /// Refuse token requests that come without a client certificate.
    #[arg(long)]
    require_bound_tokens: bool,
    /// May introspect any token and read the revocation list (for gateways
    /// and resource servers); without it a client introspects only tokens
    /// issued to it or naming it in `aud`.
    #[arg(long)]
    may_introspect: bool,
    /// Where authorization responses may go, matched exactly (repeatable):
    /// https, http on a loopback address, or an app's private scheme.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Grant types, comma-separated: authorization_code, refresh_token,
    /// client_credentials [default: client_credentials].
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    grant_types: Vec<String>,
    /// client_name, shown on the consent page.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// logo_uri, shown on the consent page (https).
    #[arg(long, value_name = "URI")]
    logo_uri: Option<String>,
    /// Issue a refresh token with every code redemption, even without the
    /// offline_access scope.
    #[arg(long)]
    always_refresh_token: bool,
}

/// Runs a `clients` subcommand.
pub async fn run(cmd: ClientsCommand) -> anyhow::Result<()> {
    match cmd {
        ClientsCommand::Add(args) => add(*args).await,
        ClientsCommand::List { config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            for stored in store.clients().await? {
                let client = RegisteredClient::from_stored(stored)?;
                println!(
                    "{}  {}  scope=\"{}\"{}",
                    client.client_id,
                    client.method,
                    client.scopes.join(" "),
                    if client.may_introspect {
                        "  may_introspect"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        ClientsCommand::Show { id, config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            let stored = store
                .client(&id)
                .await?
                .with_context(|| format!("no client '{id}'"))?;
            let client = RegisteredClient::from_stored(stored)?;
            let mut doc = serde_json::to_value(&client.metadata)?;
            doc["client_id"] = serde_json::json!(client.client_id);
            doc["has_secret"] = serde_json::json!(client.secret_hash.is_some());
            doc["may_introspect"] = serde_json::json!(client.may_introspect);
            // The browser-flow fields, present even when unset.
            let m = &client.metadata;
            doc["redirect_uris"] = serde_json::json!(m.redirect_uris);
            doc["client_name"] = serde_json::json!(m.client_name);
            doc["logo_uri"] = serde_json::json!(m.logo_uri);
            doc["always_issue_refresh_token"] = serde_json::json!(m.always_issue_refresh_token);
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(())
        }
        ClientsCommand::Remove { id, config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            if !store.delete_client(&id).await? {
                bail!("no client '{id}'");
            }
            println!("removed {id}");
            Ok(())
        }
    }
}

async fn add(args: AddArgs) -> anyhow::Result<()> {
    let mut m = ClientMetadata::new(args.auth);
    m.tls_client_auth_subject_dn = args.subject_dn;
    m.tls_client_auth_san_dns = args.san_dns;
    m.tls_client_auth_san_uri = args.san_uri;
    m.tls_client_auth_san_ip = args.san_ip;
    m.tls_client_auth_san_email = args.san_email;
    m.scope = args.scope;
    m.audience = args.audience;
    m.access_token_format = if args.opaque {
        TokenFormat::Opaque
    } else {
        TokenFormat::Jwt
    };
    m.tls_client_certificate_bound_access_tokens = !args.no_bound_tokens;
    m.require_certificate_bound_access_tokens = args.require_bound_tokens;
    m.may_introspect = args.may_introspect;
    if !args.grant_types.is_empty() {
        m.grant_types = args
            .grant_types
            .iter()
            .map(|g| g.trim().to_owned())
            .collect();
    }
    m.redirect_uris = args.redirect_uris;
    m.client_name = args.name;
    m.logo_uri = args.logo_uri;
    m.always_issue_refresh_token = args.always_refresh_token;
    m.jwks = match (&args.jwks, args.cert.is_empty()) {
        (Some(_), false) => bail!("give --jwks or --cert, not both"),
        (Some(path), true) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not a JSON JWK Set", path.display()))?,
            )
        }
        (None, false) => {
            let mut ders = Vec::new();
            for path in &args.cert {
                for cert in certbound_tls::pem::load_certificates(path)? {
                    ders.push(cert.to_vec());
                }
            }
            Some(ClientMetadata::jwks_from_certificates(&ders))
        }
        (None, true) => None,
    };
    if (args.jwks.is_some() || !args.cert.is_empty())
        && args.auth != AuthMethod::SelfSignedTlsClientAuth
    {
        bail!(
            "--jwks and --cert register self-signed certificates; use them with --auth self_signed_tls_client_auth"
        );
    }
    let secret = if args.auth.uses_secret() || args.secret {
        if args.auth == AuthMethod::None {
            bail!("--secret does not apply to --auth none: a public client has no secret");
        }
        if !args.auth.uses_secret() {
            bail!(
                "--secret applies to client_secret_basic and client_secret_post; {} clients authenticate with their certificate",
                args.auth
            );
        }
        Some(generate_secret()?)
    } else {
        None
    };
    let (config, store) = super::open_store(args.config.as_deref()).await?;
    if args.auth.uses_secret() && !config.clients.allow_client_secret {
        eprintln!(
            "warning: clients.allow_client_secret = false in this configuration; this client cannot authenticate until it is enabled"
        );
    }
    let client = match certbound_server::register_client(
        &store,
        &args.id,
        m,
        secret.as_deref().map(hash_secret),
    )
    .await
    {
        Ok(client) => client,
        Err(ServerError::InvalidClient(e)) => {
            let flag = flag_of(e.parameter);
            return Err(anyhow::Error::new(e).context(flag));
        }
        Err(e) => return Err(e.into()),
    };
    println!("registered {} ({})", client.client_id, client.method);
    if client.may_introspect {
        println!("may introspect any token and read the revocation list");
    }
    if let Some(secret) = secret {
        println!("client_secret: {secret}");
        println!("(shown once; only its hash is stored)");
    }
    Ok(())
}

/// The `clients add` flag that sets a metadata parameter, so a refusal
/// names what the operator typed.
fn flag_of(parameter: ClientParameter) -> &'static str {
    match parameter {
        ClientParameter::ClientId => "--id",
        ClientParameter::TokenEndpointAuthMethod => "--auth",
        ClientParameter::SubjectDn => "--subject-dn",
        ClientParameter::SanDns => "--san-dns",
        ClientParameter::SanUri => "--san-uri",
        ClientParameter::SanIp => "--san-ip",
        ClientParameter::SanEmail => "--san-email",
        ClientParameter::Jwks => "--jwks/--cert",
        ClientParameter::ClientSecret => "--secret",
        ClientParameter::Scope => "--scope",
        ClientParameter::GrantTypes => "--grant-types",
        ClientParameter::RequireCertificateBoundAccessTokens => "--require-bound-tokens",
        ClientParameter::RedirectUris => "--redirect-uri",
        ClientParameter::ClientName => "--name",
        ClientParameter::LogoUri => "--logo-uri",
        ClientParameter::MayIntrospect => "--may-introspect",
    }
}
