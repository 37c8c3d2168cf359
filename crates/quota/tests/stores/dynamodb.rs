//! The suite against moto's DynamoDB (signature checking on, so every request is verified as
//! AWS would verify it), and what only a server can show: a wrong key refused, and faults
//! (the server stalled, or killed, under a run of grants).

use std::sync::Arc;
use std::time::Duration;

use stsvend::{
    Credential, CredentialProvider, CredentialSource, HttpSender, ReqwestSender, SystemClock,
};
use stsvend_quota::{DynamoAccess, Store, StoreError, StoreUrl};

use crate::servers::Moto;
use crate::suite;

fn access(moto: &Moto, key_id: &str, secret: &str) -> DynamoAccess {
    let credential = Credential::new(key_id, secret, None);
    let source = CredentialSource::Static {
        credential,
        origin: "the test".into(),
    };
    let sender: Arc<dyn HttpSender> =
        Arc::new(ReqwestSender::new(Duration::from_secs(30)).expect("a sender"));
    DynamoAccess {
        endpoint: Some(moto.endpoint.clone()),
        region: moto.region.clone(),
        credentials: CredentialProvider::new(source, Duration::from_secs(5)),
        sender,
        clock: Arc::new(SystemClock),
    }
}

async fn connect(moto: &Moto, timeout: Duration) -> Result<Store, StoreError> {
    let url = StoreUrl::parse(&format!("dynamodb:{}", moto.table)).expect("a dynamodb url");
    let access = access(moto, &moto.access_key_id, &moto.secret_access_key);
    Store::connect(&url, timeout, Some(access)).await
}

async fn pair(moto: &Moto, timeout: Duration) -> suite::Pair {
    let a = connect(moto, timeout).await.expect("connect");
    let b = connect(moto, timeout).await.expect("connect");
    (Arc::new(a), Arc::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts moto; scripts/test runs it"]
async fn dynamodb_passes_the_store_suite() {
    let moto = Moto::start();
    suite::run_all(pair(&moto, Duration::from_secs(60)).await).await;
}

#[tokio::test]
#[ignore = "starts moto; scripts/test runs it"]
async fn a_wrong_key_table_or_missing_access_fails_the_connect() {
    let moto = Moto::start();
    let timeout = Duration::from_secs(10);
    let url = StoreUrl::parse(&format!("dynamodb:{}", moto.table)).expect("a dynamodb url");
    let wrong = access(&moto, &moto.access_key_id, "not-the-secret");
    let refused = Store::connect(&url, timeout, Some(wrong))
        .await
        .expect_err("a wrong secret");
    assert!(refused.to_string().contains("403"), "{refused}");
    assert!(!refused.to_string().contains("not-the-secret"), "{refused}");

    let other = StoreUrl::parse("dynamodb:no-such-table").expect("a dynamodb url");
    let right = access(&moto, &moto.access_key_id, &moto.secret_access_key);
    let missing = Store::connect(&other, timeout, Some(right))
        .await
        .expect_err("a missing table");
    assert!(
        missing.to_string().contains("ResourceNotFound"),
        "{missing}"
    );

    let without = Store::connect(&url, timeout, None)
        .await
        .expect_err("no access");
    assert!(without.to_string().contains("credentials"), "{without}");
}

/// Stalled mid-run (SIGSTOP): every call ends at the deadline instead of hanging; after it
/// resumes, the count is between the acknowledged grants and those plus the calls that timed
/// out (a write moto applied after the client gave up), never more.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts moto; scripts/test runs it"]
async fn a_stalled_dynamodb_times_out_and_counts_nothing_twice() {
    let moto = Moto::start();
    let store = Arc::new(
        connect(&moto, Duration::from_secs(2))
            .await
            .expect("connect"),
    );
    let stall = || moto.pause(true);
    let during =
        suite::reserves_through_a_fault(Arc::clone(&store), "stalled", (0, 40), stall).await;
    moto.pause(false);
    assert_eq!(during.granted + during.failed, 40);
    assert!(during.failed >= 1, "{during:?}");
    let counted = suite::reserved_files(&store, "stalled").await;
    assert!(
        (during.granted..=during.granted + during.failed).contains(&counted),
        "{counted} counted for {during:?}"
    );
}

/// Killed mid-run: every call after the kill answers with a `StoreError` (no hang).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts moto; scripts/test runs it"]
async fn a_killed_dynamodb_fails_every_call() {
    let mut moto = Moto::start();
    let store = Arc::new(
        connect(&moto, Duration::from_secs(60))
            .await
            .expect("connect"),
    );
    let kill = || moto.kill();
    let during = suite::reserves_through_a_fault(Arc::clone(&store), "killed", (0, 40), kill).await;
    assert_eq!((during.granted, during.failed), (20, 20));
}
