//! Shared by the binary tests of both functions: a stand-in STS, a runner for a function
//! binary in HTTP mode, and a minimal HTTP/1.1 reader.
//!
//! Alibaba's STS cannot run here, so a stand-in takes its place. It checks what it receives
//! (method, parameters, the rendered policy, and the signature, recomputed here from the RPC
//! algorithm's definition, independently of stsvend's signer) and answers with recorded STS bodies,
//! or stalls, or drops the connection.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

pub const FUNCTION_KEY_ID: &str = "LTAI-test-stand-in-key";
pub const FUNCTION_SECRET: &str = "function-secret-4f9a2c";
pub const FUNCTION_TOKEN: &str = "CAIS+function/chained-token==";
pub const VENDED_SECRET: &str = "vended-secret-77e1b0";
pub const VENDED_TOKEN: &str = "CAIS+vended/security-token-5d2e==";
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
    Reply(u16, String),
    /// A reply with a `Retry-After` header, in seconds.
    ReplyRetryAfter(u16, String, u64),
    Stall(Duration),
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
    pub method: String,
    pub path: String,
    pub body: String,
    pub problems: Vec<String>,
}

pub struct StandInSts {
    pub address: SocketAddr,
    /// Cold-start connection warm-ups (`HEAD`) answered.
    pub warm_ups: Arc<std::sync::atomic::AtomicUsize>,
    queue: Arc<Mutex<VecDeque<Canned>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// Who the stand-in expects to be asked for: the session name and the one policy resource.
#[derive(Clone)]
pub struct Expected {
    pub session: &'static str,
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
        let warm_ups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
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

    pub fn next(&self, canned: Canned) {
        self.queue.lock().expect("lock").push_back(canned);
    }

    pub fn received_count(&self) -> usize {
        self.received.lock().expect("lock").len()
    }

    pub fn take_received(&self) -> Vec<Received> {
        std::mem::take(&mut *self.received.lock().expect("lock"))
    }
}

fn serve_one(
    mut stream: TcpStream,
    callers: &[Expected],
    queue: &Mutex<VecDeque<Canned>>,
    received: &Mutex<Vec<Received>>,
    warm_ups: &std::sync::atomic::AtomicUsize,
) {
    let Some((method, path, headers, body)) = read_request(&mut stream) else {
        return;
    };
    if method == "HEAD" {
        // A cold-start warm-up: answer, and do not count it as an AssumeRole.
        warm_ups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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

pub type Head = (String, String, BTreeMap<String, String>, String);

/// Reads one HTTP/1.1 request: request line, headers, and a body by `Content-Length` or
/// chunked transfer encoding.
pub fn read_request(stream: &mut TcpStream) -> Option<Head> {
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
/// `secret&`, in base64. `http_mode.rs` checks it against Alibaba's published example.
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

/// A function binary running in HTTP mode, its output collected.
pub struct Function {
    pub address: SocketAddr,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Function {
    /// Starts `binary` in HTTP mode on a free port with only `PATH`, `PORT=0` and `envs` set.
    pub fn start(binary: &str, envs: &[(&str, String)]) -> Self {
        let mut all = vec![("PORT", "0".to_owned())];
        all.extend_from_slice(envs);
        Self::start_with_only(binary, &all)
    }

    /// Starts `binary` with only `PATH` and `envs` set; it must log where it listens.
    pub fn start_with_only(binary: &str, envs: &[(&str, String)]) -> Self {
        let spawn = || {
            Command::new(binary)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
        };
        // A script a test has just written cannot be executed while another test thread's
        // fork, not yet exec'd, still holds it open (ETXTBSY): that passes, so try again.
        let mut tries = 0;
        let mut child = loop {
            match spawn() {
                Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                other => break other.unwrap_or_else(|e| panic!("start {binary}: {e}")),
            }
        };
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

    /// Sends one request on a new connection and reads the whole answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, BTreeMap<String, String>, String) {
        self.request_with_headers(method, path, &[], body)
    }

    /// Sends one request with extra headers on a new connection and reads the whole answer.
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, BTreeMap<String, String>, String) {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        let url = format!("http://{}{path}", self.address);
        let (status, headers, body) = http(method, &url, &all, body.as_bytes());
        (
            status,
            headers,
            String::from_utf8(body).expect("UTF-8 answer"),
        )
    }

    /// Sends SIGTERM and waits: the process must stop cleanly.
    pub fn stop(mut self) -> (bool, Vec<String>) {
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

/// One HTTP/1.1 request to an `http://host:port/path?query` URL, the whole answer read:
/// status, headers (names lower-cased) and body (chunked answers decoded).
pub fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (authority, target) = rest
        .find('/')
        .map_or((rest, "/"), |at| (&rest[..at], &rest[at..]));
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {authority}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send head");
    stream.write_all(body).expect("send body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head and body");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        let mut decoded = Vec::new();
        let mut rest = body.as_slice();
        while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..end])
                    .split(';')
                    .next()
                    .unwrap_or("0")
                    .trim(),
                16,
            )
            .unwrap_or(0);
            if size == 0 {
                break;
            }
            decoded.extend_from_slice(&rest[end + 2..end + 2 + size]);
            rest = &rest[end + 2 + size + 2..];
        }
        body = decoded;
    }
    (status, headers, body)
}

/// `binary` in `AUTH_MODE=jwt` (`jwt_env`) with `OBJECT_PREFIX=tenants/${claim.tenant}/`, and a
/// stand-in STS that expects alice and bob, both of tenant acme, and issues each a session of
/// their own ([`Canned::IssueToSession`]).
pub fn start_for_one_tenant(
    binary: &str,
    jwt_env: Vec<(&'static str, String)>,
) -> (StandInSts, Function) {
    let resource = "acs:oss:*:*:examplebucket/tenants/acme/*";
    let sts = StandInSts::start_for(Expected::sharing(resource, &["alice", "bob"]));
    sts.next(Canned::IssueToSession);
    sts.next(Canned::IssueToSession);
    let mut envs = base_env(sts.address);
    envs.extend(jwt_env);
    envs.push(("OBJECT_PREFIX", "tenants/${claim.tenant}/".to_owned()));
    let function = Function::start(binary, &envs);
    (sts, function)
}

/// A real STS: moto's server on 127.0.0.1 with signature checking on
/// (`scripts/oracles/moto_sts.py`). Returns the process (close its stdin to stop it) and what
/// it printed: `endpoint`, `access_key_id`, `secret_access_key`, `role_arn`.
pub fn start_moto() -> (Child, serde_json::Value) {
    let script = format!(
        "{}/../../scripts/oracles/moto_sts.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut moto = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto (run scripts/test, which installs it)");
    let mut line = String::new();
    BufReader::new(moto.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("moto's first line");
    let found = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (moto, found)
}

/// The Python with the oracle SDKs and moto: `STSVEND_PYTHON`, or the workspace's `.venv`.
pub fn python() -> String {
    std::env::var("STSVEND_PYTHON")
        .unwrap_or_else(|_| format!("{}/../../.venv/bin/python", env!("CARGO_MANIFEST_DIR")))
}

/// A free port on 127.0.0.1 (bound and released; a server started right after takes it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// Waits until something listens on `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        thread::sleep(Duration::from_millis(25));
    }
}

/// Waits until a failed `AssumeRole` is no longer answered again to its policy's callers
/// ([`stsvend::vend::cache::FAILURE_HOLD`]), so that the next request reaches STS.
pub fn wait_out_failure_hold() {
    thread::sleep(stsvend::vend::cache::FAILURE_HOLD + Duration::from_millis(100));
}
