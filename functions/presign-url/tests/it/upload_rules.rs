//! The upload rules, enforced by a store that checks signatures (s3s-fs, `PROVIDER=aws`):
//! a create-only PUT or multipart completion over an existing key fails, a client that drops
//! a signed rule header breaks the signature, and stamped metadata reads back with a HEAD.
//! Every answer also goes to `$CARGO_TARGET_TMPDIR/s3-rules-presigned.jsonl`, which
//! `scripts/oracles/verify_s3_presigned.py` checks against botocore.

use serde_json::{Value, json};
use stsvend_test_support::http::http;

use crate::s3s_fs::{PREFIX, Store, headers_of, presigner_with, record, send, sign};

fn complete_upload(
    function: &stsvend_test_support::function::Function,
    key: &str,
    records: &mut Vec<Value>,
) -> u16 {
    let initiate = sign(function, &json!({"key": key, "multipart": "initiate"}));
    record(records, "rules: multipart initiate", key, None, &initiate);
    let (status, xml) = send(&initiate, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xml));
    let xml = String::from_utf8_lossy(&xml).into_owned();
    let upload_id = xml
        .split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split("</UploadId>").next())
        .expect("UploadId")
        .to_owned();
    let part = sign(
        function,
        &json!({"key": key, "method": "PUT", "uploadId": upload_id, "partNumber": 1}),
    );
    let (status, headers, _) = http("PUT", part["URL"].as_str().expect("URL"), &[], b"one part");
    assert_eq!(status, 200);
    let etag = headers.get("etag").expect("ETag").clone();
    let complete = sign(
        function,
        &json!({"key": key, "multipart": "complete", "uploadId": upload_id}),
    );
    record(records, "rules: multipart complete", key, None, &complete);
    assert_eq!(complete["Headers"]["If-None-Match"], "*", "{complete}");
    let body = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    );
    send(&complete, body.as_bytes()).0
}

#[test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
fn the_store_enforces_create_only_and_stamped_metadata() {
    let store = Store::start("rules");
    let function = presigner_with(
        &store,
        None,
        &[
            ("UPLOAD_OVERWRITE", "false"),
            ("UPLOAD_METADATA", "uploader=${sub},app=rules-test"),
            ("UPLOAD_CLIENT_METADATA", "true"),
        ],
    );
    let mut records = Vec::new();
    let key = format!("{PREFIX}create only.txt");
    let put = sign(
        &function,
        &json!({"key": key, "method": "PUT", "contentType": "text/plain", "metadata": {"album": "summer"}}),
    );
    record(&mut records, "rules: create-only PUT", &key, None, &put);
    assert_eq!(put["Headers"]["If-None-Match"], "*");
    assert_eq!(put["Headers"]["x-amz-meta-uploader"], "anonymous");

    // Without the signed If-None-Match the signature does not hold.
    let dropped: Vec<(String, String)> = headers_of(&put)
        .into_iter()
        .filter(|(name, _)| name != "If-None-Match")
        .collect();
    let refs: Vec<(&str, &str)> = dropped
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, body) = http("PUT", put["URL"].as_str().expect("URL"), &refs, b"first");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("SignatureDoesNotMatch"));

    // With it: the first PUT creates, the second, over the existing key, is refused.
    assert_eq!(send(&put, b"first").0, 200);
    let again = sign(
        &function,
        &json!({"key": key, "method": "PUT", "contentType": "text/plain", "metadata": {"album": "summer"}}),
    );
    let (status, body) = send(&again, b"second");
    assert_eq!(status, 412, "{}", String::from_utf8_lossy(&body));

    // The stamped metadata and the client's own read back.
    let head = sign(&function, &json!({"key": key, "method": "HEAD"}));
    let (status, headers, _) = http("HEAD", head["URL"].as_str().expect("URL"), &[], b"");
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("x-amz-meta-uploader").map(String::as_str),
        Some("anonymous"),
        "{headers:?}"
    );
    assert_eq!(
        headers.get("x-amz-meta-app").map(String::as_str),
        Some("rules-test")
    );
    assert_eq!(
        headers.get("x-amz-meta-album").map(String::as_str),
        Some("summer")
    );
    let get = sign(&function, &json!({"key": key}));
    assert_eq!(send(&get, b"").1, b"first", "the first upload stays");

    // A multipart upload: completing over a new key works, over the same key again fails.
    let big = format!("{PREFIX}create only multipart.bin");
    assert_eq!(complete_upload(&function, &big, &mut records), 200);
    assert_eq!(complete_upload(&function, &big, &mut records), 412);

    // A form cannot be made create-only on S3: refused with why.
    let (status, _, body) = function.request(
        "POST",
        "/",
        &json!({"key": key, "method": "POST"}).to_string(),
    );
    let body: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (status, body["ErrorCode"].as_str()),
        (400, Some("RuleNotEnforceable"))
    );
    function.stop();

    // Tags and KMS encryption, signed for botocore to check (s3s-fs keeps neither).
    let function = presigner_with(
        &store,
        None,
        &[
            ("UPLOAD_TAGGING", "team=${sub},stage=a b"),
            (
                "UPLOAD_SERVER_SIDE_ENCRYPTION",
                "KMS:arn:aws:kms:us-east-1:123456789012:key/1234abcd",
            ),
        ],
    );
    let key = format!("{PREFIX}tagged.txt");
    for ask in [
        json!({"key": key, "method": "PUT"}),
        json!({"key": key, "multipart": "initiate"}),
        json!({"key": key, "method": "POST"}),
        json!({"key": key, "method": "PUT", "checksumSha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}),
    ] {
        let answer = sign(&function, &ask);
        let carried = answer.get("Fields").unwrap_or(&answer["Headers"]);
        assert_eq!(carried["x-amz-server-side-encryption"], "aws:kms", "{ask}");
        record(&mut records, &format!("rules: {ask}"), &key, None, &answer);
    }
    function.stop();

    let path = format!("{}/s3-rules-presigned.jsonl", env!("CARGO_TARGET_TMPDIR"));
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write records");
}
