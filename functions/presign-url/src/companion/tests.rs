//! Companion's routes through the handler, with a scripted store: the answers' shapes
//! (Companion 6.2.2's `s3.ts`), what presign-url sends the store, and hostile requests
//! refused before anything is sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use lambda_http::http::{Method, header::HeaderMap};
use lambda_http::{Body, Request};
use serde_json::{Map, Value, json};
use stsvend::{BoxFuture, Error, FixedClock, HttpReply, HttpSender, SignedRequest};
use stsvend_host::Config;

use crate::handler::{AppState, handle};

/// 2026-11-22T08:53:10Z (`date -u -d @1795337590`).
const NOW: u64 = 1_795_337_590;
const PREFIX: &str = "uploads/anonymous/";

/// A store that answers each request with the next scripted reply, and keeps what was sent.
#[derive(Default)]
struct Script {
    replies: Mutex<VecDeque<(u16, String)>>,
    sent: Mutex<Vec<SignedRequest>>,
}

impl Script {
    fn new(replies: &[(u16, &str)]) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.iter().map(|(s, b)| (*s, (*b).to_owned())).collect()),
            sent: Mutex::default(),
        })
    }

    fn sent(&self) -> Vec<SignedRequest> {
        self.sent.lock().expect("lock").clone()
    }
}

impl HttpSender for Script {
    fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        self.sent.lock().expect("lock").push(request);
        let reply = self.replies.lock().expect("lock").pop_front();
        Box::pin(async move {
            let (status, body) = reply.unwrap_or((500, "no reply scripted".to_owned()));
            Ok(HttpReply {
                status,
                body: body.into_bytes(),
                retry_after: None,
                headers: HeaderMap::new(),
            })
        })
    }
}

fn state(extra: &[(&'static str, &str)], store: Arc<Script>) -> Arc<AppState> {
    let mut vars: HashMap<&str, String> = HashMap::from([
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "LTAI-test-function-key".to_owned(),
        ),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            "function-secret".to_owned(),
        ),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "cn-hangzhou".to_owned()),
        ("AUTH_MODE", "none".to_owned()),
        ("PRESIGN_METHODS", "GET,HEAD,PUT,POST,DELETE".to_owned()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config = Config::load(&|k| vars.get(k).cloned()).expect("config");
    Arc::new(AppState::new(config, Arc::new(FixedClock::at_unix(NOW)), store).expect("state"))
}

fn request(method: Method, path_and_query: &str, body: &str) -> Request {
    let mut request = Request::new(Body::Text(body.to_owned()));
    *request.method_mut() = method;
    *request.uri_mut() = path_and_query.parse().expect("a path");
    request
}

async fn answer(state: &Arc<AppState>, request: Request) -> (u16, Value) {
    let response = handle(Arc::clone(state), request).await;
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).expect("JSON answer");
    (status, body)
}

/// A refusal in Companion's shape: `{"error":"CODE: …"}` and nothing else.
fn error_code(status: u16, body: &Value) -> (u16, String) {
    let object = body.as_object().expect("an object");
    assert_eq!(object.len(), 1, "only `error`: {body}");
    let text = body["error"].as_str().expect("error is text");
    (
        status,
        text.split(':').next().unwrap_or_default().to_owned(),
    )
}

fn initiated(upload_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>examplebucket</Bucket><Key>k</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>"#
    )
}

