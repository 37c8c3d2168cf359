//! presign-url's part in quotas: the upload grants that reserve (a PUT, a form, a multipart
//! initiate), the size each reserves, and the `{"usage": true}` answer.
//!
//! A reservation holds the most the upload can store: the exact `contentLength` when the
//! request signs one, a form's `content-length-range` maximum, else the profile's `max_bytes`
//! (`UPLOAD_MAX_BYTES`), which the store does not bound on an OSS PUT or a multipart upload;
//! record-upload settles the size the store holds. Under a byte quota a grant with none of
//! these is refused: it could reserve nothing true.

use std::time::SystemTime;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use stsvend::{Caller, unix_seconds};
use stsvend_host::config::Profile;
use stsvend_host::quota::{self, Quotas, store_unavailable};
use stsvend_host::response::{self, ApiError};
use stsvend_quota::Reservation;

use crate::request::{Ask, Operation};
use crate::settings::PresignSettings;

/// Whether `operation` is an upload grant, which reserves against the subject's quota
/// (downloads, listings and the later steps of a multipart upload do not).
pub(crate) fn reserves(operation: &Operation) -> bool {
    matches!(
        operation,
        Operation::Put | Operation::Form { .. } | Operation::Initiate
    )
}

/// The bytes an upload grant reserves: the exact `contentLength`, a form's maximum, else the
/// profile's `max_bytes`; 400 `SizeRequired` under a byte quota when none bounds it.
pub(crate) fn bound(
    ask: &Ask,
    settings: &PresignSettings,
    profile: &Profile,
) -> Result<u64, ApiError> {
    if let Some(length) = ask.content_length {
        return Ok(length);
    }
    let form = matches!(ask.operation, Operation::Form { .. });
    if form || settings.max_bytes_given || profile.quota.bytes.is_none() {
        return Ok(settings.upload_max_bytes);
    }
    Err(ApiError::bad_request(
        "SizeRequired",
        format!(
            "profile {:?} has a byte quota and no max_bytes (UPLOAD_MAX_BYTES): send contentLength, or use a form upload (method POST), so that the grant reserves a size",
            profile.name
        ),
    ))
}

/// Reserves the grant's bound for the caller's subject until the URL expires plus the grace:
/// 403 `QuotaExceeded` when it would pass the quota.
pub(crate) async fn reserve(
    quotas: &Quotas,
    profile: &Profile,
    caller: &Caller,
    grant: Grant<'_>,
) -> Result<(), ApiError> {
    if !profile.quota.limits_storage() {
        return Ok(());
    }
    let subject = quota::subject(&profile.quota, caller)?;
    let now = unix_seconds(grant.now);
    let reservation = Reservation {
        key: grant.key,
        bytes: grant.bytes,
        expires_at: now
            .saturating_add(grant.expires_in)
            .saturating_add(quotas.grace_seconds()),
    };
    quotas.reserve(profile, &subject, reservation, now).await
}

/// One upload grant about to be signed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grant<'a> {
    /// The key it signs (with `startsWith`, the folder).
    pub(crate) key: &'a str,
    /// What it reserves ([`bound`]).
    pub(crate) bytes: u64,
    /// Its URL's life, in seconds.
    pub(crate) expires_in: u64,
    /// The request's instant.
    pub(crate) now: SystemTime,
}

/// The `{"usage": true}` answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UsageAnswer<'a> {
    status_code: u16,
    profile: &'a str,
    subject: &'a str,
    used_bytes: u64,
    reserved_bytes: u64,
    quota_bytes: Option<u64>,
    files: u64,
    quota_files: Option<u64>,
}

/// The caller's counts under `profile`: 400 `NoQuota` for a profile without one, 503
/// `QuotaStoreUnavailable` when the store cannot answer (whatever `QUOTA_FAIL_OPEN` says:
/// nothing is granted here).
pub(crate) async fn usage(
    quotas: Option<&Quotas>,
    profile: &Profile,
    caller: &Caller,
    now: SystemTime,
) -> Result<Response<Body>, ApiError> {
    let Some(quotas) = quotas.filter(|_| profile.quota.limits_storage()) else {
        return Err(ApiError::bad_request(
            "NoQuota",
            format!(
                "profile {:?} has no quota (quota_bytes, quota_files)",
                profile.name
            ),
        ));
    };
    let subject = quota::subject(&profile.quota, caller)?;
    let usage = quotas
        .usage(profile, &subject, unix_seconds(now))
        .await
        .map_err(|e| store_unavailable(&e))?;
    let answer = UsageAnswer {
        status_code: 200,
        profile: &profile.name,
        subject: &subject,
        used_bytes: usage.used_bytes,
        reserved_bytes: usage.reserved_bytes,
        quota_bytes: profile.quota.bytes,
        files: usage.files,
        quota_files: profile.quota.files,
    };
    Ok(response::json(StatusCode::OK, &answer))
}
