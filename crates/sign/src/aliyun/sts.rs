//! STS `AssumeRole`: the signed request, built without I/O, and the parsed answer.
//!
//! # Reference
//! <https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole>

use std::time::SystemTime;

use http::Method;
use http::header::CONTENT_TYPE;
use serde::Deserialize;

use crate::aliyun::rpc;
use crate::credential::Credential;
use crate::error::{Error, StsRejection};
use crate::request::SignedRequest;
use crate::time::{format_iso8601, parse_iso8601};

/// The global STS endpoint, the default of every official SDK.
pub const DEFAULT_ENDPOINT: &str = "https://sts.aliyuncs.com";

/// The STS API version `AssumeRole` belongs to.
pub(crate) const API_VERSION: &str = "2015-04-01";

/// What to ask `AssumeRole` for.
#[derive(Debug, Clone, Copy)]
pub struct AssumeRoleParams<'a> {
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: &'a str,
    /// `[A-Za-z0-9.@_-]`, 2 to 32 characters; the vending layer derives it from the caller.
    pub role_session_name: &'a str,
    /// The minified session policy, intersected with the role's own policy.
    pub policy: Option<&'a str>,
    /// `DurationSeconds`, 900 up to the role's maximum session duration.
    pub duration_seconds: u32,
}

/// Builds the signed `AssumeRole` request as a POST form, the way ali-oss sends it.
///
/// `now` becomes `Timestamp` and `nonce` `SignatureNonce`; both are arguments so that
/// signing reads neither the clock nor a random source. The caller's own security token is
/// sent as `SecurityToken` when `credential` is itself temporary.
///
/// # Format
/// ```text
/// POST <endpoint>/
/// Content-Type: application/x-www-form-urlencoded
///
/// AccessKeyId=…&Action=AssumeRole&DurationSeconds=…&Format=JSON&Policy=…&RoleArn=…
/// &RoleSessionName=…&SignatureMethod=HMAC-SHA1&SignatureNonce=…&SignatureVersion=1.0
/// &Timestamp=…&Version=2015-04-01&Signature=…
/// ```
pub fn assume_role_request(
    endpoint: &str,
    credential: &Credential,
    params: &AssumeRoleParams<'_>,
    now: SystemTime,
    nonce: &str,
) -> SignedRequest {
    let timestamp = format_iso8601(now);
    let duration = params.duration_seconds.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("AccessKeyId", &credential.access_key_id),
        ("Action", "AssumeRole"),
        ("DurationSeconds", &duration),
        ("Format", "JSON"),
        ("RoleArn", params.role_arn),
        ("RoleSessionName", params.role_session_name),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", nonce),
        ("SignatureVersion", "1.0"),
        ("Timestamp", &timestamp),
        ("Version", API_VERSION),
    ];
    if let Some(policy) = params.policy {
        form.push(("Policy", policy));
    }
    if let Some(token) = &credential.security_token {
        form.push(("SecurityToken", token));
    }
    let body = rpc::signed_query_string("POST", &form, &credential.access_key_secret);
    SignedRequest {
        method: Method::POST,
        url: format!("{}/", endpoint.trim_end_matches('/')),
        headers: vec![(CONTENT_TYPE, "application/x-www-form-urlencoded".to_owned())],
        body: body.into_bytes(),
    }
}

/// What to ask `AssumeRoleWithOIDC` for: an identity provider's token exchanged for a role.
#[derive(Clone, Copy)]
pub struct OidcParams<'a> {
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: &'a str,
    /// `acs:ram::<account>:oidc-provider/<name>`.
    pub oidc_provider_arn: &'a str,
    /// The OIDC ID token (RRSA's token file, or a caller's verified bearer token).
    pub oidc_token: &'a str,
    /// `RoleSessionName`.
    pub role_session_name: &'a str,
    /// The minified session policy, if any.
    pub policy: Option<&'a str>,
    /// `DurationSeconds`.
    pub duration_seconds: u32,
}

impl std::fmt::Debug for OidcParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcParams")
            .field("role_arn", &self.role_arn)
            .field("oidc_token", &"<redacted>")
            .field("role_session_name", &self.role_session_name)
            .finish_non_exhaustive()
    }
}

