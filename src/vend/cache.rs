//! Temporary credentials, reused while they have enough life left.
//!
//! One entry per key: every `AssumeRole` parameter (role, session name, rendered session
//! policy, duration), so a credential is reused only for a caller who would have asked STS for
//! exactly the same session. The session name is derived from the caller, so there is one
//! entry per caller: STS's audit log and the policy variables STS evaluates per session
//! (`${aws:userid}`) always see the caller who asked. The key also says which credential
//! signed the `AssumeRole` when it was not the function's own: under Function Compute an
//! invocation may bring a key of its own, and what that key obtained is reused only for
//! invocations that bring the same key. Concurrent misses for one key wait for a single STS
//! call. The cache holds at most `capacity` entries; when full, it drops expired entries
//! first, then the tenth of its entries closest to expiry.
//!
//! A failed call is held too, briefly ([`FAILURE_HOLD`], or STS's `Retry-After` up to
//! [`MAX_FAILURE_HOLD`]): the callers that waited for it, and those that come in the meantime,
//! get the same error at once instead of calling STS again one after another. During an STS
//! outage or throttling, one key makes at most one `AssumeRole` (with its retries) per hold.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::Credential;
use crate::Error;

/// What a cached credential was issued for: the whole `AssumeRole` request but its signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The role assumed.
    pub role_arn: String,
    /// `RoleSessionName`: the caller's.
    pub role_session_name: String,
    /// The caller's verified `sub` itself: a long `sub` gives a session name with a 40-bit
    /// hash, and two callers must not share a credential even if those collide.
    pub caller: String,
    /// The rendered session policy.
    pub policy: String,
    /// `DurationSeconds`.
    pub duration_seconds: u32,
    /// Who signed the `AssumeRole`: the fingerprint of the key the platform handed the
    /// invocation ([`crate::keyless::invocation_fingerprint`]), never the key itself;
    /// `None` for the function's own credentials.
    pub signed_by: Option<String>,
}

/// How long a failed `AssumeRole` answers for its key when STS names no `Retry-After`.
pub const FAILURE_HOLD: Duration = Duration::from_secs(1);

/// The longest a failure is held, whatever `Retry-After` says: past it, one caller tries again.
pub const MAX_FAILURE_HOLD: Duration = Duration::from_secs(5);

/// What a key last got from STS.
#[derive(Debug)]
enum Entry {
    Issued(Credential),
    /// A failure, answered again until `until` (monotonic time).
    Failed {
        error: Error,
        until: Instant,
    },
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

/// A bounded map from [`CacheKey`] to the last credential issued for it.
#[derive(Debug)]
pub struct CredentialCache {
    slots: Mutex<HashMap<CacheKey, Slot>>,
    capacity: usize,
}

impl CredentialCache {
    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.slots.lock().map_or(0, |slots| slots.len())
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cached credential for `key` when `usable` says it still is, otherwise the result of
    /// `fetch`, which is then cached. Concurrent callers with one key make one `fetch`; an STS
    /// error from it is answered to that key's callers until its hold ends.
    pub async fn get_or_fetch<F, Fut>(
        &self,
        key: CacheKey,
        now: SystemTime,
        usable: impl Fn(&Credential) -> bool,
        fetch: F,
    ) -> Result<Credential, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Credential, Error>>,
    {
        let slot = self.slot(key, now);
        let mut entry = slot.lock().await;
        match entry.as_ref() {
            Some(Entry::Issued(credential)) if usable(credential) => {
                return Ok(credential.clone());
            }
            Some(Entry::Failed { error, until }) if Instant::now() < *until => {
                if let Some(copy) = error.sts_copy() {
                    return Err(copy);
                }
            }
            _ => {}
        }
        match fetch().await {
            Ok(credential) => {
                *entry = Some(Entry::Issued(credential.clone()));
                Ok(credential)
            }
            Err(error) => {
                *entry = error.sts_copy().map(|copy| Entry::Failed {
                    until: Instant::now() + hold(&copy),
                    error: copy,
                });
                Err(error)
            }
        }
    }

