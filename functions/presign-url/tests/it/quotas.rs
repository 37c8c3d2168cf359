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
use stsvend_quota::{Account, Store, StoreUrl};
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

async fn reserved_files(store: &str, sub: &str) -> (u64, u64) {
    let url = StoreUrl::parse(store).expect("url");
    let store = Store::connect(&url, Duration::from_secs(2), None)
        .await
        .expect("store");
    let account = Account {
        profile: "default",
        subject: sub,
    };
    let usage = store
        .usage(account, unix_seconds(SystemClock.now()))
        .await
        .expect("usage");
    (usage.files, usage.reserved_files)
}

/// Two instances on `store`: exactly the quota of 200 grants at once; while `stop` has the
/// store unable to answer, 503 from both and nothing counted; after `resume`, the counts as
/// they were, and another subject's 200 grants give exactly the quota again.
async fn two_instances(store: &str, stop: &mut dyn FnMut(), resume: &mut dyn FnMut()) {
    let functions = [
        Arc::new(Function::start(
            env!("CARGO_BIN_EXE_presign-url"),
            &envs(store),
        )),
        Arc::new(Function::start(
            env!("CARGO_BIN_EXE_presign-url"),
            &envs(store),
        )),
    ];
    let answers = grant_all_at_once(&functions, "alice", "first");
    let granted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(granted, 10, "{answers:?}");
    for (status, code) in &answers {
        assert!(
            *status == 200 || (*status == 403 && code == "QuotaExceeded"),
            "{status} {code}"
        );
    }
    assert_eq!(reserved_files(store, "alice").await, (0, QUOTA_FILES));
    // Another subject is untouched by alice's grants.
    let bob = grant(&functions[1], &bearer("bob"), "uploads/bob/a.bin");
    assert_eq!(bob, (200, String::new()));

    stop();
    for function in &functions {
        let answer = grant(function, &bearer("carol"), "uploads/carol/a.bin");
        assert_eq!(answer, (503, "QuotaStoreUnavailable".to_owned()));
    }
    resume();
    assert_eq!(reserved_files(store, "carol").await, (0, 0));
    assert_eq!(reserved_files(store, "alice").await, (0, QUOTA_FILES));
    assert_eq!(reserved_files(store, "bob").await, (0, 1));
    let answers = grant_all_at_once(&functions, "carol", "after");
    let granted = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(granted, 10, "{answers:?}");
    for function in functions {
        let function = Arc::try_unwrap(function).unwrap_or_else(|_| panic!("still shared"));
        let (clean, output) = function.stop();
        assert!(clean, "{output:#?}");
    }
}

#[tokio::test]
async fn two_instances_sharing_sqlite_grant_exactly_the_quota_and_fail_closed() {
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
    two_instances(&store, &mut stop, &mut resume).await;
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

#[tokio::test]
#[ignore = "needs redis-server (scripts/bootstrap's need_redis): scripts/test runs it"]
async fn two_instances_sharing_redis_grant_exactly_the_quota_and_survive_a_kill() {
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
    two_instances(&store, &mut stop, &mut resume).await;
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
