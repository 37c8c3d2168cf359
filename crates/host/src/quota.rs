//! Quotas and grant rates as the functions ask them: one exchange with the shared store per
//! question, bounded by `QUOTA_TIMEOUT_MS`, its refusals and faults as the answers callers
//! see (403 `QuotaExceeded`, 429 `GrantRateExceeded`, 503 `QuotaStoreUnavailable`).
//!
//! presign-url and issue-token count every answer toward the profile's `grant_rate` (per
//! caller: the profile and the caller's `sub`); presign-url reserves each upload grant against
//! the subject's quota; issue-token refuses a subject at or over it; record-upload settles,
//! removes and (in reconcile mode) replaces. With `QUOTA_FAIL_OPEN=true` a grant the store
//! cannot answer for goes through, and the log says so; without it, the grant is refused.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::StatusCode;
use stsvend::Caller;
use stsvend_quota::{
    Account, Limits, RateDecision, Reservation, Reserved, Settled, Store, StoreError, Stored, Usage,
};
use tracing::warn;

use crate::config::{Config, Profile, ProfileQuota};
use crate::log::escaped;
use crate::response::ApiError;

/// The connected store and how to ask it, built once per cold start.
#[derive(Debug, Clone)]
pub struct Quotas {
    store: Arc<Store>,
    timeout: Duration,
    grace_seconds: u64,
    fail_open: bool,
}

impl Quotas {
    /// The quotas of `config`, when a profile has any; `None` otherwise. The store must have
    /// been connected at cold start (the host does it before the state is built; tests call
    /// `QuotaSettings::connect`): a settings without a store is refused naming `QUOTA_STORE`.
    pub fn from_config(config: &Config) -> Result<Option<Self>, stsvend::Error> {
        let Some(settings) = &config.quota else {
            return Ok(None);
        };
        let store = settings.store().ok_or_else(|| stsvend::Error::Config {
            variable: "QUOTA_STORE",
            reason: "the store was not connected at cold start".to_owned(),
        })?;
        Ok(Some(Self {
            store: Arc::clone(store),
            timeout: settings.timeout,
            grace_seconds: settings.grace_seconds,
            fail_open: settings.fail_open,
        }))
    }

    /// `QUOTA_RESERVATION_GRACE_SECONDS`.
    pub fn grace_seconds(&self) -> u64 {
        self.grace_seconds
    }

    /// Counts one answer toward `profile`'s `grant_rate` for `caller`: 429
    /// `GrantRateExceeded` with `Retry-After` over it.
    pub async fn count_grant(
        &self,
        profile: &Profile,
        caller: &Caller,
        now: u64,
    ) -> Result<(), ApiError> {
        let Some(rate) = profile.quota.rate else {
            return Ok(());
        };
        let counter = rate_counter(&profile.name, &caller.sub);
        match self.ask(self.store.hit_rate(&counter, rate, now)).await {
            Ok(RateDecision::Allowed) => Ok(()),
            Ok(RateDecision::Exceeded { retry_after }) => Err(ApiError {
                retry_after: Some(retry_after.max(1)),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "GrantRateExceeded",
                    format!(
                        "profile {:?} allows {} grants per {} s to one caller; retry after {retry_after} s",
                        profile.name,
                        rate.count,
                        rate.per.as_secs()
                    ),
                )
            }),
            Err(error) => self.fault(error, "grant rate"),
        }
    }

    /// Reserves `reservation` for `subject` under `profile`: 403 `QuotaExceeded` (saying what
    /// is used, reserved and allowed) when it would pass a limit.
    pub async fn reserve(
        &self,
        profile: &Profile,
        subject: &str,
        reservation: Reservation<'_>,
        now: u64,
    ) -> Result<(), ApiError> {
        let quota = &profile.quota;
        if !quota.limits_storage() {
            return Ok(());
        }
        let account = account(profile, subject);
        let limits = limits(quota);
        match self
            .ask(self.store.reserve(account, limits, reservation, now))
            .await
        {
            Ok(Reserved::Granted(_)) => Ok(()),
            Ok(Reserved::Exceeded(usage)) => Err(exceeded(profile, &usage, "this upload")),
            Err(error) => self.fault(error, "reservation"),
        }
    }

    /// Refuses `subject` (403 `QuotaExceeded`) while at or over `profile`'s quota: for
    /// issue-token, whose credentials upload without a reservation.
    pub async fn refuse_if_full(
        &self,
        profile: &Profile,
        subject: &str,
        now: u64,
    ) -> Result<(), ApiError> {
        let quota = &profile.quota;
        if !quota.limits_storage() {
            return Ok(());
        }
        match self.usage(profile, subject, now).await {
            Ok(usage) if is_full(quota, &usage) => {
                Err(exceeded(profile, &usage, "new credentials"))
            }
            Ok(_) => Ok(()),
            Err(error) => self.fault(error, "quota check"),
        }
    }

    /// The subject's counts under `profile`, for `{"usage": true}`.
    pub async fn usage(
        &self,
        profile: &Profile,
        subject: &str,
        now: u64,
    ) -> Result<Usage, StoreError> {
        self.ask(self.store.usage(account(profile, subject), now))
            .await
    }

    /// Records an uploaded object for `subject` (record-upload); idempotent.
    pub async fn settle(
        &self,
        profile: &Profile,
        subject: &str,
        object: Stored<'_>,
        now: u64,
    ) -> Result<Settled, StoreError> {
        self.ask(self.store.settle(account(profile, subject), object, now))
            .await
    }

    /// Forgets a deleted object of `subject` (record-upload).
    pub async fn remove(
        &self,
        profile: &Profile,
        subject: &str,
        key: &str,
        now: u64,
    ) -> Result<Usage, StoreError> {
        self.ask(self.store.remove(account(profile, subject), key, now))
            .await
    }

    /// Rewrites `subject`'s recorded objects from a listing (record-upload's reconcile).
    pub async fn replace(
        &self,
        profile: &Profile,
        subject: &str,
        objects: &[Stored<'_>],
        now: u64,
    ) -> Result<Usage, StoreError> {
        self.ask(self.store.replace(account(profile, subject), objects, now))
            .await
    }

    /// One exchange, bounded by `QUOTA_TIMEOUT_MS`.
    async fn ask<T>(
        &self,
        exchange: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        }
    }

    /// A store that could not answer: 503 `QuotaStoreUnavailable`, or with
    /// `QUOTA_FAIL_OPEN=true` the grant let through and the log told ([`fails_open`]).
    fn fault(&self, error: StoreError, what: &str) -> Result<(), ApiError> {
        if fails_open(self.fail_open, &error) {
            warn!(error = %error, "QUOTA_FAIL_OPEN: the {what} was not counted; the grant goes through");
            return Ok(());
        }
        Err(store_unavailable(&error))
    }
}

