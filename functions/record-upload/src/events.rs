//! Bucket events, which the platform authenticates: S3 event notifications (delivered by
//! Lambda) and OSS events (delivered by a Function Compute OSS trigger).
//!
//! # Reference
//! - <https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>
//! - <https://www.alibabacloud.com/help/en/oss/user-guide/event-notification>

use serde::Deserialize;
use serde_json::Value;
use stsvend::sign::{Decoding, percent_decode};
use stsvend_host::json;

use crate::record::{Source, Upload};

/// An S3 event notification: `Records[]`, or the `s3:TestEvent` S3 sends when a
/// notification is configured (no `Records`).
#[derive(Debug, Deserialize)]
pub struct S3Event {
    #[serde(rename = "Records", default)]
    records: Vec<S3Record>,
    #[serde(rename = "Event")]
    test_event: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    event_source: String,
    event_name: String,
    #[serde(default)]
    event_time: String,
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    bucket: NamedBucket,
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct NamedBucket {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    key: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    e_tag: String,
}

/// What an event held: the uploads to record, and how many entries were not uploads.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Uploads {
    pub(crate) uploads: Vec<Upload>,
    /// Objects deleted (`ObjectRemoved:*`, not S3's `DeleteMarkerCreated`): their bucket and
    /// decoded key, whose bytes go back to their quota once the store's `HEAD` finds nothing.
    pub(crate) removals: Vec<(String, String)>,
    pub(crate) skipped: usize,
}

impl S3Event {
    /// Reads a Lambda event as an S3 notification; `None` when it is not one.
    pub fn parse(event: &Value) -> Option<Self> {
        let is_s3 = event
            .get("Records")
            .and_then(Value::as_array)
            .is_some_and(|records| {
                !records.is_empty()
                    && records
                        .iter()
                        .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:s3"))
            })
            || event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent");
        if !is_s3 {
            return None;
        }
        serde_json::from_value(event.clone()).ok()
    }

    /// Whether this is the test message S3 sends when a notification is configured.
    pub fn is_test(&self) -> bool {
        self.records.is_empty() && self.test_event.as_deref() == Some("s3:TestEvent")
    }

    /// The object creations it reports; keys form-URL-decoded (`+` is a space).
    pub(crate) fn uploads(&self) -> Result<Uploads, String> {
        let mut out = Uploads::default();
        for record in &self.records {
            let created = record.event_name.starts_with("ObjectCreated:");
            // A delete marker (a versioned bucket's `DELETE`) removes nothing: the bucket still
            // holds the object's versions, and their bytes, so their count stays.
            let removed = record.event_name.starts_with("ObjectRemoved:")
                && record.event_name != "ObjectRemoved:DeleteMarkerCreated";
            if record.event_source != "aws:s3" || !(created || removed) {
                out.skipped += 1;
                continue;
            }
            let key = form_url_decode(&record.s3.object.key)
                .ok_or_else(|| "an S3 event key is not form-URL-encoded UTF-8".to_owned())?;
            if removed {
                out.removals.push((record.s3.bucket.name.clone(), key));
                continue;
            }
            out.uploads.push(Upload {
                bucket: record.s3.bucket.name.clone(),
                key,
                size: record.s3.object.size,
                etag: record.s3.object.e_tag.clone(),
                content_type: None,
                image: None,
                source: Source::S3Event,
                time: record.event_time.clone(),
            });
        }
        Ok(out)
    }
}

/// An S3 event key as S3 writes it, form-URL-encoded (`+` is a space); `None` for a
/// malformed escape or bytes that are not UTF-8.
fn form_url_decode(text: &str) -> Option<String> {
    String::from_utf8(percent_decode(text.as_bytes(), Decoding::Form)?).ok()
}

/// OSS events as a Function Compute OSS trigger delivers them: `{"events":[…]}`.
#[derive(Debug, Deserialize)]
pub struct OssEvents {
    events: Vec<OssEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OssEvent {
    event_name: String,
    event_source: String,
    #[serde(default)]
    event_time: String,
    oss: OssEntity,
}

#[derive(Debug, Deserialize)]
struct OssEntity {
    bucket: NamedBucket,
    object: OssObject,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OssObject {
    key: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    e_tag: String,
}

impl OssEvents {
    /// Reads an event body; a message saying what is wrong otherwise.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        // The whole body must be JSON, not only the members read here, with no member named
        // twice (see `callback.rs`).
        let value = json::parse(body).map_err(|e| format!("the OSS trigger event {e}"))?;
        serde_json::from_value(value)
            .map_err(|e| format!("the OSS trigger event {}", json::problem(&e)))
    }

