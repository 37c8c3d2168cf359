//! One upload, as record-upload learnt it, and who made it.

use std::collections::BTreeMap;

use ring::digest;
use serde::Serialize;
use stsvend::sign::encode::hex_lower;
use stsvend::vend::prefix::PrefixTemplate;
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
}

/// An upload before it is attributed.
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
    /// The record of this upload, when its key lies under a caller's prefix; otherwise
    /// `None`, logged as unattributed.
    pub(crate) fn attribute(self, prefix: &PrefixTemplate) -> Option<Record> {
        let Some(uploader) = prefix.attribute(&self.key) else {
            warn!(
                bucket = %self.bucket,
                key = %self.key,
                source = self.source.name(),
                "upload under no caller's prefix: not recorded"
            );
            return None;
        };
        let record = Record {
            bucket: self.bucket,
            key: self.key,
            size: self.size,
            etag: normalized_etag(&self.etag),
            content_type: self.content_type,
            uploader,
            source: self.source,
            time: self.time,
            image: self.image,
        };
        info!(
            bucket = %record.bucket,
            key = %record.key,
            size = record.size,
            etag = %record.etag,
            uploader = ?record.uploader,
            source = record.source.name(),
            webhook_id = %webhook_id(&record),
            "upload recorded"
        );
        Some(record)
    }
}

/// An ETag as sources write it differently (`"9B2CF…"`, `9b2cf…`): unquoted, lower case.
pub(crate) fn normalized_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_lowercase()
}

/// The `webhook-id` of a record: the same upload (bucket, key, ETag) has the same id
/// whichever source reported it, so receivers can de-duplicate.
///
/// # Format
/// ```text
/// "upload_" hex(SHA-256(bucket "\n" key "\n" etag))[..32]
/// ```
pub fn webhook_id(record: &Record) -> String {
    let identity = format!(
        "{}\n{}\n{}",
        record.bucket,
        record.key,
        normalized_etag(&record.etag)
    );
    let hash = hex_lower(digest::digest(&digest::SHA256, identity.as_bytes()).as_ref());
    format!("upload_{}", &hash[..32])
}

/// Why a body is not the JSON expected, in words that never quote the body (serde's own
/// messages echo values: a log or an answer would carry whatever a sender put there).
pub(crate) fn json_problem(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Syntax => "is not valid JSON",
        serde_json::error::Category::Eof => "ends early",
        serde_json::error::Category::Data => "does not have the expected members and types",
        serde_json::error::Category::Io => "could not be read",
    };
    format!("{what} (line {}, column {})", error.line(), error.column())
}
