//! `PROVIDER=aws`: presign-url's URLs and forms used for real against s3s-fs, an S3 server
//! that verifies SigV4 presigned URLs and POST policies itself, on 127.0.0.1. Bytes go up and
//! come back; a tampered, expired, wrong-type or oversized upload is refused by the server.
//!
//! Every answer is also written to `$CARGO_TARGET_TMPDIR/s3-presigned.jsonl`, which
//! `scripts/oracles/verify_s3_presigned.py` checks against botocore's own presigner.

use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use stsvend_test_support::function::Function;
use stsvend_test_support::http::http;
use stsvend_test_support::keys;

pub(crate) use stsvend_test_support::s3s::{ACCESS_KEY, BUCKET, SECRET_KEY, Store};

pub(crate) const PREFIX: &str = "uploads/anonymous/";
const MAX_BYTES: u64 = 64 * 1024;

fn presigner(store: &Store, token: Option<&str>) -> Function {
    presigner_with(store, token, &[])
}

/// presign-url for `store`, with `extra` settings too.
pub(crate) fn presigner_with(
    store: &Store,
    token: Option<&str>,
    extra: &[(&'static str, &str)],
) -> Function {
    let mut envs = vec![
        ("PROVIDER", "aws".to_owned()),
        ("AUTH_MODE", "none".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("BUCKET", BUCKET.to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        (
            "BUCKET_ENDPOINT",
            format!("http://127.0.0.1:{}", store.port),
        ),
        (
            "PRESIGN_METHODS",
            "GET,HEAD,PUT,POST,DELETE,LIST".to_owned(),
        ),
        ("UPLOAD_MAX_BYTES", MAX_BYTES.to_string()),
    ];
    if let Some(token) = token {
        envs.push(("AWS_SESSION_TOKEN", token.to_owned()));
    }
    envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

pub(crate) fn sign(function: &Function, ask: &Value) -> Value {
    let (status, _, body) = function.request("POST", "/", &ask.to_string());
    assert_eq!(status, 200, "{ask}: {body}");
    serde_json::from_str(&body).expect("JSON answer")
}

pub(crate) fn headers_of(answer: &Value) -> Vec<(String, String)> {
    answer["Headers"].as_object().map_or_else(Vec::new, |h| {
        h.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect()
    })
}

pub(crate) fn send(answer: &Value, body: &[u8]) -> (u16, Vec<u8>) {
    let headers = headers_of(answer);
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, _, bytes) = http(
        answer["Method"].as_str().expect("Method"),
        answer["URL"].as_str().expect("URL"),
        &refs,
        body,
    );
    (status, bytes)
}

/// A multipart/form-data body: the fields in order, then the file.
pub(crate) fn form_body(fields: &serde_json::Map<String, Value>, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "stsvend-form-boundary-7d3e";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                value.as_str().unwrap_or_default()
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) fn record(
    records: &mut Vec<Value>,
    case: &str,
    key: &str,
    token: Option<&str>,
    answer: &Value,
) {
    let kind = if answer.get("Fields").is_some() {
        "post"
    } else {
        "url"
    };
    records.push(json!({
        "case": case, "kind": kind, "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY,
        "session_token": token, "region": "us-east-1", "bucket": BUCKET, "key": key, "answer": answer,
    }));
}

fn get_bytes(function: &Function, key: &str) -> (u16, Vec<u8>) {
    send(&sign(function, &json!({ "key": key })), b"")
}

/// Sends the presigned `initiate`, and reads the new upload's id.
fn started_upload(initiate: &Value) -> String {
    let (status, xml) = send(initiate, b"");
    assert_eq!(status, 200);
    let xml = String::from_utf8_lossy(&xml).into_owned();
    xml.split("<UploadId>")
        .nth(1)
        .and_then(|s| s.split("</UploadId>").next())
        .expect("UploadId")
        .to_owned()
}

/// A multipart upload whose part URLs come from one batch answer (`partNumbers`): the parts
/// go up, the upload completes, and the object comes back byte for byte; a part URL with its
/// number changed is refused by the store.
fn batch_multipart_upload(
    function: &Function,
    records: &mut Vec<Value>,
    run: &str,
    token: Option<&str>,
) {
    let key = format!("{PREFIX}batch/video 1+2.mp4");
    let upload_id = &started_upload(&sign(
        function,
        &json!({"key": key, "multipart": "initiate", "contentType": "video/mp4"}),
    ));
    let batch = sign(
        function,
        &json!({"key": key, "method": "PUT", "uploadId": upload_id, "partNumbers": {"first": 1, "count": 3}}),
    );
    let parts = crate::parts::each_part(&batch);
    let bytes: [Vec<u8>; 3] = [
        vec![b'a'; 5 * 1024 * 1024],
        (0..5 * 1024 * 1024).map(|i| (i % 251) as u8).collect(),
        b"the last, short part of a batch".to_vec(),
    ];
    let mut renumbered = parts[0].1.clone();
    let url = renumbered["URL"]
        .as_str()
        .expect("URL")
        .replace("partNumber=1&", "partNumber=3&");
    renumbered["URL"] = json!(url);
    assert_eq!(
        send(&renumbered, &bytes[2]).0,
        403,
        "a part URL with another number"
    );
    let mut completion = String::from("<CompleteMultipartUpload>");
    for ((number, part), body) in parts.iter().zip(&bytes) {
        record(
            records,
            &format!("{run}: batch part {number}"),
            &key,
            token,
            part,
        );
        let headers: Vec<(&str, &str)> = Vec::new();
        let (status, answer_headers, _) =
            http("PUT", part["URL"].as_str().expect("URL"), &headers, body);
        assert_eq!(status, 200, "part {number}");
        let etag = answer_headers.get("etag").expect("ETag");
        completion.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
        ));
    }
    completion.push_str("</CompleteMultipartUpload>");
    // Signed with the completion body's type, as @uppy/aws-s3 sends it.
    let complete = sign(
        function,
        &json!({"key": key, "multipart": "complete", "uploadId": upload_id, "contentType": "application/xml"}),
    );
    assert_eq!(complete["Headers"]["Content-Type"], "application/xml");
    record(
        records,
        &format!("{run}: batch complete"),
        &key,
        token,
        &complete,
    );
    assert_eq!(send(&complete, completion.as_bytes()).0, 200);
    assert_eq!(get_bytes(function, &key), (200, bytes.concat()));
}

#[test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
fn presigned_urls_and_forms_move_real_bytes_through_a_verifying_store() {
    let store = Store::start("bytes");
    let mut records = Vec::new();
    for token in [
        None,
        Some("IQoJb3JpZ2luX2VjEBgaCXVzLWVhc3QtMSJHMEUCIQD+token/with=chars"),
    ] {
        let function = presigner(&store, token);
        let run = if token.is_some() {
            "with a session token"
        } else {
            "long-lived key"
        };

        // A presigned PUT with a signed Content-Type, then GET and HEAD.
        let key = format!("{PREFIX}photo 1+2 ünï.png");
        let put = sign(
            &function,
            &json!({"key": key, "method": "PUT", "contentType": "image/png", "contentMd5": "JtIBlz5Xb2Fsn6A8zWc9Qg=="}),
        );
        record(&mut records, &format!("{run}: PUT"), &key, token, &put);
        let bytes = b"\x89PNG real bytes of a picture";
        // Content-MD5 is signed: the store checks it against the bytes.
        assert_eq!(
            send(&put, b"not the bytes the MD5 names").0,
            400,
            "Content-MD5 mismatch is refused"
        );
        let put = sign(
            &function,
            &json!({"key": key, "method": "PUT", "contentType": "image/png"}),
        );
        assert_eq!(send(&put, bytes).0, 200);
        assert_eq!(get_bytes(&function, &key), (200, bytes.to_vec()));
        let head = sign(&function, &json!({"key": key, "method": "HEAD"}));
        assert_eq!(send(&head, b"").0, 200);

        // The server refuses what the signature does not cover.
        let mut other_type = put.clone();
        other_type["Headers"]["Content-Type"] = json!("text/html");
        assert_eq!(
            send(&other_type, b"<script>").0,
            403,
            "a different Content-Type"
        );
        let mut tampered = put.clone();
        let url = tampered["URL"].as_str().expect("URL").to_owned();
        let last = url.chars().last().expect("non-empty");
        tampered["URL"] = json!(format!(
            "{}{}",
            &url[..url.len() - 1],
            if last == '0' { '1' } else { '0' }
        ));
        assert_eq!(send(&tampered, bytes).0, 403, "a tampered signature");
        let mut elsewhere = put.clone();
        elsewhere["URL"] = json!(url.replace("photo%201%2B2", "photo%201%2B3"));
        assert_eq!(
            send(&elsewhere, bytes).0,
            403,
            "the signature on another key"
        );
        let expired = sign(
            &function,
            &json!({"key": format!("{PREFIX}late.txt"), "method": "PUT", "expires": 1}),
        );
        thread::sleep(Duration::from_millis(2100));
        assert_eq!(send(&expired, b"too late").0, 403, "an expired URL");

        // A form upload; too large is refused by the store's policy check.
        let form = sign(
            &function,
            &json!({"key": format!("{PREFIX}form upload.txt"), "method": "POST", "contentType": "text/plain"}),
        );
        record(
            &mut records,
            &format!("{run}: POST form"),
            &format!("{PREFIX}form upload.txt"),
            token,
            &form,
        );
        let fields = form["Fields"].as_object().expect("Fields");
        let (content_type, body) = form_body(fields, b"uploaded by a browser form");
        let (status, _, answer) = http(
            "POST",
            form["URL"].as_str().expect("URL"),
            &[("Content-Type", &content_type)],
            &body,
        );
        assert!(
            (200..300).contains(&status),
            "{status}: {}",
            String::from_utf8_lossy(&answer)
        );
        assert_eq!(
            get_bytes(&function, &format!("{PREFIX}form upload.txt")),
            (200, b"uploaded by a browser form".to_vec())
        );
        let (content_type, body) = form_body(
            fields,
            &vec![b'x'; usize::try_from(MAX_BYTES).expect("size") + 1],
        );
        let (status, _, answer) = http(
            "POST",
            form["URL"].as_str().expect("URL"),
            &[("Content-Type", &content_type)],
            &body,
        );
        assert_eq!(
            status,
            400,
            "over content-length-range: {}",
            String::from_utf8_lossy(&answer)
        );

        // A multipart upload, every step presigned.
        let key = format!("{PREFIX}big file.bin");
        let initiate = sign(&function, &json!({"key": key, "multipart": "initiate"}));
        record(
            &mut records,
            &format!("{run}: multipart initiate"),
            &key,
            token,
            &initiate,
        );
        let upload_id = started_upload(&initiate);
        let parts: [Vec<u8>; 2] = [
            vec![b'a'; 5 * 1024 * 1024],
            b"the last, short part".to_vec(),
        ];
        let mut completion = String::from("<CompleteMultipartUpload>");
        for (i, part) in parts.iter().enumerate() {
            let number = i + 1;
            let url = sign(
                &function,
                &json!({"key": key, "method": "PUT", "uploadId": upload_id, "partNumber": number}),
            );
            record(
                &mut records,
                &format!("{run}: part {number}"),
                &key,
                token,
                &url,
            );
            let headers: Vec<(&str, &str)> = Vec::new();
            let (status, answer_headers, _) =
                http("PUT", url["URL"].as_str().expect("URL"), &headers, part);
            assert_eq!(status, 200);
            let etag = answer_headers.get("etag").expect("ETag");
            completion.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        completion.push_str("</CompleteMultipartUpload>");
        let list = sign(
            &function,
            &json!({"key": key, "multipart": "list", "uploadId": upload_id}),
        );
        let (status, listing) = send(&list, b"");
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&listing).contains("<PartNumber>2</PartNumber>"));
        let complete = sign(
            &function,
            &json!({"key": key, "multipart": "complete", "uploadId": upload_id}),
        );
        record(
            &mut records,
            &format!("{run}: multipart complete"),
            &key,
            token,
            &complete,
        );
        assert_eq!(send(&complete, completion.as_bytes()).0, 200);
        assert_eq!(get_bytes(&function, &key), (200, parts.concat()));

        // DELETE, then the object is gone.
        let delete = sign(&function, &json!({"key": key, "method": "DELETE"}));
        assert_eq!(send(&delete, b"").0, 204);
        assert_eq!(get_bytes(&function, &key).0, 404);

        // Awkward keys: up, and back, byte for byte.
        for (i, suffix) in [
            "a b.txt",
            "a+b.txt",
            "100%.txt",
            "%2F.txt",
            "中文.txt",
            "😀.png",
            "~*!'().txt",
            "\"q\".txt",
            "=&;,:@$.txt",
            "[]{}^|`.txt",
            "dir/sub/deep.txt",
            "caf\u{e9}.txt",
            "cafe\u{301}.txt",
        ]
        .iter()
        .enumerate()
        {
            let key = format!("{PREFIX}awkward/{suffix}");
            let put = sign(&function, &json!({"key": key, "method": "PUT"}));
            let content = format!("object {i}: {suffix}");
            assert_eq!(send(&put, content.as_bytes()).0, 200, "{key}");
            let get = sign(
                &function,
                &json!({"key": key, "responseContentDisposition": format!("attachment; filename=\"{i}.txt\"")}),
            );
            record(
                &mut records,
                &format!("{run}: PUT {key:?}"),
                &key,
                token,
                &put,
            );
            record(
                &mut records,
                &format!("{run}: GET {key:?}"),
                &key,
                token,
                &get,
            );
            assert_eq!(send(&get, b""), (200, content.into_bytes()), "{key}");
        }
        batch_multipart_upload(&function, &mut records, run, token);
        // Every awkward key, signed for botocore to check (not all of them can be files).
        for key in keys::awkward_keys(PREFIX) {
            for ask in [
                json!({ "key": key }),
                json!({ "key": key, "method": "PUT", "contentType": "text/plain" }),
            ] {
                let answer = sign(&function, &ask);
                record(&mut records, &format!("{run}: {ask}"), &key, token, &answer);
            }
        }
        lists_exactly_the_callers_prefix(&store, &function, run, token, &mut records);
        function.stop();
    }
    let path = format!("{}/s3-presigned.jsonl", env!("CARGO_TARGET_TMPDIR"));
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write corpus");
}

/// The keys a ListObjectsV2 answer names, XML entities decoded, and its
/// `NextContinuationToken` when the list goes on.
fn listed(xml: &[u8]) -> (Vec<String>, Option<String>) {
    let xml = String::from_utf8_lossy(xml);
    let decode = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&")
    };
    let elements = |tag: &str| -> Vec<String> {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        xml.split(&open)
            .skip(1)
            .filter_map(|rest| rest.split_once(&close).map(|(value, _)| decode(value)))
            .collect()
    };
    let next = elements("NextContinuationToken").into_iter().next();
    (elements("Key"), next)
}

