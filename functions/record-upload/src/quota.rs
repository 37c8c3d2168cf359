//! record-upload's part in quotas: every recorded upload settled into its subject's account
//! from the store's facts (size, ETag), a deleted object's bytes given back, and an upload
//! that takes its subject past the quota told as a broken rule (`QuotaExceeded`).
//!
//! **Whose account.** The profile is the one whose prefix holds the key, and the subject is
//! `quota_subject` rendered from the placeholders the key fills in that prefix (the host
//! refuses at cold start a `quota_subject` naming a placeholder its prefix lacks). The key is
//! where the store put the object, under the prefix presign-url signed or issue-token's
//! session policy allowed for the uploader's own identity; nothing the uploader writes
//! (metadata, form fields, the callback's body) is read for it. An uploader cannot charge
//! another subject, nor escape their own quota, by what they send.

use std::time::SystemTime;

use stsvend::{Error, unix_seconds};
use stsvend_host::config::{Config, Profile, Profiles};
use stsvend_host::log::escaped;
use stsvend_host::quota::Quotas;
use stsvend_quota::{Settled, Stored, Usage};
use tracing::{info, warn};

use crate::rules::{Reason, Violation};

/// The quota store and the profiles whose uploads count, built once per cold start.
pub(crate) struct Counter {
    quotas: Quotas,
    profiles: Profiles,
}

/// One object's account: its profile and subject.
pub(crate) struct Owner<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) subject: String,
}

impl Counter {
    /// `None` when no profile has a quota.
    pub(crate) fn new(config: &Config) -> Result<Option<Self>, Error> {
        if !config
            .profiles
            .list
            .iter()
            .any(|p| p.quota.limits_storage())
        {
            return Ok(None);
        }
        Ok(Quotas::from_config(config)?.map(|quotas| Self {
            quotas,
            profiles: config.profiles.clone(),
        }))
    }

    /// The quotas, for reconcile.
    pub(crate) fn quotas(&self) -> &Quotas {
        &self.quotas
    }

    /// The profiles that count storage, for reconcile.
    pub(crate) fn counted_profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles
            .list
            .iter()
            .filter(|p| p.quota.limits_storage())
    }

    /// Whose account holds `key`: `None` when no counted profile's prefix holds it.
    pub(crate) fn owner(&self, key: &str) -> Option<Owner<'_>> {
        self.profiles.list.iter().find_map(|profile| {
            if !profile.quota.limits_storage() {
                return None;
            }
            let placeholders = profile.prefix.attribute(key)?;
            let subject = profile.quota.subject_of_key(&placeholders)?;
            Some(Owner { profile, subject })
        })
    }

    /// Settles the object `key` (its size and ETag the store's) into its account: `Ok(Some)`
    /// with the `QuotaExceeded` violation when this upload took the subject past the quota
    /// (a record already counted is judged once, when it was counted); `Err` when the store
    /// cannot answer (the invocation fails, so that the platform delivers the event again).
    pub(crate) async fn settle(
        &self,
        key: &str,
        size: u64,
        etag: &str,
        now: SystemTime,
    ) -> Result<Option<Violation>, String> {
        let Some(owner) = self.owner(key) else {
            return Ok(None);
        };
        let object = Stored { key, size, etag };
        let settled = self
            .quotas
            .settle(owner.profile, &owner.subject, object, unix_seconds(now))
            .await
            .map_err(|e| format!("the quota store could not settle the upload: {e}"))?;
        let usage = match settled {
            Settled::Counted(usage) => usage,
            Settled::AlreadyCounted(_) => {
                info!(key = %escaped(key), "already counted toward its quota");
                return Ok(None);
            }
        };
        Ok(over(owner.profile, &owner.subject, &usage))
    }

    /// Gives a deleted object's bytes back to its account (an unknown key changes nothing).
    pub(crate) async fn remove(&self, key: &str, now: SystemTime) -> Result<(), String> {
        let Some(owner) = self.owner(key) else {
            return Ok(());
        };
        self.quotas
            .remove(owner.profile, &owner.subject, key, unix_seconds(now))
            .await
            .map(|_| ())
            .map_err(|e| format!("the quota store could not forget the object: {e}"))
    }
}

/// The `QuotaExceeded` violation when `usage`'s recorded objects pass `profile`'s quota.
fn over(profile: &Profile, subject: &str, usage: &Usage) -> Option<Violation> {
    let quota = &profile.quota;
    let bytes = quota.bytes.filter(|&limit| usage.used_bytes > limit);
    let files = quota.files.filter(|&limit| usage.files > limit);
    let detail = match (bytes, files) {
        (None, None) => return None,
        (Some(limit), _) => format!(
            "the subject holds {} bytes with this upload, over the {limit}-byte quota",
            usage.used_bytes
        ),
        (None, Some(limit)) => format!(
            "the subject holds {} files with this upload, over the {limit}-file quota",
            usage.files
        ),
    };
    warn!(profile = %escaped(&profile.name), subject = %escaped(subject), "{detail}");
    Some(Violation {
        reason: Reason::QuotaExceeded,
        detail,
    })
}
