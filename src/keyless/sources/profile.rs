//! The profile files the official CLIs write, under `HOME` (or where the environment says):
//! the Alibaba Cloud CLI's `~/.aliyun/config.json`, the Alibaba profile file
//! `credentials.ini`, and AWS's shared credentials and config files. Keys are used as given;
//! an Alibaba `ecs_ram_role` profile names the instance's RAM role.
//!
//! # Reference
//! aliyun/credentials-python `provider/cli_profile.py` and `provider/profile.py`; botocore
//! `credentials.py` (`SharedCredentialProvider`, `ConfigProvider`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{CredentialSource, Variables, config, instance_metadata};
use crate::Credential;
use crate::Error;

/// `~/.aliyun/config.json`, unless `ALIBABA_CLOUD_CLI_PROFILE_DISABLED`: the profile
/// `ALIBABA_CLOUD_PROFILE`, else `current`.
pub(crate) fn aliyun_cli(env: Variables<'_>) -> Result<Option<CredentialSource>, Error> {
    let home = home(env);
    let cli_disabled = env.flag("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", false)?;
    match home.filter(|_| !cli_disabled) {
        Some(home) => aliyun_cli_profile(env, &home.join(".aliyun/config.json")),
        None => Ok(None),
    }
}

/// The profile file: `ALIBABA_CLOUD_CREDENTIALS_FILE`, else `~/.alibabacloud/credentials.ini`.
pub(crate) fn aliyun_credentials_file(
    env: Variables<'_>,
) -> Result<Option<CredentialSource>, Error> {
    let file = env
        .text("ALIBABA_CLOUD_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join(".alibabacloud/credentials.ini")));
    Ok(file
        .map(|f| aliyun_profile_file(env, &f))
        .transpose()?
        .flatten())
}

/// `~/.aliyun/config.json`: the profile `ALIBABA_CLOUD_PROFILE`, else `current`. Modes `AK`,
/// `StsToken` and `EcsRamRole` are read; another mode stops start-up (stsvend runs none of
/// the CLI's interactive or chained modes).
fn aliyun_cli_profile(env: Variables<'_>, path: &Path) -> Result<Option<CredentialSource>, Error> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let Ok(config_json) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    let name = env
        .text("ALIBABA_CLOUD_PROFILE")
        .or_else(|| config_json["current"].as_str().map(str::to_owned));
    let Some(profile) = config_json["profiles"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"].as_str() == name.as_deref()))
    else {
        return Ok(None);
    };
    let field = |key: &str| {
        profile[key]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let fields = [
        ("access_key_id", field("access_key_id")),
        ("access_key_secret", field("access_key_secret")),
        ("security_token", field("sts_token")),
        ("role_name", field("ram_role_name")),
    ];
    let mode = match profile["mode"].as_str() {
        Some("AK") => "access_key",
        Some("StsToken") => "sts_token",
        Some("EcsRamRole") => "ecs_ram_role",
        other => {
            return Err(config(
                "ALIBABA_CLOUD_PROFILE",
                format!(
                    "{}: mode {other:?} is not one stsvend reads (AK, StsToken, EcsRamRole)",
                    path.display()
                ),
            ));
        }
    };
    profile_source(env, mode, fields.into_iter().collect(), path)
}

/// `credentials.ini`: the section `ALIBABA_CLOUD_PROFILE`, else `default`; types
/// `access_key` and `ecs_ram_role` are read.
fn aliyun_profile_file(env: Variables<'_>, path: &Path) -> Result<Option<CredentialSource>, Error> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let name = env
        .text("ALIBABA_CLOUD_PROFILE")
        .unwrap_or_else(|| "default".to_owned());
    let Some(section) = ini_sections(&text).remove(&name) else {
        return Ok(None);
    };
    let mode = section.get("type").cloned().unwrap_or_default();
    let fields = ["access_key_id", "access_key_secret", "role_name"]
        .into_iter()
        .map(|key| (key, section.get(key).cloned().filter(|v| !v.is_empty())))
        .collect();
    profile_source(env, &mode, fields, path)
}

/// A profile's key or role, as read from `path`.
fn profile_source(
    env: Variables<'_>,
    mode: &str,
    mut fields: BTreeMap<&str, Option<String>>,
    path: &Path,
) -> Result<Option<CredentialSource>, Error> {
    let mut take = |key: &str| fields.get_mut(key).and_then(Option::take);
    let origin = path.display().to_string();
    match mode {
        "access_key" | "sts_token" => {
            let (Some(id), Some(secret)) = (take("access_key_id"), take("access_key_secret"))
            else {
                return Err(config(
                    "ALIBABA_CLOUD_PROFILE",
                    format!("{origin}: the profile has no access_key_id and access_key_secret"),
                ));
            };
            let token = take("security_token");
            Ok(Some(CredentialSource::Static {
                credential: Credential::new(id, secret, token),
                origin,
            }))
        }
        "ecs_ram_role" => Ok(Some(CredentialSource::AliyunEcsRamRole {
            endpoint: instance_metadata::aliyun_endpoint(env)?,
            role: take("role_name"),
        })),
        other => Err(config(
            "ALIBABA_CLOUD_PROFILE",
            format!("{origin}: type {other:?} is not one stsvend reads (access_key, ecs_ram_role)"),
        )),
    }
}

/// The shared credentials file, then the config file, for `AWS_PROFILE` (else `default`):
/// static keys only (botocore's role, SSO and process profiles are not run by stsvend).
pub(crate) fn aws_shared_files(env: Variables<'_>) -> Result<Option<CredentialSource>, Error> {
    let home = home(env);
    let profile = env
        .text("AWS_PROFILE")
        .unwrap_or_else(|| "default".to_owned());
    let files = [
        (
            env.text("AWS_SHARED_CREDENTIALS_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials"))),
            profile.clone(),
        ),
        (
            env.text("AWS_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws/config"))),
            if profile == "default" {
                profile.clone()
            } else {
                format!("profile {profile}")
            },
        ),
    ];
    for (path, section) in files {
        let Some(text) = path.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) else {
            continue;
        };
        let Some(mut keys) = ini_sections(&text).remove(&section) else {
            continue;
        };
        if let (Some(id), Some(secret)) = (
            keys.remove("aws_access_key_id"),
            keys.remove("aws_secret_access_key"),
        ) {
            let origin = path.map(|p| p.display().to_string()).unwrap_or_default();
            return Ok(Some(CredentialSource::Static {
                credential: Credential::new(id, secret, keys.remove("aws_session_token")),
                origin,
            }));
        }
    }
    Ok(None)
}

/// `HOME`, as the official SDKs find the profile files.
fn home(env: Variables<'_>) -> Option<PathBuf> {
    env.text("HOME").map(PathBuf::from)
}

/// An INI file's sections: `[name]` then `key = value` lines; `#` and `;` start comments.
fn ini_sections(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim().to_owned());
            sections.entry(name.trim().to_owned()).or_default();
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.trim().to_owned(), value.trim().to_owned());
        }
    }
    sections
}
