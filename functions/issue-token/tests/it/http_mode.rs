//! The `issue-token` binary in HTTP mode against a stand-in STS on 127.0.0.1 (see
//! `stsvend_test_support::sts`). Every request the stand-in receives is also written to
//! `$CARGO_TARGET_TMPDIR/sts-requests.jsonl`, which `scripts/oracles/verify_sts_requests.py`
//! verifies with Alibaba's own `alibabacloud-openapi-util`.
//!
//! The binary runs at `RUST_LOG=trace`; at the end its whole output is searched for every
//! secret, token and signature that went through it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{
    self, Canned, FUNCTION_KEY_ID, FUNCTION_SECRET, FUNCTION_TOKEN, StandInSts, VENDED_SECRET,
    VENDED_TOKEN,
};

const STS_TIMEOUT_MS: u64 = 800;

/// The fault cases' deadline: room for three attempts and their pauses on a loaded machine
/// (an 800 ms deadline once cut the third attempt at InternalError short, giving StsTimeout).
const FAULTS_STS_TIMEOUT_MS: u64 = 2000;

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn issue_token_in_http_mode_against_a_stand_in_sts() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("RUST_LOG", "trace".to_owned()),
        ("AUTH_MODE", "none".to_owned()),
        ("STS_TIMEOUT_MS", FAULTS_STS_TIMEOUT_MS.to_string()),
    ]);
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);
    let mut signatures = Vec::new();
    let mut captured = Vec::new();

    // Success, for a bare GET (the mobile SDKs) and a POST.
    for method in ["GET", "POST"] {
        sts.next(Canned::Reply(200, sts::success_body("anonymous")));
        let (status, headers, body) = function.request(method, "/token", "");
        assert_eq!(status, 200, "{method}: {body}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body, sts::expected_answer());
    }

    // Each recorded STS answer maps to its documented status and ErrorCode.
    let leaky_message = format!(
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D{FUNCTION_KEY_ID}%26SecurityToken%3D{}",
        FUNCTION_TOKEN.replace('+', "%252B")
    );
    // Throttling, 5xx answers and broken connections are tried MAX_ATTEMPTS (3) times; the
    // stand-in gives the same answer to each attempt.
    let cases: Vec<(Canned, u16, &str)> = vec![
        (Canned::Reply(400, r#"{"RequestId":"A1","HostId":"sts.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control."}"#.into()), 429, "Throttling.User"),
        (Canned::Reply(403, r#"{"RequestId":"A2","HostId":"sts.aliyuncs.com","Code":"NoPermission","Message":"You are not authorized to do this action. You should be authorized by RAM."}"#.into()), 500, "NoPermission"),
        (Canned::Reply(404, r#"{"RequestId":"A3","HostId":"sts.aliyuncs.com","Code":"EntityNotExist.Role","Message":"The role not exists: acs:ram::1234567890123:role/uploader."}"#.into()), 500, "EntityNotExist.Role"),
        (Canned::Reply(400, r#"{"RequestId":"A4","HostId":"sts.aliyuncs.com","Code":"InvalidParameter.PolicyGrammar","Message":"The parameter Policy has not passed grammar check."}"#.into()), 500, "InvalidParameter.PolicyGrammar"),
        (Canned::Reply(400, format!(r#"{{"RequestId":"A5","Code":"SignatureDoesNotMatch","Message":"{leaky_message}"}}"#)), 500, "SignatureDoesNotMatch"),
        (Canned::Reply(500, r#"{"RequestId":"A6","Code":"InternalError","Message":"The request processing has failed due to some unknown error."}"#.into()), 502, "InternalError"),
        (Canned::Reply(500, String::new()), 502, "StsBadResponse"),
        (Canned::Reply(200, "<html><body>captive portal</body></html>".into()), 502, "StsBadResponse"),
        (Canned::Reply(200, r#"{"RequestId":"A7","Credentials":{"AccessKeyId":"STS.x","#.into()), 502, "StsBadResponse"),
        (Canned::Drop, 502, "StsUnreachable"),
        (Canned::Reply(200, "x".repeat(10 * 1024 * 1024)), 502, "StsBadResponse"),
        (Canned::Stall(Duration::from_secs(6)), 504, "StsTimeout"),
    ];
    let mut attempts = 2;
    for (canned, status, code) in cases {
        let stall = matches!(canned, Canned::Stall(_));
        let retried = matches!(code, "Throttling.User" | "InternalError" | "StsUnreachable")
            || (code == "StsBadResponse" && matches!(canned, Canned::Reply(500, _)));
        let times = if retried { 3 } else { 1 };
        attempts += times;
        for _ in 0..times {
            sts.next(canned.clone());
        }
        let started = Instant::now();
        let (got, headers, body) = function.request("GET", "/token", "");
        assert_eq!(
            (got, json(&body)["ErrorCode"].as_str().unwrap_or("")),
            (status, code),
            "{body}"
        );
        assert_eq!(json(&body)["StatusCode"], status);
        assert_eq!(
            headers.contains_key("retry-after"),
            status == 429 || status == 503,
            "{code}"
        );
        if stall {
            // The deadline is honoured: the answer comes long before the stand-in would.
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
        }
        // The failure is held for a second: asked again at once, the caller gets the same
        // answer and STS hears nothing.
        let before = sts.received_count();
        let (again, _, again_body) = function.request("GET", "/token", "");
        assert_eq!(
            (again, json(&again_body)["ErrorCode"].as_str().unwrap_or("")),
            (status, code),
            "held: {again_body}"
        );
        assert_eq!(
            sts.received_count(),
            before,
            "{code}: held, not asked again"
        );
        sts::wait_out_failure_hold();
    }

    // A throttled first attempt, then success: the caller sees only the success.
    sts.next(Canned::Reply(
        400,
        r#"{"RequestId":"T1","Code":"Throttling.User","Message":"flow control"}"#.into(),
    ));
    sts.next(Canned::Reply(200, sts::success_body("anonymous")));
    assert_eq!(
        function.request("GET", "/token", "").2,
        sts::expected_answer()
    );
    attempts += 2;
    // STS's own Retry-After reaches the caller.
    for _ in 0..3 {
        sts.next(Canned::ReplyRetryAfter(
            503,
            r#"{"RequestId":"T2","Code":"ServiceUnavailable","Message":"busy"}"#.into(),
            7,
        ));
    }
    let (status, headers, _) = function.request("GET", "/token", "");
    assert_eq!(
        (status, headers.get("retry-after").map(String::as_str)),
        (503, Some("7"))
    );
    attempts += 3;

    // The STS connection was opened at cold start, once.
    assert_eq!(
        sts.warm_ups.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one warm-up at start"
    );

    // Not a method issue-token serves: refused before any STS call.
    let before = sts.received_count();
    assert_eq!(function.request("DELETE", "/token", "").0, 405);
    assert_eq!(sts.received_count(), before);

    for received in sts.take_received() {
        assert!(
            received.problems.is_empty(),
            "stand-in STS found: {:?}",
            received.problems
        );
        let params: BTreeMap<String, String> = form_urlencoded::parse(received.body.as_bytes())
            .into_owned()
            .collect();
        signatures.push(params["Signature"].clone());
        captured.push(serde_json::json!({
            "method": received.method,
            "path": received.path,
            "body": received.body,
            "access_key_secret": FUNCTION_SECRET,
        }));
    }
    assert_eq!(captured.len(), attempts, "every attempt reached STS");
    let capture_path = format!("{}/sts-requests.jsonl", env!("CARGO_TARGET_TMPDIR"));
    let lines: Vec<String> = captured.iter().map(ToString::to_string).collect();
    std::fs::write(&capture_path, lines.join("\n") + "\n").expect("write captures");

    let (clean_exit, output) = function.stop();
    assert!(
        clean_exit,
        "SIGTERM must stop the server cleanly; output: {output:#?}"
    );
    let log = output.join("\n");
    assert!(log.contains("listening on http://127.0.0.1:"), "{log}");
    assert!(log.contains("issued credentials"), "{log}");
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "RUST_LOG=trace must be in effect"
    );
    let mut secrets = vec![
        FUNCTION_SECRET.to_owned(),
        FUNCTION_TOKEN.to_owned(),
        VENDED_SECRET.to_owned(),
        VENDED_TOKEN.to_owned(),
    ];
    secrets.extend(signatures);
    for secret in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "{secret:?} appears in the output:\n{log}"
        );
        let encoded = stsvend::sign::percent_encode(secret, stsvend::sign::RFC3986_UNRESERVED);
        assert!(
            !log.contains(&encoded),
            "{encoded:?} appears in the output:\n{log}"
        );
    }
}

/// During an outage a burst of callers with one policy makes one `AssumeRole`: those that
/// waited for it get its failure, not a call of their own each, one after another.
#[test]
fn a_burst_during_an_sts_outage_makes_one_call() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("AUTH_MODE", "none".to_owned()),
        ("STS_TIMEOUT_MS", STS_TIMEOUT_MS.to_string()),
    ]);
    let function = std::sync::Arc::new(Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs));
    // The first call stalls past the deadline; any later one would find an empty queue and
    // get the stand-in's default, an empty 500 (StsBadResponse).
    sts.next(Canned::Stall(Duration::from_secs(6)));
    let started = Instant::now();
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let function = std::sync::Arc::clone(&function);
            std::thread::spawn(move || {
                let (status, _, body) = function.request("GET", "/token", "");
                (
                    status,
                    json(&body)["ErrorCode"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(
            caller.join().expect("caller"),
            (504, "StsTimeout".to_owned())
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        sts.received_count(),
        1,
        "one AssumeRole for the whole burst"
    );
    std::sync::Arc::try_unwrap(function)
        .unwrap_or_else(|_| panic!("callers finished"))
        .stop();
}

/// The stand-in STS checks signatures with its own implementation of the RPC algorithm; it
/// must give the signature of the `AssumeRole` example in Alibaba Cloud's STS documentation
/// ("Request signatures": AccessKey secret `testsecret`).
#[test]
fn the_stand_ins_signature_check_gives_the_documented_signature() {
    let params: Vec<(String, String)> = [
        ("AccessKeyId", "testid"),
        ("Action", "AssumeRole"),
        ("Format", "JSON"),
        ("RoleArn", "acs:ram::1234567890123:role/firstrole"),
        ("RoleSessionName", "client"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "571f8fb8-506e-11e5-8e12-b8e8563dc8d2"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2015-09-01T05:57:34Z"),
        ("Version", "2015-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(
        sts::rpc_signature("testsecret", "GET", &params),
        "gNI7b0AyKZHxDgjBGPDgJ1Ce3L4="
    );
}
