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

/// A metadata service that hands a session token first (ECS's hardened mode, IMDSv2), then
/// the instance role's name and credentials to requests carrying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetadataService {
    /// The header the token request names the token's life in.
    pub ttl_header: &'static str,
    /// The header every read carries the token in.
    pub token_header: &'static str,
    /// The role path under the metadata root, ending with `/`.
    pub role_path: &'static str,
}

impl MetadataService {
    /// The session token request, its life 6 hours (both services' maximum).
    ///
    /// # Format
    /// `PUT <endpoint>/latest/api/token` with `<ttl_header>: 21600`.
    pub fn token_request(&self, endpoint: &str) -> SignedRequest {
        session_token_request(endpoint, self.ttl_header)
    }

    /// The instance role's name request, with the session token.
    pub fn role_name_request(&self, endpoint: &str, token: &str) -> SignedRequest {
        self.role_credentials_request(endpoint, token, "")
    }

    /// The role's credentials request, with the session token.
    pub fn role_credentials_request(
        &self,
        endpoint: &str,
        token: &str,
        role: &str,
    ) -> SignedRequest {
        let path = format!("{}{role}", self.role_path);
        get_with_token(endpoint, &path, self.token_header, token)
    }
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
