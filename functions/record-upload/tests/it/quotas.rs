//! Quotas settled from the store's word: record-upload's handler in process, with s3s-fs as
//! the bucket (it checks every signature of the `HEAD` and `DELETE` record-upload sends) and
//! a SQLite quota store. Real uploads settle so that the subject's usage is the bytes the
//! bucket holds; a duplicate event counts once; an overwrite counts the difference; a delete
//! event gives the bytes back; an object is charged to the subject whose prefix holds it,
//! whatever metadata the uploader wrote; an upload past the quota breaks the profile
//! (`QuotaExceeded`) and is deleted as its `on_violation` says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use record_upload::{AppState, on_event};
use serde_json::{Value, json};
use stsvend::{Clock, HttpSender, ReqwestSender, SystemClock};
use stsvend_host::Config;
use stsvend_quota::{Account, Store as QuotaStore, StoreUrl, Usage};
use stsvend_test_support::s3s::{ACCESS_KEY, BUCKET, SECRET_KEY, Store, object_created};

/// A fresh SQLite quota store file for one test.
fn quota_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stsvend-record-quota-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// record-upload on S3 against `store`, counting into the SQLite file `db`, connected as the
/// host connects it at cold start; and a second connection to read the counts.
async fn start(
    store: &Store,
    db: &Path,
    extra: &[(&'static str, String)],
) -> (Arc<AppState>, QuotaStore) {
    let mut vars: HashMap<&'static str, String> = HashMap::from([
        ("PROVIDER", "aws".to_owned()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ("BUCKET", BUCKET.to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("BUCKET_ENDPOINT", store.endpoint()),
        ("QUOTA_STORE", format!("sqlite:{}", db.display())),
    ]);
    vars.extend(extra.iter().cloned());
    let mut config = Config::load(&|k| vars.get(k).cloned()).expect("config");
    let sender: Arc<dyn HttpSender> =
        Arc::new(ReqwestSender::new(Duration::from_secs(5)).expect("sender"));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sts = config.sts.clone();
    config
        .quota
        .as_mut()
        .expect("quota settings")
        .connect(&sts, Arc::clone(&sender), Arc::clone(&clock))
        .await
        .expect("the quota store connects");
    let state = AppState::new(config, clock, sender).expect("state");
    let url = StoreUrl::parse(&format!("sqlite:{}", db.display())).expect("url");
    let counts = QuotaStore::connect(&url, Duration::from_secs(5), None)
        .await
        .expect("a second connection");
    (Arc::new(state), counts)
}

async fn usage(counts: &QuotaStore, profile: &str, subject: &str) -> Usage {
    let now = SystemClock.now();
    counts
        .usage(Account { profile, subject }, stsvend::unix_seconds(now))
        .await
        .expect("usage")
}

/// The bytes the bucket holds under `prefix`, as s3s-fs keeps them on disk
/// (`<dir>/<bucket>/<key>`; its own bookkeeping files start with `.`).
fn bytes_on_disk(store: &Store, prefix: &str) -> (u64, u64) {
    fn walk(dir: &Path, total: &mut (u64, u64)) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(&path, total);
            } else {
                total.0 += entry.metadata().expect("metadata").len();
                total.1 += 1;
            }
        }
    }
    let mut total = (0, 0);
    walk(&store.dir.join(BUCKET).join(prefix), &mut total);
    total
}

/// An S3 `ObjectRemoved:Delete` record of `key`.
fn object_removed(key: &str) -> Value {
    let mut record = object_created(key, 0, "");
    record["eventName"] = json!("ObjectRemoved:Delete");
    record
}

/// Deletes `key` from the bucket behind s3s-fs's back (as a `DELETE` would).
fn delete_on_disk(store: &Store, key: &str) {
    std::fs::remove_file(store.dir.join(BUCKET).join(key)).expect("the object's file");
}

