//! The suite against a real `redis-server`, and what only a server can show: the URL's
//! password and database, and faults (the server killed, or stalled, under a run of grants).

use std::sync::Arc;
use std::time::Duration;

use stsvend_quota::{Account, Store, StoreError, StoreUrl};

use crate::servers::{Redis, RedisCluster};
use crate::suite;

async fn connect(url: &str, timeout: Duration) -> Result<Store, StoreError> {
    let url = StoreUrl::parse(url).expect("a redis url");
    Store::connect(&url, timeout, None).await
}

async fn pair(redis: &Redis, timeout: Duration) -> suite::Pair {
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let a = connect(&url, timeout).await.expect("connect");
    let b = connect(&url, timeout).await.expect("connect");
    (Arc::new(a), Arc::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts redis-server; scripts/test runs it"]
async fn redis_passes_the_store_suite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let redis = Redis::start(dir.path(), None);
    suite::run_all(pair(&redis, Duration::from_secs(10)).await).await;
}

/// A three-node Redis Cluster, reached through one node's URL: each account's keys live in one
/// slot, and the client follows `MOVED` to the node that holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts three redis-servers in cluster mode; scripts/test runs it"]
async fn a_redis_cluster_passes_the_store_suite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cluster = RedisCluster::start(dir.path());
    let url = format!("redis://127.0.0.1:{}", cluster.port);
    let timeout = Duration::from_secs(10);
    let a = connect(&url, timeout).await.expect("connect");
    let b = connect(&url, timeout).await.expect("connect");
    suite::run_all((Arc::new(a), Arc::new(b))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts redis-server; scripts/test runs it"]
async fn a_reconcile_after_flushall_restores_exact_usage() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let redis = Redis::start(dir.path(), None);
    let flushall = || {
        let status = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &redis.port.to_string(), "FLUSHALL"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("redis-cli (Debian's redis-tools, which redis-server depends on)");
        assert!(status.success());
    };
    let pair = pair(&redis, Duration::from_secs(10)).await;
    suite::replace_after_a_real_wipe_restores_exact_usage(pair, flushall).await;
}

#[tokio::test]
#[ignore = "starts redis-server; scripts/test runs it"]
async fn the_urls_password_and_database_are_used() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let redis = Redis::start(dir.path(), Some("s3cret pass"));
    let timeout = Duration::from_secs(5);
    let refused = connect(&format!("redis://:wrong@127.0.0.1:{}", redis.port), timeout)
        .await
        .expect_err("a wrong password");
    assert!(
        refused.to_string().contains("AUTH was refused"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("wrong"), "{refused}");
    let no_auth = connect(&format!("redis://127.0.0.1:{}", redis.port), timeout)
        .await
        .expect_err("no password");
    assert!(no_auth.to_string().contains("NOAUTH"), "{no_auth}");

    let who = Account {
        profile: "default",
        subject: "db",
    };
    let object = stsvend_quota::Stored {
        key: "k",
        size: 5,
        etag: "e",
    };
    let base = format!("redis://default:s3cret%20pass@127.0.0.1:{}", redis.port);
    let db0 = connect(&base, timeout).await.expect("connect");
    let db3 = connect(&format!("{base}/3"), timeout)
        .await
        .expect("connect");
    db3.settle(who, object, suite::T0).await.expect("settle");
    assert_eq!(
        db3.usage(who, suite::T0).await.expect("usage").used_bytes,
        5
    );
    assert_eq!(
        db0.usage(who, suite::T0).await.expect("usage").used_bytes,
        0
    );
}

#[tokio::test]
#[ignore = "connects to a closed port"]
async fn nothing_listening_fails_the_connect() {
    let port = crate::servers::free_port();
    let error = connect(&format!("redis://127.0.0.1:{port}"), Duration::from_secs(5))
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
}

/// Killed mid-run: every call answers (granted or a `StoreError`), the store reconnects after
/// the restart, and the append-only file kept every grant acknowledged (fsync on each write):
/// nothing acknowledged is lost, nothing is counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts redis-server; scripts/test runs it"]
async fn a_killed_redis_fails_calls_and_loses_no_acknowledged_count() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut redis = Redis::start(dir.path(), None);
    let (store, _) = pair(&redis, Duration::from_millis(500)).await;
    let port = redis.port;
    let kill = || redis.kill();
    let during =
        suite::reserves_through_a_fault(Arc::clone(&store), "killed", (0, 200), kill).await;
    assert_eq!(during.granted, 100, "the first half, before the kill");
    assert_eq!(during.failed, 100, "the second half, with the server down");

    redis.restart();
    assert_eq!(redis.port, port);
    assert_eq!(suite::reserved_files(&store, "killed").await, 100);
    let after =
        suite::reserves_through_a_fault(Arc::clone(&store), "killed", (200, 50), || {}).await;
    assert_eq!((after.granted, after.failed), (50, 0));
    assert_eq!(suite::reserved_files(&store, "killed").await, 150);
}

/// Stalled mid-run (SIGSTOP): every call ends at the deadline with `Timeout` instead of
/// hanging; after it resumes, the count is between the acknowledged grants and those plus the
/// calls that timed out (a script the server ran after the client gave up), never more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts redis-server; scripts/test runs it"]
async fn a_stalled_redis_times_out_and_counts_nothing_twice() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let redis = Redis::start(dir.path(), None);
    let (store, _) = pair(&redis, Duration::from_millis(300)).await;
    let stall = || redis.pause(true);
    let during =
        suite::reserves_through_a_fault(Arc::clone(&store), "stalled", (0, 200), stall).await;
    redis.pause(false);
    assert_eq!(during.granted + during.failed, 200);
    assert!(during.failed >= 1, "{during:?}");
    let counted = suite::reserved_files(&store, "stalled").await;
    assert!(
        (during.granted..=during.granted + during.failed).contains(&counted),
        "{counted} counted for {during:?}"
    );
}
