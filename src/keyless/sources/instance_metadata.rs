//! The instance's role, from the metadata service, token first: Alibaba Cloud's ECS/ECI
//! metadata service in its hardened mode (the RAM role) and AWS's EC2 instance metadata
//! service, IMDSv2 (the instance profile's role). Which endpoint the environment names, the
//! requests built and the answers read without I/O, and one fetch through the one sender.
//!
//! # Reference
//! <https://www.alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata> (hardened mode),
//! aliyun/credentials-python `provider/ecs_ram_role.py`;
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html>,
//! botocore `credentials.py` (`InstanceMetadataFetcher`).

use std::sync::Arc;

use http::Method;
use http::header::HeaderName;

use super::{CredentialSource, Variables, check_url, send};
use crate::Credential;
use crate::Error;
use crate::keyless::answer;
use crate::transport::{HttpSender, SignedRequest};

/// The ECS metadata service the official SDKs hard-code.
pub(crate) const ECS_DEFAULT_ENDPOINT: &str = "http://100.100.100.200";

/// The instance metadata service botocore uses when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is unset.
pub(crate) const IMDS_DEFAULT_ENDPOINT: &str = "http://169.254.169.254";

/// The ECS/ECI metadata service in its hardened mode: token first, then the RAM role.
pub(crate) const ECS: MetadataService = MetadataService {
    ttl_header: "x-aliyun-ecs-metadata-token-ttl-seconds",
    token_header: "x-aliyun-ecs-metadata-token",
    role_path: "/latest/meta-data/ram/security-credentials/",
};

/// The EC2 instance metadata service, IMDSv2: token first, then the instance profile's role.
pub(crate) const IMDS: MetadataService = MetadataService {
    ttl_header: "x-aws-ec2-metadata-token-ttl-seconds",
    token_header: "x-aws-ec2-metadata-token",
    role_path: "/latest/meta-data/iam/security-credentials/",
};

/// `ALIBABA_CLOUD_ECS_METADATA_ENDPOINT`, else the official one; the chain and an
/// `ecs_ram_role` profile name the role.
pub(crate) fn aliyun_endpoint(env: Variables<'_>) -> Result<String, Error> {
    metadata_endpoint(
        env,
        "ALIBABA_CLOUD_ECS_METADATA_ENDPOINT",
        ECS_DEFAULT_ENDPOINT,
    )
}

/// IMDSv2 at `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else botocore's endpoint: the last of
/// AWS's chain.
pub(crate) fn aws(env: Variables<'_>) -> Result<CredentialSource, Error> {
    Ok(CredentialSource::AwsInstanceMetadata {
        endpoint: metadata_endpoint(
            env,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            IMDS_DEFAULT_ENDPOINT,
        )?,
    })
}

/// A metadata endpoint override, an http(s) URL.
fn metadata_endpoint(
    env: Variables<'_>,
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

/// A metadata service that hands a session token first (ECS's hardened mode, IMDSv2), then
/// the instance role's name and credentials to requests carrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetadataService {
    /// The header the token request names the token's life in.
    ttl_header: &'static str,
    /// The header every read carries the token in.
    token_header: &'static str,
    /// The role path under the metadata root, ending with `/`.
    role_path: &'static str,
}

impl MetadataService {
    /// The session token request, its life 6 hours (both services' maximum).
    ///
    /// # Format
    /// `PUT <endpoint>/latest/api/token` with `<ttl_header>: 21600`.
    pub(crate) fn token_request(&self, endpoint: &str) -> SignedRequest {
        SignedRequest {
            method: Method::PUT,
            url: format!("{}/latest/api/token", endpoint.trim_end_matches('/')),
            headers: vec![(HeaderName::from_static(self.ttl_header), "21600".to_owned())],
            body: Vec::new(),
        }
    }

    /// The instance role's name request, with the session token.
    pub(crate) fn role_name_request(&self, endpoint: &str, token: &str) -> SignedRequest {
        self.role_credentials_request(endpoint, token, "")
    }

    /// The role's credentials request, with the session token.
    ///
    /// # Format
    /// `GET <endpoint><role_path><role>` with `<token_header>: <token>`.
    pub(crate) fn role_credentials_request(
        &self,
        endpoint: &str,
        token: &str,
        role: &str,
    ) -> SignedRequest {
        answer::get(
            format!("{}{}{role}", endpoint.trim_end_matches('/'), self.role_path),
            vec![(HeaderName::from_static(self.token_header), token.to_owned())],
        )
    }
}

