//! "My files" (`list: true`) through the `presign-url` binary: the listing URL names the
//! caller's prefix and nothing a client chose instead; every refusal is in the documented
//! error shape; and a V1 listing, whose signature does not cover `prefix`, is signed only by
//! keys whose session policy lists the caller's prefix and no other.
//!
//! The signatures themselves are checked by the official SDKs (corpus.rs, s3s_fs.rs); that a
//! listing URL lists exactly the caller's files, against a real store, by s3s_fs.rs.

use std::collections::HashMap;

use serde_json::{Value, json};
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, StandInSts};

fn presign_url(sts: &StandInSts, extra: &[(&'static str, &str)], role: bool) -> Function {
    let mut envs = sts::base_env(sts.address);
    envs.retain(|(name, _)| *name != "ROLE_ARN" || role);
    envs.push(("AUTH_MODE", "none".to_owned()));
    envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Function::start(env!("CARGO_BIN_EXE_presign-url"), &envs)
}

fn ask(function: &Function, body: &Value) -> (u16, Value) {
    let (status, _, text) = function.request("POST", "/", &body.to_string());
    let answer = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, answer)
}

#[test]
fn a_listing_url_names_the_callers_prefix_and_the_page_asked_for() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let function = presign_url(&sts, &[], false);
    let (status, answer) = ask(
        &function,
        &json!({"list": true, "startAfter": "uploads/anonymous/b c.png", "continuationToken": "1Tc+token/x==", "maxKeys": 50, "expires": 60}),
    );
    assert_eq!(status, 200, "{answer}");
    let fields: Vec<&str> = answer
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "Expiration",
            "ExpiresIn",
            "Headers",
            "Method",
            "Profile",
            "StatusCode",
            "URL"
        ],
        "the URL answer's fields (serde_json sorts them)"
    );
    assert_eq!(
        (&answer["Method"], &answer["Headers"], &answer["ExpiresIn"]),
        (&json!("GET"), &json!({}), &json!(60))
    );
    let url = answer["URL"].as_str().expect("URL");
    assert!(
        url.starts_with("https://examplebucket.oss-cn-hangzhou.aliyuncs.com/?list-type=2&prefix=uploads%2Fanonymous%2F&start-after=uploads%2Fanonymous%2Fb%20c.png&continuation-token=1Tc%2Btoken%2Fx%3D%3D&max-keys=50&x-oss-signature-version=OSS4-HMAC-SHA256&"),
        "{url}"
    );
    // The same request as a query string, as a browser link would send it.
    let (status, _, text) = function.request("GET", "/?list=true&maxKeys=1000", "");
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    let url = answer["URL"].as_str().expect("URL");
    assert!(
        url.contains("/?list-type=2&prefix=uploads%2Fanonymous%2F&max-keys=1000&"),
        "{url}"
    );
    assert!(function.stop().0);
}

#[test]
fn every_listing_refusal_has_its_status_and_code_in_the_error_shape() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let v4 = presign_url(&sts, &[], false);
    let v1 = presign_url(&sts, &[("SIGNATURE_VERSION", "v1")], false);
    let no_list = presign_url(&sts, &[("PRESIGN_METHODS", "GET,HEAD,PUT,POST")], false);
    let cases = [
        (&v1, json!({"list": true}), 403, "ListingNotBound"),
        (&no_list, json!({"list": true}), 403, "MethodNotPermitted"),
        (
            &v4,
            json!({"list": true, "startAfter": "uploads/bob/a.png"}),
            403,
            "KeyOutsidePrefix",
        ),
        (
            &v4,
            json!({"list": true, "maxKeys": 0}),
            400,
            "InvalidMaxKeys",
        ),
        (
            &v4,
            json!({"list": true, "maxKeys": 1001}),
            400,
            "InvalidMaxKeys",
        ),
        (
            &v4,
            json!({"list": true, "maxKeys": 4_294_967_297_u64}),
            400,
            "InvalidMaxKeys",
        ),
        (
            &v4,
            json!({"list": true, "maxKeys": "10"}),
            400,
            "InvalidMaxKeys",
        ),
        (
            &v4,
            json!({"list": true, "prefix": "uploads/bob/"}),
            400,
            "UnknownField",
        ),
        (
            &v4,
            json!({"list": true, "key": "uploads/anonymous/"}),
            400,
            "FieldNotApplicable",
        ),
        (
            &v4,
            json!({"list": true, "method": "GET"}),
            400,
            "FieldNotApplicable",
        ),
        (
            &v4,
            json!({"list": true, "multipart": "list", "uploadId": "U1"}),
            400,
            "FieldNotApplicable",
        ),
        (
            &v4,
            json!({"list": true, "responseContentType": "text/plain"}),
            400,
            "FieldNotApplicable",
        ),
        (
            &v4,
            json!({"key": "uploads/anonymous/a", "maxKeys": 10}),
            400,
            "FieldNotApplicable",
        ),
        (
            &v4,
            json!({"key": "uploads/anonymous/a", "list": false, "startAfter": "uploads/anonymous/"}),
            400,
            "FieldNotApplicable",
        ),
        (&v4, json!({"list": "yes"}), 400, "InvalidField"),
        (
            &v4,
            json!({"list": true, "continuationToken": "a\nb"}),
            400,
            "InvalidField",
        ),
    ];
    for (function, body, status, code) in cases {
        let (got, answer) = ask(function, &body);
        assert_eq!(
            (got, answer["ErrorCode"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        let shape: Vec<&str> = answer
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(shape, ["ErrorCode", "ErrorMessage", "StatusCode"], "{body}");
        assert_eq!(answer["StatusCode"], status, "{body}");
    }
    // `list: false` is an ordinary request.
    let (status, answer) = ask(&v4, &json!({"key": "uploads/anonymous/a", "list": false}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(sts.received_count(), 0, "no key was needed for a refusal");
    for function in [v4, v1, no_list] {
        assert!(function.stop().0);
    }
}

#[test]
fn with_a_role_a_v1_listing_is_signed_by_keys_that_may_list_only_the_callers_prefix() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    sts.next(Canned::Reply(
        200,
        sts::success_body_until("anonymous", "2099-01-01T00:00:00Z"),
    ));
    let function = presign_url(&sts, &[("SIGNATURE_VERSION", "v1")], true);
    let (status, answer) = ask(&function, &json!({"list": true}));
    assert_eq!(status, 200, "{answer}");
    let url = answer["URL"].as_str().expect("URL");
    assert!(
        url.starts_with("https://examplebucket.oss-cn-hangzhou.aliyuncs.com/?list-type=2&prefix=uploads%2Fanonymous%2F&security-token=CAIS%2Bvended%2Fsecurity-token-5d2e%3D%3D&OSSAccessKeyId=STS.test-vended-key&Expires="),
        "{url}"
    );
    let received = sts.take_received();
    assert_eq!(received.len(), 1);
    assert!(
        received[0].problems.is_empty(),
        "{:?}",
        received[0].problems
    );
    let form: HashMap<String, String> = form_urlencoded::parse(received[0].body.as_bytes())
        .into_owned()
        .collect();
    let policy: Value = serde_json::from_str(&form["Policy"]).expect("policy JSON");
    assert_eq!(
        policy["Statement"][1],
        json!({
            "Effect": "Allow",
            "Action": ["oss:ListObjects"],
            "Resource": ["acs:oss:*:*:examplebucket"],
            "Condition": {"StringLike": {"oss:Prefix": ["uploads/anonymous/*"]}}
        })
    );
    assert!(function.stop().0);
}
