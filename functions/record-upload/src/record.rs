//! One upload, as record-upload learnt it, and who made it.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::digest;
use serde::Serialize;
use stsvend::{PrefixTemplate, check_key, sign::hex_lower};
use stsvend_host::log::{escape, escaped};
use tracing::{info, warn};

/// Where a record was learnt; it serializes as [`Source::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// An OSS upload callback.
    OssCallback,
    /// An OSS event from a Function Compute OSS trigger.
    OssEvent,
    /// An S3 event notification.
    S3Event,
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl Source {
    /// The name records and logs use.
    pub fn name(self) -> &'static str {
        match self {
            Self::OssCallback => "oss-callback",
            Self::OssEvent => "oss-event",
            Self::S3Event => "s3-event",
        }
    }
}

/// An image's size and format, when OSS gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Image {
    /// Pixels.
    pub width: u64,
    /// Pixels.
    pub height: u64,
    /// `jpg`, `png`, ...
    pub format: String,
}

/// One upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The bucket.
    pub bucket: String,
    /// The object key, decoded.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// The ETag, lower case and unquoted.
    pub etag: String,
    /// The object's `Content-Type`, when the source gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Who uploaded it: the values of `OBJECT_PREFIX`'s placeholders (`sub`, claims).
    pub uploader: BTreeMap<String, String>,
    /// Where the record was learnt.
    pub source: Source,
    /// When the upload completed (the event's time) or was reported (a callback), UTC ISO 8601.
    pub time: String,
    /// Width, height and format of an image, when OSS gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    /// The profile whose rules the upload was checked against and holds (`PROFILES_FILE`
    /// deployments only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// An object the bucket holds that no caller can have uploaded through stsvend: its key breaks
/// the rules presign-url signs under (`..` or `.` segments, `//`, control or invisible
/// characters, over 1,023 bytes). It is attributed to nobody, and the app is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// The bucket.
    pub bucket: String,
    /// The key, with control, invisible and blank-looking characters and `\` escaped
    /// (`\n`, `\u{202e}`, `\\`), so that it shows what is there.
    pub key: String,
    /// Bytes, as the event gives them.
    pub size: u64,
    /// The ETag, lower case and unquoted.
    pub etag: String,
    /// Where it was learnt.
    pub source: Source,
    /// When the upload completed (the event's time).
    pub time: String,
    /// The key exactly as stored, base64 (standard, padded), to act on the object.
    pub key_base64: String,
    /// Why no one is named: `InvalidKey`.
    pub reason: &'static str,
    /// Why the key breaks the rules, in words.
    pub detail: &'static str,
}

/// What record-upload makes of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Under a caller's prefix, with a key presign-url would sign.
    Attributed(Record),
    /// A key presign-url would never sign: nobody's.
    Rejected(Rejection),
    /// A well-formed key under no caller's prefix: not recorded.
    Unattributed,
}

/// An upload before it is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) content_type: Option<String>,
    pub(crate) image: Option<Image>,
    pub(crate) source: Source,
    pub(crate) time: String,
}

impl Upload {
    /// Applies presign-url's key rules ([`check_key`]), then attributes the upload to the
    /// caller whose prefix holds its key; each outcome is logged, the key escaped.
    pub(crate) fn judge(self, prefix: &PrefixTemplate) -> Judged {
        if let Err(detail) = check_key(&self.key) {
            let rejection = Rejection {
                bucket: self.bucket,
                key: escape(&self.key).into_owned(),
                key_base64: BASE64.encode(self.key.as_bytes()),
                size: self.size,
                etag: normalized_etag(&self.etag),
                source: self.source,
                time: self.time,
                reason: "InvalidKey",
                detail,
            };
            warn!(
                bucket = %escaped(&rejection.bucket),
                key = %escaped(&self.key),
                reason = detail,
                source = self.source.name(),
                "upload rejected: a key presign-url would never sign; attributed to nobody"
            );
            return Judged::Rejected(rejection);
        }
        let Some(uploader) = prefix.attribute(&self.key) else {
            warn!(
                bucket = %escaped(&self.bucket),
                key = %escaped(&self.key),
                source = self.source.name(),
                "upload under no caller's prefix: not recorded"
            );
            return Judged::Unattributed;
        };
        Judged::Attributed(Record {
            bucket: self.bucket,
            key: self.key,
            size: self.size,
            etag: normalized_etag(&self.etag),
            content_type: self.content_type,
            uploader,
            source: self.source,
            time: self.time,
            image: self.image,
            profile: None,
        })
    }
}

impl Record {
    /// Logs the record as delivered (or kept, with no webhook).
    pub(crate) fn log(&self) {
        info!(
            bucket = %escaped(&self.bucket),
            key = %escaped(&self.key),
            size = self.size,
            etag = %escaped(&self.etag),
            content_type = %escaped(self.content_type.as_deref().unwrap_or("")),
            uploader = ?self.uploader,
            source = self.source.name(),
            profile = self.profile.as_deref().unwrap_or(""),
            webhook_id = %webhook_id(self),
            "upload recorded"
        );
    }
}

/// An ETag as sources write it differently (`"9B2CF…"`, `9b2cf…`): unquoted, lower case.
pub(crate) fn normalized_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

/// The `webhook-id` of a record: one state of one object (bucket, key, ETag, size and type)
/// has one id whichever source reported it, so receivers can de-duplicate; the same bytes
/// written again with another type are another message.
///
/// # Format
/// ```text
/// "upload_" hex(SHA-256(bucket "\n" key "\n" etag "\n" size "\n" contentType))[..32]
/// ```
pub fn webhook_id(record: &Record) -> String {
    let content_type = record.content_type.as_deref().unwrap_or("");
    let identity = format!(
        "{}\n{}\n{}\n{}\n{content_type}",
        record.bucket,
        record.key,
        normalized_etag(&record.etag),
        record.size
    );
    message_id("upload", &identity)
}

/// The `webhook-id` of a rejection: `"rejected_"` and the hash over the bucket, the escaped
/// key and the ETag, so that an event delivered twice is told once and never shares an id
/// with a record.
pub fn rejection_id(rejection: &Rejection) -> String {
    let identity = format!(
        "{}\n{}\n{}",
        rejection.bucket,
        rejection.key,
        normalized_etag(&rejection.etag)
    );
    message_id("rejected", &identity)
}

pub(crate) fn message_id(kind: &str, identity: &str) -> String {
    let hash = hex_lower(digest::digest(&digest::SHA256, identity.as_bytes()).as_ref());
    format!("{kind}_{}", &hash[..32])
}
