//! The records are the store's word, through the real binary under the Lambda runtime, with
//! s3s-fs (which checks every signature itself) as the bucket: an S3 event whose key
//! presign-url would never sign is told as `upload.rejected` and attributed to nobody, in
//! the plain and the JSON log formats alike no key writes a line of its own, and a record's
//! type is what the store's signed `HEAD` says.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use stsvend_test_support::lambda::{self, LambdaFunction};
use stsvend_test_support::s3s::{ACCESS_KEY, BUCKET, SECRET_KEY, Store, object_created};

use crate::lambda_events::{Delivery, expected_signature, start_receiver};

const BINARY: &str = env!("CARGO_BIN_EXE_record-upload");
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A line the key below would write into a plain-text log if it were logged raw.
const FORGED: &str = "INFO upload recorded bucket=examplebucket key=uploads/bob/y.jpg";

#[test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
fn s3_events_are_judged_by_presign_urls_rules_typed_by_the_store_and_logged_escaped() {
    let store = Store::start("record-events");
    let photo = "uploads/alice/photo 1+.png";
    let photo_bytes = b"\x89PNG not really";
    let photo_etag = store.put(photo, &[("Content-Type", "image/png")], photo_bytes);
    let forging = format!("uploads/alice/x.jpg\n{FORGED} uploader={{\"sub\": \"bob\"}}");
    let rejected = [
        forging.as_str(),
        "uploads/alice/nul\0.jpg",
        "uploads/alice/../bob/secret.jpg",
        "uploads/alice/invoice\u{202E}gpj.exe",
    ];
    let mut records: Vec<Value> = rejected
        .iter()
        .map(|k| object_created(k, 5, "00"))
        .collect();
    records.push(object_created(photo, photo_bytes.len(), &photo_etag));
    // Reported, but no longer in the store: recorded with the event's facts, no type.
    records.push(object_created("uploads/alice/gone.png", 3, "0123"));
    let event = json!({ "Records": records }).to_string();

    for format in ["text", "JSON"] {
        let (webhook, deliveries) = start_receiver(200);
        let (runtime_api, posted) = lambda::start_runtime_api("record-upload", vec![event.clone()]);
        let mut envs = vec![
            ("PROVIDER", "aws".to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("BUCKET", BUCKET.to_owned()),
            ("BUCKET_REGION", "us-east-1".to_owned()),
            ("BUCKET_ENDPOINT", store.endpoint()),
            ("UPLOAD_WEBHOOK_URL", webhook),
            ("UPLOAD_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ];
        if format == "JSON" {
            envs.push(("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()));
        }
        let mut function = LambdaFunction::start(BINARY, runtime_api, &envs);
        let answers = function.answers(&posted, 1);
        let output = function.stop();
        assert!(
            answers[0].0.ends_with("/response"),
            "{answers:?} {output:#?}"
        );
        let answer: Value = serde_json::from_str(&answers[0].1).expect("json");
        assert_eq!(answer, json!({"recorded": 2, "rejected": 4}), "{output:#?}");

        let delivered: Vec<Delivery> = deliveries.try_iter().collect();
        assert_eq!(delivered.len(), 6, "{output:#?}");
        let messages: Vec<Value> = delivered
            .iter()
            .map(|(headers, body)| {
                let id = &headers["webhook-id"];
                assert_eq!(
                    headers["webhook-signature"],
                    expected_signature(id, &headers["webhook-timestamp"], body)
                );
                serde_json::from_str(body).expect("json")
            })
            .collect();
        for (raw, message) in rejected.iter().zip(&messages) {
            assert_eq!(message["type"], "upload.rejected", "{message}");
            let data = &message["data"];
            assert_eq!(data["reason"], "InvalidKey");
            assert!(
                data.get("uploader").is_none(),
                "named for nobody: {message}"
            );
            assert_eq!(data["keyBase64"], BASE64.encode(raw.as_bytes()));
            let shown = data["key"].as_str().expect("key");
            assert!(
                !shown.chars().any(|c| c.is_control() || c == '\u{202E}'),
                "escaped: {shown:?}"
            );
        }
        assert_eq!(messages[1]["data"]["key"], "uploads/alice/nul\\u{0000}.jpg");
        let photo_record = &messages[4];
        assert_eq!(photo_record["type"], "upload.completed");
        assert_eq!(photo_record["data"]["key"], photo);
        assert_eq!(photo_record["data"]["uploader"]["sub"], "alice");
        assert_eq!(photo_record["data"]["size"], json!(photo_bytes.len()));
        assert_eq!(
            photo_record["data"]["contentType"], "image/png",
            "the type is the store's, from a HEAD s3s-fs accepted: {output:#?}"
        );
        let gone = &messages[5];
        assert_eq!(gone["type"], "upload.completed");
        assert!(gone["data"].get("contentType").is_none(), "{gone}");

        // No key wrote a line of its own, and no raw control character reached the log.
        for line in &output {
            assert!(
                !line.trim_start().starts_with(FORGED),
                "a forged line: {output:#?}"
            );
            assert!(
                !line.chars().any(|c| c.is_control() || c == '\u{202E}'),
                "{line:?}"
            );
            if format == "JSON" {
                serde_json::from_str::<Value>(line)
                    .unwrap_or_else(|e| panic!("not one JSON line ({e}): {line:?}"));
            }
        }
        assert!(
            output
                .iter()
                .any(|l| l.contains("upload rejected") && l.contains("uploads/bob/y.jpg")),
            "the forged text is inside the rejection's line: {output:#?}"
        );
    }
}
