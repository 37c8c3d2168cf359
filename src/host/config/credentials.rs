//! Which source the function's own credentials come from, chosen at cold start the way each
//! provider's official default chain chooses, and validated with messages that name the
//! variable.
//!
//! Alibaba Cloud, as `alibabacloud_credentials`' `DefaultCredentialsProvider`: the environment
//! key (then the seed's `AccessKeyID`), RRSA, the CLI profile (`~/.aliyun/config.json`), the
//! profile file (`ALIBABA_CLOUD_CREDENTIALS_FILE`, `~/.alibabacloud/credentials.ini`), the
//! ECS RAM role, the credentials URI. AWS, as botocore's `create_credential_resolver`: the
//! environment key, web identity, the shared credentials file, the config file, container
//! credentials, instance metadata. The README says where stsvend differs and why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::env::{Env, config};
use super::seed::SeedConfig;
use crate::credential::Credential;
use crate::error::Error;
use crate::sign::aliyun::metadata as ecs;
use crate::sign::aws::metadata as imds;
use crate::vend::credentials::{Authorization, CredentialSource, TokenExchange};

/// The variables that name a source, for the message when none does.
const ALIYUN_HINT: &str = "is required: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or RRSA's ALIBABA_CLOUD_OIDC_TOKEN_FILE, ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_PROVIDER_ARN, or ALIBABA_CLOUD_ECS_METADATA (the instance RAM role), or ALIBABA_CLOUD_CREDENTIALS_URI (or AccessKeyID in CONFIG_FILE)";

/// The same for AWS.
const AWS_HINT: &str = "is required: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI, or leave AWS_EC2_METADATA_DISABLED unset on EC2";