    fn slot(&self, key: CacheKey, now: SystemTime) -> Slot {
        let mut slots = match self.slots.lock() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(slot) = slots.get(&key) {
            return Arc::clone(slot);
        }
        if slots.len() >= self.capacity {
            evict(&mut slots, now, self.capacity);
        }
        Arc::clone(slots.entry(key).or_default())
    }
}

/// How long `error` is answered again: STS's `Retry-After` within
/// [`FAILURE_HOLD`]..=[`MAX_FAILURE_HOLD`], else [`FAILURE_HOLD`].
fn hold(error: &Error) -> Duration {
    let asked = match error {
        Error::StsRejected(rejection) => rejection.retry_after.map(Duration::from_secs),
        _ => None,
    };
    asked.map_or(FAILURE_HOLD, |asked| {
        asked.clamp(FAILURE_HOLD, MAX_FAILURE_HOLD)
    })
}

/// Makes room in a full cache. Expired and empty entries, and failures no longer held, go
/// first; then, down to nine tenths of the capacity, the entries closest to expiry. Dropping a tenth at once means a full
/// cache pays for this pass (a look at every entry) once per that many new callers, not on each
/// one. Entries in use (a fetch under way, or a caller holding the slot) and failures still held
/// stay, so the cache may go over capacity rather than wait, and an outage's burst protection
/// holds however full the cache is.
fn evict(slots: &mut HashMap<CacheKey, Slot>, now: SystemTime, capacity: usize) {
    slots.retain(|_, slot| match idle_expiry(slot) {
        Idle::Keep => true,
        Idle::Expires(t) => t > now,
        Idle::Empty => false,
    });
    let keep = capacity - capacity.div_ceil(10);
    let Some(excess) = slots.len().checked_sub(keep).filter(|&n| n > 0) else {
        return;
    };
    let mut idle: Vec<(SystemTime, &CacheKey)> = slots
        .iter()
        .filter_map(|(key, slot)| match idle_expiry(slot) {
            Idle::Expires(t) => Some((t, key)),
            _ => None,
        })
        .collect();
    if idle.len() > excess {
        idle.select_nth_unstable_by_key(excess, |(t, _)| *t);
        idle.truncate(excess);
    }
    let victims: Vec<CacheKey> = idle.into_iter().map(|(_, key)| key.clone()).collect();
    for key in &victims {
        slots.remove(key);
    }
}

/// What eviction may do with a slot.
enum Idle {
    /// Held by a caller or locked, or a failure still held: it stays.
    Keep,
    /// Never filled, or a failure no longer held.
    Empty,
    /// Holding a credential that expires then.
    Expires(SystemTime),
}

fn idle_expiry(slot: &Slot) -> Idle {
    if Arc::strong_count(slot) > 1 {
        return Idle::Keep;
    }
    match slot.try_lock() {
        Err(_) => Idle::Keep,
        Ok(entry) => match entry.as_ref() {
            Some(Entry::Issued(Credential {
                expiration: Some(t),
                ..
            })) => Idle::Expires(*t),
            Some(Entry::Failed { until, .. }) if Instant::now() < *until => Idle::Keep,
            _ => Idle::Empty,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::{Clock, FixedClock};

    fn key(policy: &str) -> CacheKey {
        CacheKey {
            role_arn: "acs:ram::1:role/r".to_owned(),
            role_session_name: "alice".to_owned(),
            caller: "alice".to_owned(),
            policy: policy.to_owned(),
            duration_seconds: 900,
            signed_by: None,
        }
    }

    fn credential(id: usize, expires: SystemTime) -> Credential {
        Credential {
            access_key_id: format!("STS.{id}"),
            access_key_secret: "s".to_owned(),
            security_token: Some("t".to_owned()),
            expiration: Some(expires),
        }
    }

    #[tokio::test]
    async fn a_usable_credential_is_reused_and_a_stale_one_replaced() {
        let cache = CredentialCache::new(8);
        let now = FixedClock::at_unix(1_000_000).now();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(credential(n, now + Duration::from_secs(900)))
        };
        let first = cache
            .get_or_fetch(key("p"), now, |_| true, fetch)
            .await
            .expect("fetch");
        let again = cache
            .get_or_fetch(key("p"), now, |_| true, fetch)
            .await
            .expect("cached");
        assert_eq!(first, again);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let renewed = cache
            .get_or_fetch(key("p"), now, |_| false, fetch)
            .await
            .expect("renewed");
        assert_eq!(renewed.access_key_id, "STS.1");
        let other = cache
            .get_or_fetch(key("q"), now, |_| true, fetch)
            .await
            .expect("other policy");
        assert_eq!(other.access_key_id, "STS.2", "no sharing across policies");
    }

    #[tokio::test]
    async fn callers_are_never_shared_even_when_their_session_names_collide() {
        let cache = CredentialCache::new(8);
        let now = FixedClock::at_unix(1_000_000).now();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(credential(n, now + Duration::from_secs(900)))
        };
        let as_caller = |caller: &str| CacheKey {
            caller: caller.to_owned(),
            ..key("p")
        };
        let first = cache
            .get_or_fetch(as_caller("alice"), now, |_| true, fetch)
            .await
            .expect("fetch");
        let other = cache
            .get_or_fetch(as_caller("alice-lookalike"), now, |_| true, fetch)
            .await
            .expect("fetch");
        assert_ne!(first.access_key_id, other.access_key_id);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn what_one_handed_key_obtained_is_reused_for_that_key_only() {
        let cache = CredentialCache::new(8);
        let now = FixedClock::at_unix(1_000_000).now();
        let calls = AtomicUsize::new(0);
        let fetch = || async {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            Ok(credential(n, now + Duration::from_secs(900)))
        };
        let signed_by = |signer: Option<&str>| CacheKey {
            signed_by: signer.map(str::to_owned),
            ..key("p")
        };
        let mut got = Vec::new();
        for signer in [Some("key-a"), Some("key-b"), None, Some("key-a"), None] {
            let credential = cache
                .get_or_fetch(signed_by(signer), now, |_| true, fetch)
                .await
                .expect("fetch");
            got.push(credential.access_key_id);
        }
        assert_eq!(got, ["STS.0", "STS.1", "STS.2", "STS.0", "STS.2"]);
        assert_eq!(calls.load(Ordering::SeqCst), 3, "one call per signing key");
    }

    #[tokio::test]
    async fn a_failure_under_one_handed_key_is_not_answered_to_another() {
        let cache = CredentialCache::new(8);
        let now = FixedClock::at_unix(1_000_000).now();
        let signed_by = |signer: &str| CacheKey {
            signed_by: Some(signer.to_owned()),
            ..key("p")
        };
        let rejected = cache
            .get_or_fetch(
                signed_by("stale"),
                now,
                |_| true,
                || async { Err(unreachable()) },
            )
            .await;
        assert!(
            matches!(rejected, Err(Error::StsUnreachable(_))),
            "{rejected:?}"
        );
        let other = cache
            .get_or_fetch(
                signed_by("fresh"),
                now,
                |_| true,
                || async { Ok(credential(1, now + Duration::from_secs(900))) },
            )
            .await;
        assert_eq!(other.expect("its own call").access_key_id, "STS.1");
    }

    #[tokio::test]
    async fn concurrent_misses_for_one_key_make_one_call() {
        let cache = Arc::new(CredentialCache::new(8));
        let now = FixedClock::at_unix(1_000_000).now();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(
                            key("p"),
                            now,
                            |_| true,
                            || async {
                                calls.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                Ok(credential(0, now + Duration::from_secs(900)))
                            },
                        )
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("join").expect("credential");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn other_failures_are_not_held_and_the_size_is_bounded() {
        let cache = CredentialCache::new(3);
        let now = FixedClock::at_unix(1_000_000).now();
        let failed = cache
            .get_or_fetch(
                key("p"),
                now,
                |_| true,
                || async { Err(Error::MissingIdentity) },
            )
            .await;
        assert!(failed.is_err());
        let ok = cache
            .get_or_fetch(
                key("p"),
                now,
                |_| true,
                || async { Ok(credential(7, now + Duration::from_secs(60))) },
            )
            .await;
        assert_eq!(ok.expect("retried").access_key_id, "STS.7");
        for (i, policy) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            let expires = now + Duration::from_secs(100 + i as u64);
            cache
                .get_or_fetch(
                    key(policy),
                    now,
                    |_| true,
                    || async move { Ok(credential(i, expires)) },
                )
                .await
                .expect("fetch");
            assert!(cache.len() <= 3, "{} entries", cache.len());
        }
        // The soonest to expire ("p", 60 s) went first.
        let calls = AtomicUsize::new(0);
        cache
            .get_or_fetch(
                key("p"),
                now,
                |_| true,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(credential(9, now + Duration::from_secs(900)))
                },
            )
            .await
            .expect("fetch");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    fn unreachable() -> Error {
        Error::StsUnreachable("connection reset".into())
    }

    fn throttled(retry_after: Option<u64>) -> Error {
        Error::StsRejected(crate::StsRejection {
            status: 429,
            code: "Throttling.User".to_owned(),
            message: "Request was denied due to user flow control.".to_owned(),
            request_id: None,
            retry_after,
        })
    }

    /// Asks for `key` with a fetch that counts its calls and gives `outcome`.
    async fn ask(
        cache: &CredentialCache,
        policy: &str,
        calls: &AtomicUsize,
        outcome: fn() -> Result<Credential, Error>,
    ) -> Result<Credential, Error> {
        let now = FixedClock::at_unix(1_000_000).now();
        cache
            .get_or_fetch(
                key(policy),
                now,
                |_| true,
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    outcome()
                },
            )
            .await
    }

    #[tokio::test(start_paused = true)]
    async fn an_sts_failure_answers_its_waiters_until_the_hold_ends() {
        let cache = Arc::new(CredentialCache::new(8));
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                tokio::spawn(async move { ask(&cache, "p", &calls, || Err(unreachable())).await })
            })
            .collect();
        for task in tasks {
            let outcome = task.await.expect("join");
            assert!(
                matches!(outcome, Err(Error::StsUnreachable(_))),
                "{outcome:?}"
            );
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one call for 16 waiters");

        tokio::time::advance(FAILURE_HOLD - Duration::from_millis(100)).await;
        let held = ask(&cache, "p", &calls, || Err(unreachable())).await;
        assert!(matches!(held, Err(Error::StsUnreachable(_))), "{held:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "still held");
        let other = ask(&cache, "q", &calls, || {
            Ok(credential(1, SystemTime::UNIX_EPOCH))
        })
        .await;
        assert!(other.is_ok(), "another policy is not held: {other:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        tokio::time::advance(Duration::from_millis(200)).await;
        let fresh = ask(&cache, "p", &calls, || {
            Ok(credential(3, SystemTime::UNIX_EPOCH))
        })
        .await;
        assert_eq!(fresh.expect("tried again").access_key_id, "STS.3");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_sets_the_hold_within_its_bounds() {
        // (Retry-After, still held just before, tried again just after)
        let cases = [
            (None, 1_000),
            (Some(3), 3_000),
            (Some(60), 5_000),
            (Some(0), 1_000),
        ];
        for (retry_after, hold_ms) in cases {
            let cache = CredentialCache::new(8);
            let calls = AtomicUsize::new(0);
            let outcome: fn() -> Result<Credential, Error> = match retry_after {
                None => || Err(throttled(None)),
                Some(3) => || Err(throttled(Some(3))),
                Some(60) => || Err(throttled(Some(60))),
                Some(_) => || Err(throttled(Some(0))),
            };
            let first = ask(&cache, "p", &calls, outcome).await;
            let Err(Error::StsRejected(rejection)) = first else {
                panic!("{first:?}");
            };
            assert_eq!(
                rejection.retry_after, retry_after,
                "Retry-After is passed on"
            );
            tokio::time::advance(Duration::from_millis(hold_ms - 10)).await;
            let held = ask(&cache, "p", &calls, outcome).await;
            assert!(held.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{retry_after:?}: held");
            tokio::time::advance(Duration::from_millis(20)).await;
            let _ = ask(&cache, "p", &calls, outcome).await;
            assert_eq!(
                calls.load(Ordering::SeqCst),
                2,
                "{retry_after:?}: tried again"
            );
        }
    }

    #[tokio::test]
    async fn a_full_cache_drops_the_tenth_closest_to_expiry() {
        let cache = CredentialCache::new(100);
        let now = FixedClock::at_unix(1_000_000).now();
        let calls = AtomicUsize::new(0);
        let fill = |i: u64| {
            let calls = &calls;
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(credential(i as usize, now + Duration::from_secs(100 + i)))
            }
        };
        for i in 0..=100u64 {
            cache
                .get_or_fetch(key(&i.to_string()), now, |_| true, || fill(i))
                .await
                .expect("fetch");
        }
        // The 101st made room by dropping the ten soonest to expire (0..=9) at once.
        assert_eq!(cache.len(), 91);
        for i in 10..=100u64 {
            cache
                .get_or_fetch(key(&i.to_string()), now, |_| true, || fill(i))
                .await
                .expect("cached");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 101, "10..=100 are still held");
        cache
            .get_or_fetch(key("0"), now, |_| true, || fill(0))
            .await
            .expect("fetched again");
        assert_eq!(calls.load(Ordering::SeqCst), 102, "0 was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn eviction_keeps_entries_in_use_and_failures_still_held() {
        let cache = Arc::new(CredentialCache::new(2));
        let now = FixedClock::at_unix(1_000_000).now();
        let calls = Arc::new(AtomicUsize::new(0));
        // "held": a failure, still held. "busy": a fetch under way, waiting for `release`.
        let held = ask(&cache, "held", &calls, || Err(unreachable())).await;
        assert!(held.is_err());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let busy = {
            let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
            tokio::spawn(async move {
                cache
                    .get_or_fetch(
                        key("busy"),
                        now,
                        |_| true,
                        || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            let _ = released.await;
                            Ok(credential(1, now + Duration::from_secs(900)))
                        },
                    )
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // A third key finds the cache full, and nothing it may drop: it goes over capacity.
        let other = ask(&cache, "other", &calls, || {
            Ok(credential(
                2,
                SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000),
            ))
        })
        .await;
        assert!(other.is_ok());
        assert_eq!(cache.len(), 3, "the busy entry and the held failure stayed");
        // The busy key's fetch is still the only one for it, and the failure is still held.
        let again = ask(&cache, "held", &calls, || {
            Ok(credential(9, SystemTime::UNIX_EPOCH))
        })
        .await;
        assert!(matches!(again, Err(Error::StsUnreachable(_))), "{again:?}");
        release.send(()).expect("the fetch waits");
        busy.await.expect("join").expect("the busy fetch");
        assert_eq!(calls.load(Ordering::SeqCst), 3, "one fetch per key");
    }
}
