//! Batch part signing through the `presign-url` binary in HTTP mode: one answer with every
//! part's URL, in part-number order, each with its headers, all under one expiry that the
//! signing credential's life caps; and the refusals, in the documented shape.
//!
//! The corpus (`corpus.rs`) and the s3s-fs run (`s3s_fs.rs`) split batch answers with
//! [`each_part`] into one record per part, which the SDK oracles check like any single URL.

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, format_iso8601};
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, StandInSts};

const KEY: &str = "uploads/anonymous/video 1+2.mp4";
const UPLOAD_ID: &str = "0004B9894A22E5B1888A1E29F8236E2D";

/// A batch answer's parts as single-URL answers (`StatusCode`, `Method`, `URL`, `Headers`,
/// `Expiration`, `ExpiresIn`), each with its part number; the answer must list its parts in
/// increasing part-number order, each with a URL that names its part.
pub(crate) fn each_part(answer: &Value) -> Vec<(u64, Value)> {
    assert!(
        answer.get("URL").is_none(),
        "a batch answer has no URL of its own: {answer}"
    );
    let parts = answer["Parts"].as_array().expect("Parts");
    let numbers: Vec<u64> = parts
        .iter()
        .map(|part| part["PartNumber"].as_u64().expect("PartNumber"))
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    parts
        .iter()
        .zip(numbers)
        .map(|(part, number)| {
            let url = part["URL"].as_str().expect("URL");
            assert!(
                url.contains(&format!("partNumber={number}&")),
                "{number}: {url}"
            );
            let single = json!({
                "StatusCode": answer["StatusCode"], "Method": answer["Method"], "URL": url,
                "Headers": part["Headers"], "Expiration": answer["Expiration"],
                "ExpiresIn": answer["ExpiresIn"],
            });
            (number, single)
        })
        .collect()
}

fn start(version: &str, sts: &StandInSts) -> Function {
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("SIGNATURE_VERSION", version.to_owned()),
        ("PRESIGN_METHODS", "GET,PUT".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ]);
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

fn ask(function: &Function, body: &Value) -> (u16, Value) {
    let (status, _, text) = function.request("POST", "/", &body.to_string());
    (status, serde_json::from_str(&text).expect("JSON answer"))
}

#[test]
fn a_batch_lists_every_part_in_order_under_one_expiry_the_credential_caps() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    // The vended keys have 20 minutes left: an hour is asked, 20 minutes are given.
    let expiration = SystemClock.now() + std::time::Duration::from_secs(1200);
    let body = sts::success_body_until("anonymous", &format_iso8601(expiration));
    sts.next(Canned::Reply(200, body));
    let function = start("v4", &sts);
    let (status, answer) = ask(
        &function,
        &json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": [3, 1, 10000, 2], "expires": 3600}),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["Method"], "PUT");
    assert_eq!(answer["ExpiresCappedBy"], "CredentialExpiration");
    let expires_in = answer["ExpiresIn"].as_u64().expect("ExpiresIn");
    assert!((1190..=1200).contains(&expires_in), "{expires_in}");
    let parts = each_part(&answer);
    let numbers: Vec<u64> = parts.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [1, 2, 3, 10_000]);
    for (_, part) in &parts {
        assert_eq!(part["Headers"], json!({}));
        let url = part["URL"].as_str().expect("URL");
        assert!(
            url.contains(&format!("&x-oss-expires={expires_in}&")),
            "{url}"
        );
        assert!(
            url.contains("x-oss-credential=STS.test-vended-key%2F"),
            "{url}"
        );
        assert!(url.contains(&format!("uploadId={UPLOAD_ID}&")), "{url}");
    }
    let query = "/?key=uploads%2Fanonymous%2Fa.bin&method=PUT&uploadId=U1&partNumbers=%7B%22first%22%3A9999%2C%22count%22%3A2%7D";
    let (status, _, text) = function.request("GET", query, "");
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    let numbers: Vec<u64> = each_part(&answer).iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [9999, 10_000]);
    assert_eq!(
        sts.take_received().len(),
        1,
        "one credential for the whole batch"
    );
    let (clean_exit, output) = function.stop();
    assert!(clean_exit, "{output:#?}");
    assert!(
        !output.iter().any(|line| line.contains("x-oss-signature")),
        "no URL is logged"
    );
}

#[test]
fn batch_refusals_say_why_in_the_documented_shape() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let v1 = start("v1", &sts);
    let many: Vec<u32> = (1..=1001).collect();
    let cases = [
        (
            json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": many}),
            "TooManyParts",
            "at most 1000 parts per call",
        ),
        (
            json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": {"first": 1, "count": 5000}}),
            "TooManyParts",
            "up to 10000 parts",
        ),
        (
            json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": [1, 2, 2]}),
            "DuplicatePartNumber",
            "part 2",
        ),
        (
            json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": [0]}),
            "InvalidPartNumber",
            "1 to 10000",
        ),
        (
            json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": [1], "contentMd5": "1B2M2Y8AsgTpgAmY7PhCfg=="}),
            "FieldNotApplicable",
            "contentMd5",
        ),
        // OSS V1 signs sub-resources raw: no '&' in an upload id, no '?' in a key.
        (
            json!({"key": KEY, "method": "PUT", "uploadId": "U&partNumber=9", "partNumbers": [1]}),
            "InvalidField",
            "uploadId",
        ),
        (
            json!({"key": "uploads/anonymous/a?b", "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": [1]}),
            "InvalidKey",
            "V1",
        ),
    ];
    for (body, code, says) in cases {
        let (status, answer) = ask(&v1, &body);
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
        assert_eq!(answer["StatusCode"], 400);
        let message = answer["ErrorMessage"].as_str().expect("ErrorMessage");
        assert!(message.contains(says), "{message}");
    }
    let vended = sts::success_body_until("anonymous", "2099-01-01T00:00:00Z");
    sts.next(Canned::Reply(200, vended));
    let (status, answer) = ask(
        &v1,
        &json!({"key": KEY, "method": "PUT", "uploadId": UPLOAD_ID, "partNumbers": {"first": 1, "count": 2}}),
    );
    assert_eq!(status, 200, "{answer}");
    for (_, part) in each_part(&answer) {
        let url = part["URL"].as_str().expect("URL");
        assert!(
            url.contains("&OSSAccessKeyId=STS.test-vended-key&"),
            "{url}"
        );
    }
    v1.stop();
}
