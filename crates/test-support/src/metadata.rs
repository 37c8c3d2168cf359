//! A stand-in for the places a workload finds its own credentials: the ECS and EC2 instance
//! metadata services, the container credentials endpoint, a credentials URI. It serves on
//! 127.0.0.1, records every request with its headers, and answers through a closure the test
//! gives, which sees the request and checks what it must carry (the metadata token, the
//! authorization token).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::http::read_request;

/// A request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The request target.
    pub path: String,
    /// The headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
}

/// How to answer a request: status and body.
pub type Answer = (u16, String);

/// The stand-in, serving until the test ends.
pub struct StandInMetadata {
    /// Where it listens.
    pub address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests being answered right now, and the most ever at once.
    pub concurrency: Arc<(AtomicUsize, AtomicUsize)>,
}

impl StandInMetadata {
    /// Serves `answer` for every request.
    pub fn start(answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stand-in metadata");
        let address = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let concurrency = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let answer = Arc::new(answer);
        let (s, c) = (Arc::clone(&seen), Arc::clone(&concurrency));
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let (s, c, answer) = (Arc::clone(&s), Arc::clone(&c), Arc::clone(&answer));
                thread::spawn(move || {
                    let Some((method, path, headers, _)) = read_request(&mut stream) else {
                        return;
                    };
                    let now = c.0.fetch_add(1, Ordering::SeqCst) + 1;
                    c.1.fetch_max(now, Ordering::SeqCst);
                    let request = Seen {
                        method,
                        path,
                        headers,
                    };
                    let (status, body) = answer(&request);
                    s.lock().expect("lock").push(request);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body.as_bytes());
                    c.0.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            address,
            seen,
            concurrency,
        }
    }

    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// The most requests it was answering at once.
    pub fn max_concurrency(&self) -> usize {
        self.concurrency.1.load(Ordering::SeqCst)
    }
}

/// An Alibaba credentials JSON answer (metadata service, credentials URI) for this key.
pub fn aliyun_credentials(id: &str, secret: &str, token: &str, expiration: &str) -> String {
    format!(
        r#"{{"AccessKeyId":"{id}","AccessKeySecret":"{secret}","Expiration":"{expiration}","SecurityToken":"{token}","LastUpdated":"2026-11-22T08:00:00Z","Code":"Success"}}"#
    )
}

/// An AWS credentials JSON answer (IMDS, container endpoint) for this key.
pub fn aws_credentials(id: &str, secret: &str, token: &str, expiration: &str) -> String {
    format!(
        r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"{id}","SecretAccessKey":"{secret}","Token":"{token}","Expiration":"{expiration}"}}"#
    )
}
