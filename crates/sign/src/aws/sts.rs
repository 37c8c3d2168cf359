//! AWS STS `AssumeRole`: the SigV4-signed POST form, built without I/O, and the XML answer.
//!
//! # Reference
//! <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>

use std::time::SystemTime;

use http::Method;
use http::header::{CONTENT_TYPE, HeaderName};

use crate::aliyun::sts::AssumeRoleParams;
use crate::aws::sigv4;
use crate::credential::Credential;
use crate::encode::{RFC3986_UNRESERVED, percent_encode};
use crate::error::{Error, StsRejection};
use crate::request::SignedRequest;
use crate::signing_key::SigningKeyCache;
use crate::time::parse_iso8601;

/// The STS API version `AssumeRole` belongs to.
pub(crate) const API_VERSION: &str = "2011-06-15";

/// Builds the signed `AssumeRole` request as a POST form (as the AWS SDKs send it; a signed
/// GET is mis-verified by some STS implementations). With a temporary key (a Lambda execution
/// role) its session token is sent, signed, as `x-amz-security-token`.
pub fn assume_role_request(
    endpoint: &str,
    region: &str,
    credential: &Credential,
    params: &AssumeRoleParams<'_>,
    now: SystemTime,
    keys: &SigningKeyCache,
) -> SignedRequest {
    let duration = params.duration_seconds.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("Action", "AssumeRole"),
        ("Version", API_VERSION),
        ("RoleArn", params.role_arn),
        ("RoleSessionName", params.role_session_name),
        ("DurationSeconds", &duration),
    ];
    if let Some(policy) = params.policy {
        form.push(("Policy", policy));
    }
    let body = form_body(&form);
    let endpoint = endpoint.trim_end_matches('/');
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, host)| host);
    let content_type = FORM_CONTENT_TYPE;
    let request = sigv4::Request {
        method: "POST",
        host,
        path: "/",
        query: &[],
        headers: &[("content-type", content_type)],
    };
    let context = sigv4::Context {
        region,
        service: "sts",
        now,
        keys,
    };
    let signed = sigv4::sign_headers(credential, &request, body.as_bytes(), &context);
    let mut headers = vec![(CONTENT_TYPE, content_type.to_owned())];
    headers.extend(
        signed
            .into_iter()
            .map(|(name, value)| (HeaderName::from_static(name), value)),
    );
    SignedRequest {
        method: Method::POST,
        url: format!("{endpoint}/"),
        headers,
        body: body.into_bytes(),
    }
}

/// What to ask `AssumeRoleWithWebIdentity` for.
#[derive(Clone, Copy)]
pub struct WebIdentityParams<'a> {
    /// `arn:aws:iam::<account>:role/<name>`.
    pub role_arn: &'a str,
    /// `RoleSessionName`.
    pub role_session_name: &'a str,
    /// The OIDC token (IRSA's token file, or a caller's verified bearer token).
    pub web_identity_token: &'a str,
    /// The minified session policy, if any.
    pub policy: Option<&'a str>,
    /// `DurationSeconds`.
    pub duration_seconds: u32,
}

impl std::fmt::Debug for WebIdentityParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebIdentityParams")
            .field("role_arn", &self.role_arn)
            .field("web_identity_token", &"<redacted>")
            .field("role_session_name", &self.role_session_name)
            .finish_non_exhaustive()
    }
}

/// Builds the unsigned `AssumeRoleWithWebIdentity` request (the token is the proof), a POST
/// form as botocore sends it. Its answer reads with [`parse_assume_role_response`].
///
/// # Format
/// ```text
/// POST <endpoint>/
/// Content-Type: application/x-www-form-urlencoded; charset=utf-8
///
/// Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=…&RoleSessionName=…
/// &WebIdentityToken=…&DurationSeconds=…[&Policy=…]
/// ```
///
/// # Reference
/// <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html>
pub fn assume_role_with_web_identity_request(
    endpoint: &str,
    params: &WebIdentityParams<'_>,
) -> SignedRequest {
    let duration = params.duration_seconds.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", API_VERSION),
        ("RoleArn", params.role_arn),
        ("RoleSessionName", params.role_session_name),
        ("WebIdentityToken", params.web_identity_token),
        ("DurationSeconds", &duration),
    ];
    if let Some(policy) = params.policy {
        form.push(("Policy", policy));
    }
    SignedRequest {
        method: Method::POST,
        url: format!("{}/", endpoint.trim_end_matches('/')),
        headers: vec![(CONTENT_TYPE, FORM_CONTENT_TYPE.to_owned())],
        body: form_body(&form).into_bytes(),
    }
}

/// The form content type the AWS SDKs send.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// `k=v&…`, values RFC 3986-encoded, in the given order.
fn form_body(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v, RFC3986_UNRESERVED)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The raw content of the first `<name>…</name>` element.
fn raw_element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