/// Whether a grant goes through on `error` with `QUOTA_FAIL_OPEN` set to `fail_open`: only
/// when the store could not be reached or did not answer in time. A store that answered and
/// refused the write ([`StoreError::Refused`]: an account's DynamoDB item past its bound, a
/// full Redis) fails closed, since a caller who piles up grants could cause it on purpose and
/// then have every grant pass uncounted.
fn fails_open(fail_open: bool, error: &StoreError) -> bool {
    fail_open && !matches!(error, StoreError::Refused(_))
}

/// 503 `QuotaStoreUnavailable` for a store fault (the cause kept for the log only).
pub fn store_unavailable(error: &StoreError) -> ApiError {
    unavailable(error.to_string())
}

/// 503 `QuotaStoreUnavailable`, `cause` kept for the log only.
pub fn unavailable(cause: String) -> ApiError {
    ApiError {
        cause: Some(cause),
        retry_after: Some(1),
        ..ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "QuotaStoreUnavailable",
            "the quota store did not answer; try again shortly",
        )
    }
}

/// The subject `caller`'s grants count against under `profile`: 403 `InvalidIdentity` when the
/// template names a claim the caller lacks or one that cannot be a path segment.
pub fn subject(quota: &ProfileQuota, caller: &Caller) -> Result<String, ApiError> {
    quota.subject_of(caller).map_err(|error| {
        let reason = match error {
            stsvend::Error::UnsafeIdentity { claim, reason } => {
                format!("the caller's {claim} cannot name a quota subject: {reason}")
            }
            other => other.to_string(),
        };
        ApiError::new(StatusCode::FORBIDDEN, "InvalidIdentity", reason)
    })
}

/// The grant-rate counter of one caller under one profile (profile names have no `/`).
fn rate_counter(profile: &str, sub: &str) -> String {
    format!("{profile}/{sub}")
}

fn account<'a>(profile: &'a Profile, subject: &'a str) -> Account<'a> {
    Account {
        profile: &profile.name,
        subject,
    }
}

fn limits(quota: &ProfileQuota) -> Limits {
    Limits {
        bytes: quota.bytes,
        files: quota.files,
    }
}

/// Whether `usage` leaves no room under `quota`: recorded and reserved at or over a limit.
fn is_full(quota: &ProfileQuota, usage: &Usage) -> bool {
    let bytes = usage.used_bytes.saturating_add(usage.reserved_bytes);
    let files = usage.files.saturating_add(usage.reserved_files);
    quota.bytes.is_some_and(|limit| bytes >= limit)
        || quota.files.is_some_and(|limit| files >= limit)
}

/// 403 `QuotaExceeded`, saying what is used, reserved and allowed.
fn exceeded(profile: &Profile, usage: &Usage, what: &str) -> ApiError {
    let quota = &profile.quota;
    let mut parts = Vec::new();
    if let Some(bytes) = quota.bytes {
        parts.push(format!(
            "{} bytes used and {} reserved of a {bytes}-byte quota",
            usage.used_bytes, usage.reserved_bytes
        ));
    }
    if let Some(files) = quota.files {
        parts.push(format!(
            "{} files stored and {} reserved of a {files}-file quota",
            usage.files, usage.reserved_files
        ));
    }
    warn!(profile = %escaped(&profile.name), "quota exceeded: {}", parts.join("; "));
    ApiError::new(
        StatusCode::FORBIDDEN,
        "QuotaExceeded",
        format!(
            "{what} would pass the quota of profile {:?}: {}",
            profile.name,
            parts.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_store_that_cannot_answer_fails_open_never_one_that_refused_the_write() {
        let timeout = StoreError::Timeout(Duration::from_millis(50));
        let down = StoreError::Unavailable("dynamodb could not be reached".into());
        let refused =
            StoreError::Refused("dynamodb: PutItem answered 400 ValidationException".into());
        assert!(fails_open(true, &timeout));
        assert!(fails_open(true, &down));
        assert!(!fails_open(true, &refused));
        for error in [&timeout, &down, &refused] {
            assert!(!fails_open(false, error));
        }
    }
}
