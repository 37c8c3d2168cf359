//! Where an AWS workload finds its own credentials without a key: the EC2 instance metadata
//! service (IMDSv2, token first) and the container credentials endpoint (ECS, EKS Pod
//! Identity). Requests built and answers read without I/O.
//!
//! # Reference
//! <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html>,
//! <https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html>;
//! botocore `credentials.py` (`InstanceMetadataFetcher`, `ContainerMetadataFetcher`).

use http::header::AUTHORIZATION;

use crate::credential::Credential;
use crate::error::Error;
use crate::sign::credentials_answer::{self, MetadataService};
use crate::transport::SignedRequest;

/// The instance metadata service botocore uses when `AWS_EC2_METADATA_SERVICE_ENDPOINT` is unset.
pub const DEFAULT_IMDS_ENDPOINT: &str = "http://169.254.169.254";

/// The host ECS serves `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on.
pub const ECS_CONTAINER_HOST: &str = "http://169.254.170.2";

/// The EC2 instance metadata service, IMDSv2: token first, then the instance profile's role.
pub const IMDS: MetadataService = MetadataService {
    ttl_header: "x-aws-ec2-metadata-token-ttl-seconds",
    token_header: "x-aws-ec2-metadata-token",
    role_path: "/latest/meta-data/iam/security-credentials/",
};

/// The container credentials request; `authorization` is
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`, sent as is in `Authorization`.
pub fn container_request(url: &str, authorization: Option<&str>) -> SignedRequest {
    let headers = authorization
        .map(|token| vec![(AUTHORIZATION, token.trim().to_owned())])
        .unwrap_or_default();
    credentials_answer::get(url.to_owned(), headers)
}

/// The first line of a text answer (the IMDS token, the role name), when the status is 2xx.
pub fn text_answer(status: u16, body: &[u8], what: &'static str) -> Result<String, Error> {
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

/// Reads the credentials JSON IMDS and the container endpoint answer with.
///
/// # Format
/// `{"Code":"Success","AccessKeyId":"ASIA…","SecretAccessKey":"…","Token":"…","Expiration":"2019-11-09T13:34:41Z"}`
/// (`Code` only from IMDS; anything but `Success` is refused).
pub fn parse_credentials(
    status: u16,
    body: &[u8],
    source_name: &'static str,
) -> Result<Credential, Error> {
    let fields = credentials_answer::Fields {
        secret: "SecretAccessKey",
        token: "Token",
        code_required: false,
    };
    credentials_answer::parse(status, body, source_name, fields)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::time::{Clock, FixedClock};

    /// The shape of the IMDS answer in the EC2 user guide, with invented values.
    const IMDS_ANSWER: &str = r#"{
  "Code" : "Success",
  "LastUpdated" : "2012-04-26T16:39:16Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIA-test-instance-key",
  "SecretAccessKey" : "instance/secret+key",
  "Token" : "IQoJb3JpZ2luX2VjEXAMPLE==",
  "Expiration" : "2017-05-17T15:09:54Z"
}"#;

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

    #[test]
    fn the_documented_answer_is_read_and_failures_are_refused() {
        let c = parse_credentials(200, IMDS_ANSWER.as_bytes(), "imds").expect("success");
        assert_eq!(c.access_key_id, "ASIA-test-instance-key");
        assert_eq!(c.access_key_secret, "instance/secret+key");
        assert_eq!(
            c.security_token.as_deref(),
            Some("IQoJb3JpZ2luX2VjEXAMPLE==")
        );
        // `date -u -d 2017-05-17T15:09:54Z +%s`
        assert_eq!(c.expiration, Some(FixedClock::at_unix(1_495_033_794).now()));
        for (status, body) in [
            (404, IMDS_ANSWER),
            (200, "<html/>"),
            (200, r#"{"Code":"Failure","AccessKeyId":"a"}"#),
            (
                200,
                r#"{"AccessKeyId":"a","SecretAccessKey":"s","Token":"t"}"#,
            ),
        ] {
            assert!(
                matches!(
                    parse_credentials(status, body.as_bytes(), "imds"),
                    Err(Error::CredentialSource { .. })
                ),
                "{status} {body}"
            );
        }
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
