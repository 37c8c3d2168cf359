//! A function binary under the Lambda runtime: a stand-in Runtime API on 127.0.0.1 hands it
//! events through `GET /2018-06-01/runtime/invocation/next` and collects what it posts back.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use crate::function::{Output, collect_output, spawn};
use crate::http::read_request;

/// What the runtime stand-in received on its `/response` and `/error` routes: path and body.
pub type Posted = (String, String);

/// Starts a stand-in Runtime API for the function `function_name` that hands out `events` in
/// order, then holds the long poll; returns where it listens and what the function posts.
pub fn start_runtime_api(
    function_name: &str,
    events: Vec<String>,
) -> (SocketAddr, mpsc::Receiver<Posted>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime api");
    let address = listener.local_addr().expect("address");
    let events = Arc::new(Mutex::new(VecDeque::from(events)));
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (events, tx, arn) = (Arc::clone(&events), tx.clone(), arn.clone());
            thread::spawn(move || serve_runtime(stream, &events, &arn, &tx));
        }
    });
    (address, rx)
}

fn serve_runtime(
    mut stream: TcpStream,
    events: &Mutex<VecDeque<String>>,
    arn: &str,
    posted: &mpsc::Sender<Posted>,
) {
    let Some((method, path, _, body)) = read_request(&mut stream) else {
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
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: 4102444800000\r\nLambda-Runtime-Invoked-Function-Arn: {arn}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            event.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(event.as_bytes());
    } else {
        let _ = posted.send((path, body));
        let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    }
}

/// A function binary under the stand-in runtime, with only `PATH`, Lambda's own variables
/// and the test's set, its stdout and stderr collected line by line.
pub struct LambdaFunction {
    child: Child,
    readers: Vec<thread::JoinHandle<()>>,
    output: Output,
}

impl LambdaFunction {
    /// Starts `binary` under the stand-in runtime at `runtime_api`, named after the binary's
    /// file name, with `envs` set too.
    pub fn start(binary: &str, runtime_api: SocketAddr, envs: &[(&str, String)]) -> Self {
        let name = Path::new(binary)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut all = vec![
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", name),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ];
        all.extend_from_slice(envs);
        let mut child = spawn(binary, &all);
        let (output, readers) = collect_output(&mut child, |_| {});
        Self {
            child,
            readers,
            output,
        }
    }

    /// Waits for `count` answers posted to the stand-in runtime.
    pub fn answers(&mut self, posted: &mpsc::Receiver<Posted>, count: usize) -> Vec<Posted> {
        let mut answers = Vec::new();
        while answers.len() < count {
            match posted.recv_timeout(Duration::from_secs(20)) {
                Ok(answer) => answers.push(answer),
                Err(e) => {
                    let _ = self.child.kill();
                    panic!(
                        "the function posted {} answers, then: {e}; output: {:#?}",
                        answers.len(),
                        self.output.lock().expect("lock")
                    );
                }
            }
        }
        answers
    }

    /// Stops the process and returns everything it wrote, once both pipes are closed.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers {
            reader.join().expect("reader");
        }
        self.output.lock().expect("lock").clone()
    }
}
