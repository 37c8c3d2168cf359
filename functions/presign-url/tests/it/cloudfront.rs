//! CloudFront (`CDN_AUTH_TYPE=cloudfront`) through the real binary: canned-policy URLs for
//! `"via":"cdn"` and custom-policy cookies for `"cookies":true`, with RSA 2048 (PKCS #1 and
//! PKCS #8) and ECDSA P-256 (SEC1 and PKCS #8) keys, SHA-1 and SHA-256. Every answer is checked
//! by botocore's `CloudFrontSigner` with `cryptography` (`scripts/oracles/cloudfront.py`) and by
//! `@aws-sdk/cloudfront-signer` (`tests/cloudfront/verify.mjs`): RSA answers must equal theirs
//! byte for byte, ECDSA signatures must verify. Keys CloudFront would not take stop cold start,
//! and the key never reaches an answer or a log line.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};
use stsvend::parse_iso8601;
use stsvend_test_support::function::Function;
use stsvend_test_support::oracles::python;
use stsvend_test_support::profiles;
use stsvend_test_support::sts::base_env;
use stsvend_test_support::workspace_path;

const KEY_PAIR_ID: &str = "K2JCJMDEHXQW5F";

/// Keys whose URL both oracles write alike (`@aws-sdk/cloudfront-signer` re-encodes a path with
/// `encodeURIComponent`, which keeps `!'()*`; presign-url encodes them).
const KEYS: &[&str] = &[
    "uploads/anonymous/photo.jpg",
    "uploads/anonymous/dir/report final.pdf",
    "uploads/anonymous/照片.png",
    "uploads/anonymous/emoji 😀.gif",
    "uploads/anonymous/a%2Fb.txt",
    "uploads/anonymous/what?x=1&y=2.txt",
    "uploads/anonymous/hash#frag.txt",
    "uploads/anonymous/plus+semi;.txt",
];

fn keys_dir() -> String {
    format!("{}/cloudfront-keys", env!("CARGO_TARGET_TMPDIR"))
}

/// The oracle's keys, written fresh by `cryptography`.
fn write_keys() {
    let status = Command::new(python())
        .arg(workspace_path("scripts/oracles/cloudfront.py"))
        .args(["keys", &keys_dir()])
        .stdout(Stdio::null())
        .status()
        .expect("run cloudfront.py keys");
    assert!(status.success(), "cloudfront.py keys failed");
}

fn envs(key_file: &str, hash: Option<&str>) -> Vec<(&'static str, String)> {
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        (
            "CDN_DOMAIN",
            "https://d111111abcdef8.cloudfront.net".to_owned(),
        ),
        ("CDN_AUTH_TYPE", "cloudfront".to_owned()),
        ("CLOUDFRONT_KEY_PAIR_ID", KEY_PAIR_ID.to_owned()),
        ("CLOUDFRONT_PRIVATE_KEY_FILE", key_file.to_owned()),
        ("RUST_LOG", "debug".to_owned()),
    ]);
    if let Some(hash) = hash {
        envs.push(("CLOUDFRONT_HASH_ALGORITHM", hash.to_owned()));
    }
    envs
}

