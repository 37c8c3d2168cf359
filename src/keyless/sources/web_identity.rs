//! A platform's OIDC token file exchanged at STS for a role's credentials: AWS web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE`, EKS IRSA, `AssumeRoleWithWebIdentity`) and Alibaba Cloud
//! RRSA (`ALIBABA_CLOUD_OIDC_TOKEN_FILE`, ACK, `AssumeRoleWithOIDC`). Which token file and role
//! the environment names, and one exchange: the sans-IO STS requests and answers of
//! [`crate::sign::aws::sts`] and [`crate::sign::aliyun::sts`], sent through the one sender.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use super::{CredentialSource, Variables, check_readable, read_token, send};
use crate::Credential;
use crate::Error;
use crate::sign::aliyun::sts::{self as aliyun_sts, OidcParams};
use crate::sign::aws::sts::{self as aws_sts, WebIdentityParams};
use crate::transport::HttpSender;

/// The life asked for the function's own session (the official SDKs' default).
const OWN_SESSION_SECONDS: u32 = 3600;

/// A token file exchanged for a role's credentials at STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExchange {
    /// The OIDC token file, read at every fetch (the platform rotates it).
    pub token_file: PathBuf,
    /// The role to assume.
    pub role_arn: String,
    /// `RoleSessionName` of the function's own session.
    pub session_name: String,
    /// STS (`STS_ENDPOINT` or the provider's default).
    pub sts_endpoint: String,
}

/// RRSA: all three variables, as the official chain requires them together.
pub(crate) fn aliyun_rrsa(
    env: Variables<'_>,
    sts_endpoint: &str,
) -> Result<Option<CredentialSource>, Error> {
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

/// Web identity: `AWS_WEB_IDENTITY_TOKEN_FILE`, with `AWS_ROLE_ARN` required beside it.
pub(crate) fn aws(
    env: Variables<'_>,
    sts_endpoint: &str,
) -> Result<Option<CredentialSource>, Error> {
    let Some(token_file) = env.text("AWS_WEB_IDENTITY_TOKEN_FILE") else {
        return Ok(None);
    };
    let role_arn = env.required(
        "AWS_ROLE_ARN",
        "is required with AWS_WEB_IDENTITY_TOKEN_FILE",
    )?;
    check_readable("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)?;
    Ok(Some(CredentialSource::AwsWebIdentity(TokenExchange {
        token_file: token_file.into(),
        role_arn,
        session_name: session_name(env, "AWS_ROLE_SESSION_NAME"),
        sts_endpoint: sts_endpoint.to_owned(),
    })))
}

/// `variable`, else `stsvend` (the session is the function's own, named in STS's log).
fn session_name(env: Variables<'_>, variable: &str) -> String {
    env.text(variable).unwrap_or_else(|| "stsvend".to_owned())
}

/// `AssumeRoleWithWebIdentity` with the token file's current token.
pub(crate) async fn fetch_aws(
    exchange: &TokenExchange,
    sender: &Arc<dyn HttpSender>,
    name: &'static str,
) -> Result<Credential, Error> {
    let token = read_token(&exchange.token_file, name)?;
    let params = WebIdentityParams {
        role_arn: &exchange.role_arn,
        role_session_name: &exchange.session_name,
        web_identity_token: &token,
        policy: None,
        duration_seconds: OWN_SESSION_SECONDS,
    };
    let request = aws_sts::assume_role_with_web_identity_request(&exchange.sts_endpoint, &params);
    let reply = send(sender, request, name).await?;
    aws_sts::parse_assume_role_response(reply.status, &reply.body)
}

/// `AssumeRoleWithOIDC` with the token file's current token, signed at `now`.
pub(crate) async fn fetch_aliyun(
    exchange: &TokenExchange,
    oidc_provider_arn: &str,
    sender: &Arc<dyn HttpSender>,
    now: SystemTime,
    name: &'static str,
) -> Result<Credential, Error> {
    let token = read_token(&exchange.token_file, name)?;
    let params = OidcParams {
        role_arn: &exchange.role_arn,
        oidc_provider_arn,
        oidc_token: &token,
        role_session_name: &exchange.session_name,
        policy: None,
        duration_seconds: OWN_SESSION_SECONDS,
    };
    let request = aliyun_sts::assume_role_with_oidc_request(&exchange.sts_endpoint, &params, now);
    let reply = send(sender, request, name).await?;
    aliyun_sts::parse_assume_role_response(reply.status, &reply.body)
}