#[tokio::test]
async fn params_signs_a_form_under_the_callers_prefix_with_companions_key() {
    let store = Script::new(&[]);
    let state = state(&[], Arc::clone(&store));
    let (status, body) = answer(
        &state,
        request(
            Method::GET,
            "/presign/s3/params?filename=holiday%20photo.png&type=image%2Fpng&metadata%5Bname%5D=x",
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["method"], "POST");
    assert_eq!(body["expires"], 900);
    assert!(
        body["url"]
            .as_str()
            .expect("url")
            .starts_with("https://examplebucket.oss-cn-hangzhou.aliyuncs.com")
    );
    let key = body["fields"]["key"].as_str().expect("fields.key");
    let rest = key.strip_prefix(PREFIX).expect("under the prefix");
    let (uuid, name) = rest.split_at(36);
    assert_eq!(name, "-holiday photo.png", "{key}");
    assert_eq!(uuid.matches('-').count(), 4, "{key}");
    assert_eq!(body["fields"]["Content-Type"], "image/png");
    assert!(body["fields"]["policy"].is_string() && body["fields"]["x-oss-signature"].is_string());
    assert!(store.sent().is_empty(), "a form is signed only");
}

#[tokio::test]
async fn create_sends_create_multipart_upload_signed_for_the_caller_and_answers_the_id() {
    let store = Script::new(&[(200, &initiated("0004B9894A22E5B1888A1E29F8236E2D"))]);
    let state = state(&[], Arc::clone(&store));
    let (status, body) = answer(
        &state,
        request(
            Method::POST,
            "/s3/multipart",
            r#"{"filename":"video.mp4","type":"video/mp4","metadata":{"name":"video.mp4"}}"#,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["uploadId"], "0004B9894A22E5B1888A1E29F8236E2D");
    assert_eq!(body["bucket"], "examplebucket");
    let key = body["key"].as_str().expect("key");
    assert!(
        key.starts_with(PREFIX) && key.ends_with("-video.mp4"),
        "{key}"
    );
    let sent = store.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, Method::POST);
    assert!(sent[0].url.contains("?uploads"), "{}", sent[0].url);
    assert!(sent[0].url.contains("x-oss-signature="), "a presigned URL");
    assert!(
        sent[0].url.contains("x-oss-expires=60&"),
        "sent at once: {}",
        sent[0].url
    );
    let headers: Vec<(String, String)> = sent[0]
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    assert!(
        headers.contains(&("content-type".to_owned(), "video/mp4".to_owned())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("x-oss-meta-uploader".to_owned(), "anonymous".to_owned())),
        "{headers:?}"
    );
}

#[tokio::test]
async fn list_parts_follows_every_page() {
    let first = r#"<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker><Part><PartNumber>1</PartNumber><ETag>"a"</ETag><Size>5242880</Size></Part><Part><PartNumber>2</PartNumber><ETag>"b"</ETag><Size>5242880</Size></Part></ListPartsResult>"#;
    let last = r#"<ListPartsResult><IsTruncated>false</IsTruncated><Part><PartNumber>3</PartNumber><ETag>"c"</ETag><Size>17</Size></Part></ListPartsResult>"#;
    let store = Script::new(&[(200, first), (200, last)]);
    let state = state(&[], Arc::clone(&store));
    let key = format!("{PREFIX}video.mp4");
    let (status, body) = answer(
        &state,
        request(
            Method::GET,
            &format!("/s3/multipart/U1?key={}", key.replace('/', "%2F")),
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!([
            {"PartNumber": 1, "ETag": "\"a\"", "Size": 5_242_880},
            {"PartNumber": 2, "ETag": "\"b\"", "Size": 5_242_880},
            {"PartNumber": 3, "ETag": "\"c\"", "Size": 17},
        ])
    );
    let sent = store.sent();
    assert_eq!(sent.len(), 2);
    assert!(!sent[0].url.contains("part-number-marker"));
    assert!(
        sent[1].url.contains("part-number-marker=2"),
        "{}",
        sent[1].url
    );
    assert!(
        sent.iter()
            .all(|r| r.method == Method::GET && r.url.contains("uploadId=U1"))
    );
}

#[tokio::test]
async fn a_listing_that_never_ends_or_repeats_its_marker_is_refused() {
    let repeating = r#"<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>2</NextPartNumberMarker></ListPartsResult>"#;
    let store = Script::new(&[(200, repeating), (200, repeating)]);
    let state = state(&[], Arc::clone(&store));
    let (status, body) = answer(
        &state,
        request(Method::GET, "/s3/multipart/U1?key=uploads/anonymous/a", ""),
    )
    .await;
    assert_eq!(
        error_code(status, &body),
        (502, "StoreUnavailable".to_owned())
    );
    assert_eq!(store.sent().len(), 2);
}

#[tokio::test]
async fn parts_are_signed_one_or_many() {
    let store = Script::new(&[]);
    let state = state(&[], Arc::clone(&store));
    let (status, body) = answer(
        &state,
        request(
            Method::GET,
            "/s3/multipart/U1/7?key=uploads/anonymous/v.mp4",
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires"], 900);
    let url = body["url"].as_str().expect("url");
    assert!(
        url.contains("partNumber=7") && url.contains("uploadId=U1"),
        "{url}"
    );
    let (status, body) = answer(
        &state,
        request(
            Method::GET,
            "/s3/multipart/U1/batch?key=uploads/anonymous/v.mp4&partNumbers=3,1,2",
            "",
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let urls = body["presignedUrls"].as_object().expect("presignedUrls");
    assert_eq!(urls.keys().collect::<Vec<_>>(), ["1", "2", "3"]);
    for (number, url) in urls {
        assert!(
            url.as_str()
                .expect("url")
                .contains(&format!("partNumber={number}&"))
        );
    }
    assert!(store.sent().is_empty());
}

#[tokio::test]
async fn complete_sends_the_parts_in_order_and_answers_where_the_object_is() {
    let store = Script::new(&[(200, "<CompleteMultipartUploadResult/>")]);
    let state = state(&[], Arc::clone(&store));
    let parts = r#"{"parts":[{"PartNumber":2,"ETag":"\"b<&>\""},{"PartNumber":1,"ETag":"\"a\""}]}"#;
    let (status, body) = answer(
        &state,
        request(
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads%2Fanonymous%2Fa%20b.mp4",
            parts,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"location": "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/uploads/anonymous/a%20b.mp4", "key": "uploads/anonymous/a b.mp4", "bucket": "examplebucket"})
    );
    let sent = store.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&sent[0].body),
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>\"b&lt;&amp;&gt;\"</ETag></Part></CompleteMultipartUpload>"
    );
}

#[tokio::test]
async fn abort_sends_abort_multipart_upload_and_the_stores_refusals_keep_their_status() {
    let store = Script::new(&[
        (204, ""),
        (
            404,
            "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>",
        ),
    ]);
    let state = state(&[], Arc::clone(&store));
    let abort = || {
        request(
            Method::DELETE,
            "/s3/multipart/U1?key=uploads/anonymous/a",
            "",
        )
    };
    assert_eq!(answer(&state, abort()).await, (200, json!({})));
    let (status, body) = answer(&state, abort()).await;
    assert_eq!(error_code(status, &body), (404, "StoreRefused".to_owned()));
    assert!(
        body["error"]
            .as_str()
            .expect("error")
            .contains("NoSuchUpload")
    );
    assert!(store.sent().iter().all(|r| r.method == Method::DELETE));
}

#[tokio::test]
async fn a_store_that_fails_is_asked_again_within_the_deadline() {
    let store = Script::new(&[(503, "<Error><Code>SlowDown</Code></Error>"), (204, "")]);
    let state = state(&[], Arc::clone(&store));
    let abort = request(
        Method::DELETE,
        "/s3/multipart/U1?key=uploads/anonymous/a",
        "",
    );
    assert_eq!(answer(&state, abort).await, (200, json!({})));
    assert_eq!(store.sent().len(), 2);
}

#[tokio::test]
async fn hostile_requests_are_refused_in_companions_shape_before_the_store_is_asked() {
    let store = Script::new(&[]);
    let state = state(&[], Arc::clone(&store));
    let many: Vec<String> = (1..=1001).map(|n| n.to_string()).collect();
    let many = format!(
        "/s3/multipart/U1/batch?key=uploads/anonymous/a&partNumbers={}",
        many.join(",")
    );
    let cases: Vec<(Method, String, &str, u16, &str)> = vec![
        (
            Method::GET,
            "/s3/multipart/U1?key=uploads/bob/a".into(),
            "",
            403,
            "KeyOutsidePrefix",
        ),
        (
            Method::DELETE,
            "/s3/multipart/U1?key=uploads/bob/a".into(),
            "",
            403,
            "KeyOutsidePrefix",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/bob/a".into(),
            r#"{"parts":[{"PartNumber":1,"ETag":"e"}]}"#,
            403,
            "KeyOutsidePrefix",
        ),
        (
            Method::GET,
            "/s3/multipart/U1?key=uploads/anonymous/../bob/a".into(),
            "",
            400,
            "InvalidKey",
        ),
        (
            Method::GET,
            "/s3/multipart/U1?key=uploads%2Fanonymous%2F%2E%2E%2Fbob%2Fa".into(),
            "",
            400,
            "InvalidKey",
        ),
        (
            Method::GET,
            "/s3/multipart/U1?key=%252e%252e".into(),
            "",
            403,
            "KeyOutsidePrefix",
        ),
        (
            Method::GET,
            "/s3/multipart/U1?key=uploads/anonymous/a%ff".into(),
            "",
            400,
            "InvalidRequest",
        ),
        (
            Method::GET,
            "/s3/multipart/U1".into(),
            "",
            400,
            "MissingKey",
        ),
        (
            Method::GET,
            "/s3/multipart/U1?key=uploads/anonymous/a&key=uploads/bob/a".into(),
            "",
            400,
            "DuplicateField",
        ),
        (
            Method::GET,
            "/s3/multipart/U1?key=uploads/anonymous/a&uploadId=U2".into(),
            "",
            400,
            "UnknownField",
        ),
        (
            Method::GET,
            "/s3/multipart/a%2Fb?key=uploads/anonymous/a".into(),
            "",
            400,
            "InvalidField",
        ),
        (
            Method::GET,
            "/s3/multipart/a%3Fb?key=uploads/anonymous/a".into(),
            "",
            400,
            "InvalidField",
        ),
        (
            Method::GET,
            "/s3/multipart/U1/batch?key=uploads/anonymous/a&partNumbers=1,a".into(),
            "",
            400,
            "InvalidPartNumber",
        ),
        (
            Method::GET,
            "/s3/multipart/U1/batch?key=uploads/anonymous/a&partNumbers=0".into(),
            "",
            400,
            "InvalidPartNumber",
        ),
        (
            Method::GET,
            "/s3/multipart/U1/batch?key=uploads/anonymous/a&partNumbers=1,,2".into(),
            "",
            400,
            "InvalidPartNumber",
        ),
        (
            Method::GET,
            "/s3/multipart/U1/batch?key=uploads/anonymous/a&partNumbers=-1".into(),
            "",
            400,
            "InvalidPartNumber",
        ),
        (
            Method::GET,
            "/s3/multipart/U1/batch?key=uploads/anonymous/a&partNumbers=1,1".into(),
            "",
            400,
            "DuplicatePartNumber",
        ),
        (Method::GET, many, "", 400, "TooManyParts"),
        (
            Method::GET,
            "/s3/multipart/U1/x1?key=uploads/anonymous/a".into(),
            "",
            400,
            "InvalidPartNumber",
        ),
        (Method::GET, "/s3/params".into(), "", 400, "MissingFilename"),
        (
            Method::GET,
            "/s3/params?filename=..%2Fbob%2Fa.png".into(),
            "",
            400,
            "InvalidFilename",
        ),
        (
            Method::GET,
            "/s3/params?filename=a.png&type=text%2Fhtml%0d%0aX-Evil:%201".into(),
            "",
            400,
            "InvalidField",
        ),
        (
            Method::POST,
            "/s3/multipart".into(),
            r#"{"filename":"../../x"}"#,
            400,
            "InvalidFilename",
        ),
        (
            Method::POST,
            "/s3/multipart".into(),
            "[1]",
            400,
            "InvalidRequest",
        ),
        // A member named twice is refused, never read as its last value.
        (
            Method::POST,
            "/s3/multipart".into(),
            r#"{"filename":"a.txt","filename":"b.txt"}"#,
            400,
            "InvalidRequest",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/anonymous/a".into(),
            r#"{"parts":[{"PartNumber":1,"ETag":"e"}],"parts":[{"PartNumber":2,"ETag":"f"}]}"#,
            400,
            "InvalidParts",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/anonymous/a".into(),
            r#"{"parts":[{"PartNumber":1,"ETag":"e"},{"PartNumber":1,"ETag":"f"}]}"#,
            400,
            "InvalidParts",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/anonymous/a".into(),
            r#"{"parts":[{"PartNumber":"1","ETag":"e"}]}"#,
            400,
            "InvalidParts",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/anonymous/a".into(),
            r#"{"parts":[{"PartNumber":10001,"ETag":"e"}]}"#,
            400,
            "InvalidParts",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/anonymous/a".into(),
            r#"{"parts":[]}"#,
            400,
            "InvalidParts",
        ),
        (
            Method::POST,
            "/s3/multipart/U1/complete?key=uploads/anonymous/a".into(),
            "{\"parts\":[{\"PartNumber\":1,\"ETag\":\"e\\n\"}]}",
            400,
            "InvalidParts",
        ),
        (
            Method::PUT,
            "/s3/params".into(),
            "",
            405,
            "MethodNotAllowed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = answer(&state, request(method.clone(), &path, body)).await;
        assert_eq!(
            error_code(got, &answer),
            (status, code.to_owned()),
            "{method} {path}: {answer}"
        );
    }
    assert!(store.sent().is_empty(), "nothing refused reached the store");
}

#[tokio::test]
async fn the_segment_before_s3_names_the_profile() {
    let dir = std::env::temp_dir().join(format!("stsvend-companion-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("profiles.toml");
    std::fs::write(
        &file,
        "default_profile = \"attachment\"\n[profiles.attachment]\nprefix = \"uploads/${sub}/\"\n[profiles.avatar]\nprefix = \"avatars/${sub}/\"\nkey = \"${uuid}${ext}\"\nmethods = [\"PUT\", \"POST\", \"GET\", \"HEAD\"]\ncontent_types = [\"image/png\"]\n",
    )
    .expect("profiles");
    let state = state(
        &[("PROFILES_FILE", file.to_str().expect("path"))],
        Script::new(&[]),
    );
    let params = |path: &str| request(Method::GET, path, "");
    let (status, body) = answer(
        &state,
        params("/api/avatar/s3/params?filename=me.png&type=image%2Fpng"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let key = body["fields"]["key"].as_str().expect("key");
    assert!(
        key.starts_with("avatars/anonymous/") && key.ends_with(".png") && !key.contains("me.png"),
        "{key}"
    );
    // The deployment's own path: the default profile, and Companion's key.
    let (status, body) = answer(
        &state,
        params("/api/s3/params?filename=me.png&type=image%2Fpng"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["fields"]["key"]
            .as_str()
            .expect("key")
            .ends_with("-me.png")
    );
    // The avatar profile's own rules hold: its types, on a form and on a multipart upload.
    let (status, body) = answer(
        &state,
        params("/api/avatar/s3/params?filename=me.html&type=text%2Fhtml"),
    )
    .await;
    assert_eq!(
        error_code(status, &body),
        (403, "ContentTypeNotAllowed".to_owned())
    );
    let (status, body) = answer(
        &state,
        request(
            Method::POST,
            "/api/avatar/s3/multipart",
            r#"{"filename":"me.html","type":"text/html"}"#,
        ),
    )
    .await;
    assert_eq!(
        error_code(status, &body),
        (403, "ContentTypeNotAllowed".to_owned())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn aws_state(extra: &[(&'static str, &str)], store: Arc<Script>) -> Arc<AppState> {
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("PROVIDER", "aws".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIAFUNCTIONKEY".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "function-secret".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("AUTH_MODE", "none".to_owned()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config = Config::load(&|k| vars.get(k).cloned()).expect("config");
    Arc::new(AppState::new(config, Arc::new(FixedClock::at_unix(NOW)), store).expect("state"))
}

#[tokio::test]
async fn sts_hands_the_callers_own_scoped_credentials_on_aws_with_a_role_and_companion_sts_only() {
    // The shape of an AWS STS AssumeRole answer (the STS API reference's example).
    let assumed = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAVENDED</AccessKeyId><SecretAccessKey>vended-secret</SecretAccessKey><SessionToken>vended-token</SessionToken><Expiration>2026-11-22T09:53:10Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>"#;
    let store = Script::new(&[(200, assumed)]);
    let role = ("ROLE_ARN", "arn:aws:iam::123456789012:role/uploader");
    let vending = aws_state(&[role, ("COMPANION_STS", "true")], Arc::clone(&store));
    let response = handle(
        Arc::clone(&vending),
        request(Method::GET, "/presign/s3/sts", ""),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = serde_json::from_slice(response.body().as_ref()).expect("JSON");
    assert_eq!(
        body,
        json!({"credentials": {"AccessKeyId": "ASIAVENDED", "SecretAccessKey": "vended-secret", "SessionToken": "vended-token", "Expiration": "2026-11-22T09:53:10Z"}, "bucket": "examplebucket", "region": "us-east-1"})
    );
    let sent = store.sent();
    assert_eq!(sent.len(), 1, "one AssumeRole");
    let form = String::from_utf8_lossy(&sent[0].body).into_owned();
    assert!(form.contains("Action=AssumeRole"), "{form}");
    assert!(
        form.contains("uploads%2Fanonymous%2F"),
        "the session policy names the caller's prefix: {form}"
    );

    // Without a role the function's own key would leave: refused, as on Alibaba Cloud; and
    // with a role but without COMPANION_STS (the default), nothing is handed out either.
    for refusing in [
        aws_state(&[("COMPANION_STS", "true")], Script::new(&[])),
        aws_state(&[role], Script::new(&[])),
        state(&[("COMPANION_STS", "true")], Script::new(&[])),
    ] {
        let (status, body) = answer(&refusing, request(Method::GET, "/s3/sts", "")).await;
        assert_eq!(
            error_code(status, &body),
            (400, "StsNotSupported".to_owned())
        );
    }
}

#[tokio::test]
async fn the_caller_is_who_the_bearer_token_says_and_keys_stay_under_their_prefix() {
    use stsvend_test_support::tokens;
    let mut env: Vec<(&'static str, String)> = tokens::hs256_env();
    env.retain(|(name, _)| *name != "RUST_LOG");
    let extra: Vec<(&'static str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let store = Script::new(&[(200, &initiated("U-alice"))]);
    let state = state(&extra, Arc::clone(&store));
    let bearer = tokens::hs256_bearer_of_tenant("alice", "t1", NOW);
    let signed = |mut request: Request| {
        request
            .headers_mut()
            .insert("authorization", bearer.parse().expect("header"));
        request
    };
    // Uppy 5 sends its `headers` option (the token) with every Companion request.
    let (status, body) = answer(
        &state,
        signed(request(
            Method::POST,
            "/s3/multipart",
            r#"{"filename":"a.bin","type":"application/octet-stream"}"#,
        )),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["key"]
            .as_str()
            .expect("key")
            .starts_with("uploads/alice/"),
        "{body}"
    );
    let (status, body) = answer(
        &state,
        signed(request(
            Method::DELETE,
            "/s3/multipart/U-bob?key=uploads%2Fbob%2Fa.bin",
            "",
        )),
    )
    .await;
    assert_eq!(
        error_code(status, &body),
        (403, "KeyOutsidePrefix".to_owned())
    );
    // No token: refused, in Companion's shape, and the store is not asked.
    let (status, body) = answer(
        &state,
        request(Method::GET, "/s3/params?filename=a.bin", ""),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body.as_object().map(Map::len), Some(1), "{body}");
    assert_eq!(store.sent().len(), 1, "only alice's CreateMultipartUpload");
}
