//! Reading a configuration file (`certbound.toml`, `gateway.toml`): the
//! text, environment overrides on top, and errors that name the key and the
//! file, or the variable that set the key.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::TlsError;
use crate::overrides::{EnvOverrides, apply_env_overrides};

/// Why a configuration file cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{} is not valid TOML: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Parser message with line and column.
        message: String,
    },
    /// A key has a wrong type, is unknown, or is missing.
    #[error("{}: key `{key}`: {message}", .path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Dotted key path, e.g. `listeners.mtls.addr`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// An environment override cannot be applied, or set a value that is wrong.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable, e.g. `CERTBOUND_LISTENERS__MTLS__ADDR`.
        var: String,
        /// What is wrong (naming the key it set) and what to set instead.
        message: String,
    },
}

/// A configuration file's TOML table with the environment's overrides
/// applied, and what it needs to blame the right place for a bad key.
#[derive(Debug)]
pub struct ConfigSource {
    path: PathBuf,
    /// The merged table, to deserialise.
    pub table: toml::Table,
    overrides: EnvOverrides,
}

impl ConfigSource {
    /// Reads `path` as text.
    pub fn read(path: &Path) -> Result<String, ConfigError> {
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })
    }

    /// Parses `text` (as read from `path`) and applies every variable in
    /// `env` named `prefix` + one of `sections` (see [`apply_env_overrides`]).
    pub fn parse(
        text: &str,
        path: &Path,
        prefix: &str,
        sections: &[&str],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            path: path.to_owned(),
            message: message.trim().to_owned(),
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let overrides =
            apply_env_overrides(&mut table, prefix, sections, env).map_err(|e| match e {
                TlsError::Override { var, message } => ConfigError::Env { var, message },
                other => syntax(other.to_string()),
            })?;
        Ok(Self {
            path: path.to_owned(),
            table,
            overrides,
        })
    }

    /// Whether no environment variable changed the file's settings.
    pub fn has_overrides(&self) -> bool {
        !self.overrides.is_empty()
    }

    /// The file this came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The error for a bad `key`: blames the variable that set it, if one
    /// did, else the file.
    pub fn key_error(&self, key: String, message: String) -> ConfigError {
        match self.overrides.variable_for(&key) {
            Some(var) => ConfigError::Env {
                var: var.to_owned(),
                message: format!("key `{key}`: {message}"),
            },
            None => ConfigError::Key {
                path: self.path.clone(),
                key,
                message,
            },
        }
    }
}
