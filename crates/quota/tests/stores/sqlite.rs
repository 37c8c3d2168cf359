//! The suite against SQLite: two connections to one file in a temporary directory, as two
//! processes on one host would hold.

use std::sync::Arc;
use std::time::Duration;

use stsvend_quota::{Store, StoreUrl};

use crate::suite;

async fn pair(dir: &tempfile::TempDir) -> suite::Pair {
    let url = StoreUrl::parse(&format!("sqlite:{}/quota.db", dir.path().display()))
        .expect("a sqlite url");
    let timeout = Duration::from_secs(30);
    let a = Store::connect(&url, timeout, None).await.expect("connect");
    let b = Store::connect(&url, timeout, None).await.expect("connect");
    (Arc::new(a), Arc::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_store_suite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    suite::run_all(pair(&dir).await).await;
}

#[tokio::test]
async fn sqlite_keeps_counts_across_a_reconnect() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (a, _) = pair(&dir).await;
    let who = stsvend_quota::Account {
        profile: "default",
        subject: "kept",
    };
    let object = stsvend_quota::Stored {
        key: "k",
        size: 42,
        etag: "e",
    };
    a.settle(who, object, suite::T0).await.expect("settle");
    drop(a);
    let (b, _) = pair(&dir).await;
    assert_eq!(b.usage(who, suite::T0).await.expect("usage").used_bytes, 42);
}

#[tokio::test]
async fn a_sqlite_path_in_a_missing_directory_fails_to_connect() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = StoreUrl::parse(&format!("sqlite:{}/no/such/dir/q.db", dir.path().display()))
        .expect("a sqlite url");
    let error = Store::connect(&url, Duration::from_secs(5), None)
        .await
        .expect_err("a missing directory");
    assert!(error.to_string().contains("unavailable"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_after_the_tables_are_emptied_restores_exact_usage() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("quota.db");
    let empty_tables = || {
        let connection = rusqlite::Connection::open(&file).expect("open the file");
        connection
            .execute_batch(
                "DELETE FROM quota_accounts; DELETE FROM quota_objects; DELETE FROM quota_reservations;",
            )
            .expect("emptied");
    };
    suite::replace_after_a_real_wipe_restores_exact_usage(pair(&dir).await, empty_tables).await;
}
