//! AWS Signature Version 4: header signing (STS) and query signing (S3 presigned URLs), with
//! S3's single URI encoding.
//!
//! # Reference
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>

use std::time::{Duration, SystemTime};

use ring::digest;

use crate::credential::Credential;
use crate::encode::{RFC3986_PATH, hex_lower, percent_encode};
use crate::signing_key::SigningKeyCache;
use crate::time::{format_compact, format_date};
use crate::v4::{self, EmptyValue, EncodedQuery, Stages};

/// The algorithm name.
pub const ALGORITHM: &str = v4::AWS4.algorithm;

/// The payload hash of a presigned S3 request.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// The longest a presigned URL may live: 7 days.
pub(crate) const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// The canonical URI: the path, each byte outside RFC 3986 `unreserved` and `/`
/// percent-encoded once (S3 does not encode twice or normalize).
pub fn canonical_uri(path: &str) -> String {
    percent_encode(path, RFC3986_PATH)
}

/// The canonical query string: names and values RFC 3986-encoded, sorted by name then value,
/// `name=value` joined by `&` (an empty value still has its `=`).
pub fn canonical_query_string(query: &[(&str, &str)]) -> String {
    sorted_query(&EncodedQuery::new(query, 0))
}

/// [`canonical_query_string`] of pairs already encoded.
fn sorted_query(encoded: &EncodedQuery) -> String {
    let mut out = String::with_capacity(encoded.written_len());
    encoded.write_sorted(&mut out, EmptyValue::NameEquals);
    out
}

/// The canonical headers and the signed-headers list: names lower-cased and sorted, values
/// trimmed with inner runs of spaces folded, repeated names joined with `,`.
///
/// # Format
/// ```text
/// name1 ":" value1 "\n" name2 ":" value2 "\n" ...        and        name1 ";" name2 ...
/// ```
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut merged: Vec<(String, String)> = Vec::with_capacity(sorted.len());
    for (name, value) in sorted {
        match merged.last_mut() {
            Some((last, values)) if *last == name => {
                values.push(',');
                values.push_str(&value);
            }
            _ => merged.push((name, value)),
        }
    }
    let canonical = merged.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed = merged
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

pub use crate::v4::{canonical_request, signature};

/// Hex SHA-256 of a payload, as the canonical request and `x-amz-content-sha256` carry it.
pub fn payload_hash(body: &[u8]) -> String {
    hex_lower(digest::digest(&digest::SHA256, body).as_ref())
}

/// What is signed: one request as the client (or stsvend) will send it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The `Host` header the request will carry (with its port, if not the default).
    pub host: &'a str,
    /// The path, raw (not percent-encoded).
    pub path: &'a str,
    /// Query parameters, raw.
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `host` (and `x-amz-*` the signer adds).
    pub headers: &'a [(&'a str, &'a str)],
}

/// When, where and with which key cache a SigV4 signature is made.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The region in the scope.
    pub region: &'a str,
    /// The service in the scope (`s3`, `sts`).
    pub service: &'a str,
    /// The signing instant.
    pub now: SystemTime,
    /// Where derived signing keys are kept.
    pub keys: &'a SigningKeyCache,
}

impl Context<'_> {
    /// `yyyymmdd` and `yyyymmddThhmmssZ` of the signing instant.
    fn dates(&self) -> (String, String) {
        (format_date(self.now), format_compact(self.now))
    }

    /// Signs `canonical_request` made at `date_time` under `scope`.
    fn sign(
        &self,
        credential: &Credential,
        scope: &str,
        date_time: &str,
        canonical_request: String,
    ) -> Stages {
        let key = self.keys.get(
            &v4::AWS4,
            credential.secret_access_key(),
            &date_time[..8],
            self.region,
            self.service,
        );
        Stages::sign(&v4::AWS4, &key, date_time, scope, canonical_request)
    }
}