    /// The object creations it reports. OSS writes keys as they are (not URL-encoded).
    pub(crate) fn uploads(&self) -> Uploads {
        let mut out = Uploads::default();
        for event in &self.events {
            let name = event.event_name.trim_start_matches("oss:");
            let removed = name.starts_with("ObjectRemoved:");
            if event.event_source != "acs:oss" || !(name.starts_with("ObjectCreated:") || removed) {
                out.skipped += 1;
                continue;
            }
            if removed {
                let (bucket, key) = (&event.oss.bucket.name, &event.oss.object.key);
                out.removals.push((bucket.clone(), key.clone()));
                continue;
            }
            out.uploads.push(Upload {
                bucket: event.oss.bucket.name.clone(),
                key: event.oss.object.key.clone(),
                size: event.oss.object.size,
                etag: event.oss.object.e_tag.clone(),
                content_type: None,
                image: None,
                source: Source::OssEvent,
                time: event.event_time.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_keys_are_form_url_decoded() {
        assert_eq!(
            form_url_decode("red+flower.jpg").as_deref(),
            Some("red flower.jpg")
        );
        assert_eq!(form_url_decode("a%2Bb%20c").as_deref(), Some("a+b c"));
        assert_eq!(
            form_url_decode("%E4%B8%AD%F0%9F%98%80").as_deref(),
            Some("中😀")
        );
        assert_eq!(form_url_decode("bad%zz"), None);
        assert_eq!(form_url_decode("cut%4"), None);
        assert_eq!(form_url_decode("%ff"), None);
    }

    #[test]
    fn deletions_are_read_from_s3_and_oss_events_and_other_events_skipped() {
        // The record shapes of S3's and OSS's documented notifications.
        let s3 = serde_json::json!({"Records": [
            {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete", "eventTime": "t",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/alice/a+b%2B.txt", "sequencer": "0"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectRemoved:DeleteMarkerCreated", "eventTime": "t",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/alice/c"}}},
            {"eventSource": "aws:s3", "eventName": "ObjectRestore:Completed", "eventTime": "t",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/alice/d"}}}
        ]});
        let uploads = S3Event::parse(&s3).expect("s3").uploads().expect("uploads");
        assert!(uploads.uploads.is_empty());
        assert_eq!(
            uploads.removals,
            [("b".to_owned(), "uploads/alice/a b+.txt".to_owned())]
        );
        // The delete marker and the restore are skipped.
        assert_eq!(uploads.skipped, 2);
        let oss = br#"{"events": [
            {"eventName": "ObjectRemoved:DeleteObject", "eventSource": "acs:oss", "eventTime": "t",
             "oss": {"bucket": {"name": "b"}, "object": {"key": "uploads/bob/x.png"}}},
            {"eventName": "oss:ObjectRemoved:DeleteObjects", "eventSource": "acs:oss", "eventTime": "t",
             "oss": {"bucket": {"name": "b"}, "object": {"key": "uploads/bob/y.png"}}},
            {"eventName": "ObjectRemoved:DeleteObject", "eventSource": "acs:mns", "eventTime": "t",
             "oss": {"bucket": {"name": "b"}, "object": {"key": "uploads/bob/z.png"}}}
        ]}"#;
        let uploads = OssEvents::parse(oss).expect("oss").uploads();
        assert_eq!(
            uploads.removals,
            [
                ("b".to_owned(), "uploads/bob/x.png".to_owned()),
                ("b".to_owned(), "uploads/bob/y.png".to_owned()),
            ]
        );
        assert_eq!(uploads.skipped, 1);
    }

    #[test]
    fn only_s3_shaped_events_are_s3_events() {
        let test = serde_json::json!({"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"});
        assert!(S3Event::parse(&test).is_some_and(|e| e.is_test()));
        for other in [
            serde_json::json!({"Records":[]}),
            serde_json::json!({"Records":[{"eventSource":"aws:sqs"}]}),
            serde_json::json!({"events":[]}),
            serde_json::json!("text"),
        ] {
            assert!(S3Event::parse(&other).is_none(), "{other}");
        }
    }
}
