//! record-upload's profile check per upload, in process: `cargo bench -p record-upload --bench
//! profile_check`.
//!
//! One S3 event of one upload through [`record_upload::on_event`], the store a canned sender
//! answering at once (no network): without `PROFILES_FILE` (the store's `HEAD` for the type),
//! and with a profiles file whose profile sets every rule (the `HEAD`'s facts checked: key
//! shape, size, type, metadata; then `detect_type`: a signed ranged `GET` and the detection).
//! The difference is the check's own cost.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::http::{HeaderMap, Method};
use serde_json::{Value, json};
use stsvend::{BoxFuture, Error, HttpReply, HttpSender, SignedRequest, SystemClock};
use stsvend_host::Config;

const ETAG: &str = "\"9b2cf535f27731c974343645a3985328\"";
const KEY: &str = "avatars/alice/0b5c2a8e-1f3d-4c7a-9e2b-5d6f7a8b9c0d.jpg";

const PROFILES: &str = r#"
[profiles.avatar]
prefix = "avatars/${sub}/"
key = "${uuid}${ext}"
content_types = ["image/png", "image/jpeg"]
min_bytes = 1
max_bytes = 2097152
metadata = { uploader = "${sub}" }
detect_type = true
on_violation = "delete"

[profiles.attachment]
prefix = "attachments/${sub}/"
max_bytes = 104857600

[profiles.video]
prefix = "videos/${sub}/"
content_types = ["video/*"]
on_violation = "report"
"#;

/// The bucket: every `HEAD` one JPEG with its metadata, every `GET` its first bytes.
struct Bucket;

impl HttpSender for Bucket {
    fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        let mut headers = HeaderMap::new();
        headers.insert("etag", ETAG.parse().expect("etag"));
        headers.insert("content-type", "image/jpeg".parse().expect("type"));
        headers.insert("x-amz-meta-uploader", "alice".parse().expect("meta"));
        let (status, body) = if request.method == Method::GET {
            let mut body = b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0".to_vec();
            body.resize(1024, 0);
            (206, body)
        } else {
            headers.insert("content-length", 1024.into());
            (200, Vec::new())
        };
        Box::pin(async move {
            Ok(HttpReply {
                status,
                body,
                retry_after: None,
                headers,
            })
        })
    }
}

fn state(profiles: Option<&str>) -> Arc<record_upload::AppState> {
    let mut vars = vec![
        ("PROVIDER", "aws".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCHRECORD".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "bench-record-secret".to_owned()),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("OBJECT_PREFIX", "avatars/${sub}/".to_owned()),
        ("BUCKET_ENDPOINT", "http://127.0.0.1:9".to_owned()),
    ];
    if let Some(text) = profiles {
        let path = std::env::temp_dir().join(format!("record-bench-{}.toml", std::process::id()));
        std::fs::write(&path, text).expect("profiles file");
        vars.push(("PROFILES_FILE", path.display().to_string()));
    }
    let config = Config::load(&|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    })
    .expect("config");
    Arc::new(
        record_upload::AppState::new(config, Arc::new(SystemClock), Arc::new(Bucket))
            .expect("state"),
    )
}

fn event() -> Value {
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-12-07T08:00:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "examplebucket", "arn": "arn:aws:s3:::examplebucket"},
               "object": {"key": KEY, "size": 1024, "eTag": ETAG.trim_matches('"'), "sequencer": "00"}}}]})
}

fn profile_check(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, profiles) in [
        ("one S3 event, no profiles file", None),
        ("one S3 event, checked against its profile", Some(PROFILES)),
    ] {
        let state = state(profiles);
        let answer = runtime
            .block_on(record_upload::on_event(Arc::clone(&state), event()))
            .expect("recorded");
        assert_eq!(answer, json!({"recorded": 1, "rejected": 0}), "{name}");
        c.bench_function(name, |b| {
            b.iter(|| {
                runtime
                    .block_on(record_upload::on_event(
                        Arc::clone(&state),
                        black_box(event()),
                    ))
                    .expect("recorded")
            });
        });
    }
}

criterion_group!(benches, profile_check);
criterion_main!(benches);
