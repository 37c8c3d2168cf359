//! A stand-in for Alibaba Cloud's STS on 127.0.0.1.
//!
//! Alibaba's STS cannot run here, so a stand-in takes its place. It checks what it receives
//! (method, parameters, the rendered policy, and the signature, recomputed here from the RPC
//! algorithm's definition, independently of stsvend's signer) and answers with recorded STS bodies,
//! or stalls, or drops the connection.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::http::read_request;

/// The function's own access key id, as the function role's temporary key.
pub const FUNCTION_KEY_ID: &str = "LTAI-test-stand-in-key";
/// The function's own access key secret.
pub const FUNCTION_SECRET: &str = "function-secret-4f9a2c";
/// The function's own security token (its key is itself temporary).
pub const FUNCTION_TOKEN: &str = "CAIS+function/chained-token==";
/// The secret of the credential the stand-in vends in [`success_body`].
pub const VENDED_SECRET: &str = "vended-secret-77e1b0";
/// The security token of the credential the stand-in vends in [`success_body`].
pub const VENDED_TOKEN: &str = "CAIS+vended/security-token-5d2e==";
/// The role every test deployment assumes.
pub const ROLE_ARN: &str = "acs:ram::1234567890123:role/uploader";

/// The environment every test run of the binary shares: the function's own key (itself
/// temporary), the role, the bucket.
pub fn base_env(sts: SocketAddr) -> Vec<(&'static str, String)> {
    vec![
        ("STS_ENDPOINT", format!("http://{sts}")),
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", FUNCTION_KEY_ID.to_owned()),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            FUNCTION_SECRET.to_owned(),
        ),
        ("ALIBABA_CLOUD_SECURITY_TOKEN", FUNCTION_TOKEN.to_owned()),
        ("ROLE_ARN", ROLE_ARN.to_owned()),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "cn-hangzhou".to_owned()),
    ]
}

/// A recorded AssumeRole success for `sub`.
pub fn success_body(sub: &str) -> String {
    format!(
        r#"{{"RequestId":"6894B13B-6D71-4EF5-88FA-F32781734A7F","AssumedRoleUser":{{"Arn":"{ROLE_ARN}/{sub}","AssumedRoleId":"344584339364951186:{sub}"}},"Credentials":{{"AccessKeyId":"STS.test-vended-key","AccessKeySecret":"{VENDED_SECRET}","SecurityToken":"{VENDED_TOKEN}","Expiration":"2026-11-22T09:08:10Z"}}}}"#
    )
}

/// A recorded AssumeRole success for `sub` whose credentials expire at `expiration`.
pub fn success_body_until(sub: &str, expiration: &str) -> String {
    success_body(sub).replace("2026-11-22T09:08:10Z", expiration)
}

/// The answer issue-token must give for [`success_body`].
pub fn expected_answer() -> String {
    format!(
        r#"{{"StatusCode":200,"AccessKeyId":"STS.test-vended-key","AccessKeySecret":"{VENDED_SECRET}","SecurityToken":"{VENDED_TOKEN}","Expiration":"2026-11-22T09:08:10Z"}}"#
    )
}

/// What the stand-in does with the next request.
#[derive(Clone)]
pub enum Canned {
    /// A reply with this status and body.
    Reply(u16, String),
    /// A reply with a `Retry-After` header, in seconds.
    ReplyRetryAfter(u16, String, u64),
    /// No reply for this long.
    Stall(Duration),
    /// The connection closed without a reply.
    Drop,
    /// A success issued to the session asked for, valid for an hour: its key id, secret and
    /// token name that `RoleSessionName` ([`issued_to`]), so a test can tell whose session a
    /// credential is.
    IssueToSession,
}

/// The credential [`Canned::IssueToSession`] issues to `session`: key id, secret, token.
pub fn issued_to(session: &str) -> (String, String, String) {
    (
        format!("STS.issued-to-{session}"),
        format!("secret-of-{session}"),
        format!("CAIS+token-of-{session}=="),
    )
}

/// A request the stand-in received, and what it found wrong with it.
pub struct Received {
    /// The request method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// The form body.
    pub body: String,
    /// Everything the stand-in found wrong with the request; empty if nothing.
    pub problems: Vec<String>,
}