/// The Alibaba Cloud source, in the official chain's order.
pub(super) fn aliyun_source(
    env: &Env<'_>,
    seed: &SeedConfig,
    sts_endpoint: &str,
) -> Result<CredentialSource, Error> {
    if let Some(source) = aliyun_environment(env, seed)? {
        return Ok(source);
    }
    if let Some(source) = aliyun_rrsa(env, sts_endpoint)? {
        return Ok(source);
    }
    let home = home(env);
    let cli_disabled = env.flag("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", false)?;
    if let Some(home) = home.as_ref().filter(|_| !cli_disabled)
        && let Some(source) = aliyun_cli_profile(env, &home.join(".aliyun/config.json"))?
    {
        return Ok(source);
    }
    let file = env
        .text("ALIBABA_CLOUD_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".alibabacloud/credentials.ini")));
    if let Some(source) = file
        .map(|f| aliyun_profile_file(env, &f))
        .transpose()?
        .flatten()
    {
        return Ok(source);
    }
    aliyun_instance(env)
}

/// The environment key, then the seed's; a half-given key stops start-up.
fn aliyun_environment(env: &Env<'_>, seed: &SeedConfig) -> Result<Option<CredentialSource>, Error> {
    let id = env.text("ALIBABA_CLOUD_ACCESS_KEY_ID");
    let secret = env.text("ALIBABA_CLOUD_ACCESS_KEY_SECRET");
    let (id, secret, origin) = match (id, secret) {
        (Some(id), Some(secret)) => (id, secret, "environment"),
        (Some(_), None) => {
            return Err(config(
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "is required with ALIBABA_CLOUD_ACCESS_KEY_ID (or AccessKeySecret in CONFIG_FILE)",
            ));
        }
        (None, Some(_)) => return Err(config("ALIBABA_CLOUD_ACCESS_KEY_ID", ALIYUN_HINT)),
        (None, None) => match (
            SeedConfig::text(&seed.access_key_id),
            SeedConfig::text(&seed.access_key_secret),
        ) {
            (Some(id), Some(secret)) => (id, secret, "CONFIG_FILE"),
            (Some(_), None) => {
                return Err(config(
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                    "is required (or AccessKeySecret in CONFIG_FILE)",
                ));
            }
            _ => return Ok(None),
        },
    };
    let token = env.text("ALIBABA_CLOUD_SECURITY_TOKEN");
    Ok(Some(CredentialSource::Static {
        credential: Credential::new(id, secret, token),
        origin: origin.to_owned(),
    }))
}

/// RRSA: all three variables, as the official chain requires them together.
fn aliyun_rrsa(env: &Env<'_>, sts_endpoint: &str) -> Result<Option<CredentialSource>, Error> {
    let token_file = env.text("ALIBABA_CLOUD_OIDC_TOKEN_FILE");
    let role_arn = env.text("ALIBABA_CLOUD_ROLE_ARN");
    let provider_arn = env.text("ALIBABA_CLOUD_OIDC_PROVIDER_ARN");
    let (Some(token_file), Some(role_arn), Some(provider_arn)) =
        (token_file, role_arn, provider_arn)
    else {
        return Ok(None);
    };
    check_readable("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &token_file)?;
    Ok(Some(CredentialSource::AliyunOidc {
        exchange: TokenExchange {
            token_file: token_file.into(),
            role_arn,
            session_name: session_name(env, "ALIBABA_CLOUD_ROLE_SESSION_NAME"),
            sts_endpoint: sts_endpoint.to_owned(),
        },
        oidc_provider_arn: provider_arn,
    }))
}

/// The ECS RAM role (named, or asked of the metadata service), else the credentials URI;
/// with the metadata service disabled and no URI, nothing.
fn aliyun_instance(env: &Env<'_>) -> Result<CredentialSource, Error> {
    let endpoint = metadata_endpoint(
        env,
        "ALIBABA_CLOUD_ECS_METADATA_ENDPOINT",
        ecs::DEFAULT_ENDPOINT,
    )?;
    let disabled = env.flag("ALIBABA_CLOUD_ECS_METADATA_DISABLED", false)?;
    let role = env.text("ALIBABA_CLOUD_ECS_METADATA");
    let uri = env.text("ALIBABA_CLOUD_CREDENTIALS_URI");
    match (disabled, role, uri) {
        (false, Some(role), _) => Ok(CredentialSource::AliyunEcsRamRole {
            endpoint,
            role: Some(role),
        }),
        (_, _, Some(uri)) => {
            check_url("ALIBABA_CLOUD_CREDENTIALS_URI", &uri)?;
            Ok(CredentialSource::AliyunCredentialsUri { uri })
        }
        (false, None, None) => Ok(CredentialSource::AliyunEcsRamRole {
            endpoint,
            role: None,
        }),
        (true, _, None) => Err(config("ALIBABA_CLOUD_ACCESS_KEY_ID", ALIYUN_HINT)),
    }
}

/// `~/.aliyun/config.json`: the profile `ALIBABA_CLOUD_PROFILE`, else `current`. Modes `AK`,
/// `StsToken` and `EcsRamRole` are read; another mode stops start-up (stsvend runs none of
/// the CLI's interactive or chained modes).
fn aliyun_cli_profile(env: &Env<'_>, path: &Path) -> Result<Option<CredentialSource>, Error> {
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
fn aliyun_profile_file(env: &Env<'_>, path: &Path) -> Result<Option<CredentialSource>, Error> {
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
    env: &Env<'_>,
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
            endpoint: metadata_endpoint(
                env,
                "ALIBABA_CLOUD_ECS_METADATA_ENDPOINT",
                ecs::DEFAULT_ENDPOINT,
            )?,
            role: take("role_name"),
        })),
        other => Err(config(
            "ALIBABA_CLOUD_PROFILE",
            format!("{origin}: type {other:?} is not one stsvend reads (access_key, ecs_ram_role)"),
        )),
    }
}

