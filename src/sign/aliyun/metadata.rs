//! Where an Alibaba Cloud workload finds its own credentials without a key: the ECS/ECI
//! instance metadata service in its hardened mode (a session token first), and a credentials
//! URI (`ALIBABA_CLOUD_CREDENTIALS_URI`). Requests built and answers read without I/O.
//!
//! # Reference
//! <https://www.alibabacloud.com/help/en/ecs/user-guide/view-instance-metadata> (hardened mode),
//! aliyun/credentials-python `provider/ecs_ram_role.py` and `provider/uri.py`.

use crate::credential::Credential;
use crate::error::Error;
use crate::sign::credentials_answer::{self, MetadataService};
use crate::transport::SignedRequest;

/// The metadata service the official SDKs hard-code.
pub const DEFAULT_ENDPOINT: &str = "http://100.100.100.200";

/// The ECS/ECI metadata service in its hardened mode: token first, then the RAM role.
pub const ECS: MetadataService = MetadataService {
    ttl_header: "x-aliyun-ecs-metadata-token-ttl-seconds",
    token_header: "x-aliyun-ecs-metadata-token",
    role_path: "/latest/meta-data/ram/security-credentials/",
};

/// The credentials URI request: a plain `GET` of the URI as configured.
pub fn uri_request(uri: &str) -> SignedRequest {
    credentials_answer::get(uri.to_owned(), Vec::new())
}

/// Reads the credentials JSON the metadata service and a credentials URI answer with; both
/// must say `"Code":"Success"`, as the official SDKs require.
///
/// # Format
/// `{"AccessKeyId":"STS.…","AccessKeySecret":"…","Expiration":"2017-11-01T05:20:01Z","SecurityToken":"…","LastUpdated":"…","Code":"Success"}`
pub fn parse_credentials(
    status: u16,
    body: &[u8],
    source_name: &'static str,
) -> Result<Credential, Error> {
    let fields = credentials_answer::Fields {
        secret: "AccessKeySecret",
        token: "SecurityToken",
        code_required: true,
    };
    credentials_answer::parse(status, body, source_name, fields)
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::time::{Clock, FixedClock};

    /// The shape of the answer in the ECS documentation, with invented values.
    const DOC_ANSWER: &str = r#"{"AccessKeyId":"STS.test-ecs-key","AccessKeySecret":"ecs-secret/9","Expiration":"2017-11-01T05:20:01Z","SecurityToken":"CAIS+ecs-token","LastUpdated":"2017-10-31T23:20:01Z","Code":"Success"}"#;

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
    fn the_documented_answer_is_read_and_anything_but_success_refused() {
        let c = parse_credentials(200, DOC_ANSWER.as_bytes(), "ecs").expect("success");
        assert_eq!(c.access_key_id, "STS.test-ecs-key");
        assert_eq!(c.access_key_secret, "ecs-secret/9");
        assert_eq!(c.security_token.as_deref(), Some("CAIS+ecs-token"));
        // `date -u -d 2017-11-01T05:20:01Z +%s`
        assert_eq!(c.expiration, Some(FixedClock::at_unix(1_509_513_601).now()));
        for (status, body) in [
            (500, DOC_ANSWER.to_owned()),
            (200, DOC_ANSWER.replace("Success", "Failure")),
            (200, DOC_ANSWER.replace(r#","Code":"Success""#, "")),
            (200, DOC_ANSWER.replace("CAIS+ecs-token", "")),
            (200, "not json".to_owned()),
        ] {
            assert!(
                parse_credentials(status, body.as_bytes(), "ecs").is_err(),
                "{status} {body}"
            );
        }
    }
}