/// The stand-in STS, serving on a free port of 127.0.0.1 until the test ends; it answers
/// the requests in the order [`StandInSts::next`] queued answers for them, and a 500 when
/// none is queued.
pub struct StandInSts {
    /// Where it listens.
    pub address: SocketAddr,
    /// Cold-start connection warm-ups (`HEAD`) answered.
    pub warm_ups: Arc<AtomicUsize>,
    queue: Arc<Mutex<VecDeque<Canned>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// Who the stand-in expects to be asked for: the session name and the one policy resource.
#[derive(Clone)]
pub struct Expected {
    /// The expected `RoleSessionName`.
    pub session: &'static str,
    /// The one resource of the expected session policy.
    pub resource: &'static str,
}

impl Expected {
    /// Callers named `sessions` whose policies all reach `resource` alone.
    pub fn sharing(resource: &'static str, sessions: &[&'static str]) -> Vec<Expected> {
        sessions
            .iter()
            .map(|&session| Expected { session, resource })
            .collect()
    }
}

/// The caller of `AUTH_MODE=none`, under the bundled write policy.
pub const ANONYMOUS: Expected = Expected {
    session: "anonymous",
    resource: "acs:oss:*:*:examplebucket/uploads/anonymous/*",
};

impl StandInSts {
    /// A stand-in for one expected caller.
    pub fn start(expected: Expected) -> Self {
        Self::start_for(vec![expected])
    }

    /// A stand-in for several callers: each request must be for one of them, by
    /// `RoleSessionName`, and carry that caller's policy resource.
    pub fn start_for(callers: Vec<Expected>) -> Self {
        assert!(!callers.is_empty(), "expect at least one caller");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stand-in");
        let address = listener.local_addr().expect("address");
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let warm_ups = Arc::new(AtomicUsize::new(0));
        let (q, r, w) = (
            Arc::clone(&queue),
            Arc::clone(&received),
            Arc::clone(&warm_ups),
        );
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (q, r, w) = (Arc::clone(&q), Arc::clone(&r), Arc::clone(&w));
                let callers = callers.clone();
                thread::spawn(move || serve_one(stream, &callers, &q, &r, &w));
            }
        });
        Self {
            address,
            warm_ups,
            queue,
            received,
        }
    }

    /// Queues what to do with the next AssumeRole request.
    pub fn next(&self, canned: Canned) {
        self.queue.lock().expect("lock").push_back(canned);
    }

    /// How many AssumeRole requests arrived so far.
    pub fn received_count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    /// The AssumeRole requests that arrived since the last call, oldest first.
    pub fn take_received(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().expect("lock"))
    }
}

