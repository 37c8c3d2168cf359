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
    /// As [`Canned::IssueToSession`], valid for this many seconds only.
    IssueShortLived(u64),
}

/// A key the function may sign with: its secret, security token and expiry.
#[derive(Clone)]
pub struct FunctionKey {
    /// The secret.
    pub secret: String,
    /// The security token the request must carry.
    pub token: String,
    /// The key must not sign a request whose `Timestamp` is at or past this.
    pub expires: std::time::SystemTime,
}

/// What an anonymous `AssumeRoleWithOIDC` must carry.
#[derive(Clone)]
pub struct OidcExpected {
    /// `OIDCToken`.
    pub token: String,
    /// `OIDCProviderArn`.
    pub provider_arn: String,
    /// `RoleArn`.
    pub role_arn: String,
    /// `Some(resource)`: a session policy reaching this one resource (a caller's exchange);
    /// `None`: no policy (the function's own RRSA session), answered with the function's key.
    pub resource: Option<&'static str>,
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
    rules: Arc<Rules>,
}

/// What the stand-in checks beyond its callers, set by the test.
#[derive(Default)]
struct Rules {
    /// Keys the function signs with, by id; empty: the fixed [`FUNCTION_KEY_ID`].
    keys: Mutex<BTreeMap<String, FunctionKey>>,
    /// An expected `AssumeRoleWithOIDC`.
    oidc: Mutex<Option<OidcExpected>>,
    /// The answer when nothing is queued (else an empty 500).
    default: Mutex<Option<Canned>>,
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
        let rules = Arc::new(Rules::default());
        let (q, r, w, x) = (
            Arc::clone(&queue),
            Arc::clone(&received),
            Arc::clone(&warm_ups),
            Arc::clone(&rules),
        );
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (q, r, w, x) = (
                    Arc::clone(&q),
                    Arc::clone(&r),
                    Arc::clone(&w),
                    Arc::clone(&x),
                );
                let callers = callers.clone();
                thread::spawn(move || serve_one(stream, &callers, &q, &r, &w, &x));
            }
        });
        Self {
            address,
            warm_ups,
            queue,
            received,
            rules,
        }
    }

    /// Queues what to do with the next AssumeRole request.
    pub fn next(&self, canned: Canned) {
        self.queue.lock().expect("lock").push_back(canned);
    }

    /// Accepts AssumeRole requests signed by `id` (while its `Timestamp` is before the key's
    /// expiry) instead of the fixed function key.
    pub fn accept_key(&self, id: &str, key: FunctionKey) {
        self.rules
            .keys
            .lock()
            .expect("lock")
            .insert(id.to_owned(), key);
    }

    /// Expects anonymous `AssumeRoleWithOIDC` requests like `expected`.
    pub fn expect_oidc(&self, expected: OidcExpected) {
        *self.rules.oidc.lock().expect("lock") = Some(expected);
    }

    /// What to answer when nothing is queued.
    pub fn answer_all(&self, canned: Canned) {
        *self.rules.default.lock().expect("lock") = Some(canned);
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
    rules: &Rules,
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
    let oidc = body.contains("Action=AssumeRoleWithOIDC");
    let expected = callers.iter().find(|c| c.session == session);
    let problems = match (oidc, expected) {
        (true, _) => check_oidc(rules, expected, &body),
        (false, Some(expected)) => {
            check_assume_role(expected, &method, &path, &headers, &body, rules)
        }
        (false, None) => vec![format!(
            "RoleSessionName {session:?} is none of the callers expected"
        )],
    };
    let own_oidc_session = oidc
        && rules
            .oidc
            .lock()
            .expect("lock")
            .as_ref()
            .is_some_and(|o| o.resource.is_none());
    received.lock().expect("lock").push(Received {
        method,
        path,
        body,
        problems,
    });
    if own_oidc_session {
        let expiration = stsvend::format_iso8601(
            stsvend::Clock::now(&stsvend::SystemClock) + Duration::from_secs(3600),
        );
        let body = format!(
            r#"{{"RequestId":"0A1B","Credentials":{{"AccessKeyId":"{FUNCTION_KEY_ID}","AccessKeySecret":"{FUNCTION_SECRET}","SecurityToken":"{FUNCTION_TOKEN}","Expiration":"{expiration}"}}}}"#
        );
        write_reply(&mut stream, 200, &body, None);
        return;
    }
    let canned = queue.lock().expect("lock").pop_front().unwrap_or_else(|| {
        rules
            .default
            .lock()
            .expect("lock")
            .clone()
            .unwrap_or(Canned::Reply(500, String::new()))
    });
    let canned_retry_after = match &canned {
        Canned::ReplyRetryAfter(_, _, seconds) => Some(*seconds),
        _ => None,
    };
    match canned {
        Canned::Reply(status, body) | Canned::ReplyRetryAfter(status, body, _) => {
            write_reply(&mut stream, status, &body, canned_retry_after);
        }
        Canned::Stall(for_how_long) => thread::sleep(for_how_long),
        Canned::Drop => {}
        Canned::IssueToSession => issue(&mut stream, &session, 3600),
        Canned::IssueShortLived(seconds) => issue(&mut stream, &session, seconds),
    }
}

