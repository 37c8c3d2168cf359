//! Upload profiles enforced after the fact, through the real binary under the Lambda runtime
//! with s3s-fs as the bucket: objects put straight into the store with the bucket's keys (as
//! an issue-token credential puts them: no presigned size or type rule), then told by an S3
//! event. An oversized avatar and an HTML page sent as `image/png` are deleted and reported, a
//! report profile's violation is left in place and reported, a key under no profile is
//! reported, and a good avatar is recorded with its profile; an event delivered again tells
//! the app nothing new (the same `webhook-id`s, nothing deleted twice).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use stsvend_test_support::lambda::{self, LambdaFunction};
use stsvend_test_support::profiles;
use stsvend_test_support::s3s::{ACCESS_KEY, BUCKET, SECRET_KEY, Store, object_created};

use crate::lambda_events::{Delivery, expected_signature, start_receiver};

const BINARY: &str = env!("CARGO_BIN_EXE_record-upload");
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Three profiles: avatars deleted when they break a rule, attachments likewise, videos
/// reported. The avatar's `max_bytes` is small so that an "oversized" avatar stays small.
const FILE: &str = r#"
[profiles.avatar]
prefix = "avatars/${sub}/"
key = "${uuid}${ext}"
content_types = ["image/png", "image/jpeg"]
min_bytes = 1
max_bytes = 4096
metadata = { uploader = "${sub}" }
detect_type = true
on_violation = "delete"

[profiles.attachment]
prefix = "attachments/${sub}/"
max_bytes = 8192
on_violation = "delete"

[profiles.video]
prefix = "videos/${sub}/"
content_types = ["video/*"]
detect_type = true
on_violation = "report"
"#;

/// A real PNG's first bytes (signature and IHDR), padded to `len`.
fn png(len: usize) -> Vec<u8> {
    let mut bytes =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    bytes.resize(len, 0);
    bytes
}

/// Runs the binary on `event`; its answer and the messages delivered, by key, each checked
/// against its Standard Webhooks signature (computed here).
fn run(store: &Store, file: &str, event: &str) -> (Value, BTreeMap<String, (String, Value)>) {
    let (webhook, deliveries) = start_receiver(200);
    let (runtime_api, posted) = lambda::start_runtime_api("record-upload", vec![event.to_owned()]);
    let envs = vec![
        ("PROVIDER", "aws".to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("BUCKET", BUCKET.to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("BUCKET_ENDPOINT", store.endpoint()),
        ("PROFILES_FILE", file.to_owned()),
        ("UPLOAD_WEBHOOK_URL", webhook),
        ("UPLOAD_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let mut function = LambdaFunction::start(BINARY, runtime_api, &envs);
    let answers = function.answers(&posted, 1);
    let output = function.stop();
    assert!(
        answers[0].0.ends_with("/response"),
        "{answers:?} {output:#?}"
    );
    let answer: Value = serde_json::from_str(&answers[0].1).expect("json");
    let delivered: Vec<Delivery> = deliveries.try_iter().collect();
    let mut by_key = BTreeMap::new();
    for (headers, body) in delivered {
        let id = &headers["webhook-id"];
        assert_eq!(
            headers["webhook-signature"],
            expected_signature(id, &headers["webhook-timestamp"], &body)
        );
        let message: Value = serde_json::from_str(&body).expect("json");
        let key = message["data"]["key"].as_str().expect("key").to_owned();
        by_key.insert(key, (id.clone(), message));
    }
    (answer, by_key)
}

/// A key, its bytes and the headers it is put with.
type Put<'a> = (&'a str, Vec<u8>, Vec<(&'a str, &'a str)>);

#[test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
fn uploads_that_break_their_profile_are_deleted_or_reported_and_good_ones_recorded() {
    let store = Store::start("record-profiles");
    let file = profiles::write(env!("CARGO_TARGET_TMPDIR"), "record-upload-s3", FILE);
    let good = "avatars/alice/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.png";
    let large = "avatars/alice/1c6d3b9f-2a4e-4d8b-8f3c-6e7a8b9c0d1e.png";
    let page = "avatars/alice/2d7e4c0a-3b5f-4e9c-a04d-7f8b9c0d1e2f.png";
    let clip = "videos/alice/clip.mp4";
    let stray = "uploads/alice/notes.txt";
    let meta = [
        ("Content-Type", "image/png"),
        ("x-amz-meta-uploader", "alice"),
    ];
    let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";
    let uploads: Vec<Put<'_>> = vec![
        (good, png(100), meta.to_vec()),
        (large, png(5000), meta.to_vec()),
        (page, html.to_vec(), meta.to_vec()),
        (
            clip,
            b"not a video at all".to_vec(),
            vec![("Content-Type", "video/mp4")],
        ),
        (
            stray,
            b"hello".to_vec(),
            vec![("Content-Type", "text/plain")],
        ),
    ];
    let records: Vec<Value> = uploads
        .iter()
        .map(|(key, body, headers)| object_created(key, body.len(), &store.put(key, headers, body)))
        .collect();
    let event = json!({ "Records": records }).to_string();

    let (answer, told) = run(&store, &file, &event);
    assert_eq!(answer, json!({"recorded": 1, "rejected": 4}), "{told:#?}");
    let data = |key: &str| told[key].1["data"].clone();
    let kind = |key: &str| told[key].1["type"].clone();

    assert_eq!(kind(good), "upload.completed");
    assert_eq!(data(good)["profile"], "avatar");
    assert_eq!(data(good)["uploader"], json!({"sub": "alice"}));
    assert_eq!(data(good)["contentType"], "image/png");

    let expected: [(&str, &str, &str, &str, usize); 4] = [
        (large, "avatar", "TooLarge", "deleted", 5000),
        (page, "avatar", "ContentNotOfType", "deleted", html.len()),
        (clip, "video", "ContentNotOfType", "reported", 18),
        (stray, "", "NoProfile", "reported", 5),
    ];
    for (key, profile, reason, action, size) in expected {
        assert_eq!(kind(key), "upload.rejected", "{key}");
        let data = data(key);
        assert_eq!(data["reason"], reason, "{key}: {data}");
        assert_eq!(data["action"], action, "{key}: {data}");
        assert_eq!(data["size"], json!(size), "{key}");
        assert!(
            data["etag"].as_str().is_some_and(|e| e.len() == 32),
            "{data}"
        );
        assert_eq!(
            data.get("profile").and_then(Value::as_str).unwrap_or(""),
            profile
        );
        assert!(told[key].0.starts_with("rejected_"), "{key}");
        let present = store.dir.join(BUCKET).join(key).exists();
        assert_eq!(
            present,
            action == "reported",
            "{key} in the store: {present}"
        );
    }
    assert_eq!(data(page)["detectedType"], "text/html");
    assert_eq!(data(page)["contentType"], "image/png");
    assert!(store.dir.join(BUCKET).join(good).exists());

    // The same event again: the deleted objects are gone (nothing more to say of them); the
    // others are told again under the same ids, which the app de-duplicates.
    let (again, told_again) = run(&store, &file, &event);
    assert_eq!(
        again,
        json!({"recorded": 1, "rejected": 2}),
        "{told_again:#?}"
    );
    for key in [good, clip, stray] {
        assert_eq!(told_again[key].0, told[key].0, "{key}");
    }
    assert!(!told_again.contains_key(large) && !told_again.contains_key(page));
}