fn ask(function: &Function, body: &Value) -> (u16, Value) {
    let (status, _, text) = function.request("POST", "/", &body.to_string());
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

fn expires_of(answer: &Value) -> u64 {
    parse_iso8601(answer["Expiration"].as_str().expect("Expiration"))
        .expect("ISO 8601")
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Runs `program` with `args` over `records` on stdin; it must agree with every one.
fn run_oracle(program: &str, args: &[String], records: &[Value]) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let lines: Vec<String> = records.iter().map(Value::to_string).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all((lines.join("\n") + "\n").as_bytes())
        .expect("write records");
    let output = child.wait_with_output().expect("the oracle's verdict");
    assert!(
        output.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "needs .venv's cryptography and botocore and tests/cloudfront's npm packages: scripts/test runs it"]
fn cloudfront_urls_and_cookies_agree_with_botocore_and_the_aws_sdk() {
    write_keys();
    let mut records = Vec::new();
    for file in [
        "rsa-pkcs1.pem",
        "rsa-pkcs8.pem",
        "ec-sec1.pem",
        "ec-pkcs8.pem",
    ] {
        for hash in [None, Some("SHA1"), Some("SHA256")] {
            let key_file = format!("{}/{file}", keys_dir());
            let function =
                Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs(&key_file, hash));
            let hash_name = hash.unwrap_or("SHA1");
            for key in KEYS {
                let (status, answer) = ask(
                    &function,
                    &json!({"key": key, "via": "cdn", "expires": 600}),
                );
                assert_eq!(status, 200, "{file} {key}: {answer}");
                assert_eq!(
                    (answer["Method"].as_str(), answer["ExpiresIn"].as_u64()),
                    (Some("GET"), Some(600))
                );
                let url = answer["URL"].as_str().expect("URL");
                let base = url
                    .split_once("?Expires=")
                    .expect("a canned-policy URL")
                    .0
                    .to_owned();
                records.push(json!({
                    "case": format!("{file} {hash_name} url {key}"), "kind": "url", "key_file": key_file,
                    "hash": hash_name, "key_pair_id": KEY_PAIR_ID, "url": base,
                    "expires": expires_of(&answer), "answer": answer,
                }));
            }
            let (status, answer) = ask(&function, &json!({"cookies": true, "expires": 1200}));
            assert_eq!(status, 200, "{file} cookies: {answer}");
            let resource = "https://d111111abcdef8.cloudfront.net/uploads/anonymous/*";
            assert_eq!(answer["Resource"], resource);
            records.push(json!({
                "case": format!("{file} {hash_name} cookies"), "kind": "cookies", "key_file": key_file,
                "hash": hash_name, "key_pair_id": KEY_PAIR_ID, "resource": resource,
                "expires": expires_of(&answer), "answer": answer,
            }));
            let (_, log) = function.stop();
            let log = log.join("\n");
            assert!(
                !log.contains("PRIVATE KEY") && !log.contains("Signature="),
                "a secret in a log line"
            );
        }
    }
    // The URL's path decodes to the key asked for (what CloudFront asks the origin for).
    for record in records.iter().filter(|r| r["kind"] == "url") {
        let base = record["url"].as_str().unwrap_or("");
        let path = base.trim_start_matches("https://d111111abcdef8.cloudfront.net/");
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .expect("UTF-8");
        assert!(
            record["case"]
                .as_str()
                .unwrap_or("")
                .ends_with(decoded.as_ref()),
            "{base}"
        );
    }
    let script = workspace_path("scripts/oracles/cloudfront.py")
        .display()
        .to_string();
    run_oracle(&python(), &[script, "verify".to_owned()], &records);
    let verify = workspace_path("tests/cloudfront/verify.mjs")
        .display()
        .to_string();
    run_oracle("node", &[verify], &records);
}

#[test]
#[ignore = "needs .venv's cryptography and botocore and tests/cloudfront's npm packages: scripts/test runs it"]
fn cloudfront_refuses_what_it_cannot_sign_and_keys_it_would_not_take() {
    write_keys();
    let good = format!("{}/rsa-pkcs8.pem", keys_dir());
    let profiles_file = profiles::write(
        env!("CARGO_TARGET_TMPDIR"),
        "cloudfront-profiles",
        "default_profile = \"files\"\n[profiles.files]\nprefix = \"files/${sub}/\"\n[profiles.inbox]\nprefix = \"inbox/${sub}/\"\nmethods = [\"PUT\"]\n",
    );
    let mut with_profiles = envs(&good, None);
    with_profiles.push(("PROFILES_FILE", profiles_file));
    let function = Function::start(env!("CARGO_BIN_EXE_presign-url"), &with_profiles);
    let cases: &[(Value, u16, &str)] = &[
        (
            json!({"cookies": true, "key": "files/anonymous/x"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"cookies": true, "method": "GET"}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"cookies": true, "list": true}),
            400,
            "FieldNotApplicable",
        ),
        (
            json!({"cookies": true, "responseContentType": "text/html"}),
            400,
            "FieldNotApplicable",
        ),
        (json!({"cookies": "yes"}), 400, "InvalidField"),
        (
            json!({"cookies": true, "profile": "inbox"}),
            403,
            "MethodNotPermitted",
        ),
        (
            json!({"cookies": true, "expires": 0}),
            400,
            "InvalidExpires",
        ),
        (
            json!({"key": "inbox/anonymous/x", "profile": "inbox", "via": "cdn"}),
            403,
            "MethodNotPermitted",
        ),
        (
            json!({"key": "files/bob/x", "via": "cdn"}),
            403,
            "KeyOutsidePrefix",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = ask(&function, body);
        assert_eq!(
            (got, answer["ErrorCode"].as_str().unwrap_or("")),
            (*status, *code),
            "{body}: {answer}"
        );
    }
    let (status, answer) = ask(
        &function,
        &json!({"cookies": false, "key": "files/anonymous/x"}),
    );
    assert_eq!(status, 200, "cookies: false is a plain GET: {answer}");
    let (status, answer) = ask(&function, &json!({"cookies": true, "expires": 999_999}));
    assert_eq!(
        (status, answer["ExpiresCappedBy"].as_str()),
        (200, Some("PRESIGN_MAX_EXPIRES_SECONDS"))
    );
    assert_eq!(
        answer["Resource"],
        "https://d111111abcdef8.cloudfront.net/files/anonymous/*"
    );
    function.stop();

    let dir = keys_dir();
    let refusals: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (envs(&format!("{dir}/rsa-1024.pem"), None), "2048"),
        (
            envs(&format!("{dir}/ec-p384.pem"), None),
            "CLOUDFRONT_PRIVATE_KEY_FILE",
        ),
        (
            envs(&format!("{dir}/rsa-encrypted.pem"), None),
            "unencrypted",
        ),
        (envs(&format!("{dir}/missing.pem"), None), "cannot be read"),
        (envs(&good, Some("MD5")), "CLOUDFRONT_HASH_ALGORITHM"),
        (envs(&good, Some("sha256")), "CLOUDFRONT_HASH_ALGORITHM"),
        (
            {
                let mut e = envs(&good, None);
                e.push(("CDN_AUTH_KEY", "aliyuncdnexp1234".to_owned()));
                e
            },
            "CDN_AUTH_KEY: does not apply",
        ),
        (
            {
                let mut e = envs(&good, None);
                e.retain(|(n, _)| *n != "CLOUDFRONT_KEY_PAIR_ID");
                e
            },
            "CLOUDFRONT_KEY_PAIR_ID: is required",
        ),
        (
            {
                let mut e = envs(&good, None);
                e.push(("CLOUDFRONT_KEY_PAIR_ID", "k2jc-lower".to_owned()));
                e
            },
            "CLOUDFRONT_KEY_PAIR_ID",
        ),
    ];
    for (vars, expected) in refusals {
        let (code, output) = profiles::refused_start(env!("CARGO_BIN_EXE_presign-url"), &vars);
        assert_ne!(code, Some(0), "{output}");
        assert!(output.contains(expected), "{expected}: {output}");
        assert!(
            !output.contains("BEGIN") && !output.contains("MII"),
            "a key in an error: {output}"
        );
    }
}