fn write_reply(stream: &mut TcpStream, status: u16, body: &str, retry_after: Option<u64>) {
    let retry_after = retry_after
        .map(|seconds| format!("Retry-After: {seconds}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json;charset=utf-8\r\n{retry_after}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

/// A success issued to `session` ([`issued_to`]), valid for `seconds`.
fn issue(stream: &mut TcpStream, session: &str, seconds: u64) {
    let (id, secret, token) = issued_to(session);
    let expiration = stsvend::format_iso8601(
        stsvend::Clock::now(&stsvend::SystemClock) + Duration::from_secs(seconds),
    );
    let body = format!(
        r#"{{"RequestId":"6894B13B-6D71-4EF5-88FA-F32781734A7F","AssumedRoleUser":{{"Arn":"{ROLE_ARN}/{session}","AssumedRoleId":"344584339364951186:{session}"}},"Credentials":{{"AccessKeyId":"{id}","AccessKeySecret":"{secret}","SecurityToken":"{token}","Expiration":"{expiration}"}}}}"#
    );
    write_reply(stream, 200, &body, None);
}

/// An anonymous `AssumeRoleWithOIDC`: no key, no signature, the expected token, provider
/// and role, and the caller's policy and session when it exchanges a caller's token.
fn check_oidc(rules: &Rules, caller: Option<&Expected>, body: &str) -> Vec<String> {
    let Some(expected) = rules.oidc.lock().expect("lock").clone() else {
        return vec!["an AssumeRoleWithOIDC nobody expected".to_owned()];
    };
    let map: BTreeMap<String, String> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut problems = Vec::new();
    for absent in [
        "Signature",
        "AccessKeyId",
        "SecurityToken",
        "SignatureNonce",
    ] {
        if map.contains_key(absent) {
            problems.push(format!("an anonymous call carries {absent}"));
        }
    }
    for (name, value) in [
        ("OIDCToken", expected.token.as_str()),
        ("OIDCProviderArn", expected.provider_arn.as_str()),
        ("RoleArn", expected.role_arn.as_str()),
        ("Version", "2015-04-01"),
        ("Format", "JSON"),
    ] {
        if map.get(name).map(String::as_str) != Some(value) {
            problems.push(format!("{name} = {:?}", map.get(name)));
        }
    }
    let policy = map
        .get("Policy")
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok());
    match (expected.resource, policy) {
        (None, None) => {}
        (Some(resource), Some(policy)) => {
            let resources = &policy["Statement"][0]["Resource"];
            if *resources != serde_json::json!([resource]) {
                problems.push(format!("Policy resources {resources}"));
            }
            if caller.is_none() {
                problems.push("RoleSessionName is not the caller's".to_owned());
            }
        }
        (want, got) => problems.push(format!("Policy {got:?}, expected one for {want:?}")),
    }
    problems
}

/// Everything the stand-in expects of an AssumeRole request from this deployment.
fn check_assume_role(
    expected: &Expected,
    method: &str,
    path: &str,
    headers: &BTreeMap<String, String>,
    body: &str,
    rules: &Rules,
) -> Vec<String> {
    let mut problems = Vec::new();
    let key_id = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "AccessKeyId")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let keys = rules.keys.lock().expect("lock").clone();
    let (id, secret, token, expires) = match keys.get(&key_id) {
        Some(key) => (
            key_id.clone(),
            key.secret.clone(),
            key.token.clone(),
            Some(key.expires),
        ),
        None if keys.is_empty() => (
            FUNCTION_KEY_ID.to_owned(),
            FUNCTION_SECRET.to_owned(),
            FUNCTION_TOKEN.to_owned(),
            None,
        ),
        None => (String::new(), String::new(), String::new(), None),
    };
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
        ("AccessKeyId", id.as_str()),
        ("SecurityToken", token.as_str()),
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
            && stsvend::parse_iso8601(timestamp).is_some(),
        format!("Timestamp {timestamp:?}"),
    );
    if let (Some(expires), Some(at)) = (expires, stsvend::parse_iso8601(timestamp)) {
        check(
            at < expires,
            format!("signed at {timestamp} with a key expired by then"),
        );
    }
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
    let expected = rpc_signature(&secret, method, &params);
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
/// ([`stsvend::FAILURE_HOLD`]), so that the next request reaches STS.
pub fn wait_out_failure_hold() {
    thread::sleep(stsvend::FAILURE_HOLD + Duration::from_millis(100));
}