/// The keys stored under `prefix` in the store's own directory: what the listing must show.
fn stored_under(store: &Store, prefix: &str) -> Vec<String> {
    let bucket = store.dir.join(BUCKET);
    let mut keys = Vec::new();
    let mut pending = vec![bucket.join(prefix)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let key = path.strip_prefix(&bucket).expect("under the bucket");
                keys.push(key.to_str().expect("UTF-8").to_owned());
            }
        }
    }
    keys.sort();
    keys
}

/// "My files": a listing URL lists the caller's prefix and nothing else, page by page, from
/// where it is asked to start; rewritten to another prefix, the store refuses it.
fn lists_exactly_the_callers_prefix(
    store: &Store,
    function: &Function,
    run: &str,
    token: Option<&str>,
    records: &mut Vec<Value>,
) {
    // Other callers' files, one of them under a look-alike prefix.
    for other in ["uploads/bob/secret.txt", "uploads/anonymous2/x.txt"] {
        let path = store.dir.join(BUCKET).join(other);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        std::fs::write(&path, b"not yours").expect("write");
    }
    let mine = stored_under(store, PREFIX);
    assert!(mine.len() > 10, "{mine:?}");
    assert!(
        mine.contains(&format!("{PREFIX}awkward/=&;,:@$.txt")),
        "{mine:?}"
    );

    let answer = sign(function, &json!({"list": true}));
    record(records, &format!("{run}: list"), "", token, &answer);
    let (status, xml) = send(&answer, b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xml));
    assert_eq!(
        listed(&xml),
        (mine.clone(), None),
        "one page of exactly mine"
    );

    // Page by page, three keys at a time.
    let (mut pages, mut next, mut all) = (0, None::<String>, Vec::new());
    loop {
        let mut ask = json!({"list": true, "maxKeys": 3});
        if let Some(token) = &next {
            ask["continuationToken"] = json!(token);
        }
        let answer = sign(function, &ask);
        record(records, &format!("{run}: {ask}"), "", token, &answer);
        let (status, xml) = send(&answer, b"");
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xml));
        let (keys, token) = listed(&xml);
        assert!(keys.len() <= 3, "{keys:?}");
        all.extend(keys);
        pages += 1;
        next = token;
        if next.is_none() {
            break;
        }
    }
    assert_eq!((all, pages), (mine.clone(), mine.len().div_ceil(3)));

    let after = format!("{PREFIX}awkward/");
    let ask = json!({"list": true, "startAfter": after});
    let answer = sign(function, &ask);
    record(records, &format!("{run}: {ask}"), "", token, &answer);
    let (status, xml) = send(&answer, b"");
    assert_eq!(status, 200);
    let later: Vec<String> = mine.iter().filter(|k| **k > after).cloned().collect();
    assert_eq!(listed(&xml).0, later);

    // The signature covers the prefix: Bob's files cannot be listed with the URL.
    let mut bobs = answer.clone();
    bobs["URL"] = json!(
        answer["URL"]
            .as_str()
            .expect("URL")
            .replace("prefix=uploads%2Fanonymous%2F", "prefix=uploads%2Fbob%2F")
    );
    assert_ne!(bobs["URL"], answer["URL"]);
    assert_eq!(
        send(&bobs, b"").0,
        403,
        "a listing rewritten to another prefix"
    );
}