/// A presigned URL for `request`: `origin` (`scheme://host[:port]`), the canonical URI, and
/// the canonical query string (the request's own parameters and the `X-Amz-*` ones, the
/// session token signed as `X-Amz-Security-Token`) followed by `X-Amz-Signature`. Valid for
/// `expires_in` (at most 7 days) from `context.now`. The stages are returned beside the URL.
///
/// The canonical forms are what is sent, so each value is encoded once.
pub fn presign_url(
    credential: &Credential,
    request: &Request<'_>,
    origin: &str,
    expires_in: Duration,
    context: &Context<'_>,
) -> (String, Stages) {
    let date_time = format_compact(context.now);
    let date = &date_time[..8];
    let scope = v4::AWS4.scope(date, context.region, context.service);
    let credential_param = v4::AWS4.credential(
        &credential.access_key_id,
        date,
        context.region,
        context.service,
    );
    let expires = expires_in.as_secs().min(MAX_EXPIRES_SECONDS).to_string();
    let mut headers: Vec<(&str, &str)> = vec![("host", request.host)];
    headers.extend_from_slice(request.headers);
    let (canonical, signed) = canonical_headers(&headers);
    let token = credential.security_token.as_deref();
    let mut query = EncodedQuery::new(request.query, 256 + token.map_or(0, str::len));
    query.push("X-Amz-Algorithm", ALGORITHM);
    query.push("X-Amz-Credential", &credential_param);
    query.push("X-Amz-Date", &date_time);
    query.push("X-Amz-Expires", &expires);
    query.push("X-Amz-SignedHeaders", &signed);
    if let Some(token) = token {
        query.push("X-Amz-Security-Token", token);
    }
    let uri = canonical_uri(request.path);
    // The canonical query string is written in place, into the canonical request's buffer,
    // and the URL copies it from there.
    let mut written = 0..0;
    let canonical_request = v4::canonical_request_with(
        request.method,
        [&uri, &canonical, &signed, UNSIGNED_PAYLOAD],
        query.written_len(),
        |out| {
            let start = out.len();
            query.write_sorted(out, EmptyValue::NameEquals);
            written = start..out.len();
        },
    );
    let stages = context.sign(credential, &scope, &date_time, canonical_request);
    let canonical_query = &stages.canonical_request[written];
    let mut url = String::with_capacity(
        origin.len() + uri.len() + canonical_query.len() + stages.signature.len() + 20,
    );
    for part in [
        origin,
        &uri,
        "?",
        canonical_query,
        "&X-Amz-Signature=",
        &stages.signature,
    ] {
        url.push_str(part);
    }
    (url, stages)
}

/// Signs `request` with `body`, and returns the headers to add: `x-amz-date`,
/// `x-amz-security-token` (signed) with a temporary key, and `authorization`.
pub(crate) fn sign_headers(
    credential: &Credential,
    request: &Request<'_>,
    body: &[u8],
    context: &Context<'_>,
) -> Vec<(&'static str, String)> {
    let (date, date_time) = context.dates();
    let scope = v4::AWS4.scope(&date, context.region, context.service);
    let mut added: Vec<(&'static str, String)> = vec![("x-amz-date", date_time.clone())];
    if let Some(token) = &credential.security_token {
        added.push(("x-amz-security-token", token.clone()));
    }
    let mut headers: Vec<(&str, &str)> = vec![("host", request.host)];
    headers.extend_from_slice(request.headers);
    headers.extend(added.iter().map(|(n, v)| (*n, v.as_str())));
    let (canonical, signed) = canonical_headers(&headers);
    let canonical_request = canonical_request(
        request.method,
        &canonical_uri(request.path),
        &canonical_query_string(request.query),
        &canonical,
        &signed,
        &payload_hash(body),
    );
    let stages = context.sign(credential, &scope, &date_time, canonical_request);
    added.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed}, Signature={}",
            credential.access_key_id, stages.signature
        ),
    ));
    added
}
