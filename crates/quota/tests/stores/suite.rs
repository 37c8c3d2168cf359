//! The scenarios every backend must pass. Each takes two separately connected stores (two
//! "instances") and an account of its own, so scenarios may share one server.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use stsvend_quota::{
    Account, Limits, Rate, RateDecision, Reservation, Reserved, Settled, Store, StoreError, Stored,
    Usage,
};
use tokio::task::JoinSet;

/// The instant the scenarios start from (unix seconds); expiry is tested by passing later
/// instants, never by sleeping.
pub(crate) const T0: u64 = 1_800_000_000;

/// How many grants race in each concurrency scenario.
const RACERS: usize = 200;

/// Two instances of one store.
pub(crate) type Pair = (Arc<Store>, Arc<Store>);

fn account(subject: &str) -> Account<'_> {
    Account {
        profile: "default",
        subject,
    }
}

fn files(n: u64) -> Limits {
    Limits {
        bytes: None,
        files: Some(n),
    }
}

/// Races `RACERS` reserves of `bytes` each for distinct keys, alternating instances, and
/// counts the granted ones.
async fn race_reserves(pair: &Pair, subject: &'static str, limits: Limits, bytes: u64) -> usize {
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = Arc::clone(if i % 2 == 0 { &pair.0 } else { &pair.1 });
        racers.spawn(async move {
            let key = format!("u/{subject}/{i}.bin");
            let reservation = Reservation {
                key: &key,
                bytes,
                expires_at: T0 + 600,
            };
            store
                .reserve(account(subject), limits, reservation, T0)
                .await
        });
    }
    let mut granted = 0;
    while let Some(answer) = racers.join_next().await {
        match answer.expect("a racer panicked") {
            Ok(Reserved::Granted(_)) => granted += 1,
            Ok(Reserved::Exceeded(_)) => {}
            Err(error) => panic!("a reserve failed: {error}"),
        }
    }
    granted
}

/// 200 concurrent reserves against a 10-file quota from two instances: exactly 10 granted.
pub(crate) async fn concurrent_reserves_grant_exactly_the_file_quota(pair: Pair) {
    let granted = race_reserves(&pair, "racer-files", files(10), 1).await;
    assert_eq!(granted, 10);
    let usage = pair
        .1
        .usage(account("racer-files"), T0)
        .await
        .expect("usage");
    assert_eq!((usage.reserved_files, usage.reserved_bytes), (10, 10));
}

/// 200 concurrent reserves of 100 bytes against 1000 bytes: exactly 10 granted.
pub(crate) async fn concurrent_reserves_grant_exactly_the_byte_quota(pair: Pair) {
    let limits = Limits {
        bytes: Some(1000),
        files: None,
    };
    let granted = race_reserves(&pair, "racer-bytes", limits, 100).await;
    assert_eq!(granted, 10);
    let usage = pair
        .0
        .usage(account("racer-bytes"), T0)
        .await
        .expect("usage");
    assert_eq!(usage.reserved_bytes, 1000);
}

async fn reserve(
    store: &Store,
    subject: &str,
    limits: Limits,
    key: &str,
    bytes: u64,
    expires_at: u64,
    now: u64,
) -> Reserved {
    let reservation = Reservation {
        key,
        bytes,
        expires_at,
    };
    store
        .reserve(account(subject), limits, reservation, now)
        .await
        .expect("reserve")
}

/// Reservations stop counting once they expire, and free the quota for new grants.
pub(crate) async fn reservations_expire_and_free_the_quota(pair: Pair) {
    let (a, b) = (&pair.0, &pair.1);
    let limits = files(2);
    for key in ["x/1", "x/2"] {
        let granted = reserve(a, "expiry", limits, key, 10, T0 + 60, T0).await;
        assert!(matches!(granted, Reserved::Granted(_)), "{granted:?}");
    }
    let full = reserve(b, "expiry", limits, "x/3", 10, T0 + 200, T0 + 59).await;
    assert_eq!(
        full,
        Reserved::Exceeded(Usage {
            reserved_bytes: 20,
            reserved_files: 2,
            ..Usage::default()
        })
    );
    let freed = reserve(b, "expiry", limits, "x/3", 10, T0 + 200, T0 + 60).await;
    assert_eq!(
        freed,
        Reserved::Granted(Usage {
            reserved_bytes: 10,
            reserved_files: 1,
            ..Usage::default()
        })
    );
    let later = a.usage(account("expiry"), T0 + 200).await.expect("usage");
    assert_eq!(later, Usage::default());
}