/// Builds the anonymous `AssumeRoleWithOIDC` request: no `AccessKeyId`, no `Signature`
/// (the token is the proof), a POST form like [`assume_role_request`].
///
/// # Format
/// ```text
/// POST <endpoint>/
/// Content-Type: application/x-www-form-urlencoded
///
/// Action=AssumeRoleWithOIDC&DurationSeconds=…&Format=JSON&OIDCProviderArn=…&OIDCToken=…
/// &Policy=…&RoleArn=…&RoleSessionName=…&Timestamp=…&Version=2015-04-01
/// ```
///
/// # Reference
/// <https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerolewithoidc>
pub fn assume_role_with_oidc_request(
    endpoint: &str,
    params: &OidcParams<'_>,
    now: SystemTime,
) -> SignedRequest {
    let timestamp = format_iso8601(now);
    let duration = params.duration_seconds.to_string();
    let mut form: Vec<(&str, &str)> = vec![
        ("Action", "AssumeRoleWithOIDC"),
        ("DurationSeconds", &duration),
        ("Format", "JSON"),
        ("OIDCProviderArn", params.oidc_provider_arn),
        ("OIDCToken", params.oidc_token),
        ("RoleArn", params.role_arn),
        ("RoleSessionName", params.role_session_name),
        ("Timestamp", &timestamp),
        ("Version", API_VERSION),
    ];
    if let Some(policy) = params.policy {
        form.push(("Policy", policy));
    }
    SignedRequest {
        method: Method::POST,
        url: format!("{}/", endpoint.trim_end_matches('/')),
        headers: vec![(CONTENT_TYPE, "application/x-www-form-urlencoded".to_owned())],
        body: rpc::canonicalized_query_string(&form).into_bytes(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    credentials: Option<AnswerCredentials>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerCredentials {
    access_key_id: Option<String>,
    access_key_secret: Option<String>,
    security_token: Option<String>,
    expiration: Option<String>,
}

/// Reads an `AssumeRole` answer (`Format=JSON`) into temporary credentials.
///
/// Never panics. An answer with a `Code` is an STS error whatever its HTTP status (STS has
/// been seen to send error bodies with 200); an answer that is not STS JSON at all (an
/// empty body, a proxy's HTML page, truncated JSON) or lacks a credential field is
/// [`Error::StsMalformed`].
pub fn parse_assume_role_response(status: u16, body: &[u8]) -> Result<Credential, Error> {
    let malformed = |reason| Error::StsMalformed { status, reason };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(malformed("empty body"));
    }
    let answer: Answer =
        serde_json::from_slice(body).map_err(|_| malformed("not an STS JSON answer"))?;
    if let Some(code) = answer.code.filter(|c| !c.is_empty()) {
        return Err(Error::StsRejected(StsRejection::new(
            status,
            &code,
            answer.message.as_deref().unwrap_or(""),
            answer.request_id.as_deref(),
        )));
    }
    if !(200..300).contains(&status) {
        return Err(malformed("error status without an error code"));
    }
    let c = answer
        .credentials
        .ok_or_else(|| malformed("no Credentials"))?;
    let non_empty =
        |v: Option<String>, reason| v.filter(|s| !s.is_empty()).ok_or_else(|| malformed(reason));
    let access_key_id = non_empty(c.access_key_id, "no Credentials.AccessKeyId")?;
    let access_key_secret = non_empty(c.access_key_secret, "no Credentials.AccessKeySecret")?;
    let security_token = non_empty(c.security_token, "no Credentials.SecurityToken")?;
    let expiration = c
        .expiration
        .as_deref()
        .and_then(parse_iso8601)
        .ok_or_else(|| malformed("Credentials.Expiration is not YYYY-MM-DDThh:mm:ssZ"))?;
    Ok(Credential {
        access_key_id,
        access_key_secret,
        security_token: Some(security_token),
        expiration: Some(expiration),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Clock;
    use crate::time::FixedClock;

    const DOC_SUCCESS: &str = r#"{"RequestId": "6894B13B-6D71-4EF5-88FA-F32781734A7F",
        "AssumedRoleUser": {"Arn": "acs:ram::123456789012****:role/adminrole/alice",
                            "AssumedRoleId": "34458433936495****:alice"},
        "Credentials": {"AccessKeyId": "STS.L4aBSCSJVMuKg5U1****",
                        "AccessKeySecret": "wyLTSmsyPGP1ohvvw8xYgB29dlGI8KMiH2pK****",
                        "SecurityToken": "********",
                        "Expiration": "2015-04-09T11:52:19Z"}}"#;

    #[test]
    fn parses_the_documented_success_answer() {
        let credential = parse_assume_role_response(200, DOC_SUCCESS.as_bytes()).expect("success");
        assert_eq!(credential.access_key_id, "STS.L4aBSCSJVMuKg5U1****");
        assert_eq!(
            credential.access_key_secret,
            "wyLTSmsyPGP1ohvvw8xYgB29dlGI8KMiH2pK****"
        );
        assert_eq!(credential.security_token.as_deref(), Some("********"));
        assert_eq!(
            credential.expiration,
            Some(FixedClock::at_unix(1_428_580_339).now())
        );
    }

    #[test]
    fn an_error_code_wins_over_the_http_status() {
        let body = br#"{"RequestId":"7463B73D","HostId":"sts.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#;
        for status in [200, 400, 403, 500] {
            match parse_assume_role_response(status, body) {
                Err(Error::StsRejected(r)) => {
                    assert_eq!(r.code, "Throttling.User");
                    assert_eq!(r.message, "Request was denied due to user flow control.");
                    assert_eq!(r.request_id.as_deref(), Some("7463B73D"));
                    assert_eq!(r.status, status);
                }
                other => panic!("status {status}: {other:?}"),
            }
        }
    }

    #[test]
    fn anything_else_is_malformed_and_nothing_panics() {
        let cases: &[(u16, &[u8])] = &[
            (200, b""),
            (200, b"   \n"),
            (502, b"<html><body>Bad Gateway</body></html>"),
            (200, br#"{"RequestId":"x","Credentials":{"AccessKeyId":"STS.a","AccessKey"#),
            (200, br#"{"RequestId":"x"}"#),
            (200, br#"{"Credentials":{"AccessKeyId":"STS.a","AccessKeySecret":"s","Expiration":"2015-04-09T11:52:19Z"}}"#),
            (200, br#"{"Credentials":{"AccessKeyId":"STS.a","AccessKeySecret":"s","SecurityToken":"t","Expiration":"tomorrow"}}"#),
            (200, br#"{"Credentials":{"AccessKeyId":"","AccessKeySecret":"s","SecurityToken":"t","Expiration":"2015-04-09T11:52:19Z"}}"#),
            (200, br#"{"Credentials":{"AccessKeyId":7,"AccessKeySecret":"s","SecurityToken":"t","Expiration":"2015-04-09T11:52:19Z"}}"#),
            (500, br#"{"RequestId":"x"}"#),
            (200, b"[1,2,3]"),
            (200, b"null"),
            (200, &[0xff, 0xfe, 0x00]),
        ];
        for (status, body) in cases {
            match parse_assume_role_response(*status, body) {
                Err(Error::StsMalformed { status: s, .. }) => assert_eq!(s, *status),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn upstream_messages_are_cleaned_before_anyone_sees_them() {
        let long = "x".repeat(5000);
        let body = format!(r#"{{"Code":"InvalidParameter","Message":"line1\nline2\u0007{long}"}}"#);
        match parse_assume_role_response(400, body.as_bytes()) {
            Err(Error::StsRejected(r)) => {
                assert!(r.message.starts_with("line1line2x"));
                assert_eq!(
                    r.message.chars().count(),
                    crate::error::MAX_STS_MESSAGE_CHARS
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_quoted_string_to_sign_never_survives() {
        let body = br#"{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3DLTAI%26SecurityToken%3DCAIS-secret-token"}"#;
        match parse_assume_role_response(400, body) {
            Err(Error::StsRejected(r)) => {
                assert_eq!(r.code, "SignatureDoesNotMatch");
                assert!(!r.message.contains("CAIS-secret-token"), "{}", r.message);
                assert!(!r.message.contains("AccessKeyId"), "{}", r.message);
                assert!(
                    r.message
                        .starts_with("Specified signature is not matched with our calculation.")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
