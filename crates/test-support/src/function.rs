//! A function binary run as a test runs it: in HTTP mode on a free port, with only the
//! environment the test gives it, its output collected line by line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::http::http;
use crate::sts::{Canned, Expected, StandInSts, base_env};

/// A function binary running in HTTP mode, its output collected.
pub struct Function {
    /// Where it listens.
    pub address: SocketAddr,
    child: Child,
    output: Output,
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
        let mut child = spawn(binary, envs);
        let (tx, rx) = mpsc::channel();
        let (output, _) = collect_output(&mut child, move |line| {
            if let Some(at) = line.find("listening on http://") {
                let _ = tx.send(line[at + 20..].trim().to_owned());
            }
        });
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

/// Starts `binary` with only `PATH` and `envs` set, its stdout and stderr piped.
pub(crate) fn spawn(binary: &str, envs: &[(&str, String)]) -> Child {
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
    loop {
        match spawn() {
            Err(e) if e.raw_os_error() == Some(26) && tries < 100 => {
                tries += 1;
                thread::sleep(Duration::from_millis(20));
            }
            other => break other.unwrap_or_else(|e| panic!("start {binary}: {e}")),
        }
    }
}

/// Everything a process wrote, line by line.
pub(crate) type Output = Arc<Mutex<Vec<String>>>;

/// Collects `child`'s stdout and stderr line by line, each line shown to `watch` first; the
/// reader threads end when both pipes close.
pub(crate) fn collect_output(
    child: &mut Child,
    watch: impl Fn(&str) + Clone + Send + 'static,
) -> (Output, Vec<thread::JoinHandle<()>>) {
    let output = Arc::new(Mutex::new(Vec::new()));
    let readers = [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ]
    .into_iter()
    .map(|pipe| {
        let (output, watch) = (Arc::clone(&output), watch.clone());
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                watch(&line);
                output.lock().expect("lock").push(line);
            }
        })
    })
    .collect();
    (output, readers)
}
