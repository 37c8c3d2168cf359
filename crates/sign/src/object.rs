//! The shapes a presigner signs, the same for every provider: one object request, and a
//! browser form upload.

use std::time::{Duration, SystemTime};

use crate::endpoint::Endpoint;

use serde_json::{Value, json};

/// One object request to presign, as the client will send it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectRequest<'a> {
    /// The HTTP method the client will use.
    pub method: &'a str,
    /// The bucket.
    pub bucket: &'a str,
    /// The object key, raw (not percent-encoded).
    pub key: &'a str,
    /// Query parameters the client sends, raw; an empty value is a bare name (`uploads`).
    pub query: &'a [(&'a str, &'a str)],
    /// Headers the client sends that the signature covers: `Content-Type`, `Content-MD5`
    /// and `x-oss-*`.
    pub headers: &'a [(&'a str, &'a str)],
}

impl ObjectRequest<'_> {
    /// The value of header `name` (case-insensitive), or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v)
    }
}

/// One URL to presign: the request, where it goes, when it is signed and for how long.
#[derive(Debug, Clone, Copy)]
pub struct UrlParams<'a> {
    /// Where the bucket is served.
    pub endpoint: &'a Endpoint,
    /// The bucket's region (signature scope; V1 has none).
    pub region: &'a str,
    /// What the client will send.
    pub request: ObjectRequest<'a>,
    /// The signing instant.
    pub now: SystemTime,
    /// How long the URL should work (V4 signatures cap it at 7 days).
    pub expires_in: Duration,
}

/// A presigned URL and the instant it stops working. `Debug` hides the URL (it carries the
/// signature and the security token).
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedUrl {
    /// The URL to send the request to.
    pub url: String,
    /// When the signature stops working.
    pub expiration: SystemTime,
}

impl std::fmt::Debug for PresignedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresignedUrl")
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Which keys a form upload may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCondition<'a> {
    /// Exactly this key.
    Exact(&'a str),
    /// Any key under this prefix; the form's `key` is the prefix followed by `${filename}`,
    /// which OSS replaces with the uploaded file's name.
    StartsWith(&'a str),
}

/// What a form upload policy allows.
#[derive(Debug, Clone, Copy)]
pub struct PostParams<'a> {
    /// The bucket.
    pub bucket: &'a str,
    /// The bucket's region (signature scope).
    pub region: &'a str,
    /// The key condition.
    pub key: KeyCondition<'a>,
    /// The smallest file accepted, in bytes (`content-length-range` from this).
    pub min_bytes: u64,
    /// The largest file accepted, in bytes (`content-length-range` to this).
    pub max_bytes: u64,
    /// The exact `Content-Type` the form must send, when restricted.
    pub content_type: Option<&'a str>,
    /// `success_action_status`: `200`, `201` or `204`.
    pub success_action_status: &'a str,
    /// When the policy stops working.
    pub expiration: SystemTime,
    /// The signing instant (V4 `x-oss-date`).
    pub now: SystemTime,
    /// An OSS upload callback (`callback` field, base64 JSON) the form must carry as given.
    pub callback: Option<&'a str>,
    /// More fields the form must carry as given (the upload rules: metadata, tags,
    /// encryption, create-only), each pinned by an `eq` condition.
    pub pinned: &'a [(String, String)],
}

/// A signed form upload: the fields to send (the file field goes last), and the policy.
/// `Debug` shows the field names only (the values hold the token and the signature).
#[derive(Clone, PartialEq, Eq)]
pub struct PostForm {
    /// Form fields in the order to send them.
    pub fields: Vec<(String, String)>,
    /// The policy document as signed (before base64), for inspection and tests.
    pub policy: String,
}

impl std::fmt::Debug for PostForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("PostForm")
            .field("fields", &names)
            .finish_non_exhaustive()
    }
}

/// The conditions every form policy carries, OSS's and S3's alike, pushed onto `conditions`,
/// and the matching fields onto `fields`: the bucket, the key (exact, or `starts-with` with the
/// `${filename}` field), `content-length-range` `min_bytes` to `max_bytes`, `success_action_status`, and
/// `Content-Type` when restricted.
pub fn form_conditions(
    params: &PostParams<'_>,
    conditions: &mut Vec<Value>,
    fields: &mut Vec<(String, String)>,
) {
    conditions.push(json!({ "bucket": params.bucket }));
    match params.key {
        KeyCondition::Exact(key) => {
            conditions.push(json!({ "key": key }));
            fields.push(("key".to_owned(), key.to_owned()));
        }
        KeyCondition::StartsWith(prefix) => {
            conditions.push(json!(["starts-with", "$key", prefix]));
            fields.push(("key".to_owned(), format!("{prefix}${{filename}}")));
        }
    }
    conditions.push(json!([
        "content-length-range",
        params.min_bytes,
        params.max_bytes
    ]));
    conditions.push(json!({ "success_action_status": params.success_action_status }));
    fields.push((
        "success_action_status".to_owned(),
        params.success_action_status.to_owned(),
    ));
    if let Some(content_type) = params.content_type {
        conditions.push(json!({ "Content-Type": content_type }));
        fields.push(("Content-Type".to_owned(), content_type.to_owned()));
    }
    if let Some(callback) = params.callback {
        conditions.push(json!({ "callback": callback }));
        fields.push(("callback".to_owned(), callback.to_owned()));
    }
    for (name, value) in params.pinned {
        conditions.push(json!({ name: value }));
        fields.push((name.clone(), value.clone()));
    }
}
