//! A key given as is: the environment's (`ALIBABA_CLOUD_ACCESS_KEY_ID`, `AWS_ACCESS_KEY_ID`,
//! with their secrets and tokens), then, on Alibaba Cloud, the seed `config.json`'s. Used as
//! given, never fetched; a half-given key stops start-up.

use super::{CredentialSource, Variables, config};
use crate::Credential;
use crate::Error;

/// The variables that name an Alibaba Cloud source, for the message when none does (here and
/// in the chain).
pub(crate) const ALIYUN_HINT: &str = "is required: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or RRSA's ALIBABA_CLOUD_OIDC_TOKEN_FILE, ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_PROVIDER_ARN, or ALIBABA_CLOUD_ECS_METADATA (the instance RAM role), or ALIBABA_CLOUD_CREDENTIALS_URI (or AccessKeyID in CONFIG_FILE)";

/// The seed `config.json`'s key (`AccessKeyID`, `AccessKeySecret`), each unless empty: read
/// after the environment's.
#[derive(Debug, Default)]
pub struct SeedKey {
    /// `AccessKeyID`.
    pub access_key_id: Option<String>,
    /// `AccessKeySecret`.
    pub access_key_secret: Option<String>,
}

/// The environment key, then the seed's; a half-given key stops start-up.
pub(crate) fn aliyun(env: Variables<'_>, seed: SeedKey) -> Result<Option<CredentialSource>, Error> {
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
        (None, None) => match (seed.access_key_id, seed.access_key_secret) {
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

/// The environment key (`AWS_SESSION_TOKEN` with it when temporary); one without the other
/// stops start-up.
pub(crate) fn aws(env: Variables<'_>) -> Result<Option<CredentialSource>, Error> {
    match (
        env.text("AWS_ACCESS_KEY_ID"),
        env.text("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => Ok(Some(CredentialSource::Static {
            credential: Credential::new(id, secret, env.text("AWS_SESSION_TOKEN")),
            origin: "environment".to_owned(),
        })),
        (Some(_), None) => Err(config(
            "AWS_SECRET_ACCESS_KEY",
            "is required with AWS_ACCESS_KEY_ID",
        )),
        (None, Some(_)) => Err(config(
            "AWS_ACCESS_KEY_ID",
            "is required with AWS_SECRET_ACCESS_KEY",
        )),
        (None, None) => Ok(None),
    }
}
