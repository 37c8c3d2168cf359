//! Derived V4 signing keys (OSS V4 and AWS SigV4), kept per secret, day, region and service.
//!
//! Deriving one costs five HMAC key set-ups, more than the rest of a presign, and it changes
//! only once a day, so both signers take their keys from here.

use std::collections::HashMap;
use std::sync::Mutex;

use ring::hmac;

use crate::v4::Flavor;

type Id = (&'static str, String, String, String, String);

/// Signing keys derived once and then reused.
#[derive(Default)]
pub struct SigningKeyCache {
    keys: Mutex<HashMap<Id, hmac::Key>>,
}

impl std::fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The map's keys hold secrets: show the count only.
        let entries = self.keys.lock().map_or(0, |keys| keys.len());
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
        // The flavor is part of the identity, so OSS and AWS keys never mix.
        let id = (
            flavor.key_prefix,
            secret.to_owned(),
            date.to_owned(),
            region.to_owned(),
            service.to_owned(),
        );
        let mut keys = match self.keys.lock() {
            Ok(keys) => keys,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(key) = keys.get(&id) {
            return key.clone();
        }
        if keys.len() >= Self::CAPACITY {
            keys.clear();
        }
        let key = flavor.signing_key(secret, date, region, service);
        keys.insert(id, key.clone());
        key
    }
}
