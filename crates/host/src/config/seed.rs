//! The seed's `config.json` (the Alibaba Cloud sample app server's), and policy files.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::config::env::config;
use stsvend::{Error, PolicyTemplate, SeedKey};

/// A seed-style `config.json`; the environment wins over every key.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SeedConfig {
    #[serde(rename = "AccessKeyID")]
    pub(crate) access_key_id: Option<String>,
    pub(crate) access_key_secret: Option<String>,
    pub(crate) role_arn: Option<String>,
    /// A string (`"900"`) in the seed, a number in some ports of it.
    pub(crate) token_expire_time: Option<Value>,
    pub(crate) policy_file: Option<String>,
    /// The folder `PolicyFile` is relative to.
    #[serde(skip)]
    pub(crate) dir: PathBuf,
}

impl SeedConfig {
    /// Reads `CONFIG_FILE`, when set.
    pub(crate) fn read(path: Option<&str>) -> Result<Self, Error> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| config("CONFIG_FILE", format!("cannot read {path}: {e}")))?;
        let mut seed: Self = serde_json::from_str(&text).map_err(|e| {
            config(
                "CONFIG_FILE",
                format!("{path} is not a valid config.json: {e}"),
            )
        })?;
        seed.dir = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Ok(seed)
    }

    /// A seed key's value, unless empty.
    pub(crate) fn text(value: &Option<String>) -> Option<String> {
        value.clone().filter(|v| !v.is_empty())
    }

    /// The seed's key, for the keyless chain to read after the environment's.
    pub(crate) fn key(&self) -> SeedKey {
        SeedKey {
            access_key_id: Self::text(&self.access_key_id),
            access_key_secret: Self::text(&self.access_key_secret),
        }
    }

    /// `TokenExpireTime` as the string it should have been.
    pub(crate) fn token_expire_time(&self) -> Result<Option<String>, Error> {
        match &self.token_expire_time {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(config("TokenExpireTime", "must be a number of seconds")),
        }
    }
}

/// Reads a policy template from `path`; a bundled template's name works without the file.
pub(crate) fn load_policy(
    variable: &'static str,
    path: &Path,
    as_given: &str,
) -> Result<PolicyTemplate, Error> {
    let unreadable =
        |e: std::io::Error| config(variable, format!("cannot read {}: {e}", path.display()));
    match std::fs::read_to_string(path) {
        Ok(text) => {
            PolicyTemplate::parse(as_given, &text).map_err(|e| config(variable, e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bundled_name = as_given.strip_prefix("policies/").unwrap_or(as_given);
            PolicyTemplate::bundled(bundled_name).ok_or_else(|| unreadable(e))
        }
        Err(e) => Err(unreadable(e)),
    }
}