/// The AWS source, in botocore's order.
pub(super) fn aws_source(env: &Env<'_>, sts_endpoint: &str) -> Result<CredentialSource, Error> {
    match (
        env.text("AWS_ACCESS_KEY_ID"),
        env.text("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => {
            return Ok(CredentialSource::Static {
                credential: Credential::new(id, secret, env.text("AWS_SESSION_TOKEN")),
                origin: "environment".to_owned(),
            });
        }
        (Some(_), None) => {
            return Err(config(
                "AWS_SECRET_ACCESS_KEY",
                "is required with AWS_ACCESS_KEY_ID",
            ));
        }
        (None, Some(_)) => {
            return Err(config(
                "AWS_ACCESS_KEY_ID",
                "is required with AWS_SECRET_ACCESS_KEY",
            ));
        }
        (None, None) => {}
    }
    if let Some(token_file) = env.text("AWS_WEB_IDENTITY_TOKEN_FILE") {
        let role_arn = env.required(
            "AWS_ROLE_ARN",
            "is required with AWS_WEB_IDENTITY_TOKEN_FILE",
        )?;
        check_readable("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)?;
        return Ok(CredentialSource::AwsWebIdentity(TokenExchange {
            token_file: token_file.into(),
            role_arn,
            session_name: session_name(env, "AWS_ROLE_SESSION_NAME"),
            sts_endpoint: sts_endpoint.to_owned(),
        }));
    }
    if let Some(source) = aws_shared_files(env)? {
        return Ok(source);
    }
    if let Some(source) = aws_container(env)? {
        return Ok(source);
    }
    if env.flag("AWS_EC2_METADATA_DISABLED", false)? {
        return Err(config("AWS_ACCESS_KEY_ID", AWS_HINT));
    }
    Ok(CredentialSource::AwsInstanceMetadata {
        endpoint: metadata_endpoint(
            env,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            imds::DEFAULT_IMDS_ENDPOINT,
        )?,
    })
}

/// The shared credentials file, then the config file, for `AWS_PROFILE` (else `default`):
/// static keys only (botocore's role, SSO and process profiles are not run by stsvend).
fn aws_shared_files(env: &Env<'_>) -> Result<Option<CredentialSource>, Error> {
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

/// Container credentials: the relative URI on ECS's host, else the full URI (as botocore
/// allows it: https, or a loopback or ECS/EKS host), with its authorization token.
fn aws_container(env: &Env<'_>) -> Result<Option<CredentialSource>, Error> {
    let url = match (
        env.text("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        env.text("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(relative), _) => format!("{}{relative}", imds::ECS_CONTAINER_HOST),
        (None, Some(full)) => {
            check_container_url(&full)?;
            full
        }
        (None, None) => return Ok(None),
    };
    let authorization = match (
        env.text("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        env.text("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
    ) {
        (Some(file), _) => {
            check_readable("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &file)?;
            Some(Authorization::File(file.into()))
        }
        (None, Some(token)) => Some(Authorization::Token(token)),
        (None, None) => None,
    };
    Ok(Some(CredentialSource::AwsContainer { url, authorization }))
}

/// botocore's rule for `AWS_CONTAINER_CREDENTIALS_FULL_URI`: https anywhere; plain http only
/// to a loopback address or the ECS and EKS hosts.
fn check_container_url(url: &str) -> Result<(), Error> {
    let variable = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    check_url(variable, url)?;
    if url.starts_with("https://") {
        return Ok(());
    }
    let rest = &url["http://".len()..];
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let allowed = [
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
        "localhost",
    ]
    .contains(&host)
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if allowed {
        Ok(())
    } else {
        Err(config(
            variable,
            "plain http only to a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23; use https",
        ))
    }
}

/// A metadata endpoint override, an http(s) URL.
fn metadata_endpoint(
    env: &Env<'_>,
    variable: &'static str,
    default: &str,
) -> Result<String, Error> {
    match env.text(variable) {
        Some(url) => {
            check_url(variable, &url)?;
            Ok(url.trim_end_matches('/').to_owned())
        }
        None => Ok(default.to_owned()),
    }
}

fn check_url(variable: &'static str, url: &str) -> Result<(), Error> {
    let ok = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    });
    if ok {
        Ok(())
    } else {
        Err(config(variable, "is not an http:// or https:// URL"))
    }
}

fn check_readable(variable: &'static str, path: &str) -> Result<(), Error> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| config(variable, format!("cannot read {path}: {e}")))
}

/// `variable`, else `stsvend` (the session is the function's own, named in STS's log).
fn session_name(env: &Env<'_>, variable: &str) -> String {
    env.text(variable).unwrap_or_else(|| "stsvend".to_owned())
}

/// `HOME`, as the official SDKs find the profile files.
fn home(env: &Env<'_>) -> Option<PathBuf> {
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