/// The text of the first `<name>…</name>` element, entities decoded (once: for leaves).
fn element(xml: &str, name: &str) -> Option<String> {
    let raw = raw_element(xml, name)?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Reads an `AssumeRole` answer (XML) into temporary credentials. Never panics: an
/// `ErrorResponse` is [`Error::StsRejected`] whatever the status; anything that is not an
/// `AssumeRoleResponse` with all four credential fields is [`Error::StsMalformed`].
pub fn parse_assume_role_response(status: u16, body: &[u8]) -> Result<Credential, Error> {
    let malformed = |reason| Error::StsMalformed { status, reason };
    let xml = std::str::from_utf8(body).map_err(|_| malformed("not UTF-8"))?;
    if xml.trim().is_empty() {
        return Err(malformed("empty body"));
    }
    if let Some(code) = element(xml, "Code").filter(|c| !c.is_empty()) {
        return Err(Error::StsRejected(StsRejection::new(
            status,
            &code,
            &element(xml, "Message").unwrap_or_default(),
            element(xml, "RequestId").as_deref(),
        )));
    }
    if !(200..300).contains(&status) {
        return Err(malformed("error status without an error code"));
    }
    let credentials = raw_element(xml, "Credentials").ok_or_else(|| malformed("no Credentials"))?;
    let field = |name, reason| {
        element(credentials, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| malformed(reason))
    };
    let access_key_id = field("AccessKeyId", "no Credentials.AccessKeyId")?;
    let secret = field("SecretAccessKey", "no Credentials.SecretAccessKey")?;
    let token = field("SessionToken", "no Credentials.SessionToken")?;
    let expiration = field("Expiration", "no Credentials.Expiration")?;
    let expiration = parse_iso8601(&expiration)
        .ok_or_else(|| malformed("Credentials.Expiration is not ISO 8601 UTC"))?;
    Ok(Credential {
        access_key_id,
        access_key_secret: secret,
        security_token: Some(token),
        expiration: Some(expiration),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Clock, FixedClock};

    /// The success example of the AssumeRole API reference, its credentials replaced by invented ones.
    const DOC_SUCCESS: &str = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
  <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIA-test-assumed-key</AccessKeyId>
      <SecretAccessKey>test-assumed/secret+key</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22w&amp;token</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;

    #[test]
    fn parses_the_documented_success_answer() {
        let c = parse_assume_role_response(200, DOC_SUCCESS.as_bytes()).expect("success");
        assert_eq!(c.access_key_id, "ASIA-test-assumed-key");
        assert_eq!(c.access_key_secret, "test-assumed/secret+key");
        assert_eq!(
            c.security_token.as_deref(),
            Some("AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22w&token")
        );
        // `date -u -d 2019-11-09T13:34:41Z +%s`
        assert_eq!(c.expiration, Some(FixedClock::at_unix(1_573_306_481).now()));
    }

    #[test]
    fn error_answers_are_rejections_and_the_rest_malformed() {
        let error = br#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/x is not authorized to perform: sts:AssumeRole</Message></Error><RequestId>4c8f2e4b</RequestId></ErrorResponse>"#;
        match parse_assume_role_response(403, error) {
            Err(Error::StsRejected(r)) => {
                assert_eq!(
                    (r.code.as_str(), r.request_id.as_deref()),
                    ("AccessDenied", Some("4c8f2e4b"))
                );
                assert!(
                    r.message
                        .starts_with("User: arn:aws:iam::123456789012:user/x")
                );
            }
            other => panic!("{other:?}"),
        }
        for (status, body) in [
            (200, ""),
            (200, "<html>proxy</html>"),
            (
                200,
                "<AssumeRoleResponse><Credentials><AccessKeyId>ASIA</AccessKeyId></Credentials></AssumeRoleResponse>",
            ),
            (500, "<ErrorResponse></ErrorResponse>"),
            (
                200,
                "<Credentials><AccessKeyId>a</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>soon</Expiration></Credentials>",
            ),
            (200, "<Credentials><AccessKeyId>a"),
        ] {
            assert!(
                matches!(
                    parse_assume_role_response(status, body.as_bytes()),
                    Err(Error::StsMalformed { .. })
                ),
                "{body}"
            );
        }
        assert!(matches!(
            parse_assume_role_response(200, &[0xff, 0xfe]),
            Err(Error::StsMalformed { .. })
        ));
    }

    #[test]
    fn an_echoed_canonical_request_never_survives() {
        // The shape AWS query APIs answer a bad signature with: the canonical request and the
        // string to sign the server computed, the function's session token among the headers.
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nx-amz-security-token:FwoGZXIvYXdzEXAMPLE-session-token\n'\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20261122T085310Z'</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
        match parse_assume_role_response(403, body.as_bytes()) {
            Err(Error::StsRejected(r)) => {
                assert!(
                    !r.message.contains("EXAMPLE-session-token"),
                    "{}",
                    r.message
                );
                assert!(!r.message.contains("x-amz-security-token"), "{}", r.message);
                assert!(
                    r.message
                        .starts_with("The request signature we calculated does not match"),
                    "{}",
                    r.message
                );
                assert!(
                    r.message.ends_with("[echoed request removed]"),
                    "{}",
                    r.message
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entities_are_decoded_once() {
        // `&amp;lt;` in a leaf is the text `&lt;`, not `<`.
        let body = DOC_SUCCESS.replace("&amp;token", "&amp;lt;");
        let c = parse_assume_role_response(200, body.as_bytes()).expect("success");
        assert!(
            c.security_token
                .as_deref()
                .is_some_and(|t| t.ends_with("&lt;")),
            "{:?}",
            c.security_token
        );
    }
}
