//! AWS container credentials (an ECS task role, EKS Pod Identity): the endpoint the
//! environment names, with its authorization token, the request built without I/O, and one
//! fetch through the one sender. The answer is IMDS's JSON.
//!
//! # Reference
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html>;
//! botocore `credentials.py` (`ContainerMetadataFetcher`, `ContainerProvider`).

use std::path::PathBuf;
use std::sync::Arc;

use http::header::AUTHORIZATION;

use super::{CredentialSource, Variables, check_readable, check_url, config, read_token, send};
use crate::Credential;
use crate::Error;
use crate::keyless::answer;
use crate::transport::{HttpSender, SignedRequest};

/// The host ECS serves `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on.
pub(crate) const ECS_CONTAINER_HOST: &str = "http://169.254.170.2";

/// A container authorization token, or the file it is read from at every fetch.
#[derive(Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (EKS Pod Identity rotates it).
    File(PathBuf),
    /// `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    Token(String),
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

/// Container credentials: the relative URI on ECS's host, else the full URI (as botocore
/// allows it: https, or a loopback or ECS/EKS host), with its authorization token.
pub(crate) fn aws(env: Variables<'_>) -> Result<Option<CredentialSource>, Error> {
    let url = match (
        env.text("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        env.text("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(relative), _) => format!("{ECS_CONTAINER_HOST}{relative}"),
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

/// The container credentials request; `authorization` is
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`, sent as is in `Authorization`.
///
/// # Format
/// `GET <url>` with `Authorization: <token>` when there is one.
pub(crate) fn container_request(url: &str, authorization: Option<&str>) -> SignedRequest {
    let headers = authorization
        .map(|token| vec![(AUTHORIZATION, token.trim().to_owned())])
        .unwrap_or_default();
    answer::get(url.to_owned(), headers)
}

/// The container's credentials, the token file read again at every fetch.
pub(crate) async fn fetch(
    url: &str,
    authorization: Option<&Authorization>,
    sender: &Arc<dyn HttpSender>,
    name: &'static str,
) -> Result<Credential, Error> {
    let token = match authorization {
        Some(Authorization::File(path)) => Some(read_token(path, name)?),
        Some(Authorization::Token(token)) => Some(token.clone()),
        None => None,
    };
    let reply = send(sender, container_request(url, token.as_deref()), name).await?;
    answer::parse(reply.status, &reply.body, name, answer::AWS)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;

    #[test]
    fn the_container_request_sends_the_authorization_token_as_is() {
        let request = container_request("http://169.254.170.23/v1/credentials", Some("abc==\n"));
        assert_eq!(request.method, Method::GET);
        assert_eq!(request.headers, [(AUTHORIZATION, "abc==".to_owned())]);
        assert!(
            container_request("http://169.254.170.2/v2/x", None)
                .headers
                .is_empty()
        );
    }
}
