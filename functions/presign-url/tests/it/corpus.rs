//! The `presign-url` binary in HTTP mode over a corpus of awkward keys and every operation,
//! four ways: signature V4 and V1, each with the function's own key and with keys vended by
//! a stand-in STS (`ROLE_ARN`), on virtual-hosted, path-style and custom-domain endpoints.
//!
//! Every answer is written to `$CARGO_TARGET_TMPDIR/presigned.jsonl`, and
//! `scripts/oracles/verify_presigned.py` has the official SDKs (oss2 and
//! alibabacloud-oss-v2, clocks pinned to each URL's signing time) regenerate and compare every
//! signature. Here, the test checks what the SDKs cannot: status, shape, caching.

use serde_json::{Value, json};
use stsvend_test_support::function::Function;
use stsvend_test_support::keys;
use stsvend_test_support::sts::{
    self, Canned, FUNCTION_KEY_ID, FUNCTION_SECRET, FUNCTION_TOKEN, StandInSts,
};

const PREFIX: &str = "uploads/anonymous/";

/// One request to presign-url and whether oss-v2 is expected to agree (ALGORITHMS.md §5.2:
/// its V1 signer does not sign `x-oss-process`).
fn operations() -> Vec<(Value, bool)> {
    let key = |k: &str| format!("{PREFIX}{k}");
    vec![
        (
            json!({"key": key("photo.png"), "method": "PUT", "contentType": "image/png", "contentMd5": "1B2M2Y8AsgTpgAmY7PhCfg=="}),
            true,
        ),
        (
            json!({"key": key("doc one.pdf"), "method": "PUT", "contentType": "application/pdf; charset=binary"}),
            true,
        ),
        (json!({"key": key("a b.txt"), "method": "HEAD"}), true),
        (json!({"key": key("a b.txt"), "method": "DELETE"}), true),
        (
            json!({"key": key("r 1.pdf"), "responseContentType": "application/pdf", "responseContentDisposition": "attachment; filename=\"r 1.pdf\"; filename*=UTF-8''%E4%B8%AD.pdf"}),
            true,
        ),
        (
            json!({"key": key("photo.png"), "process": "image/resize,w_100/quality,q_80"}),
            false,
        ),
        (
            json!({"key": key("big file.bin"), "multipart": "initiate", "contentType": "application/octet-stream"}),
            true,
        ),
        (
            json!({"key": key("big file.bin"), "method": "PUT", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D", "partNumber": 1}),
            true,
        ),
        (
            json!({"key": key("big file.bin"), "method": "PUT", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D", "partNumber": 10000, "contentMd5": "1B2M2Y8AsgTpgAmY7PhCfg=="}),
            true,
        ),
        (
            json!({"key": key("big file.bin"), "multipart": "complete", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D"}),
            true,
        ),
        (
            json!({"key": key("big file.bin"), "multipart": "complete", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D", "contentType": "application/xml"}),
            true,
        ),
        (
            json!({"key": key("photo 2.jpg"), "multipart": "initiate", "contentType": "image/jpeg"}),
            true,
        ),
        (
            json!({"key": key("big file.bin"), "multipart": "abort", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D"}),
            true,
        ),
        (
            json!({"key": key("big file.bin"), "multipart": "list", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D"}),
            true,
        ),
        (json!({"key": key("a+b c.txt"), "expires": 60}), true),
        (json!({"key": key("a+b c.txt"), "expires": 3600}), true),
    ]
}

/// Listings of the caller's prefix ("my files"): bucket-level URLs, recorded with an empty key.
fn listings() -> Vec<Value> {
    vec![
        json!({"list": true}),
        json!({"list": true, "startAfter": format!("{PREFIX}a b+c.txt"), "continuationToken": "1Tc+token/x==", "maxKeys": 100}),
        json!({"list": true, "startAfter": format!("{PREFIX}中文.txt"), "maxKeys": 1, "expires": 60}),
    ]
}

fn forms() -> Vec<Value> {
    vec![
        json!({"key": format!("{PREFIX}form upload+1.jpg"), "method": "POST", "contentType": "image/jpeg"}),
        json!({"key": format!("{PREFIX}中文 表单.txt"), "method": "POST"}),
        json!({"key": format!("{PREFIX}photos/"), "method": "POST", "startsWith": true}),
        json!({"method": "POST", "startsWith": true}),
    ]
}

/// Batch part signing asks (`partNumbers`): a range and an unordered list.
fn batches() -> Vec<Value> {
    let upload = |key: &str, numbers: Value| json!({"key": format!("{PREFIX}{key}"), "method": "PUT", "uploadId": "0004B9894A22E5B1888A1E29F8236E2D", "partNumbers": numbers});
    vec![
        upload("big file.bin", json!({"first": 1, "count": 3})),
        upload("中文 a+b.mp4", json!([10000, 2, 777])),
    ]
}

/// One record per part of each batch answer, in `template`'s shape (a record of this run).
fn batch_records(function: &Function, run: &Run, template: Option<Value>) -> Vec<Value> {
    let template = template.expect("a record of this run");
    let mut records = Vec::new();
    for ask in batches() {
        let (status, _, body) = function.request("POST", "/", &ask.to_string());
        assert_eq!(status, 200, "{}: {ask} -> {body}", run.name);
        let answer: Value = serde_json::from_str(&body).expect("JSON answer");
        for (number, single) in crate::parts::each_part(&answer) {
            assert!(
                !single["URL"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("callback=")
            );
            let mut record = template.clone();
            record["case"] = json!(format!("{}: {ask}, part {number}", run.name));
            record["kind"] = json!("url");
            record["key"] = ask["key"].clone();
            record["answer"] = single;
            record["agree"] = json!(["oss2", "oss-v2"]);
            record["note"] = json!("");
            records.push(record);
        }
    }
    records
}

struct Run {
    name: &'static str,
    version: &'static str,
    role: bool,
    endpoint: Option<&'static str>,
    /// `UPLOAD_CALLBACK_URL` and `UPLOAD_CALLBACK_SECRET` set: uploads carry a pinned callback.
    callback: bool,
    /// Every upload rule on: create-only, stamped metadata and tags, KMS encryption, client
    /// metadata allowed.
    rules: bool,
}

#[test]
fn presign_url_corpus_for_the_official_sdks() {
    let runs = [
        Run {
            name: "v4, own key with token",
            version: "v4",
            role: false,
            endpoint: None,
            callback: false,
            rules: false,
        },
        Run {
            name: "v1, own key with token, path-style",
            version: "v1",
            role: false,
            endpoint: Some("http://127.0.0.1:9000"),
            callback: false,
            rules: false,
        },
        Run {
            name: "v4, role, path-style",
            version: "v4",
            role: true,
            endpoint: Some("http://localhost:9000"),
            callback: false,
            rules: false,
        },
        Run {
            name: "v1, role, custom domain",
            version: "v1",
            role: true,
            endpoint: Some("https://files.example.com"),
            callback: false,
            rules: false,
        },
        Run {
            name: "v4, own key, pinned callback",
            version: "v4",
            role: false,
            endpoint: None,
            callback: true,
            rules: false,
        },
        Run {
            name: "v1, role, pinned callback",
            version: "v1",
            role: true,
            endpoint: None,
            callback: true,
            rules: false,
        },
        Run {
            name: "v4, own key, every upload rule",
            version: "v4",
            role: false,
            endpoint: None,
            callback: false,
            rules: true,
        },
        Run {
            name: "v1, role, every upload rule",
            version: "v1",
            role: true,
            endpoint: Some("http://127.0.0.1:9000"),
            callback: false,
            rules: true,
        },
    ];
    let mut records = Vec::new();
    for run in &runs {
        records.extend(corpus_run(run));
    }
    assert!(records.len() > 4 * 60, "{} records", records.len());
    let path = format!("{}/presigned.jsonl", env!("CARGO_TARGET_TMPDIR"));
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write corpus");
}

fn corpus_run(run: &Run) -> Vec<Value> {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.retain(|(name, _)| *name != "ROLE_ARN" || run.role);
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("SIGNATURE_VERSION", run.version.to_owned()),
        (
            "PRESIGN_METHODS",
            "GET,HEAD,PUT,POST,DELETE,LIST".to_owned(),
        ),
        ("RUST_LOG", "info".to_owned()),
    ]);
    if let Some(endpoint) = run.endpoint {
        envs.push(("BUCKET_ENDPOINT", endpoint.to_owned()));
    }
    if run.rules {
        envs.extend([
            ("UPLOAD_OVERWRITE", "false".to_owned()),
            ("UPLOAD_METADATA", "uploader=${sub},app=corpus".to_owned()),
            ("UPLOAD_CLIENT_METADATA", "true".to_owned()),
            ("UPLOAD_TAGGING", "team=${sub},stage=test".to_owned()),
            (
                "UPLOAD_SERVER_SIDE_ENCRYPTION",
                "KMS:corpus-key-1".to_owned(),
            ),
        ]);
    }
    if run.callback {
        envs.extend([
            (
                "UPLOAD_CALLBACK_URL",
                "https://api.example.com/record-upload?from=oss".to_owned(),
            ),
            (
                "UPLOAD_CALLBACK_SECRET",
                "corpus-callback-secret-0123456789abcdef".to_owned(),
            ),
        ]);
    }
    let (access_key_id, access_key_secret, token) = if run.role {
        // One STS call for the whole run: the credential is cached for the caller.
        sts.next(Canned::Reply(
            200,
            sts::success_body_until("anonymous", "2099-01-01T00:00:00Z"),
        ));
        ("STS.test-vended-key", sts::VENDED_SECRET, sts::VENDED_TOKEN)
    } else {
        (FUNCTION_KEY_ID, FUNCTION_SECRET, FUNCTION_TOKEN)
    };
    let function = Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs);

    let mut asks: Vec<(Value, &str, bool)> = keys::awkward_keys(PREFIX)
        .into_iter()
        .map(|k| (json!({ "key": k }), "url", true))
        .collect();
    asks.extend(
        operations()
            .into_iter()
            .map(|(ask, agree_v2)| (ask, "url", agree_v2 || run.version == "v4")),
    );
    asks.extend(forms().into_iter().map(|ask| (ask, "post", true)));
    asks.extend(listings().into_iter().map(|ask| (ask, "url", true)));
    if run.rules {
        // The client's own metadata rides with the deployment's, signed the same way.
        asks.push((
            json!({"key": format!("{PREFIX}with metadata.png"), "method": "PUT", "contentType": "image/png", "metadata": {"album": "summer-2026", "note": "a b+c"}}),
            "url",
            true,
        ));
        asks.push((
            json!({"key": format!("{PREFIX}form with metadata.png"), "method": "POST", "metadata": {"album": "summer"}}),
            "post",
            true,
        ));
    }

    let mut records = Vec::new();
    for (ask, kind, oss_v2_agrees) in asks {
        let (status, _, body) = function.request("POST", "/", &ask.to_string());
        if run.version == "v1" && ask["key"].as_str().is_some_and(|k| k.contains('?')) {
            // V1 would sign `a?b` like the sub-resource `b` of `a`: refused.
            assert_eq!(
                (
                    status,
                    serde_json::from_str::<Value>(&body).expect("JSON")["ErrorCode"].clone()
                ),
                (400, json!("InvalidKey"))
            );
            continue;
        }
        if run.version == "v1" && !run.role && ask["list"] == true {
            // V1 does not sign `prefix`: with the function's own key, refused.
            assert_eq!(
                (
                    status,
                    serde_json::from_str::<Value>(&body).expect("JSON")["ErrorCode"].clone()
                ),
                (403, json!("ListingNotBound"))
            );
            continue;
        }
        assert_eq!(status, 200, "{}: {ask} -> {body}", run.name);
        let answer: Value = serde_json::from_str(&body).expect("JSON answer");
        let url = answer["URL"].as_str().expect("URL");
        assert!(!url.contains('+'), "raw '+' in {url}");
        if let Some(endpoint) = run.endpoint {
            assert!(url.starts_with(endpoint), "{url} is not under {endpoint}");
        }
        let creates = ask["method"] == "PUT" && ask["uploadId"].is_null()
            || ask["multipart"] == "complete"
            || kind == "post";
        let pinned = url.contains("callback=") || !answer["Fields"]["callback"].is_null();
        assert_eq!(
            pinned,
            run.callback && creates,
            "{}: {ask} -> {url}",
            run.name
        );
        if run.rules && (ask["method"] == "PUT" && ask["uploadId"].is_null() || kind == "post") {
            // Create-only, stamped and encrypted: in the headers to sign or the fields to pin.
            let carried = if kind == "post" {
                &answer["Fields"]
            } else {
                &answer["Headers"]
            };
            assert_eq!(
                carried["x-oss-forbid-overwrite"], "true",
                "{}: {ask}",
                run.name
            );
            assert_eq!(
                carried["x-oss-meta-uploader"], "anonymous",
                "{}: {ask}",
                run.name
            );
            assert_eq!(
                carried["x-oss-tagging"], "team=anonymous&stage=test",
                "{}: {ask}",
                run.name
            );
            assert_eq!(
                carried["x-oss-server-side-encryption"], "KMS",
                "{}: {ask}",
                run.name
            );
            assert_eq!(
                carried["x-oss-server-side-encryption-key-id"], "corpus-key-1",
                "{}: {ask}",
                run.name
            );
        }
        let agree = match (kind, oss_v2_agrees) {
            ("post", _) => json!(["oss-v2"]),
            (_, true) => json!(["oss2", "oss-v2"]),
            (_, false) => json!(["oss2"]),
        };
        records.push(json!({
            "case": format!("{}: {ask}", run.name),
            "kind": kind,
            "signature_version": run.version,
            "access_key_id": access_key_id,
            "access_key_secret": access_key_secret,
            "security_token": token,
            "region": "cn-hangzhou",
            "bucket": "examplebucket",
            "key": if ask["list"] == true { "" } else { ask["key"].as_str().unwrap_or(PREFIX) },
            "answer": answer,
            "agree": agree,
            "note": if oss_v2_agrees { "" } else { "ALGORITHMS.md §5.2: oss-v2's V1 signer does not sign x-oss-process; oss2 and the OSS V1 document do" },
        }));
    }
    records.extend(batch_records(&function, run, records.first().cloned()));
    // Refusals at the HTTP edge: an oversized body, a method presign-url does not serve.
    let oversized = format!(r#"{{"key":"{PREFIX}x","pad":"{}"}}"#, "x".repeat(70 * 1024));
    let (status, _, body) = function.request("POST", "/", &oversized);
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&body).expect("JSON")["ErrorCode"].clone()
        ),
        (413, json!("RequestTooLarge"))
    );
    let big = "x".repeat(100 * 1024);
    let (status, _, _) = function.request_with_headers("GET", "/", &[("X-Big", &big)], "");
    assert_eq!(status, 431, "an oversized head");
    let (status, headers, _) = function.request("PUT", "/", "{}");
    assert_eq!(
        (status, headers.get("allow").map(String::as_str)),
        (405, Some("GET, POST"))
    );
    let received = sts.take_received();
    assert_eq!(
        received.len(),
        usize::from(run.role),
        "{}: one STS call per run with ROLE_ARN, none without",
        run.name
    );
    for request in received {
        assert!(
            request.problems.is_empty(),
            "stand-in STS found: {:?}",
            request.problems
        );
    }
    let (clean_exit, output) = function.stop();
    assert!(clean_exit, "{output:#?}");
    records
}
