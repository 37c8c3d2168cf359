//! The function's own credentials at cold start: which source the environment named, a first
//! fetch that proves it works (so a deployment with no credentials anywhere stops at once, with
//! a message naming the variables), the background refresher, and the warnings a reader of
//! the logs needs (AWS caps a chained `AssumeRole` at one hour).

use std::sync::Arc;

use tracing::{info, warn};

use super::provider::CredentialProvider;
use super::sources::CredentialSource;
use crate::Clock;
use crate::Error;
use crate::Provider;
use crate::transport::HttpSender;

/// The longest `DurationSeconds` AWS STS grants an `AssumeRole` signed by a role's session
/// (role chaining).
pub const AWS_ROLE_CHAINING_MAX_SECONDS: u32 = 3600;

/// What cold start is told of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct StartParams {
    /// `PROVIDER`: which variables the message names when no source is found.
    pub provider: Provider,
    /// Whether the function signs `AssumeRole` with its own credentials (`STS_ACTION` unset or
    /// `AssumeRole`); a token exchange uses none, and nothing is fetched.
    pub signs_assume_role: bool,
    /// Whether `ROLE_ARN` is set: a named source failing its first fetch then stops start-up.
    pub role_arn_set: bool,
    /// `TOKEN_DURATION_SECONDS`, for the role-chaining warning.
    pub duration_seconds: u32,
}

/// Checks the function's own credentials at cold start and starts their refresher.
///
/// With a token-exchange `STS_ACTION` the function needs none and nothing is fetched. A
/// source the environment named that fails its first fetch stops start-up when a role is to
/// be assumed; so does the instance-metadata fallback (nothing named at all), with a message
/// naming the variables to set.
pub async fn start(
    credentials: &Arc<CredentialProvider>,
    params: StartParams,
    sender: &Arc<dyn HttpSender>,
    clock: Arc<dyn Clock>,
) -> Result<(), Error> {
    let source = credentials.source();
    if !params.signs_assume_role {
        info!(
            "STS_ACTION exchanges each caller's verified token: the function uses no credentials of its own"
        );
        return Ok(());
    }
    match source {
        CredentialSource::Static { origin, .. } => {
            info!(source = source.name(), origin = %origin, "the function's own credentials")
        }
        _ => info!(
            source = source.name(),
            "the function's own credentials, refreshed before they expire"
        ),
    }
    warn_of_role_chaining(source, params);
    match credentials.credential(sender, clock.now()).await {
        Ok(_) => {}
        Err(error) if is_fallback(source) => return Err(nothing_found(params.provider, &error)),
        Err(error) if params.role_arn_set => return Err(error),
        Err(error) => warn!(error = %error, "the function's own credentials are not available yet"),
    }
    credentials.spawn_refresher(Arc::clone(sender), clock);
    Ok(())
}

/// The instance metadata, used only because the environment named no other source.
fn is_fallback(source: &CredentialSource) -> bool {
    matches!(
        source,
        CredentialSource::AwsInstanceMetadata { .. }
            | CredentialSource::AliyunEcsRamRole { role: None, .. }
    )
}

/// No source named and no instance metadata: the message names what to set.
fn nothing_found(provider: Provider, error: &Error) -> Error {
    let (variable, reason) = match provider {
        Provider::Aliyun => (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or RRSA's ALIBABA_CLOUD_OIDC_TOKEN_FILE, ALIBABA_CLOUD_ROLE_ARN and ALIBABA_CLOUD_OIDC_PROVIDER_ARN, or ALIBABA_CLOUD_ECS_METADATA, or ALIBABA_CLOUD_CREDENTIALS_URI; the ECS metadata service did not give a RAM role",
        ),
        Provider::Aws => (
            "AWS_ACCESS_KEY_ID",
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN, or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI; the EC2 instance metadata service did not give a role",
        ),
    };
    Error::Config {
        variable,
        reason: format!("{reason} ({error})"),
    }
}

/// AWS refuses `DurationSeconds` over an hour for an `AssumeRole` signed by a role session
/// (Lambda's execution role, IRSA, an ECS task role, an instance profile).
fn warn_of_role_chaining(source: &CredentialSource, params: StartParams) {
    if params.provider == Provider::Aws
        && source.is_role_session()
        && params.duration_seconds > AWS_ROLE_CHAINING_MAX_SECONDS
    {
        warn!(
            token_duration_seconds = params.duration_seconds,
            "TOKEN_DURATION_SECONDS is over 3600, but the function's own credentials are a role session ({}): AWS caps AssumeRole by a role session (role chaining) at one hour, so STS will answer ValidationError; set TOKEN_DURATION_SECONDS=3600 or less",
            source.name()
        );
    }
}