async fn deliver(state: &Arc<AppState>, records: Vec<Value>) -> Result<Value, String> {
    on_event(Arc::clone(state), json!({ "Records": records })).await
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn uploads_settle_from_the_store_once_and_deletions_give_bytes_back() {
    let store = Store::start("record-quota");
    let db = quota_file("settle");
    let extra = [("QUOTA_BYTES", "1000".to_owned())];
    let (state, counts) = start(&store, &db, &extra).await;
    let a = store.put("uploads/alice/a.txt", &[], &[b'a'; 300]);
    let b = store.put("uploads/alice/b.txt", &[], &[b'b'; 200]);
    // The event says 1 byte: the store's HEAD says 300, and that is what counts.
    let events = vec![
        object_created("uploads/alice/a.txt", 1, &a),
        object_created("uploads/alice/b.txt", 200, &b),
    ];
    deliver(&state, events.clone()).await.expect("recorded");
    let counted = usage(&counts, "default", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "uploads/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (500, 2));
    // The same event again counts once.
    deliver(&state, events).await.expect("recorded");
    assert_eq!(usage(&counts, "default", "alice").await.used_bytes, 500);
    // An overwrite counts the difference.
    let smaller = store.put("uploads/alice/a.txt", &[], &[b'c'; 100]);
    deliver(
        &state,
        vec![object_created("uploads/alice/a.txt", 100, &smaller)],
    )
    .await
    .expect("recorded");
    let counted = usage(&counts, "default", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "uploads/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (300, 2));
    // A deletion gives its bytes back (twice changes nothing).
    delete_on_disk(&store, "uploads/alice/b.txt");
    for _ in 0..2 {
        deliver(&state, vec![object_removed("uploads/alice/b.txt")])
            .await
            .expect("removed");
    }
    let counted = usage(&counts, "default", "alice").await;
    assert_eq!((counted.used_bytes, counted.files), (100, 1));
    // Another bucket's events count nothing.
    let mut elsewhere = object_removed("uploads/alice/a.txt");
    elsewhere["s3"]["bucket"]["name"] = json!("otherbucket");
    deliver(&state, vec![elsewhere]).await.expect("skipped");
    assert_eq!(usage(&counts, "default", "alice").await.used_bytes, 100);
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn an_object_is_charged_to_the_prefix_that_holds_it_whatever_its_metadata_says() {
    let store = Store::start("record-quota-forged");
    let db = quota_file("forged");
    let extra = [("QUOTA_FILES", "10".to_owned())];
    let (state, counts) = start(&store, &db, &extra).await;
    // Alice writes metadata naming bob (as issue-token's credentials let her): it is hers.
    let forged = [("x-amz-meta-uploader", "bob"), ("x-amz-meta-sub", "bob")];
    let etag = store.put("uploads/alice/f.txt", &forged, b"forged");
    deliver(
        &state,
        vec![object_created("uploads/alice/f.txt", 6, &etag)],
    )
    .await
    .expect("recorded");
    assert_eq!(usage(&counts, "default", "alice").await.files, 1);
    assert_eq!(usage(&counts, "default", "bob").await.files, 0);
    // A key outside every caller's prefix, or one presign-url never signs, counts for nobody.
    let outside = store.put("elsewhere/x.txt", &[], b"x");
    let sneaky = "uploads/bob/../alice/y.txt";
    let events = vec![
        object_created("elsewhere/x.txt", 1, &outside),
        object_created(sneaky, 1, "00"),
    ];
    deliver(&state, events).await.expect("judged");
    assert_eq!(usage(&counts, "default", "bob").await, Usage::default());
    assert_eq!(usage(&counts, "default", "alice").await.files, 1);
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn an_upload_past_the_quota_breaks_the_profile_and_is_deleted() {
    let store = Store::start("record-quota-over");
    let db = quota_file("over");
    let file = db.with_extension("toml");
    std::fs::write(
        &file,
        "[profiles.docs]\nprefix = \"docs/${sub}/\"\nquota_bytes = 500\non_violation = \"delete\"\n",
    )
    .expect("profiles");
    let extra = [("PROFILES_FILE", file.display().to_string())];
    let (state, counts) = start(&store, &db, &extra).await;
    let first = store.put("docs/alice/one.txt", &[], &[b'1'; 400]);
    let answer = deliver(
        &state,
        vec![object_created("docs/alice/one.txt", 400, &first)],
    )
    .await
    .expect("recorded");
    assert_eq!(answer, json!({"recorded": 1, "rejected": 0}));
    let second = store.put("docs/alice/two.txt", &[], &[b'2'; 200]);
    let answer = deliver(
        &state,
        vec![object_created("docs/alice/two.txt", 200, &second)],
    )
    .await
    .expect("judged");
    assert_eq!(answer, json!({"recorded": 0, "rejected": 1}));
    // Deleted from the bucket, and its bytes given back: usage is what the bucket holds.
    let counted = usage(&counts, "docs", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "docs/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (400, 1));
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn reconcile_after_a_wiped_store_restores_exact_usage() {
    let store = Store::start("record-quota-reconcile");
    let uploads = [
        ("uploads/alice/a.txt", 300),
        ("uploads/alice/deep/b.txt", 50),
        ("uploads/bob/c.txt", 7),
    ];
    for (key, size) in uploads {
        store.put(key, &[], &vec![b'x'; size]);
    }
    // A key presign-url would never sign (a zero-width space), written under alice's prefix
    // with issue-token's credentials: her bytes all the same.
    store.put("uploads/alice/hid\u{200b}den.txt", &[], &[b'h'; 20]);
    // Under no caller's prefix: counted for nobody.
    store.put("uploads/stray.txt", &[], b"stray");
    store.put("elsewhere/alice/x.txt", &[], b"x");
    // The events were lost, or the quota store wiped: a fresh one knows nothing.
    let db = quota_file("reconcile");
    let extra = [
        ("QUOTA_BYTES", "1000".to_owned()),
        ("RECORD_UPLOAD_MODE", "reconcile".to_owned()),
    ];
    let (state, counts) = start(&store, &db, &extra).await;
    assert_eq!(usage(&counts, "default", "alice").await, Usage::default());
    // Over HTTP, outside Function Compute, nobody can start a listing: even with Function
    // Compute's control header.
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1:9000/invoke")
        .header("x-fc-control-path", "/invoke")
        .body(lambda_http::Body::Empty)
        .expect("request");
    let answer = record_upload::handle(Arc::clone(&state), request).await;
    assert_eq!(answer.status(), 403);
    let body: Value = serde_json::from_slice(answer.body().as_ref()).expect("json");
    assert_eq!(body["ErrorCode"], "NotAnEvent");
    assert_eq!(usage(&counts, "default", "alice").await, Usage::default());
    let schedule = json!({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event",
                          "resources": ["arn:aws:events:us-east-1:123456789012:rule/reconcile"], "detail": {}});
    let answer = on_event(Arc::clone(&state), schedule.clone())
        .await
        .expect("reconciled");
    assert_eq!(
        answer,
        json!({"reconciled": {"profiles": 1, "subjects": 2, "objects": 4, "skipped": 1}})
    );
    for sub in ["alice", "bob"] {
        let counted = usage(&counts, "default", sub).await;
        let on_disk = bytes_on_disk(&store, &format!("uploads/{sub}"));
        assert_eq!((counted.used_bytes, counted.files), on_disk, "{sub}");
    }
    assert_eq!(usage(&counts, "default", "alice").await.used_bytes, 370);
    // Running again changes nothing.
    on_event(Arc::clone(&state), schedule)
        .await
        .expect("reconciled");
    assert_eq!(usage(&counts, "default", "alice").await.files, 3);
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn a_late_event_of_an_older_upload_never_overwrites_the_newer_count() {
    let store = Store::start("record-quota-late");
    let db = quota_file("late");
    let extra = [("QUOTA_BYTES", "100000".to_owned())];
    let (state, counts) = start(&store, &db, &extra).await;
    // A small object, then a big one under the same key; the big one's event comes first.
    let key = "uploads/alice/k.bin";
    let small = store.put(key, &[], &[b's'; 10]);
    let big = store.put(key, &[], &[b'b'; 5000]);
    deliver(&state, vec![object_created(key, 5000, &big)])
        .await
        .expect("recorded");
    assert_eq!(usage(&counts, "default", "alice").await.used_bytes, 5000);
    // The small one's late event: the store holds the big one, and that is what counts.
    deliver(&state, vec![object_created(key, 10, &small)])
        .await
        .expect("recorded");
    let counted = usage(&counts, "default", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "uploads/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (5000, 1));
    // A late event of an object the store no longer holds counts nothing.
    delete_on_disk(&store, key);
    deliver(&state, vec![object_created(key, 10, &small)])
        .await
        .expect("recorded");
    assert_eq!(usage(&counts, "default", "alice").await, Usage::default());
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn a_delete_event_gives_back_only_what_the_store_no_longer_holds() {
    let store = Store::start("record-quota-redelete");
    let db = quota_file("redelete");
    let extra = [("QUOTA_BYTES", "100000".to_owned())];
    let (state, counts) = start(&store, &db, &extra).await;
    // PUT K, DELETE K, PUT K: the second upload's event, then the deletion's, late.
    let key = "uploads/alice/k.bin";
    let again = store.put(key, &[], &[b'a'; 700]);
    deliver(&state, vec![object_created(key, 700, &again)])
        .await
        .expect("recorded");
    deliver(&state, vec![object_removed(key)])
        .await
        .expect("judged");
    let counted = usage(&counts, "default", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "uploads/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (700, 1));
    // A delete marker (a versioned bucket keeps the versions) gives nothing back, even when
    // the key reads as missing.
    delete_on_disk(&store, key);
    let mut marker = object_removed(key);
    marker["eventName"] = json!("ObjectRemoved:DeleteMarkerCreated");
    deliver(&state, vec![marker]).await.expect("skipped");
    assert_eq!(usage(&counts, "default", "alice").await.used_bytes, 700);
    // A real deletion, once the key holds nothing, gives the bytes back.
    deliver(&state, vec![object_removed(key)])
        .await
        .expect("removed");
    assert_eq!(usage(&counts, "default", "alice").await, Usage::default());
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn keys_presign_url_never_signs_still_count_for_the_subject_whose_prefix_holds_them() {
    let store = Store::start("record-quota-unsigned");
    let db = quota_file("unsigned");
    let extra = [("QUOTA_BYTES", "100000".to_owned())];
    let (state, counts) = start(&store, &db, &extra).await;
    // Issue-token's credentials let alice write keys presign-url would never sign: a hidden
    // character, a control character. The event is told as rejected, and the bytes count.
    let hidden = "uploads/alice/hid\u{200b}den.txt";
    let tabbed = "uploads/alice/tab\tbed.txt";
    let etags = [
        store.put(hidden, &[], &[b'h'; 300]),
        store.put(tabbed, &[], &[b't'; 40]),
    ];
    let events = vec![
        object_created(hidden, 300, &etags[0]),
        object_created(tabbed, 40, &etags[1]),
    ];
    let answer = deliver(&state, events).await.expect("judged");
    assert_eq!(answer, json!({"recorded": 0, "rejected": 2}));
    let counted = usage(&counts, "default", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "uploads/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (340, 2));
    // Once deleted, its delete event gives the bytes back as for any key.
    delete_on_disk(&store, hidden);
    deliver(&state, vec![object_removed(hidden)])
        .await
        .expect("removed");
    assert_eq!(usage(&counts, "default", "alice").await.used_bytes, 40);
}

#[tokio::test]
#[ignore = "needs s3s-fs 0.14.1 from crates.io: scripts/test runs it"]
async fn a_key_presign_url_never_signs_is_deleted_when_the_profile_says_delete() {
    let store = Store::start("record-quota-unsigned-delete");
    let db = quota_file("unsigned-delete");
    let file = db.with_extension("toml");
    std::fs::write(
        &file,
        "[profiles.docs]\nprefix = \"docs/${sub}/\"\nquota_bytes = 5000\non_violation = \"delete\"\n",
    )
    .expect("profiles");
    let extra = [("PROFILES_FILE", file.display().to_string())];
    let (state, counts) = start(&store, &db, &extra).await;
    let kept = store.put("docs/alice/kept.txt", &[], &[b'k'; 100]);
    let hidden = "docs/alice/hid\u{200b}den.txt";
    let etag = store.put(hidden, &[], &[b'h'; 300]);
    let events = vec![
        object_created("docs/alice/kept.txt", 100, &kept),
        object_created(hidden, 300, &etag),
    ];
    let answer = deliver(&state, events).await.expect("judged");
    assert_eq!(answer, json!({"recorded": 1, "rejected": 1}));
    // Deleted from the bucket, and nothing of it counted: usage is what the bucket holds.
    let counted = usage(&counts, "docs", "alice").await;
    assert_eq!(
        (counted.used_bytes, counted.files),
        bytes_on_disk(&store, "docs/alice")
    );
    assert_eq!((counted.used_bytes, counted.files), (100, 1));
}
