//! Temporary credentials, reused while they have enough life left.
//!
//! One entry per key (role, rendered session policy, duration), so callers share a credential
//! only when their policies are identical. Concurrent misses for one key wait for a single STS
//! call. The cache holds at most `capacity` entries; when full, it drops expired entries
//! first, then the one closest to expiry.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::credential::Credential;
use crate::error::Error;

/// What a cached credential was issued for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The role assumed.
    pub role_arn: String,
    /// The rendered session policy.
    pub policy: String,
    /// `DurationSeconds`.
    pub duration_seconds: u32,
}

type Slot = Arc<tokio::sync::Mutex<Option<Credential>>>;

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
    /// `fetch`, which is then cached. Concurrent callers with one key make one `fetch`.
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
        let mut cached = slot.lock().await;
        if let Some(credential) = cached.as_ref().filter(|c| usable(c)) {
            return Ok(credential.clone());
        }
        let credential = fetch().await?;
        *cached = Some(credential.clone());
        Ok(credential)
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

/// Makes room for one entry: expired or empty idle entries go first, then idle ones closest to
/// expiry. Entries in use (a fetch under way) stay.
fn evict(slots: &mut HashMap<CacheKey, Slot>, now: SystemTime, capacity: usize) {
    let expiry = |slot: &Slot| -> Option<Option<SystemTime>> {
        // `None`: in use (held by a caller, or locked). `Some(None)`: empty. `Some(Some(t))`:
        // expires at t.
        if Arc::strong_count(slot) > 1 {
            return None;
        }
        slot.try_lock()
            .ok()
            .map(|c| c.as_ref().and_then(|c| c.expiration))
    };
    slots.retain(|_, slot| {
        !matches!(expiry(slot), Some(None)) && !matches!(expiry(slot), Some(Some(t)) if t <= now)
    });
    while slots.len() >= capacity {
        let soonest = slots
            .iter()
            .filter_map(|(key, slot)| expiry(slot).map(|t| (t, key.clone())))
            .min_by_key(|(t, _)| *t);
        match soonest {
            Some((_, key)) => {
                slots.remove(&key);
            }
            None => break, // everything is in use: go over capacity rather than wait
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::time::{Clock, FixedClock};

    fn key(policy: &str) -> CacheKey {
        CacheKey {
            role_arn: "acs:ram::1:role/r".to_owned(),
            policy: policy.to_owned(),
            duration_seconds: 900,
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
    async fn failures_are_not_cached_and_the_size_is_bounded() {
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
}
