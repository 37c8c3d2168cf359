//! What the metadata services of both providers share: the session-token `PUT`, token-bearing
//! `GET`s, and the credentials JSON they (and container endpoints and credentials URIs) answer
//! with, which differs only in the names of the secret and token fields and in whether `Code`
//! must be there.

use http::Method;
use http::header::HeaderName;
use serde_json::Value;

use crate::credential::Credential;
use crate::error::Error;
use crate::time::parse_iso8601;
use crate::transport::SignedRequest;

/// The field names of one provider's answer.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// `SecretAccessKey` (AWS) or `AccessKeySecret` (Alibaba Cloud).
    pub secret: &'static str,
    /// `Token` (AWS) or `SecurityToken` (Alibaba Cloud).
    pub token: &'static str,
    /// Whether `"Code":"Success"` is required (Alibaba Cloud), or only checked when present (AWS).
    pub code_required: bool,
}

/// Reads a temporary credential from a 2xx answer of `source_name`.
///
/// # Format
/// `{"Code":"Success","AccessKeyId":"…","<secret>":"…","<token>":"…","Expiration":"YYYY-MM-DDThh:mm:ssZ"}`
pub fn parse(
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

/// A metadata service's session token request (IMDSv2, ECS hardened mode), the token's life
/// 6 hours in the header `ttl_header`.
///
/// # Format
/// `PUT <endpoint>/latest/api/token` with `<ttl_header>: 21600`.
pub fn session_token_request(endpoint: &str, ttl_header: &'static str) -> SignedRequest {
    SignedRequest {
        method: Method::PUT,
        url: format!("{}/latest/api/token", endpoint.trim_end_matches('/')),
        headers: vec![(HeaderName::from_static(ttl_header), "21600".to_owned())],
        body: Vec::new(),
    }
}

/// A `GET` of `<endpoint><path>` with the session token in the header `token_header`.
pub fn get_with_token(
    endpoint: &str,
    path: &str,
    token_header: &'static str,
    token: &str,
) -> SignedRequest {
    get(
        format!("{}{path}", endpoint.trim_end_matches('/')),
        vec![(HeaderName::from_static(token_header), token.to_owned())],
    )
}

/// A plain `GET` with these headers.
pub fn get(url: String, headers: Vec<(HeaderName, String)>) -> SignedRequest {
    SignedRequest {
        method: Method::GET,
        url,
        headers,
        body: Vec::new(),
    }
}
