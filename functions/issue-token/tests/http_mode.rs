//! The `issue-token` binary in HTTP mode against a stand-in STS on 127.0.0.1.
//!
//! Alibaba's STS cannot run here, so a stand-in takes its place. It checks what it receives
//! (method, parameters, the rendered policy, the signature by the RPC algorithm that
//! tests/vectors proves against the official vectors) and answers with recorded STS bodies,
//! or stalls, or drops the connection. Every request it receives is also written to
//! `$CARGO_TARGET_TMPDIR/sts-requests.jsonl`, which `scripts/oracles/verify_sts_requests.py`
//! verifies with Alibaba's own `alibabacloud-openapi-util`.
//!
//! The binary runs at `RUST_LOG=trace`; at the end its whole output is searched for every
//! secret, token and signature that went through it.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use stsvend::aliyun::rpc;

const FUNCTION_KEY_ID: &str = "LTAI5tStandInKeyId";
const FUNCTION_SECRET: &str = "function-secret-4f9a2c";
const FUNCTION_TOKEN: &str = "CAIS+function/chained-token==";
const VENDED_SECRET: &str = "vended-secret-77e1b0";
const VENDED_TOKEN: &str = "CAIS+vended/security-token-5d2e==";
const STS_TIMEOUT_MS: u64 = 800;

/// What the stand-in does with the next request.
#[derive(Clone)]
enum Canned {
    Reply(u16, String),
    Stall(Duration),
    Drop,
}

/// A request the stand-in received, and what it found wrong with it.
struct Received {
    method: String,
    path: String,
    body: String,
    problems: Vec<String>,
}

struct StandInSts {
    address: SocketAddr,
    queue: Arc<Mutex<VecDeque<Canned>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl StandInSts {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stand-in");
        let address = listener.local_addr().expect("address");
        let queue = Arc::new(Mutex::new(VecDeque::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (q, r) = (Arc::clone(&queue), Arc::clone(&received));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (q, r) = (Arc::clone(&q), Arc::clone(&r));
                thread::spawn(move || serve_one(stream, &q, &r));
            }
        });
        Self {
            address,
            queue,
            received,
        }
    }

    fn next(&self, canned: Canned) {
        self.queue.lock().expect("lock").push_back(canned);
    }

    fn take_received(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().expect("lock"))
    }
}

fn serve_one(
    mut stream: TcpStream,
    queue: &Mutex<VecDeque<Canned>>,
    received: &Mutex<Vec<Received>>,
) {
    let Some((method, path, headers, body)) = read_request(&mut stream) else {
        return;
    };
    let problems = check_assume_role(&method, &path, &headers, &body);
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
    match canned {
        Canned::Reply(status, body) => {
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
        Canned::Stall(for_how_long) => thread::sleep(for_how_long),
        Canned::Drop => {}
    }
}

type Head = (String, String, BTreeMap<String, String>, String);

fn read_request(stream: &mut TcpStream) -> Option<Head> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, headers, String::from_utf8(body).ok()?))
}

/// Everything the stand-in expects of an AssumeRole request from this deployment.
fn check_assume_role(
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
        ("RoleArn", "acs:ram::1234567890123:role/uploader"),
        ("RoleSessionName", "anonymous"),
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
                *resources == serde_json::json!(["acs:oss:*:*:examplebucket/uploads/anonymous/*"]),
                format!("Policy resources {resources}"),
            );
        }
        other => check(false, format!("Policy {other:?}")),
    }
    let expected = rpc::signature(
        FUNCTION_SECRET,
        &rpc::string_to_sign(method, &rpc::canonicalized_query_string(&params)),
    );
    check(
        signature == expected,
        "Signature does not verify".to_owned(),
    );
    problems
}

struct Function {
    child: Child,
    address: SocketAddr,
    output: Arc<Mutex<Vec<String>>>,
}