/// The first line of a text answer (the session token, the role name), when the status is 2xx.
pub(crate) fn text_answer(status: u16, body: &[u8], what: &'static str) -> Result<String, Error> {
    let text = std::str::from_utf8(body).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default().trim();
    if !(200..300).contains(&status) || first.is_empty() {
        return Err(Error::CredentialSource {
            source_name: what,
            reason: format!("answered http {status} without a usable value"),
        });
    }
    Ok(first.to_owned())
}

/// The ECS RAM role's credentials: a token, the role's name unless `role` names it, then the
/// role's credentials.
pub(crate) async fn fetch_aliyun(
    endpoint: &str,
    role: Option<&str>,
    sender: &Arc<dyn HttpSender>,
    name: &'static str,
) -> Result<Credential, Error> {
    let token = text(sender, ECS.token_request(endpoint), name).await?;
    let role = match role {
        Some(role) => role.to_owned(),
        None => text(sender, ECS.role_name_request(endpoint, &token), name).await?,
    };
    let request = ECS.role_credentials_request(endpoint, &token, &role);
    let reply = send(sender, request, name).await?;
    answer::parse(reply.status, &reply.body, name, answer::ALIYUN)
}

/// The instance profile's credentials: a token, the role's name, then its credentials.
pub(crate) async fn fetch_aws(
    endpoint: &str,
    sender: &Arc<dyn HttpSender>,
    name: &'static str,
) -> Result<Credential, Error> {
    let token = text(sender, IMDS.token_request(endpoint), name).await?;
    let role = text(sender, IMDS.role_name_request(endpoint, &token), name).await?;
    let request = IMDS.role_credentials_request(endpoint, &token, &role);
    let reply = send(sender, request, name).await?;
    answer::parse(reply.status, &reply.body, name, answer::AWS)
}

/// A text answer's first line (the session token, the role name).
async fn text(
    sender: &Arc<dyn HttpSender>,
    request: SignedRequest,
    name: &'static str,
) -> Result<String, Error> {
    let reply = send(sender, request, name).await?;
    text_answer(reply.status, &reply.body, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hardened_mode_asks_for_a_token_and_sends_it() {
        let put = ECS.token_request("http://100.100.100.200");
        assert_eq!(put.method, Method::PUT);
        assert_eq!(put.url, "http://100.100.100.200/latest/api/token");
        assert_eq!(
            put.headers[0].0.as_str(),
            "x-aliyun-ecs-metadata-token-ttl-seconds"
        );
        let get = ECS.role_credentials_request("http://127.0.0.1:9/", "t-1", "uploader-role");
        assert_eq!(
            get.url,
            "http://127.0.0.1:9/latest/meta-data/ram/security-credentials/uploader-role"
        );
        assert_eq!(get.headers[0].0.as_str(), "x-aliyun-ecs-metadata-token");
        assert_eq!(get.headers[0].1, "t-1");
        assert_eq!(
            ECS.role_name_request("http://100.100.100.200", "t").url,
            "http://100.100.100.200/latest/meta-data/ram/security-credentials/"
        );
    }

    #[test]
    fn the_token_comes_first_and_every_read_carries_it() {
        let put = IMDS.token_request("http://169.254.169.254/");
        assert_eq!(put.method, Method::PUT);
        assert_eq!(put.url, "http://169.254.169.254/latest/api/token");
        assert_eq!(
            put.headers[0].0.as_str(),
            "x-aws-ec2-metadata-token-ttl-seconds"
        );
        assert_eq!(put.headers[0].1, "21600");
        let role = IMDS.role_name_request("http://169.254.169.254", "tok-1");
        assert_eq!(
            role.url,
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
        );
        assert_eq!(role.headers[0].0.as_str(), "x-aws-ec2-metadata-token");
        assert_eq!(role.headers[0].1, "tok-1");
        let creds = IMDS.role_credentials_request("http://[fd00:ec2::254]", "tok-1", "web");
        assert_eq!(
            creds.url,
            "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials/web"
        );
    }

    #[test]
    fn a_text_answer_is_its_first_line() {
        assert_eq!(
            text_answer(200, b"web-role\n", "imds").expect("role"),
            "web-role"
        );
        assert!(text_answer(401, b"x", "imds").is_err());
        assert!(text_answer(200, b"", "imds").is_err());
    }
}