/// Reserving the same key again replaces its reservation rather than adding one.
pub(crate) async fn reserving_a_key_again_replaces_its_reservation(pair: Pair) {
    let limits = Limits {
        bytes: Some(100),
        files: Some(1),
    };
    reserve(&pair.0, "again", limits, "k", 80, T0 + 60, T0).await;
    let again = reserve(&pair.1, "again", limits, "k", 90, T0 + 60, T0).await;
    assert_eq!(
        again,
        Reserved::Granted(Usage {
            reserved_bytes: 90,
            reserved_files: 1,
            ..Usage::default()
        })
    );
}

fn stored<'a>(key: &'a str, size: u64, etag: &'a str) -> Stored<'a> {
    Stored { key, size, etag }
}

fn used(used_bytes: u64, files: u64) -> Usage {
    Usage {
        used_bytes,
        files,
        ..Usage::default()
    }
}

/// Settling counts once per key and ETag, an overwrite by the difference; a removal gives the
/// bytes back and an unknown key changes nothing.
pub(crate) async fn settling_is_idempotent_and_removal_gives_bytes_back(pair: Pair) {
    let (a, b) = (&pair.0, &pair.1);
    let who = account("settle");
    reserve(a, "settle", files(5), "s/1", 500, T0 + 60, T0).await;
    let first = a
        .settle(who, stored("s/1", 300, "e1"), T0)
        .await
        .expect("settle");
    assert_eq!(
        first,
        Settled::Counted(used(300, 1)),
        "the reservation is released"
    );
    let replay = b
        .settle(who, stored("s/1", 300, "e1"), T0)
        .await
        .expect("settle");
    assert_eq!(replay, Settled::AlreadyCounted(used(300, 1)));
    let second = b
        .settle(who, stored("s/2", 50, "e9"), T0)
        .await
        .expect("settle");
    assert_eq!(second, Settled::Counted(used(350, 2)));
    let overwrite = a
        .settle(who, stored("s/1", 120, "e2"), T0)
        .await
        .expect("settle");
    assert_eq!(overwrite, Settled::Counted(used(170, 2)));
    let removed = b.remove(who, "s/1", T0).await.expect("remove");
    assert_eq!(removed, used(50, 1));
    let again = a.remove(who, "s/1", T0).await.expect("remove");
    assert_eq!(again, used(50, 1));
    let unknown = a.remove(who, "never/seen", T0).await.expect("remove");
    assert_eq!(unknown, used(50, 1));
}

/// A reservation for a key that is already an object counts its bytes but no file.
pub(crate) async fn an_overwrite_reservation_adds_no_file(pair: Pair) {
    let who = account("overwrite");
    pair.0
        .settle(who, stored("o/1", 10, "e1"), T0)
        .await
        .expect("settle");
    let granted = reserve(&pair.1, "overwrite", files(1), "o/1", 40, T0 + 60, T0).await;
    assert_eq!(
        granted,
        Reserved::Granted(Usage {
            used_bytes: 10,
            files: 1,
            reserved_bytes: 40,
            reserved_files: 0
        })
    );
    let refused = reserve(&pair.1, "overwrite", files(1), "o/2", 1, T0 + 60, T0).await;
    assert!(matches!(refused, Reserved::Exceeded(_)), "{refused:?}");
}

/// Reconcile rewrites usage from the store's listing: after a wipe (an account the store
/// forgot) and after drift (counts the listing no longer has), usage is exact; live
/// reservations for keys not listed are kept, those for listed keys released.
pub(crate) async fn replace_restores_exact_usage(pair: Pair) {
    let (a, b) = (&pair.0, &pair.1);
    let listing = [
        stored("r/1", 100, "e1"),
        stored("r/2", 20, "e2"),
        stored("r/3", 3, "e3"),
    ];
    let wiped = a
        .replace(account("wiped"), &listing, T0)
        .await
        .expect("replace");
    assert_eq!(wiped, used(123, 3));
    let replay = b
        .settle(account("wiped"), stored("r/2", 20, "e2"), T0)
        .await
        .expect("settle");
    assert_eq!(replay, Settled::AlreadyCounted(used(123, 3)));

    let who = account("drift");
    for (key, size) in [("d/1", 7), ("d/gone", 1000), ("d/2", 5)] {
        a.settle(who, stored(key, size, "old"), T0)
            .await
            .expect("settle");
    }
    reserve(b, "drift", files(10), "d/pending", 9, T0 + 60, T0).await;
    reserve(b, "drift", files(10), "d/2", 9, T0 + 60, T0).await;
    let listing = [stored("d/1", 7, "old"), stored("d/2", 6, "new")];
    let rewritten = b.replace(who, &listing, T0).await.expect("replace");
    assert_eq!(
        rewritten,
        Usage {
            used_bytes: 13,
            files: 2,
            reserved_bytes: 9,
            reserved_files: 1
        }
    );
    assert_eq!(a.usage(who, T0).await.expect("usage"), rewritten);
    assert_eq!(
        a.remove(who, "d/gone", T0).await.expect("remove"),
        rewritten
    );
}

