//! The `issue-token` binary under the Lambda runtime, in `AUTH_MODE=gateway`.
//!
//! A stand-in Lambda Runtime API on 127.0.0.1 hands the binary the committed API Gateway v2
//! events (`events/`) through `GET /2018-06-01/runtime/invocation/next` and collects what it
//! posts to `/runtime/invocation/{id}/response`; the stand-in STS of `support` checks the
//! AssumeRole call made for the JWT authorizer's `sub`.

mod support;

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use support::{Canned, Expected, StandInSts};

/// What the runtime stand-in received on its `/response` and `/error` routes.
type Posted = (String, String);

fn start_runtime_api(events: Vec<String>) -> (SocketAddr, mpsc::Receiver<Posted>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime api");
    let address = listener.local_addr().expect("address");
    let events = Arc::new(Mutex::new(VecDeque::from(events)));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (events, tx) = (Arc::clone(&events), tx.clone());
            thread::spawn(move || serve_runtime(stream, &events, &tx));
        }
    });
    (address, rx)
}

fn serve_runtime(
    mut stream: TcpStream,
    events: &Mutex<VecDeque<String>>,
    posted: &mpsc::Sender<Posted>,
) {
    let Some((method, path, _, body)) = support::read_request(&mut stream) else {
        return;
    };
    if method == "GET" && path == "/2018-06-01/runtime/invocation/next" {
        let next = events.lock().expect("lock").pop_front();
        let Some(event) = next else {
            // No more work: hold the long poll, as Lambda does between invocations.
            thread::sleep(Duration::from_secs(60));
            return;
        };
        let id = format!("req-{}", events.lock().expect("lock").len());
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:issue-token\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            event.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(event.as_bytes());
    } else {
        let _ = posted.send((path, body));
        let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    }
}

fn event(name: &str) -> String {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn issue_token_under_the_lambda_runtime_uses_the_gateway_sub() {
    let sts = StandInSts::start(Expected {
        session: "user-42",
        resource: "acs:oss:*:*:examplebucket/uploads/user-42/*",
    });
    sts.next(Canned::Reply(200, support::success_body("user-42")));
    let (runtime_api, posted) = start_runtime_api(vec![
        event("apigw-v2-jwt.json"),
        event("apigw-v2-no-authorizer.json"),
    ]);

    let mut child = Command::new(env!("CARGO_BIN_EXE_issue-token"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "issue-token")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(support::base_env(sts.address))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start issue-token");

    let mut answers = Vec::new();
    for _ in 0..2 {
        match posted.recv_timeout(Duration::from_secs(20)) {
            Ok(answer) => answers.push(answer),
            Err(e) => {
                let _ = child.kill();
                panic!("the function posted {} answers, then: {e}", answers.len());
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    let (path, body) = &answers[0];
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-1/response");
    let response: serde_json::Value =
        serde_json::from_str(body).expect("API Gateway response JSON");
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["body"], support::expected_answer());
    assert_eq!(response["headers"]["content-type"], "application/json");

    let (path, body) = &answers[1];
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-0/response");
    let response: serde_json::Value =
        serde_json::from_str(body).expect("API Gateway response JSON");
    assert_eq!(response["statusCode"], 401, "{response}");
    let inner: serde_json::Value =
        serde_json::from_str(response["body"].as_str().expect("body")).expect("JSON body");
    assert_eq!(inner["ErrorCode"], "MissingIdentity");

    let received = sts.take_received();
    assert_eq!(received.len(), 1, "only the caller with claims reaches STS");
    assert!(
        received[0].problems.is_empty(),
        "stand-in STS found: {:?}",
        received[0].problems
    );
}
