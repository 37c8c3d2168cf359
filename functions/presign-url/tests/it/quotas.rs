//! Quotas shared by two presign-url processes (two instances of the function) through one
//! store, SQLite and a real `redis-server`: 200 upload grants for one subject, sent at once
//! across both, against a 10-object quota give exactly 10; a store that stops answering
//! mid-run (SQLite's lock held, Redis killed) gives 503 `QuotaStoreUnavailable` and loses no
//! count; and a quota store that cannot be reached stops start-up naming `QUOTA_STORE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::profiles::refused_start;
use stsvend_test_support::sts::base_env;
use stsvend_test_support::tokens::{self, AUDIENCE, HS256_SECRET, ISSUER};

const GRANTS: usize = 200;
const QUOTA_FILES: u64 = 10;

/// A fresh SQLite quota store file for one test.
fn store_file(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quotas");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(format!("{name}-{}.db", std::process::id()));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// presign-url on OSS with the function's own key, HS256 JWTs and a file quota on `store`.
fn envs(store: &str) -> Vec<(&'static str, String)> {
    let sts: std::net::SocketAddr = "127.0.0.1:9".parse().expect("address");
    let mut envs = base_env(sts);
    envs.retain(|(name, _)| *name != "ROLE_ARN");
    envs.extend([
        ("RUST_LOG", "info".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_HS256_SECRET", HS256_SECRET.to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWT_AUDIENCE", AUDIENCE.to_owned()),
        ("QUOTA_FILES", QUOTA_FILES.to_string()),
        ("QUOTA_STORE", store.to_owned()),
        ("QUOTA_TIMEOUT_MS", "200".to_owned()),
    ]);
    envs
}

fn bearer(sub: &str) -> String {
    let claims = tokens::claims(sub, unix_seconds(SystemClock.now()));
    format!(
        "Bearer {}",
        tokens::hs256(&json!({"alg": "HS256"}), &claims)
    )
}

fn grant(function: &Function, auth: &str, key: &str) -> (u16, String) {
    let body = json!({"key": key, "method": "PUT"}).to_string();
    let (status, _, text) =
        function.request_with_headers("POST", "/", &[("Authorization", auth)], &body);
    let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let code = answer["ErrorCode"].as_str().unwrap_or_default().to_owned();
    (status, code)
}

/// Sends [`GRANTS`] grants for `sub`, one per key, from 20 threads across `functions`.
fn grant_all_at_once(functions: &[Arc<Function>], sub: &str, tag: &str) -> Vec<(u16, String)> {
    let auth = Arc::new(bearer(sub));
    let threads: Vec<_> = (0..20)
        .map(|thread| {
            let function = Arc::clone(&functions[thread % functions.len()]);
            let (auth, sub, tag) = (Arc::clone(&auth), sub.to_owned(), tag.to_owned());
            std::thread::spawn(move || {
                (0..GRANTS / 20)
                    .map(|i| {
                        let key = format!("uploads/{sub}/{tag}-{thread}-{i}.bin");
                        grant(&function, &auth, &key)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect()
}

/// What `{"usage": true}` says of `sub`: objects stored, and grants reserved (each reserves
/// `UPLOAD_MAX_BYTES`, 100 MiB by default: a PUT without a length under a file quota). Asked
/// again after a 503, as a client honouring `Retry-After` would, a few times: the first
/// exchange after a store came back may find the pooled connection dead.
fn reserved(function: &Function, sub: &str) -> (u64, u64) {
    let body = json!({"usage": true}).to_string();
    let auth = bearer(sub);
    let mut text = String::new();
    for _ in 0..10 {
        let (status, _, answer) =
            function.request_with_headers("POST", "/", &[("Authorization", &auth)], &body);
        text = answer;
        if status == 200 {
            let usage: Value = serde_json::from_str(&text).expect("usage");
            let reserved_bytes = usage["ReservedBytes"].as_u64().expect("ReservedBytes");
            assert_eq!(reserved_bytes % 104_857_600, 0, "{usage}");
            return (
                usage["Files"].as_u64().expect("Files"),
                reserved_bytes / 104_857_600,
            );
        }
        assert_eq!(status, 503, "{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("no usage after 10 tries: {text}");
}

/// Two instances started with `envs`: exactly the quota of 200 grants at once (with
/// `contended`, a grant may also time out, 503, as optimistic writes retry against one
/// serialized server; never one more granted); while `stop` has the store unable to answer,
/// 503 from both and no count lost; after `resume`, the counts as they were, and another
/// subject's 200 grants give exactly the quota again.
fn two_instances(
    envs: &[(&'static str, String)],
    contended: bool,
    stop: &mut dyn FnMut(),
    resume: &mut dyn FnMut(),
) {
    let functions = [
        Arc::new(Function::start(env!("CARGO_BIN_EXE_presign-url"), envs)),
        Arc::new(Function::start(env!("CARGO_BIN_EXE_presign-url"), envs)),
    ];
    let answers = grant_all_at_once(&functions, "alice", "first");
    let granted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(granted, 10, "{answers:?}");
    for (status, code) in &answers {
        let timed_out = contended && *status == 503 && code == "QuotaStoreUnavailable";
        assert!(
            *status == 200 || (*status == 403 && code == "QuotaExceeded") || timed_out,
            "{status} {code}"
        );
    }
    assert_eq!(reserved(&functions[0], "alice"), (0, QUOTA_FILES));
    // Another subject is untouched by alice's grants.
    let bob = grant(&functions[1], &bearer("bob"), "uploads/bob/a.bin");
    assert_eq!(bob, (200, String::new()));

    stop();
    for function in &functions {
        let answer = grant(function, &bearer("carol"), "uploads/carol/a.bin");
        assert_eq!(answer, (503, "QuotaStoreUnavailable".to_owned()));
    }
    resume();
    // Nothing counted was lost. A grant refused at its deadline may still have been applied
    // by the store after it (SQLite's waiting writer gets the lock once it is free): that
    // reservation holds carol's quota until it expires, the safe side, never a grant more.
    let (stored, held) = reserved(&functions[1], "carol");
    assert!(stored == 0 && held <= 1, "{stored} {held}");
    assert_eq!(reserved(&functions[1], "alice"), (0, QUOTA_FILES));
    assert_eq!(reserved(&functions[0], "bob"), (0, 1));
    let answers = grant_all_at_once(&functions, "dave", "after");
    let granted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(granted, 10, "{answers:?}");
    assert_eq!(reserved(&functions[0], "dave"), (0, QUOTA_FILES));
    for function in functions {
        let function = Arc::try_unwrap(function).unwrap_or_else(|_| panic!("still shared"));
        let (clean, output) = function.stop();
        assert!(clean, "{output:#?}");
    }
}

#[test]
fn two_instances_sharing_sqlite_grant_exactly_the_quota_and_fail_closed() {
    let db = store_file("two-instances");
    let store = format!("sqlite:{}", db.display());
    // The store stops answering: its write lock held by another writer.
    let held = std::cell::RefCell::new(None);
    let mut stop = || {
        let connection = rusqlite::Connection::open(&db).expect("open");
        connection.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        *held.borrow_mut() = Some(connection);
    };
    let mut resume = || drop(held.borrow_mut().take());
    two_instances(&envs(&store), false, &mut stop, &mut resume);
}

/// A `redis-server` on a free port, its data in a folder of its own (append-only, fsync on
/// every write, so what it acknowledged survives a kill), killed when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Redis {
    fn start(dir: PathBuf, port: u16) -> Self {
        std::fs::create_dir_all(&dir).expect("dir");
        let mut child = std::process::Command::new("redis-server")
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
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server (scripts/bootstrap's need_redis installs it)");
        for _ in 0..500 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port, dir };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server does not listen on {port}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
#[ignore = "needs redis-server (scripts/bootstrap's need_redis): scripts/test runs it"]
fn two_instances_sharing_redis_grant_exactly_the_quota_and_survive_a_kill() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = store_file("redis").with_extension("d");
    let _ = std::fs::remove_dir_all(&dir);
    let redis = std::cell::RefCell::new(Redis::start(dir, port));
    let store = format!("redis://127.0.0.1:{port}");
    // Killed mid-run, then started again on its data: nothing it acknowledged is lost.
    let mut stop = || redis.borrow_mut().kill();
    let mut resume = || {
        let (dir, port) = (redis.borrow().dir.clone(), redis.borrow().port);
        *redis.borrow_mut() = Redis::start(dir, port);
    };
    two_instances(&envs(&store), false, &mut stop, &mut resume);
}

/// moto's DynamoDB with the quota table, signature checking on
/// (`scripts/oracles/moto_dynamodb.py`), stopped when dropped.
struct Moto {
    child: std::process::Child,
    found: Value,
}

impl Moto {
    fn start() -> Self {
        use std::io::BufRead as _;
        let script = stsvend_test_support::workspace_path("scripts/oracles/moto_dynamodb.py");
        let mut child = std::process::Command::new(stsvend_test_support::oracles::python())
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto (scripts/test installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("moto's first line");
        let found = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        Self { child, found }
    }

    fn text(&self, name: &str) -> String {
        self.found[name].as_str().expect(name).to_owned()
    }

    fn signal(&self, which: &str) {
        let _ = std::process::Command::new("kill")
            .args([which, &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs moto from .venv (scripts/test installs it): scripts/test runs it"]
fn two_instances_sharing_dynamodb_grant_exactly_the_quota_and_fail_closed() {
    let moto = Moto::start();
    let mut envs = envs(&format!("dynamodb:{}", moto.text("table")));
    envs.retain(|(name, _)| !name.starts_with("ALIBABA_CLOUD_") && *name != "BUCKET_REGION");
    envs.extend([
        ("PROVIDER", "aws".to_owned()),
        ("BUCKET_REGION", moto.text("region")),
        ("AWS_REGION", moto.text("region")),
        ("AWS_ACCESS_KEY_ID", moto.text("access_key_id")),
        ("AWS_SECRET_ACCESS_KEY", moto.text("secret_access_key")),
        ("QUOTA_STORE_ENDPOINT", moto.text("endpoint")),
        // moto answers one request at a time: give each grant room for its retries.
        ("QUOTA_TIMEOUT_MS", "5000".to_owned()),
    ]);
    // The store stops answering: moto stopped (SIGSTOP), then resumed.
    let mut stop = || moto.signal("-STOP");
    let mut resume = || moto.signal("-CONT");
    two_instances(&envs, true, &mut stop, &mut resume);
}

#[test]
fn an_unreachable_quota_store_stops_start_up_naming_quota_store() {
    let missing = store_file("missing-dir");
    let unreachable = missing.join("no-such-dir").join("q.db");
    for store in [
        format!("sqlite:{}", unreachable.display()),
        "redis://127.0.0.1:9".to_owned(),
    ] {
        let (code, output) = refused_start(env!("CARGO_BIN_EXE_presign-url"), &envs(&store));
        assert_eq!(code, Some(2), "{store}: {output}");
        assert!(output.contains("QUOTA_STORE"), "{store}: {output}");
    }
}
