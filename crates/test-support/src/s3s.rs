//! s3s-fs, an S3 server that verifies SigV4 (presigned URLs, headers, POST policies) itself,
//! run on 127.0.0.1 over a temporary folder, one bucket in it; stopped and removed on drop.
//! `scripts/bootstrap` installs it (`cargo install s3s-fs --version 0.14.1`);
//! `STSVEND_S3S_FS` names another binary.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use md5::Digest as _;
use serde_json::{Value, json};
use stsvend::sign::{Addressing, Endpoint, ObjectRequest, Presigner, Scheme};
use stsvend::{Clock as _, Credential, SystemClock};

use crate::http::{free_port, http, wait_for_port};

/// The one access key s3s-fs accepts.
pub const ACCESS_KEY: &str = "s3s-test-access-key";
/// Its secret.
pub const SECRET_KEY: &str = "s3s-local-secret-key";
/// The bucket every store has.
pub const BUCKET: &str = "examplebucket";

/// A running s3s-fs.
pub struct Store {
    child: Child,
    /// Where it listens, on 127.0.0.1.
    pub port: u16,
    /// The folder it serves: `<dir>/<bucket>/<key>`.
    pub dir: PathBuf,
}

impl Store {
    /// Starts s3s-fs over a fresh folder named after `name` and the test process.
    pub fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("stsvend-s3s-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(BUCKET)).expect("bucket dir");
        let port = free_port();
        let binary = std::env::var("STSVEND_S3S_FS").unwrap_or_else(|_| "s3s-fs".to_owned());
        let child = Command::new(&binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                ACCESS_KEY,
                "--secret-key",
                SECRET_KEY,
            ])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "start {binary} (cargo install s3s-fs --version 0.14.1 --features binary): {e}"
                )
            });
        wait_for_port(port);
        Self { child, port, dir }
    }

    /// Its base URL, for `BUCKET_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Puts `body` under `key` in [`BUCKET`] with `headers`, through a presigned URL the store
    /// checks (its one key pair); the object's ETag, as S3 events carry it (the body's MD5).
    pub fn put(&self, key: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        let presigner = Presigner::new(
            Scheme::S3,
            Endpoint::new(
                "http",
                &format!("127.0.0.1:{}", self.port),
                Addressing::PathStyle,
            ),
            BUCKET,
            "us-east-1",
        );
        let credential = Credential::new(ACCESS_KEY.to_owned(), SECRET_KEY.to_owned(), None);
        let request = ObjectRequest {
            method: "PUT",
            bucket: BUCKET,
            key,
            query: &[],
            headers,
        };
        let url = presigner
            .url(
                &credential,
                request,
                SystemClock.now(),
                Duration::from_secs(300),
            )
            .url;
        let (status, _, answer) = http("PUT", &url, headers, body);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
        format!("{:x}", md5::Md5::digest(body))
    }
}

/// One S3 `ObjectCreated:Put` record for an object of [`BUCKET`], the key form-URL-encoded as
/// S3 writes event keys (a space is `+`).
pub fn object_created(key: &str, size: usize, etag: &str) -> Value {
    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    json!({"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
           "eventTime": "2026-12-07T08:00:00.000Z", "eventName": "ObjectCreated:Put",
           "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
                  "object": {"key": encoded, "size": size, "eTag": etag, "sequencer": "00"}}})
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