impl Function {
    fn start(sts: SocketAddr) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_issue-token"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "trace")
            .env("AUTH_MODE", "none")
            .env("PORT", "0")
            .env("STS_ENDPOINT", format!("http://{sts}"))
            .env("STS_TIMEOUT_MS", STS_TIMEOUT_MS.to_string())
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", FUNCTION_KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", FUNCTION_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", FUNCTION_TOKEN)
            .env("ROLE_ARN", "acs:ram::1234567890123:role/uploader")
            .env("BUCKET", "examplebucket")
            .env("BUCKET_REGION", "cn-hangzhou")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start issue-token");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let (output, tx) = (Arc::clone(&output), tx.clone());
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("listening on http://") {
                        let address = line[at + 20..].trim().to_owned();
                        let _ = tx.send(address);
                    }
                    output.lock().expect("lock").push(line);
                }
            });
        }
        let address = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| {
                panic!(
                    "no 'listening on' line; output: {:?}",
                    output.lock().expect("lock")
                )
            });
        Self {
            child,
            address: address.parse().expect("address"),
            output,
        }
    }

    fn request(&self, method: &str) -> (u16, BTreeMap<String, String>, String) {
        let mut stream = TcpStream::connect(self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(stream, "{method} /token HTTP/1.1\r\nHost: stsvend.test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").expect("send");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("read answer");
        let (head, body) = raw.split_once("\r\n\r\n").expect("head and body");
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (status, headers, body.to_owned())
    }

    /// Sends SIGTERM and waits: the process must stop cleanly.
    fn stop(mut self) -> (bool, Vec<String>) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        thread::sleep(Duration::from_millis(100));
        let output = self.output.lock().expect("lock").clone();
        (status.is_some_and(|s| s.success()), output)
    }
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn success_body() -> String {
    format!(
        r#"{{"RequestId":"6894B13B-6D71-4EF5-88FA-F32781734A7F","AssumedRoleUser":{{"Arn":"acs:ram::1234567890123:role/uploader/anonymous","AssumedRoleId":"344584339364951186:anonymous"}},"Credentials":{{"AccessKeyId":"STS.NUgYrLnoC37mZZCNnAbez2EGr","AccessKeySecret":"{VENDED_SECRET}","SecurityToken":"{VENDED_TOKEN}","Expiration":"2026-11-22T09:08:10Z"}}}}"#
    )
}

#[test]
fn issue_token_in_http_mode_against_a_stand_in_sts() {
    let sts = StandInSts::start();
    let function = Function::start(sts.address);
    let mut signatures = Vec::new();
    let mut captured = Vec::new();

    // Success, for a bare GET (the mobile SDKs) and a POST.
    for method in ["GET", "POST"] {
        sts.next(Canned::Reply(200, success_body()));
        let (status, headers, body) = function.request(method);
        assert_eq!(status, 200, "{method}: {body}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(
            body,
            format!(
                r#"{{"StatusCode":200,"AccessKeyId":"STS.NUgYrLnoC37mZZCNnAbez2EGr","AccessKeySecret":"{VENDED_SECRET}","SecurityToken":"{VENDED_TOKEN}","Expiration":"2026-11-22T09:08:10Z"}}"#
            )
        );
    }

    // Each recorded STS answer maps to its documented status and ErrorCode.
    let leaky_message = format!(
        "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3D{FUNCTION_KEY_ID}%26SecurityToken%3D{}",
        FUNCTION_TOKEN.replace('+', "%252B")
    );
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
        (Canned::Stall(Duration::from_secs(6)), 504, "StsTimeout"),
    ];
    for (canned, status, code) in cases {
        let stall = matches!(canned, Canned::Stall(_));
        sts.next(canned);
        let started = Instant::now();
        let (got, headers, body) = function.request("GET");
        assert_eq!(
            (got, json(&body)["ErrorCode"].as_str().unwrap_or("")),
            (status, code),
            "{body}"
        );
        assert_eq!(json(&body)["StatusCode"], status);
        assert_eq!(headers.contains_key("retry-after"), status == 429, "{code}");
        if stall {
            // The deadline is honoured: the answer comes long before the stand-in would.
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
        }
    }

    // Not a method issue-token serves: refused before any STS call.
    let before = sts.received.lock().expect("lock").len();
    assert_eq!(function.request("DELETE").0, 405);
    assert_eq!(sts.received.lock().expect("lock").len(), before);

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
    assert_eq!(captured.len(), 13, "every case but 405 reached STS once");
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
        let encoded = stsvend::encode::percent_encode(secret, stsvend::encode::RFC3986_UNRESERVED);
        assert!(
            !log.contains(&encoded),
            "{encoded:?} appears in the output:\n{log}"
        );
    }
}
