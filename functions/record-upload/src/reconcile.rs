//! `RECORD_UPLOAD_MODE=reconcile`: every subject's quota usage rewritten from what the bucket
//! holds, so that a lost event or a wiped quota store loses nothing for long.
//!
//! For each profile with a quota, the literal start of its prefix is listed with the
//! function's own credentials (ListObjectsV2, every page); each object is attributed as
//! record-upload attributes an upload (the profile's prefix, the subject from the key; a key
//! presign-url would never sign still counts for the subject whose prefix holds it), and each subject's objects replace what the store recorded
//! (`Store::replace`, which keeps live reservations). A subject none of whose objects is left
//! is not seen by a listing, and keeps its count until a delete event removes it.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;
use stsvend::unix_seconds;
use stsvend_host::log::escaped;
use stsvend_quota::Stored;
use tracing::{info, warn};

use crate::quota::Counter;
use crate::store::Store;

/// The most pages one profile's listing reads (1,000 keys each): ten million objects.
const MAX_PAGES: usize = 10_000;

/// What a reconcile run did.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub(crate) struct Reconciled {
    /// Profiles listed.
    pub(crate) profiles: usize,
    /// Subjects whose usage was rewritten.
    pub(crate) subjects: usize,
    /// Objects counted.
    pub(crate) objects: usize,
    /// Objects listed that no subject holds (outside every caller's prefix). Keys presign-url
    /// never signs but under a subject's prefix are counted: their bytes are the subject's.
    pub(crate) skipped: usize,
}

/// Lists each quota'd profile's prefix and replaces each subject's recorded objects; `Err`
/// when the bucket or the quota store cannot answer (the scheduled run fails and is retried;
/// replacing twice changes nothing).
pub(crate) async fn run(
    store: &Store,
    counter: &Counter,
    now: SystemTime,
) -> Result<Reconciled, String> {
    let mut done = Reconciled::default();
    for profile in counter.counted_profiles() {
        let prefix = profile.prefix.literal_prefix();
        let mut subjects: BTreeMap<String, Vec<(String, u64, String)>> = BTreeMap::new();
        let mut continuation: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = store
                .list_page(&prefix, continuation.as_deref(), now)
                .await?;
            for (key, size, etag) in page.objects {
                // A key presign-url would never sign counts too: issue-token's credentials
                // could write it under the subject's prefix, and its bytes are theirs.
                let owner = counter
                    .owner(&key)
                    .filter(|o| o.profile.name == profile.name);
                match owner {
                    Some(owner) => subjects
                        .entry(owner.subject)
                        .or_default()
                        .push((key, size, etag)),
                    None => done.skipped += 1,
                }
            }
            continuation = page.next;
            if continuation.is_none() {
                break;
            }
        }
        if continuation.is_some() {
            warn!(profile = %escaped(&profile.name), "the listing was cut after {MAX_PAGES} pages");
        }
        for (subject, objects) in &subjects {
            let stored: Vec<Stored<'_>> = objects
                .iter()
                .map(|(key, size, etag)| Stored {
                    key,
                    size: *size,
                    etag,
                })
                .collect();
            let usage = counter
                .quotas()
                .replace(profile, subject, &stored, unix_seconds(now))
                .await
                .map_err(|e| format!("the quota store could not be rewritten: {e}"))?;
            info!(
                profile = %escaped(&profile.name),
                subject = %escaped(subject),
                used_bytes = usage.used_bytes,
                files = usage.files,
                "quota usage reconciled"
            );
            done.objects += stored.len();
        }
        done.subjects += subjects.len();
        done.profiles += 1;
    }
    Ok(done)
}
