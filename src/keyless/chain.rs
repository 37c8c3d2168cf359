//! Which source the function's own credentials come from, chosen at cold start the way each
//! provider's official default chain chooses: this file is the order, each source's file in
//! `sources/` reads its own variables and validates them with messages that name the variable.
//!
//! Alibaba Cloud, as `alibabacloud_credentials`' `DefaultCredentialsProvider`: the environment
//! key (then the seed's `AccessKeyID`), RRSA, the CLI profile (`~/.aliyun/config.json`), the
//! profile file (`ALIBABA_CLOUD_CREDENTIALS_FILE`, `~/.alibabacloud/credentials.ini`), the
//! ECS RAM role, the credentials URI. AWS, as botocore's `create_credential_resolver`: the
//! environment key, web identity, the shared credentials file, the config file, container
//! credentials, instance metadata. The README says where stsvend differs and why.

use super::sources::static_keys::{ALIYUN_HINT, SeedKey};
use super::sources::{
    CredentialSource, Variables, config, container, credentials_uri, instance_metadata, profile,
    static_keys, web_identity,
};
use crate::Error;

/// The variables that name an AWS source, for the message when none does.
const AWS_HINT: &str = "is required: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI, or leave AWS_EC2_METADATA_DISABLED unset on EC2";

/// The Alibaba Cloud source, in the official chain's order.
pub fn aliyun_source(
    env: Variables<'_>,
    seed: SeedKey,
    sts_endpoint: &str,
) -> Result<CredentialSource, Error> {
    if let Some(source) = static_keys::aliyun(env, seed)? {
        return Ok(source);
    }
    if let Some(source) = web_identity::aliyun_rrsa(env, sts_endpoint)? {
        return Ok(source);
    }
    if let Some(source) = profile::aliyun_cli(env)? {
        return Ok(source);
    }
    if let Some(source) = profile::aliyun_credentials_file(env)? {
        return Ok(source);
    }
    aliyun_instance(env)
}

/// The ECS RAM role (named, or asked of the metadata service), else the credentials URI;
/// with the metadata service disabled and no URI, nothing.
fn aliyun_instance(env: Variables<'_>) -> Result<CredentialSource, Error> {
    let endpoint = instance_metadata::aliyun_endpoint(env)?;
    let disabled = env.flag("ALIBABA_CLOUD_ECS_METADATA_DISABLED", false)?;
    let role = env.text("ALIBABA_CLOUD_ECS_METADATA");
    let uri = env.text("ALIBABA_CLOUD_CREDENTIALS_URI");
    match (disabled, role, uri) {
        (false, Some(role), _) => Ok(CredentialSource::AliyunEcsRamRole {
            endpoint,
            role: Some(role),
        }),
        (_, _, Some(uri)) => credentials_uri::aliyun(uri),
        (false, None, None) => Ok(CredentialSource::AliyunEcsRamRole {
            endpoint,
            role: None,
        }),
        (true, _, None) => Err(config("ALIBABA_CLOUD_ACCESS_KEY_ID", ALIYUN_HINT)),
    }
}

/// The AWS source, in botocore's order.
pub fn aws_source(env: Variables<'_>, sts_endpoint: &str) -> Result<CredentialSource, Error> {
    if let Some(source) = static_keys::aws(env)? {
        return Ok(source);
    }
    if let Some(source) = web_identity::aws(env, sts_endpoint)? {
        return Ok(source);
    }
    if let Some(source) = profile::aws_shared_files(env)? {
        return Ok(source);
    }
    if let Some(source) = container::aws(env)? {
        return Ok(source);
    }
    if env.flag("AWS_EC2_METADATA_DISABLED", false)? {
        return Err(config("AWS_ACCESS_KEY_ID", AWS_HINT));
    }
    instance_metadata::aws(env)
}
