//! The real servers the suite runs against, each on 127.0.0.1 on a free port, stopped when
//! dropped: Debian's `redis-server` (installed by `scripts/bootstrap`'s `need_redis`) and
//! moto's DynamoDB (`scripts/oracles/moto_dynamodb.py`, in the workspace's `.venv`).

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Waits (bounded) until something accepts connections on `port`.
fn wait_for(port: u16, child: &mut Child) {
    for _ in 0..500 {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port} after 10 s");
}

/// A `redis-server` with its data in `dir` (append-only file, fsync on every write, so what it
/// acknowledged survives a kill), stopped when dropped.
pub(crate) struct Redis {
    child: Child,
    pub(crate) port: u16,
    dir: PathBuf,
    password: Option<String>,
}

impl Redis {
    /// Starts a server on a free port; with `password`, `requirepass` is set.
    pub(crate) fn start(dir: &Path, password: Option<&str>) -> Self {
        Self::start_on(free_port(), dir, password.map(str::to_owned))
    }

    fn start_on(port: u16, dir: &Path, password: Option<String>) -> Self {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(password) = &password {
            command.args(["--requirepass", password]);
        }
        let mut child = command
            .spawn()
            .expect("start redis-server (scripts/bootstrap's need_redis installs it)");
        wait_for(port, &mut child);
        Self {
            child,
            port,
            dir: dir.to_owned(),
            password,
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same port with the same data.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let again = Self::start_on(self.port, &self.dir, self.password.take());
        *self = again;
    }

    /// Stops and resumes the process (SIGSTOP, SIGCONT): it holds its connections but answers
    /// nothing meanwhile.
    pub(crate) fn pause(&self, paused: bool) {
        signal(&self.child, if paused { "-STOP" } else { "-CONT" });
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.pause(false);
        self.kill();
    }
}

fn signal(child: &Child, which: &str) {
    let _ = Command::new("kill")
        .args([which, &child.id().to_string()])
        .status();
}

/// moto's server with the quota table made (`scripts/oracles/moto_dynamodb.py`), stopped
/// when dropped.
pub(crate) struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) endpoint: String,
    /// The table's name.
    pub(crate) table: String,
    /// The region the table is in.
    pub(crate) region: String,
    /// A key moto's IAM knows, allowed `dynamodb:*`.
    pub(crate) access_key_id: String,
    /// Its secret.
    pub(crate) secret_access_key: String,
}

impl Moto {
    pub(crate) fn start() -> Self {
        let script = stsvend_test_support::workspace_path("scripts/oracles/moto_dynamodb.py");
        let mut child = Command::new(stsvend_test_support::oracles::python())
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto (scripts/test installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("moto's first line");
        let found: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let text = |name: &str| found[name].as_str().expect(name).to_owned();
        Self {
            endpoint: text("endpoint"),
            table: text("table"),
            region: text("region"),
            access_key_id: text("access_key_id"),
            secret_access_key: text("secret_access_key"),
            child,
        }
    }

    /// Stops and resumes the server (SIGSTOP, SIGCONT): requests meanwhile get no answer.
    pub(crate) fn pause(&self, paused: bool) {
        signal(&self.child, if paused { "-STOP" } else { "-CONT" });
    }

    /// Kills the server (SIGKILL).
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.pause(false);
        self.kill();
    }
}

/// Three `redis-server`s in cluster mode holding all 16384 slots between them (no replicas),
/// made a cluster by `redis-cli --cluster create`; stopped when dropped.
pub(crate) struct RedisCluster {
    nodes: Vec<Child>,
    /// The first node's port (the URL's node).
    pub(crate) port: u16,
}

impl RedisCluster {
    pub(crate) fn start(dir: &Path) -> Self {
        let mut nodes = Vec::new();
        let mut ports = Vec::new();
        for i in 0..3 {
            let port = free_port();
            let node_dir = dir.join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir).expect("a node's folder");
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .arg("--dir")
                .arg(&node_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            wait_for(port, &mut child);
            nodes.push(child);
            ports.push(port);
        }
        let cluster = Self {
            nodes,
            port: ports[0],
        };
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli (Debian's redis-tools)");
        assert!(created.success(), "redis-cli --cluster create failed");
        for port in &ports {
            cluster.wait_until_ok(*port);
        }
        cluster
    }

    /// Waits (bounded) until the node at `port` says `cluster_state:ok`.
    fn wait_until_ok(&self, port: u16) {
        for _ in 0..500 {
            let info = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "cluster", "info"])
                .output()
                .expect("redis-cli");
            if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the cluster is not ok after 10 s");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}
