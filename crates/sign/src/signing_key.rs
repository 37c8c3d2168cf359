//! Derived V4 signing keys (OSS V4 and AWS SigV4), kept per secret, day, region and service.
//!
//! Deriving one costs five HMAC key set-ups, more than the rest of a presign, and it changes
//! only once a day, so both signers take their keys from here.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::hmac;

use crate::v4::Flavor;

/// One derived key, under the secret it was derived from.
struct Entry {
    key_prefix: &'static str,
    date: String,
    region: String,
    service: String,
    key: hmac::Key,
}

/// The keys, by secret: a lookup borrows its inputs, so a key already derived costs no
/// allocation (a secret has few keys: one a day per flavor, region and service).
#[derive(Default)]
struct Keys {
    by_secret: HashMap<String, Vec<Entry>>,
    count: usize,
}

/// Signing keys derived once and then reused.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<Keys>,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The map's keys hold secrets: show the count only.
        let entries = self.keys.lock().map_or(0, |keys| keys.count);
        f.debug_struct("SigningKeyCache")
            .field("entries", &entries)
            .finish()
    }
}

impl SigningKeyCache {
    /// Keys kept before the cache starts over (a day's keys for many temporary credentials).
    const CAPACITY: usize = 4096;

    /// The key `flavor` derives for these inputs, derived on first use.
    pub fn get(
        &self,
        flavor: &Flavor,
        secret: &str,
        date: &str,
        region: &str,
        service: &str,
    ) -> hmac::Key {
        let mut keys = match self.keys.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        // The flavor is part of the identity, so OSS and AWS keys never mix.
        let found = keys.by_secret.get(secret).and_then(|entries| {
            entries.iter().find(|e| {
                e.key_prefix == flavor.key_prefix
                    && e.date == date
                    && e.region == region
                    && e.service == service
            })
        });
        if let Some(entry) = found {
            return entry.key.clone();
        }
        if keys.count >= Self::CAPACITY {
            keys.by_secret.clear();
            keys.count = 0;
        }
        let key = flavor.signing_key(secret, date, region, service);
        keys.by_secret
            .entry(secret.to_owned())
            .or_default()
            .push(Entry {
                key_prefix: flavor.key_prefix,
                date: date.to_owned(),
                region: region.to_owned(),
                service: service.to_owned(),
                key: key.clone(),
            });
        keys.count += 1;
        key
    }
}
