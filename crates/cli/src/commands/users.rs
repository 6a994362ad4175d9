//! `certbound users add | list | show | passwd | disable | enable | remove`.
//!
//! A password is never an argument (it would land in shell history and in
//! `ps`): it is typed twice at a terminal without echo, or read as one line
//! from stdin with `--password-stdin`.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{Context, bail};
use certbound_server::ServerError;
use certbound_server::users::{self, NewUser, UserField};
use certbound_store::{StoredUser, UserStore};
use clap::{Args, Subcommand};

/// `certbound users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user who can sign in (the password is prompted for, or read from stdin).
    Add(AddArgs),
    /// List users: username, name, email, disabled.
    List {
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show one user as JSON (everything but the password hash).
    Show {
        /// The username.
        username: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Set a user's password.
    Passwd {
        /// The username.
        username: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Read the password as one line from stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: no sign-in, and their refresh tokens stop working.
    Disable {
        /// The username.
        username: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Enable a disabled user again.
    Enable {
        /// The username.
        username: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Remove a user, their consents and their grants.
    Remove {
        /// The username.
        username: String,
        /// Config file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Arguments of `users add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Config file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Login name: 1-64 characters, no spaces.
    #[arg(long)]
    username: String,
    /// Display name.
    #[arg(long)]
    name: Option<String>,
    /// Email address.
    #[arg(long)]
    email: Option<String>,
    /// Read the password as one line from stdin instead of prompting.
    #[arg(long)]
    password_stdin: bool,
}

/// Runs a `users` subcommand.
pub async fn run(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Add(args) => {
            refuse_prompt_without_terminal(args.password_stdin)?;
            let (_, store) = super::open_store(args.config.as_deref()).await?;
            let password = read_password(args.password_stdin)?;
            let new = NewUser {
                username: args.username,
                display_name: args.name,
                email: args.email,
                password,
            };
            let user = users::add_user(&store, new).await.map_err(with_flag)?;
            println!("added {} (user_id {})", user.username, user.user_id);
        }
        UsersCommand::List { config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            print!("{}", table(&store.users().await?));
        }
        UsersCommand::Show { username, config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            let user = users::find_user(&store, &username).await?;
            let doc = serde_json::json!({
                "user_id": user.user_id,
                "username": user.username,
                "display_name": user.display_name,
                "email": user.email,
                "disabled": user.disabled,
                "created_at": user.created_at,
                "updated_at": user.updated_at,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        UsersCommand::Passwd {
            username,
            config,
            password_stdin,
        } => {
            refuse_prompt_without_terminal(password_stdin)?;
            let (_, store) = super::open_store(config.as_deref()).await?;
            // Say "no such user" before asking for a password.
            let user = users::find_user(&store, &username).await?;
            let password = read_password(password_stdin)?;
            users::set_password(&store, &user.username, &password)
                .await
                .map_err(with_flag)?;
            println!("password changed for {}", user.username);
        }
        UsersCommand::Disable { username, config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            let user = users::set_disabled(&store, &username, true).await?;
            println!(
                "disabled {}: no sign-in, refresh tokens refused",
                user.username
            );
        }
        UsersCommand::Enable { username, config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            let user = users::set_disabled(&store, &username, false).await?;
            println!("enabled {}", user.username);
        }
        UsersCommand::Remove { username, config } => {
            let (_, store) = super::open_store(config.as_deref()).await?;
            let user = users::remove_user(&store, &username).await?;
            println!("removed {} (user_id {})", user.username, user.user_id);
        }
    }
    Ok(())
}

/// Puts the flag that set a refused field in front of the message.
fn with_flag(e: ServerError) -> anyhow::Error {
    match e {
        ServerError::InvalidUser(invalid) => {
            let flag = match invalid.field {
                UserField::Username => "--username",
                UserField::DisplayName => "--name",
                UserField::Email => "--email",
                // The message starts with "password" already.
                UserField::Password => return invalid.into(),
            };
            anyhow::Error::new(invalid).context(flag)
        }
        // The message says it all; the driver's unique-violation text would
        // only repeat it.
        taken @ ServerError::UserExists { .. } => anyhow::anyhow!("{taken}"),
        other => other.into(),
    }
}

/// The password: one line of stdin with `--password-stdin`, else typed twice
/// at the terminal without echo. Refuses a non-terminal stdin without the
/// flag, so a script never hangs on a prompt or feeds a password by accident.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let password = line
            .strip_suffix('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or(&line);
        if password.is_empty() {
            bail!("--password-stdin: stdin held no password; write it as one line");
        }
        return Ok(password.to_owned());
    }
    refuse_prompt_without_terminal(false)?;
    let first = rpassword::prompt_password("Password: ").context("reading the password")?;
    let second = rpassword::prompt_password("Repeat password: ").context("reading the password")?;
    if first != second {
        bail!("the two passwords differ; nothing changed, try again");
    }
    Ok(first)
}

/// Without `--password-stdin` the password is prompted for, which needs a
/// terminal; checked before anything else so nothing is opened or asked.
fn refuse_prompt_without_terminal(from_stdin: bool) -> anyhow::Result<()> {
    if !from_stdin && !std::io::stdin().is_terminal() {
        bail!(
            "stdin is not a terminal, so the password cannot be prompted for; pass --password-stdin and write the password to stdin"
        );
    }
    Ok(())
}

/// `users list`: aligned columns with a header; `-` for an absent field.
fn table(users: &[StoredUser]) -> String {
    let rows: Vec<[String; 4]> = users
        .iter()
        .map(|u| {
            [
                u.username.clone(),
                u.display_name.clone().unwrap_or_else(|| "-".into()),
                u.email.clone().unwrap_or_else(|| "-".into()),
                if u.disabled { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    let header = ["USERNAME", "NAME", "EMAIL", "DISABLED"].map(String::from);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