/// The store really wiped (`wipe` empties it) after objects were counted: a reconcile from
/// the bucket's listing brings the exact usage back, and replayed events count nothing twice.
pub(crate) async fn replace_after_a_real_wipe_restores_exact_usage(
    pair: Pair,
    wipe: impl FnOnce(),
) {
    let who = account("really-wiped");
    let listing = [stored("w/1", 700, "a"), stored("w/2", 300, "b")];
    for object in listing {
        pair.0.settle(who, object, T0).await.expect("settle");
    }
    wipe();
    assert_eq!(
        pair.1.usage(who, T0).await.expect("usage"),
        Usage::default()
    );
    let restored = pair.1.replace(who, &listing, T0).await.expect("replace");
    assert_eq!(restored, used(1000, 2));
    let replay = pair.0.settle(who, listing[0], T0).await.expect("settle");
    assert_eq!(replay, Settled::AlreadyCounted(used(1000, 2)));
}

/// A fixed window: `count` grants pass in it, from any instance; the rest are told to wait
/// for the window's end; the next window starts afresh.
pub(crate) async fn grant_rates_count_per_fixed_window(pair: Pair) {
    let rate = Rate {
        count: 10,
        per: Duration::from_secs(60),
    };
    let now = T0 + 15; // T0 is a multiple of 60: the window ends at T0 + 60.
    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let store = Arc::clone(if i % 2 == 0 { &pair.0 } else { &pair.1 });
        racers.spawn(async move { store.hit_rate("caller-1", rate, now).await });
    }
    let mut allowed = 0;
    while let Some(answer) = racers.join_next().await {
        match answer.expect("a racer panicked").expect("hit_rate") {
            RateDecision::Allowed => allowed += 1,
            RateDecision::Exceeded { retry_after } => assert_eq!(retry_after, 45),
        }
    }
    assert_eq!(allowed, 10);
    let other = pair.0.hit_rate("caller-2", rate, now).await.expect("hit");
    assert_eq!(
        other,
        RateDecision::Allowed,
        "another caller has its own count"
    );
    let next = pair
        .1
        .hit_rate("caller-1", rate, T0 + 60)
        .await
        .expect("hit");
    assert_eq!(next, RateDecision::Allowed, "the next window starts afresh");
    let last_second = pair
        .1
        .hit_rate("caller-1", Rate { count: 1, ..rate }, T0 + 119)
        .await;
    assert_eq!(
        last_second.expect("hit"),
        RateDecision::Exceeded { retry_after: 1 }
    );
}

/// Subjects are caller-controlled text: hostile ones stay accounts of their own.
pub(crate) async fn hostile_subjects_stay_separate_accounts(pair: Pair) {
    let long = "x".repeat(10 * 1024);
    let subjects: Vec<String> = vec![
        "a}b".into(),
        "a{b}".into(),
        "{default/a}".into(),
        "..".into(),
        "../..".into(),
        "a\0b".into(),
        "a".into(),
        "a:b".into(),
        "a/b".into(),
        "a%2Fb".into(),
        "*".into(),
        "".into(),
        "名前😀".into(),
        "a\r\nb".into(),
        "']\"; DROP TABLE quota_objects; --".into(),
        long,
    ];
    for (i, subject) in subjects.iter().enumerate() {
        let store = if i % 2 == 0 { &pair.0 } else { &pair.1 };
        let size = (i as u64 + 1) * 10;
        let object = stored("same/key", size, "e");
        store
            .settle(account(subject), object, T0)
            .await
            .expect("settle");
    }
    let mut seen = BTreeSet::new();
    for (i, subject) in subjects.iter().enumerate() {
        let usage = pair.0.usage(account(subject), T0).await.expect("usage");
        assert_eq!(usage, used((i as u64 + 1) * 10, 1), "subject #{i}");
        seen.insert(usage.used_bytes);
    }
    let other_profile = Account {
        profile: "other",
        subject: "a",
    };
    assert_eq!(
        pair.1.usage(other_profile, T0).await.expect("usage"),
        Usage::default()
    );
    assert_eq!(seen.len(), subjects.len());
}

