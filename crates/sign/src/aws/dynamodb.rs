//! DynamoDB's JSON API (`X-Amz-Target: DynamoDB_20120810.*`): one operation as a SigV4-signed
//! POST, built without I/O. The quota store (`stsvend-quota`) builds the bodies and sends.
//!
//! # Reference
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html>

use std::time::SystemTime;

use http::Method;
use http::header::{CONTENT_TYPE, HeaderName};

use crate::aws::sigv4;
use crate::credential::Credential;
use crate::request::SignedRequest;
use crate::signing_key::SigningKeyCache;

/// The API version every operation is named under.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// The body's media type.
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.0";

/// The SigV4 service name.
const SERVICE: &str = "dynamodb";

/// DynamoDB's regional endpoint, for a region without an override.
pub fn regional_endpoint(region: &str) -> String {
    format!("https://dynamodb.{region}.amazonaws.com")
}

/// Builds the signed request for `operation` (`GetItem`, `TransactWriteItems`, …) with the
/// JSON `body`, at `endpoint` (`scheme://host[:port]`). `content-type`, `host`, `x-amz-date`,
/// `x-amz-target` (and `x-amz-security-token` with a temporary key) are signed, as the AWS SDKs
/// sign them.
pub fn json_request(
    endpoint: &str,
    region: &str,
    credential: &Credential,
    operation: &str,
    body: Vec<u8>,
    now: SystemTime,
    keys: &SigningKeyCache,
) -> SignedRequest {
    let endpoint = endpoint.trim_end_matches('/');
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, host)| host);
    let target = format!("{TARGET_PREFIX}{operation}");
    let request = sigv4::Request {
        method: "POST",
        host,
        path: "/",
        query: &[],
        headers: &[
            ("content-type", CONTENT_TYPE_JSON),
            ("x-amz-target", &target),
        ],
    };
    let context = sigv4::Context {
        region,
        service: SERVICE,
        now,
        keys,
    };
    let signed = sigv4::sign_headers(credential, &request, &body, &context);
    let mut headers = vec![
        (CONTENT_TYPE, CONTENT_TYPE_JSON.to_owned()),
        (HeaderName::from_static("x-amz-target"), target),
    ];
    headers.extend(
        signed
            .into_iter()
            .map(|(name, value)| (HeaderName::from_static(name), value)),
    );
    SignedRequest {
        method: Method::POST,
        url: format!("{endpoint}/"),
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// The body `scripts/oracles/dynamodb_sigv4_vector.py` signs.
    const BODY: &str = r#"{"TableName":"stsvend-quota","Key":{"pk":{"S":"quota#x"},"sk":{"S":"usage"}},"ConsistentRead":true}"#;

    fn signed(token: Option<&str>) -> SignedRequest {
        let credential = Credential::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_owned),
        );
        // 2015-08-30T12:36:00Z
        let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
        json_request(
            &regional_endpoint("us-east-1"),
            "us-east-1",
            &credential,
            "GetItem",
            BODY.as_bytes().to_vec(),
            now,
            &SigningKeyCache::default(),
        )
    }

    fn header<'a>(request: &'a SignedRequest, name: &str) -> Option<&'a str> {
        request
            .headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.as_str())
    }

    // Expected values: botocore 1.44.5's SigV4Auth on the same request
    // (scripts/oracles/dynamodb_sigv4_vector.py).
    #[test]
    fn a_get_item_is_signed_as_botocore_signs_it() {
        let request = signed(None);
        assert_eq!(request.url, "https://dynamodb.us-east-1.amazonaws.com/");
        assert_eq!(
            header(&request, "x-amz-target"),
            Some("DynamoDB_20120810.GetItem")
        );
        assert_eq!(header(&request, "content-type"), Some(CONTENT_TYPE_JSON));
        assert_eq!(header(&request, "x-amz-date"), Some("20150830T123600Z"));
        assert_eq!(
            header(&request, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=20d89ff782de6c54abddede4625b4d98be4aced78a0af1c16d2847ecf5ce7ffd"
            )
        );
    }

    #[test]
    fn a_session_token_is_sent_and_signed_as_botocore_does() {
        let request = signed(Some("FQoGZXIvYXdzEXAMPLETOKEN"));
        assert_eq!(
            header(&request, "x-amz-security-token"),
            Some("FQoGZXIvYXdzEXAMPLETOKEN")
        );
        assert_eq!(
            header(&request, "authorization"),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=852a119fa0c16c67a40e43a38a4d263bc44864b13bff49b9a4783db131f89d42"
            )
        );
    }
}
