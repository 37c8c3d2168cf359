//! One quota-store round trip per backend over loopback: `cargo bench -p stsvend-quota --bench
//! quota`.
//!
//! Connecting (what a cold start adds: SQLite opens the file and makes its schema if missing,
//! Redis connects and sends a `PING`), a reserve (the check presign-url adds to an upload
//! grant) and a grant-rate hit, on SQLite
//! (a file in a temporary folder) and on a `redis-server` this bench starts on a free port of
//! 127.0.0.1 and stops. Each reserve names the same key, so it replaces its own reservation
//! and the account stays the same size whatever the iteration count; the account holds 1,000
//! recorded objects, as a user with a full folder would.

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use stsvend_quota::{Account, Limits, Rate, Reservation, Store, StoreUrl, Stored};

/// The instant the operations are made at (unix seconds).
const NOW: u64 = 1_800_000_000;

const ACCOUNT: Account<'static> = Account {
    profile: "default",
    subject: "bench-user",
};

const LIMITS: Limits = Limits {
    bytes: Some(1 << 40),
    files: Some(100_000),
};

/// A `redis-server` on a free loopback port, without persistence, killed when dropped.
struct Redis(Child, u16);

impl Redis {
    fn start() -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/bootstrap's need_redis)");
        for _ in 0..500 {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Self(child, port);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen");
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Fills the account with 1,000 objects of 1 KiB.
async fn fill(store: &Store) {
    let keys: Vec<String> = (0..1000).map(|i| format!("u/bench-user/{i}.bin")).collect();
    let objects: Vec<Stored<'_>> = keys
        .iter()
        .map(|key| Stored {
            key,
            size: 1024,
            etag: "e",
        })
        .collect();
    store.replace(ACCOUNT, &objects, NOW).await.expect("filled");
}

fn round_trips(c: &mut Criterion, name: &str, url: &str, runtime: &tokio::runtime::Runtime) {
    let url = StoreUrl::parse(url).expect("a store url");
    c.bench_function(&format!("quota {name}: connect (cold start)"), |b| {
        b.iter(|| runtime.block_on(Store::connect(&url, Duration::from_secs(5), None)))
    });
    let store = runtime
        .block_on(Store::connect(&url, Duration::from_secs(5), None))
        .expect("connected");
    runtime.block_on(fill(&store));
    let reservation = Reservation {
        key: "u/bench-user/new.bin",
        bytes: 5 << 20,
        expires_at: NOW + 900,
    };
    c.bench_function(&format!("quota {name}: reserve"), |b| {
        b.iter(|| runtime.block_on(store.reserve(ACCOUNT, LIMITS, reservation, NOW)))
    });
    let rate = Rate {
        count: u64::MAX,
        per: Duration::from_secs(60),
    };
    c.bench_function(&format!("quota {name}: grant-rate hit"), |b| {
        b.iter(|| runtime.block_on(store.hit_rate("bench-user", rate, NOW)))
    });
}

fn quota(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sqlite = format!("sqlite:{}/quota.db", dir.path().display());
    round_trips(c, "sqlite", &sqlite, &runtime);
    let redis = Redis::start();
    round_trips(
        c,
        "redis",
        &format!("redis://127.0.0.1:{}", redis.1),
        &runtime,
    );
}

criterion_group!(benches, quota);
criterion_main!(benches);
