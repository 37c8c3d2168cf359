//! One fetch of the function's credentials from each source: the sans-IO requests of
//! [`crate::sign::aws::metadata`], [`crate::sign::aliyun::metadata`] and the STS token
//! exchanges, sent through the one sender.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::{Authorization, CredentialSource, TokenExchange};
use crate::credential::Credential;
use crate::error::Error;
use crate::sign::aliyun::metadata as ecs;
use crate::sign::aliyun::sts::{self as aliyun_sts, OidcParams};
use crate::sign::aws::metadata as imds;
use crate::sign::aws::sts::{self as aws_sts, WebIdentityParams};
use crate::transport::{HttpReply, HttpSender, SignedRequest};

/// The life asked for the function's own session (the official SDKs' default).
pub(super) const OWN_SESSION_SECONDS: u32 = 3600;

/// Fetches `source`'s current credentials, at `now`.
pub(super) async fn fetch(
    source: &CredentialSource,
    sender: &Arc<dyn HttpSender>,
    now: SystemTime,
) -> Result<Credential, Error> {
    let name = source.name();
    match source {
        CredentialSource::Static { credential, .. } => Ok(credential.clone()),
        CredentialSource::Unneeded => Err(Error::CredentialSource {
            source_name: name,
            reason: "the function has no credentials of its own".to_owned(),
        }),
        CredentialSource::AwsInstanceMetadata { endpoint } => {
            let token = text(sender, imds::IMDS.token_request(endpoint), name).await?;
            let role = text(sender, imds::IMDS.role_name_request(endpoint, &token), name).await?;
            let reply = send(
                sender,
                imds::IMDS.role_credentials_request(endpoint, &token, &role),
                name,
            );
            let reply = reply.await?;
            imds::parse_credentials(reply.status, &reply.body, name)
        }
        CredentialSource::AwsContainer { url, authorization } => {
            let token = match authorization {
                Some(Authorization::File(path)) => Some(read_token(path, name)?),
                Some(Authorization::Token(token)) => Some(token.clone()),
                None => None,
            };
            let reply = send(sender, imds::container_request(url, token.as_deref()), name);
            let reply = reply.await?;
            imds::parse_credentials(reply.status, &reply.body, name)
        }
        CredentialSource::AwsWebIdentity(exchange) => web_identity(exchange, sender, name).await,
        CredentialSource::AliyunEcsRamRole { endpoint, role } => {
            let token = text(sender, ecs::ECS.token_request(endpoint), name).await?;
            let role = match role {
                Some(role) => role.clone(),
                None => text(sender, ecs::ECS.role_name_request(endpoint, &token), name).await?,
            };
            let request = ecs::ECS.role_credentials_request(endpoint, &token, &role);
            let reply = send(sender, request, name).await?;
            ecs::parse_credentials(reply.status, &reply.body, name)
        }
        CredentialSource::AliyunOidc {
            exchange,
            oidc_provider_arn,
        } => oidc(exchange, oidc_provider_arn, sender, now, name).await,
        CredentialSource::AliyunCredentialsUri { uri } => {
            let reply = send(sender, ecs::uri_request(uri), name).await?;
            ecs::parse_credentials(reply.status, &reply.body, name)
        }
    }
}

async fn web_identity(
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

async fn oidc(
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

/// A token file's content, trimmed (the platform rewrites it as it rotates the token).
fn read_token(path: &Path, name: &'static str) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::CredentialSource {
        source_name: name,
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(Error::CredentialSource {
            source_name: name,
            reason: format!("{} is empty", path.display()),
        });
    }
    Ok(token.to_owned())
}

async fn send(
    sender: &Arc<dyn HttpSender>,
    request: SignedRequest,
    name: &'static str,
) -> Result<HttpReply, Error> {
    sender
        .send(request)
        .await
        .map_err(|e| Error::CredentialSource {
            source_name: name,
            reason: match e.sts_copy() {
                Some(Error::StsUnreachable(cause)) => format!("unreachable: {cause}"),
                _ => e.to_string(),
            },
        })
}

async fn text(
    sender: &Arc<dyn HttpSender>,
    request: SignedRequest,
    name: &'static str,
) -> Result<String, Error> {
    let reply = send(sender, request, name).await?;
    imds::text_answer(reply.status, &reply.body, name)
}
