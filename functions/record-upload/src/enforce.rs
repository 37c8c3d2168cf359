//! A profile's rules enforced on one upload (`PROFILES_FILE` deployments): the profile whose
//! prefix holds the key, the store's facts checked against it, the content's first bytes
//! with `detect_type`, and for a violation the object deleted (`on_violation = "delete"`) or
//! left in place, and the app told (`upload.rejected`).
//!
//! Every check binds to one state of the object: the ETag of the store's `HEAD`. The ranged
//! `GET` asks `If-Match` that ETag and must be answered with it; the `DELETE` asks it too on
//! S3 (OSS's `DeleteObject` takes no condition). An object overwritten in between is another
//! upload, which its own event or callback checks.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use stsvend_host::config::{OnViolation, Profiles};
use stsvend_host::log::{escape, escaped};
use tracing::warn;

use crate::record::{Record, Source, message_id};
use crate::rules::{ProfileRules, Reason, Violation};
use crate::settings::ProfileDefaults;
use crate::store::{Bound, ObjectFacts, Store};

/// Every profile's rules, when the deployment has a `PROFILES_FILE`.
pub(crate) struct Enforcer {
    profiles: Vec<ProfileRules>,
}

impl Enforcer {
    /// `None` without a `PROFILES_FILE`: record-upload then records as it always has.
    pub(crate) fn new(profiles: &Profiles, defaults: &ProfileDefaults) -> Option<Self> {
        profiles.file.as_ref()?;
        Some(Self {
            profiles: profiles
                .list
                .iter()
                .map(|profile| ProfileRules::new(profile, defaults))
                .collect(),
        })
    }

    /// The profile whose prefix holds `key` (prefixes do not overlap: at most one does).
    pub(crate) fn holding(&self, key: &str) -> Option<&ProfileRules> {
        self.profiles.iter().find(|p| p.holds(key))
    }
}

/// What the checks found.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Every rule holds for the object with these facts.
    Good,
    /// A rule is broken; the content's type when it was read.
    Broke(Violation, Option<&'static str>),
    /// The object changed or went while it was checked: nothing is said of it here.
    Changed,
}

/// Checks `record` (its facts the store's, just read) against `rules`: the facts first, then,
/// with `detect_type`, the first bytes of the object with that ETag.
pub(crate) async fn judge(
    store: &Store,
    rules: &ProfileRules,
    record: &Record,
    facts: ObjectFacts,
    now: SystemTime,
    within: Duration,
) -> Result<Verdict, String> {
    if let Err(violation) = rules.check(&record.key, &record.uploader, &facts) {
        return Ok(Verdict::Broke(violation, None));
    }
    if !rules.reads_content() {
        return Ok(Verdict::Good);
    }
    let head = if facts.size == 0 {
        Vec::new()
    } else {
        match store
            .first_bytes(&record.key, &facts.etag, now, within)
            .await?
        {
            Bound::Done(head) => head,
            Bound::Changed => return Ok(Verdict::Changed),
        }
    };
    match rules.check_content(&head) {
        Ok(_) => Ok(Verdict::Good),
        Err(violation) => {
            let found = crate::detect::detect(&head).media_type();
            Ok(Verdict::Broke(violation, found))
        }
    }
}

/// What was done with an upload that broke its profile's rules (`"action"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    /// Deleted from the store.
    Deleted,
    /// Left in place (`on_violation = "report"`, no profile, or on S3 an object replaced
    /// before it could be deleted).
    Reported,
}

/// Deletes the object when `on_violation` says so; the action taken, or why the store could
/// not be asked (the caller fails, so that the event is delivered again).
pub(crate) async fn act(
    store: &Store,
    on_violation: OnViolation,
    key: &str,
    etag: &str,
    now: SystemTime,
    within: Duration,
) -> Result<Action, String> {
    match on_violation {
        OnViolation::Report => Ok(Action::Reported),
        OnViolation::Delete => match store.delete(key, etag, now, within).await? {
            Bound::Done(()) => Ok(Action::Deleted),
            Bound::Changed => Ok(Action::Reported),
        },
    }
}

/// The `upload.rejected` message for an upload that broke its profile's rules, or that no
/// profile's prefix holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProfileRejection {
    pub(crate) bucket: String,
    /// Escaped as the logs write it; `keyBase64` is the key exactly.
    pub(crate) key: String,
    pub(crate) key_base64: String,
    /// The store's facts.
    pub(crate) size: u64,
    pub(crate) etag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    /// The content's type as detected (`detect_type`), when it was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detected_type: Option<&'static str>,
    /// The prefix's reading of the key (empty for `NoProfile`).
    pub(crate) uploader: BTreeMap<String, String>,
    pub(crate) source: Source,
    pub(crate) time: String,
    /// The profile whose rule was broken; absent for `NoProfile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) profile: Option<String>,
    pub(crate) reason: Reason,
    pub(crate) detail: String,
    pub(crate) action: Action,
}

impl ProfileRejection {
    /// The message for `record` (its facts the store's) under `profile`.
    pub(crate) fn new(
        record: &Record,
        profile: Option<&str>,
        violation: Violation,
        detected_type: Option<&'static str>,
        action: Action,
    ) -> Self {
        Self {
            bucket: record.bucket.clone(),
            key: escape(&record.key).into_owned(),
            key_base64: BASE64.encode(record.key.as_bytes()),
            size: record.size,
            etag: record.etag.clone(),
            content_type: record.content_type.clone(),
            detected_type,
            uploader: record.uploader.clone(),
            source: record.source,
            time: record.time.clone(),
            profile: profile.map(str::to_owned),
            reason: violation.reason,
            detail: violation.detail,
            action,
        }
    }

    /// `rejected_` and the hash over the bucket, the escaped key, the ETag and the reason: an
    /// event delivered again, or a callback and an event of one upload, give one id.
    pub(crate) fn id(&self) -> String {
        let identity = format!(
            "{}\n{}\n{}\n{:?}",
            self.bucket, self.key, self.etag, self.reason
        );
        message_id("rejected", &identity)
    }

    /// One line, the key escaped.
    pub(crate) fn log(&self, key: &str) {
        warn!(
            bucket = %escaped(&self.bucket),
            key = %escaped(key),
            size = self.size,
            etag = %escaped(&self.etag),
            profile = self.profile.as_deref().unwrap_or(""),
            reason = ?self.reason,
            detail = %escaped(&self.detail),
            action = ?self.action,
            source = self.source.name(),
            webhook_id = %self.id(),
            "upload rejected: it breaks its profile's rules"
        );
    }
}

/// The `NoProfile` violation.
pub(crate) fn no_profile() -> Violation {
    Violation {
        reason: Reason::NoProfile,
        detail: "no profile's prefix holds the key".to_owned(),
    }
}
