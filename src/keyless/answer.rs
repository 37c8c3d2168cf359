//! The credentials JSON the metadata services answer with (and container endpoints and
//! credentials URIs, in their provider's shape), which differs only in the names of the secret
//! and token fields and in whether `Code` must be there; and the plain `GET` that asks for it.
//! Read without I/O.

use http::Method;
use http::header::HeaderName;
use serde_json::Value;

use crate::Credential;
use crate::Error;
use crate::parse_iso8601;
use crate::transport::SignedRequest;

/// The field names of one provider's answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// `SecretAccessKey` (AWS) or `AccessKeySecret` (Alibaba Cloud).
    secret: &'static str,
    /// `Token` (AWS) or `SecurityToken` (Alibaba Cloud).
    token: &'static str,
    /// Whether `"Code":"Success"` is required (Alibaba Cloud), or only checked when present (AWS).
    code_required: bool,
}

/// Alibaba Cloud's answer (the ECS metadata service, a credentials URI): `Code` must say
/// `Success`, as the official SDKs require.
///
/// # Format
/// `{"AccessKeyId":"STS.…","AccessKeySecret":"…","Expiration":"2017-11-01T05:20:01Z","SecurityToken":"…","LastUpdated":"…","Code":"Success"}`
pub(crate) const ALIYUN: Fields = Fields {
    secret: "AccessKeySecret",
    token: "SecurityToken",
    code_required: true,
};

/// AWS's answer (IMDS, the container endpoint).
///
/// # Format
/// `{"Code":"Success","AccessKeyId":"ASIA…","SecretAccessKey":"…","Token":"…","Expiration":"2019-11-09T13:34:41Z"}`
/// (`Code` only from IMDS; anything but `Success` is refused).
pub(crate) const AWS: Fields = Fields {
    secret: "SecretAccessKey",
    token: "Token",
    code_required: false,
};

/// Reads a temporary credential from a 2xx answer of `source_name`.
///
/// # Format
/// `{"Code":"Success","AccessKeyId":"…","<secret>":"…","<token>":"…","Expiration":"YYYY-MM-DDThh:mm:ssZ"}`
pub(crate) fn parse(
    status: u16,
    body: &[u8],
    source_name: &'static str,
    fields: Fields,
) -> Result<Credential, Error> {
    let refuse = |reason: &str| Error::CredentialSource {
        source_name,
        reason: format!("answered http {status}: {reason}"),
    };
    if !(200..300).contains(&status) {
        return Err(refuse("not a success"));
    }
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| refuse("not a credentials JSON object"))?;
    match answer.get("Code").map(Value::as_str) {
        Some(Some("Success")) => {}
        None if !fields.code_required => {}
        _ => return Err(refuse("Code is not Success")),
    }
    let field = |name: &str| {
        answer[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| refuse(&format!("no {name}")))
    };
    let expiration = field("Expiration")?;
    Ok(Credential {
        access_key_id: field("AccessKeyId")?,
        access_key_secret: field(fields.secret)?,
        security_token: Some(field(fields.token)?),
        expiration: Some(parse_iso8601(&expiration).ok_or_else(|| refuse("bad Expiration"))?),
    })
}

/// A plain `GET` with these headers.
pub(crate) fn get(url: String, headers: Vec<(HeaderName, String)>) -> SignedRequest {
    SignedRequest {
        method: Method::GET,
        url,
        headers,
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, FixedClock};

    /// The shape of the answer in the ECS documentation, with invented values.
    const ECS_ANSWER: &str = r#"{"AccessKeyId":"STS.test-ecs-key","AccessKeySecret":"ecs-secret/9","Expiration":"2017-11-01T05:20:01Z","SecurityToken":"CAIS+ecs-token","LastUpdated":"2017-10-31T23:20:01Z","Code":"Success"}"#;

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
    fn the_documented_ecs_answer_is_read_and_anything_but_success_refused() {
        let c = parse(200, ECS_ANSWER.as_bytes(), "ecs", ALIYUN).expect("success");
        assert_eq!(c.access_key_id, "STS.test-ecs-key");
        assert_eq!(c.access_key_secret, "ecs-secret/9");
        assert_eq!(c.security_token.as_deref(), Some("CAIS+ecs-token"));
        // `date -u -d 2017-11-01T05:20:01Z +%s`
        assert_eq!(c.expiration, Some(FixedClock::at_unix(1_509_513_601).now()));
        for (status, body) in [
            (500, ECS_ANSWER.to_owned()),
            (200, ECS_ANSWER.replace("Success", "Failure")),
            (200, ECS_ANSWER.replace(r#","Code":"Success""#, "")),
            (200, ECS_ANSWER.replace("CAIS+ecs-token", "")),
            (200, "not json".to_owned()),
        ] {
            assert!(
                parse(status, body.as_bytes(), "ecs", ALIYUN).is_err(),
                "{status} {body}"
            );
        }
    }

    #[test]
    fn the_documented_imds_answer_is_read_and_failures_are_refused() {
        let c = parse(200, IMDS_ANSWER.as_bytes(), "imds", AWS).expect("success");
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
                    parse(status, body.as_bytes(), "imds", AWS),
                    Err(Error::CredentialSource { .. })
                ),
                "{status} {body}"
            );
        }
    }
}
