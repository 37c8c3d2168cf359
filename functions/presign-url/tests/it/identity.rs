//! The `presign-url` binary in `AUTH_MODE=jwt` with a per-tenant, per-user prefix and an
//! assumed role: no request, by any field, body or query, gets a URL or a form outside the
//! caller's prefix, and hostile claims are refused rather than escaped.

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, Expected, StandInSts};
use stsvend_test_support::tokens::{self, AUDIENCE, HS256_SECRET, ISSUER};

const PREFIX: &str = "tenants/acme/users/alice/";

fn start(sts: &StandInSts) -> Function {
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("RUST_LOG", "info".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_HS256_SECRET", HS256_SECRET.to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWT_AUDIENCE", AUDIENCE.to_owned()),
        (
            "OBJECT_PREFIX",
            "tenants/${claim.tenant}/users/${sub}/".to_owned(),
        ),
        ("PRESIGN_METHODS", "GET,HEAD,PUT,POST,DELETE".to_owned()),
    ]);
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

fn token(sub: &str, tenant: &str) -> String {
    let mut claims = tokens::claims(sub, unix_seconds(SystemClock.now()));
    claims["tenant"] = json!(tenant);
    format!(
        "Bearer {}",
        tokens::hs256(&json!({"alg": "HS256"}), &claims)
    )
}

fn ask(function: &Function, auth: &str, body: &Value) -> (u16, Value) {
    let (status, _, text) =
        function.request_with_headers("POST", "/", &[("Authorization", auth)], &body.to_string());
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

/// Every operation presign-url has, for `key`.
fn every_operation(key: &str) -> Vec<Value> {
    vec![
        json!({"key": key}),
        json!({"key": key, "method": "HEAD"}),
        json!({"key": key, "method": "PUT", "contentType": "image/png"}),
        json!({"key": key, "method": "DELETE"}),
        json!({"key": key, "method": "POST"}),
        json!({"key": key, "method": "POST", "startsWith": true}),
        json!({"key": key, "method": "PUT", "uploadId": "U", "partNumber": 1}),
        json!({"key": key, "multipart": "initiate"}),
        json!({"key": key, "multipart": "complete", "uploadId": "U"}),
        json!({"key": key, "multipart": "abort", "uploadId": "U"}),
        json!({"key": key, "multipart": "list", "uploadId": "U"}),
        json!({"key": key, "responseContentDisposition": "attachment", "process": "image/resize,w_10"}),
    ]
}

/// The object key an answer lets its holder touch.
fn signed_key(answer: &Value) -> String {
    if let Some(fields) = answer.get("Fields") {
        return fields["key"].as_str().expect("key field").to_owned();
    }
    let url = answer["URL"].as_str().expect("URL");
    let path = url
        .split('?')
        .next()
        .expect("path")
        .splitn(4, '/')
        .nth(3)
        .expect("key part");
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .expect("utf-8")
        .into_owned()
}

#[test]
fn no_field_of_any_request_reaches_another_callers_prefix() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/tenants/acme/users/alice/*",
    });
    sts.next(Canned::Reply(
        200,
        sts::success_body_until("alice", "2099-01-01T00:00:00Z"),
    ));
    let function = start(&sts);
    let alice = token("alice", "acme");

    let outside = [
        "tenants/acme/users/bob/x.txt",
        "tenants/acme/users/alice2/x.txt",
        "tenants/acme/users/ALICE/x.txt",
        "tenants/evil/users/alice/x.txt",
        "tenants/acme/users/alicex",
        "tenants/acme/users/alice",
        "tenants/acme/users/",
        "x.txt",
    ];
    let invalid = [
        "tenants/acme/users/alice/../bob/x.txt",
        "/tenants/acme/users/alice/x.txt",
        "tenants/acme/users/alice/./x",
        "tenants/acme/users/alice/a\u{0}b",
        "tenants/acme/users/alice//x",
        "tenants/acme/users/alice/a\u{3164}.png",
    ];
    for key in outside.iter().chain(&invalid) {
        for request in every_operation(key) {
            let (status, answer) = ask(&function, &alice, &request);
            let code = answer["ErrorCode"].as_str().unwrap_or("");
            let expected = if invalid.contains(key) {
                (400, "InvalidKey")
            } else {
                (403, "KeyOutsidePrefix")
            };
            assert_eq!((status, code), expected, "{request}: {answer}");
        }
        // The same through a query string.
        let path = format!(
            "/?key={}",
            percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
        );
        let (status, _, _) =
            function.request_with_headers("GET", &path, &[("Authorization", &alice)], "");
        assert!(status == 403 || status == 400, "{key}: {status}");
    }

    // Keys that stay inside, however they look, are signed, and decode back to themselves.
    let inside = [
        "a.txt",
        "%2e%2e/bob",
        "..%2Fbob",
        "a/b/",
        "bob",
        "users/bob/x",
        "中文/😀.png",
    ];
    for suffix in inside {
        let key = format!("{PREFIX}{suffix}");
        for request in every_operation(&key) {
            let (status, answer) = ask(&function, &alice, &request);
            assert_eq!(status, 200, "{request}: {answer}");
            let signed = signed_key(&answer);
            assert!(signed.starts_with(PREFIX), "{request} signed {signed:?}");
            if request.get("startsWith").is_none() {
                assert_eq!(signed, key, "{request}");
            }
        }
    }
    let received = sts.take_received();
    assert_eq!(received.len(), 1, "one AssumeRole for alice, cached");
    assert!(
        received[0].problems.is_empty(),
        "{:?}",
        received[0].problems
    );
    function.stop();
}

#[test]
fn hostile_claims_are_refused_before_anything_is_signed() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/tenants/acme/users/alice/*",
    });
    let function = start(&sts);
    let hostile = [
        "a\"b",
        "a\\b",
        "*",
        "/../bob",
        "..",
        "%2F",
        "ａcme",
        "acme\u{2215}evil",
        "a\nb",
        "a b",
        "${sub}",
    ];
    for value in hostile {
        for (sub, tenant) in [(value, "acme"), ("alice", value)] {
            let (status, answer) = ask(
                &function,
                &token(sub, tenant),
                &json!({"key": format!("{PREFIX}x")}),
            );
            assert_eq!(
                (status, answer["ErrorCode"].as_str()),
                (403, Some("InvalidIdentity")),
                "sub {sub:?} tenant {tenant:?}"
            );
        }
    }
    assert_eq!(sts.received_count(), 0);
    function.stop();
}