/// An account holds at most `MAX_LIVE_RESERVATIONS` live reservations, whatever their sizes:
/// the next new key is refused (a key already reserved is replaced), until some expire.
pub(crate) async fn live_reservations_are_capped_per_account(pair: Pair) {
    let (a, b) = (&pair.0, &pair.1);
    let unlimited = Limits {
        bytes: Some(u64::MAX / 4),
        files: None,
    };
    // The documented cap (quota-stores.md), written out rather than read from the crate.
    let cap = 1000;
    assert_eq!(stsvend_quota::MAX_LIVE_RESERVATIONS, cap);
    for i in 0..cap {
        let store = if i % 2 == 0 { a } else { b };
        let key = format!("tiny/{i}");
        let granted = reserve(store, "capped", unlimited, &key, 0, T0 + 60, T0).await;
        assert!(matches!(granted, Reserved::Granted(_)), "{i}: {granted:?}");
    }
    let refused = reserve(a, "capped", unlimited, "tiny/next", 0, T0 + 60, T0).await;
    assert!(matches!(refused, Reserved::Exceeded(_)), "{refused:?}");
    let again = reserve(b, "capped", unlimited, "tiny/7", 1, T0 + 60, T0).await;
    assert!(matches!(again, Reserved::Granted(_)), "{again:?}");
    // Another account is not held back by this one's reservations.
    let other = reserve(a, "uncapped", unlimited, "tiny/next", 0, T0 + 60, T0).await;
    assert!(matches!(other, Reserved::Granted(_)), "{other:?}");
    // Once they expire, new keys are granted again.
    let later = reserve(b, "capped", unlimited, "tiny/next", 0, T0 + 200, T0 + 60).await;
    assert!(matches!(later, Reserved::Granted(_)), "{later:?}");
}

/// Every scenario above, in turn, on one pair.
pub(crate) async fn run_all(pair: Pair) {
    concurrent_reserves_grant_exactly_the_file_quota(pair.clone()).await;
    concurrent_reserves_grant_exactly_the_byte_quota(pair.clone()).await;
    reservations_expire_and_free_the_quota(pair.clone()).await;
    reserving_a_key_again_replaces_its_reservation(pair.clone()).await;
    settling_is_idempotent_and_removal_gives_bytes_back(pair.clone()).await;
    an_overwrite_reservation_adds_no_file(pair.clone()).await;
    replace_restores_exact_usage(pair.clone()).await;
    grant_rates_count_per_fixed_window(pair.clone()).await;
    hostile_subjects_stay_separate_accounts(pair.clone()).await;
    live_reservations_are_capped_per_account(pair).await;
}

/// What a run of reserves saw while the store failed under it.
#[derive(Debug, Default)]
pub(crate) struct FaultRun {
    /// Reserves answered `Granted`.
    pub(crate) granted: u64,
    /// Reserves answered with a `StoreError`.
    pub(crate) failed: u64,
}

/// Reserves keys `first..first + count` (1 byte each) for `subject` against an unlimited
/// quota, all at once, calling `midway` when the first half has been answered; every call must
/// end in an answer (granted) or a `StoreError`.
pub(crate) async fn reserves_through_a_fault(
    store: Arc<Store>,
    subject: &'static str,
    (first, count): (usize, usize),
    midway: impl FnOnce(),
) -> FaultRun {
    let mut run = FaultRun::default();
    let mut midway = Some(midway);
    let mut racers = JoinSet::new();
    for i in 0..count {
        if i == count / 2 {
            while let Some(answer) = racers.join_next().await {
                tally(&mut run, answer.expect("a racer panicked"));
            }
            if let Some(midway) = midway.take() {
                midway();
            }
        }
        let store = Arc::clone(&store);
        racers.spawn(async move {
            let key = format!("f/{}", first + i);
            let reservation = Reservation {
                key: &key,
                bytes: 1,
                expires_at: T0 + 3600,
            };
            store
                .reserve(account(subject), Limits::default(), reservation, T0)
                .await
        });
    }
    while let Some(answer) = racers.join_next().await {
        tally(&mut run, answer.expect("a racer panicked"));
    }
    run
}

fn tally(run: &mut FaultRun, answer: Result<Reserved, StoreError>) {
    match answer {
        Ok(Reserved::Granted(_)) => run.granted += 1,
        Ok(Reserved::Exceeded(usage)) => panic!("an unlimited quota refused: {usage:?}"),
        Err(StoreError::Timeout(_) | StoreError::Unavailable(_)) => run.failed += 1,
        Err(StoreError::Refused(why)) => panic!("a store that went away refused a write: {why}"),
    }
}

/// The subject's reserved files now.
pub(crate) async fn reserved_files(store: &Store, subject: &str) -> u64 {
    store
        .usage(account(subject), T0)
        .await
        .expect("usage after the fault")
        .reserved_files
}
