//! The `record-upload` binary under the Lambda runtime, fed the committed S3 events
//! (`events/s3-*.json`, awkward keys included), delivering to a webhook receiver on
//! 127.0.0.1 that checks each delivery's signature with its own HMAC.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Mac as _;
use serde_json::Value;
use stsvend_test_support::event;
use stsvend_test_support::http::read_request;
use stsvend_test_support::lambda::{self, LambdaFunction};

const BINARY: &str = env!("CARGO_BIN_EXE_record-upload");
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A delivery as the receiver saw it: headers and body.
pub(crate) type Delivery = (BTreeMap<String, String>, String);

/// A webhook receiver answering every delivery with `status`.
pub(crate) fn start_receiver(status: u16) -> (String, mpsc::Receiver<Delivery>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            if let Some((_, _, headers, body)) = read_request(&mut stream) {
                let _ = tx.send((headers, body));
            }
            let answer = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, rx)
}

/// record-upload for S3, its store a closed port on 127.0.0.1 (a `HEAD` for the object's type
/// is refused at once, and the record keeps the event's facts).
fn env(webhook: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PROVIDER", "aws".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDRECORDUPLOADTEST".to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "record-upload-test-secret".to_owned(),
        ),
        ("AWS_SESSION_TOKEN", "record-upload-test-token".to_owned()),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("BUCKET_ENDPOINT", "http://127.0.0.1:9".to_owned()),
        ("UPLOAD_WEBHOOK_URL", webhook.to_owned()),
        ("UPLOAD_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
    ]
}

/// The Standard Webhooks signature, computed here.
pub(crate) fn expected_signature(id: &str, timestamp: &str, body: &str) -> String {
    let key = BASE64
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .expect("secret");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("mac");
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

#[test]
fn s3_events_are_recorded_with_decoded_keys_and_one_id_per_upload() {
    let (webhook, deliveries) = start_receiver(200);
    let (runtime_api, posted) = lambda::start_runtime_api(
        "record-upload",
        vec![
            event("s3-put-awkward-keys.json"),
            event("s3-test-event.json"),
        ],
    );
    let mut function = LambdaFunction::start(BINARY, runtime_api, &env(&webhook));
    let answers = function.answers(&posted, 2);
    let output = function.stop();
    assert!(
        answers[0].0.ends_with("/response"),
        "{answers:?} {output:#?}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&answers[0].1).expect("json")["recorded"],
        4
    );
    assert!(
        answers[1].0.ends_with("/response"),
        "the test event is acknowledged"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&answers[1].1).expect("json")["recorded"],
        0
    );

    let delivered: Vec<Delivery> = deliveries.try_iter().collect();
    assert_eq!(delivered.len(), 4, "{output:#?}");
    let mut ids = Vec::new();
    for (headers, body) in &delivered {
        let id = &headers["webhook-id"];
        assert_eq!(
            headers["webhook-signature"],
            expected_signature(id, &headers["webhook-timestamp"], body)
        );
        ids.push(id.clone());
    }
    let data: Vec<Value> = delivered
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).expect("json")["data"].clone())
        .collect();
    let keys: Vec<&str> = data
        .iter()
        .map(|d| d["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        [
            "uploads/alice/red flower.jpg",
            "uploads/alice/a+b % 中文 😀.png",
            "uploads/bob/notes.txt",
            "uploads/alice/red flower.jpg",
        ]
    );
    assert_eq!(data[1]["uploader"]["sub"], "alice");
    assert_eq!(data[2]["uploader"]["sub"], "bob");
    assert_eq!(data[1]["size"], 20_971_520);
    assert_eq!(data[0]["source"], "s3-event");
    assert_eq!(data[0]["time"], "2026-11-22T08:53:01.000Z");
    // The same upload reported twice has one id; different uploads have different ids.
    assert_eq!(ids[0], ids[3]);
    assert_ne!(ids[0], ids[1]);
    assert_ne!(ids[1], ids[2]);
    assert!(
        output
            .iter()
            .any(|l| l.contains("upload under no caller's prefix")
                && l.contains("public/index.html")),
        "{output:#?}"
    );
}

#[test]
fn a_failing_webhook_fails_the_invocation_so_that_lambda_retries() {
    let (webhook, deliveries) = start_receiver(503);
    let (runtime_api, posted) =
        lambda::start_runtime_api("record-upload", vec![event("s3-put-awkward-keys.json")]);
    let mut function = LambdaFunction::start(BINARY, runtime_api, &env(&webhook));
    let answers = function.answers(&posted, 1);
    let output = function.stop();
    assert!(answers[0].0.ends_with("/error"), "{answers:?} {output:#?}");
    assert!(answers[0].1.contains("HTTP 503"), "{answers:?}");
    assert_eq!(
        deliveries.try_iter().count(),
        1,
        "it stops at the first failure"
    );
}

#[test]
fn an_api_gateway_request_is_still_an_http_request_not_an_event() {
    let (webhook, deliveries) = start_receiver(200);
    let (runtime_api, posted) =
        lambda::start_runtime_api("record-upload", vec![event("apigw-v2-no-authorizer.json")]);
    let mut function = LambdaFunction::start(BINARY, runtime_api, &env(&webhook));
    let answers = function.answers(&posted, 1);
    function.stop();
    let answer: Value = serde_json::from_str(&answers[0].1).expect("json");
    assert!(answers[0].0.ends_with("/response"), "{answers:?}");
    // An unsigned request through the gateway is answered as HTTP: refused, never recorded.
    assert!(
        answer["statusCode"].as_u64().is_some_and(|s| s >= 400),
        "{answer}"
    );
    assert_eq!(deliveries.try_iter().count(), 0);
}