fn serve_one(
    mut stream: TcpStream,
    callers: &[Expected],
    queue: &Mutex<VecDeque<Canned>>,
    received: &Mutex<Vec<Received>>,
    warm_ups: &AtomicUsize,
) {
    let Some((method, path, headers, body)) = read_request(&mut stream) else {
        return;
    };
    if method == "HEAD" {
        // A cold-start warm-up: answer, and do not count it as an AssumeRole.
        warm_ups.fetch_add(1, Ordering::SeqCst);
        let _ =
            stream.write_all(b"HTTP/1.1 400 X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let session = form_urlencoded::parse(body.as_bytes())
        .find(|(name, _)| name == "RoleSessionName")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let problems = match callers.iter().find(|c| c.session == session) {
        Some(expected) => check_assume_role(expected, &method, &path, &headers, &body),
        None => vec![format!(
            "RoleSessionName {session:?} is none of the callers expected"
        )],
    };
    received.lock().expect("lock").push(Received {
        method,
        path,
        body,
        problems,
    });
    let canned = queue
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(Canned::Reply(500, String::new()));
    let canned_retry_after = match &canned {
        Canned::ReplyRetryAfter(_, _, seconds) => Some(*seconds),
        _ => None,
    };
    match canned {
        Canned::Reply(status, body) | Canned::ReplyRetryAfter(status, body, _) => {
            let retry_after = match canned_retry_after {
                Some(seconds) => format!("Retry-After: {seconds}\r\n"),
                None => String::new(),
            };
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json;charset=utf-8\r\n{retry_after}Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Canned::Stall(for_how_long) => thread::sleep(for_how_long),
        Canned::Drop => {}
        Canned::IssueToSession => {
            let (id, secret, token) = issued_to(&session);
            let expiration = stsvend::time::format_iso8601(
                stsvend::time::Clock::now(&stsvend::time::SystemClock) + Duration::from_secs(3600),
            );
            let body = format!(
                r#"{{"RequestId":"6894B13B-6D71-4EF5-88FA-F32781734A7F","AssumedRoleUser":{{"Arn":"{ROLE_ARN}/{session}","AssumedRoleId":"344584339364951186:{session}"}},"Credentials":{{"AccessKeyId":"{id}","AccessKeySecret":"{secret}","SecurityToken":"{token}","Expiration":"{expiration}"}}}}"#
            );
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    }
}

/// Everything the stand-in expects of an AssumeRole request from this deployment.
fn check_assume_role(
    expected: &Expected,
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    check(method == "POST", format!("method {method}"));
    check(path == "/", format!("path {path}"));
    check(
        headers.get("content-type").map(String::as_str)
            == Some("application/x-www-form-urlencoded"),
        format!("content-type {:?}", headers.get("content-type")),
    );
    check(!body.contains('+'), "a raw '+' in the form body".to_owned());
    let mut params: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let signature = params
        .iter()
        .position(|(k, _)| k == "Signature")
        .map(|at| params.remove(at).1)
        .unwrap_or_default();
    let map: BTreeMap<&str, &str> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (name, value) in [
        ("Action", "AssumeRole"),
        ("Version", "2015-04-01"),
        ("Format", "JSON"),
        ("AccessKeyId", FUNCTION_KEY_ID),
        ("SecurityToken", FUNCTION_TOKEN),
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", expected.session),
        ("DurationSeconds", "900"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ] {
        check(
            map.get(name) == Some(&value),
            format!("{name} = {:?}", map.get(name)),
        );
    }
    let timestamp = map.get("Timestamp").copied().unwrap_or_default();
    check(
        timestamp.len() == 20
            && timestamp.ends_with('Z')
            && stsvend::time::parse_iso8601(timestamp).is_some(),
        format!("Timestamp {timestamp:?}"),
    );
    check(
        map.get("SignatureNonce").is_some_and(|n| n.len() >= 16),
        "SignatureNonce".to_owned(),
    );
    match map
        .get("Policy")
        .map(|p| serde_json::from_str::<serde_json::Value>(p))
    {
        Some(Ok(policy)) => {
            let resources = &policy["Statement"][0]["Resource"];
            check(
                *resources == serde_json::json!([expected.resource]),
                format!("Policy resources {resources}"),
            );
        }
        other => check(false, format!("Policy {other:?}")),
    }
    let expected = rpc_signature(FUNCTION_SECRET, method, &params);
    check(
        signature == expected,
        "Signature does not verify".to_owned(),
    );
    problems
}

/// The RPC (signature v1.0) signature of `params`, computed here from the algorithm's
/// definition, not with stsvend's signer: the parameters RFC 3986-encoded (unreserved
/// `A-Za-z0-9-_.~` kept, every other byte `%XX` in upper case), sorted, joined with `=` and
/// `&`; the string to sign `METHOD&%2F&` + that encoded again; HMAC-SHA1 (ring) keyed with
/// `secret&`, in base64. issue-token's `http_mode` tests check it against Alibaba's published example.
pub fn rpc_signature(secret: &str, method: &str, params: &[(String, String)]) -> String {
    use base64::Engine as _;
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    let mut sorted: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    sorted.sort();
    let canonical: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let string_to_sign = format!("{method}&%2F&{}", encode(&canonical.join("&")));
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        format!("{secret}&").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref())
}

/// Waits until a failed `AssumeRole` is no longer answered again to its policy's callers
/// ([`stsvend::vend::cache::FAILURE_HOLD`]), so that the next request reaches STS.
pub fn wait_out_failure_hold() {
    thread::sleep(stsvend::vend::cache::FAILURE_HOLD + Duration::from_millis(100));
}
