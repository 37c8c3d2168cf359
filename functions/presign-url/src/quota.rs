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

/// Whether `operation` continues a multipart upload already granted (a part, a batch of
/// parts, the completion): it reserves nothing more, and is refused while the subject is at or
/// over the quota.
pub(crate) fn continues_upload(operation: &Operation) -> bool {
    matches!(
        operation,
        Operation::Part { .. } | Operation::Parts { .. } | Operation::Complete { .. }
    )
}

/// 403 `QuotaExceeded` while the caller's subject is at or over `profile`'s quota.
pub(crate) async fn refuse_if_full(
    quotas: &Quotas,
    profile: &Profile,
    caller: &Caller,
    now: SystemTime,
) -> Result<(), ApiError> {
    if !profile.quota.limits_storage() {
        return Ok(());
    }
    let subject = quota::subject(&profile.quota, caller)?;
    quotas
        .refuse_if_full(profile, &subject, unix_seconds(now))
        .await
}

/// The bytes an upload grant reserves: the exact `contentLength`, a form's maximum, else the
/// profile's `max_bytes`; 400 `SizeRequired` under a byte quota when none bounds it.
pub(crate) fn bound(
    ask: &Ask,
    settings: &PresignSettings,
    profile: &Profile,
) -> Result<u64, ApiError> {
    if matches!(ask.operation, Operation::Form { starts_with: true })
        && profile.quota.limits_storage()
    {
        // One policy for any number of keys under a folder: one reservation could not bound it.
        return Err(ApiError::bad_request(
            "FieldNotApplicable",
            format!(
                "startsWith is not allowed under profile {:?}'s quota: a form for any key under a folder could store any number of objects on one reservation; sign one key per form",
                profile.name
            ),
        ));
    }
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime};

    use lambda_http::Request;
    use lambda_http::http::Method;
    use serde_json::{Value, json};
    use stsvend::{CannedSender, Clock};
    use stsvend_host::Config;
    use stsvend_test_support::tokens::{hs256_bearer_of_tenant, hs256_env};

    use crate::{AppState, handle};

    /// 2026-11-22T08:53:10Z (`date -u -d @1795337590`).
    const NOW: u64 = 1_795_337_590;

    /// A clock a test can move.
    struct TestClock(Mutex<SystemTime>);

    impl Clock for TestClock {
        fn now(&self) -> SystemTime {
            *self.0.lock().expect("lock")
        }
    }

    impl TestClock {
        fn at(unix: u64) -> Arc<Self> {
            Arc::new(Self(Mutex::new(
                SystemTime::UNIX_EPOCH + Duration::from_secs(unix),
            )))
        }

        fn advance(&self, seconds: u64) {
            *self.0.lock().expect("lock") += Duration::from_secs(seconds);
        }
    }

    /// A fresh SQLite store file for one test.
    fn store_path(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("stsvend-presign-quota-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(format!("{name}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    }

    /// presign-url on S3 (where `contentLength` is signed) with the function's own key, HS256 JWTs, a SQLite store at
    /// `db` (connected as the host does at cold start) and `extra`.
    async fn start(
        db: &std::path::Path,
        extra: &[(&'static str, &str)],
    ) -> (Arc<AppState>, Arc<TestClock>) {
        let mut vars: HashMap<&'static str, String> = HashMap::from([
            ("PROVIDER", "aws".to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "function-secret".to_owned()),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "us-east-1".to_owned()),
            ("QUOTA_STORE", format!("sqlite:{}", db.display())),
        ]);
        vars.extend(hs256_env());
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut config = Config::load(&|k| vars.get(k).cloned()).expect("config");
        let clock = TestClock::at(NOW);
        let sender = CannedSender::stalled();
        let connecting = config.quota.as_mut().expect("quota settings");
        connecting
            .connect(&config.sts, sender.clone(), clock.clone())
            .await
            .expect("the store connects");
        let state = AppState::new(config, clock.clone(), sender).expect("state");
        (Arc::new(state), clock)
    }

    async fn ask_as(
        state: &Arc<AppState>,
        sub: &str,
        body: &Value,
    ) -> (u16, Value, Option<String>) {
        let mut request = Request::new(lambda_http::Body::Text(body.to_string()));
        *request.method_mut() = Method::POST;
        let bearer = hs256_bearer_of_tenant(sub, "acme", NOW);
        request
            .headers_mut()
            .insert("authorization", bearer.parse().expect("header"));
        let response = handle(Arc::clone(state), request).await;
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().expect("ascii").to_owned());
        let status = response.status().as_u16();
        let body = serde_json::from_slice(response.body().as_ref()).expect("JSON answer");
        (status, body, retry_after)
    }

    async fn status_code(state: &Arc<AppState>, sub: &str, body: Value) -> (u16, String) {
        let (status, answer, _) = ask_as(state, sub, &body).await;
        (
            status,
            answer["ErrorCode"].as_str().unwrap_or("").to_owned(),
        )
    }

    fn put(key: &str, length: u64) -> Value {
        json!({"key": key, "method": "PUT", "contentLength": length})
    }

    /// A Companion route as `sub` (Uppy's `s3/params`, `s3/multipart`, ...).
    async fn companion_as(
        state: &Arc<AppState>,
        sub: &str,
        path: &str,
        body: &str,
    ) -> (u16, Value) {
        let mut request = Request::new(lambda_http::Body::Text(body.to_owned()));
        *request.method_mut() = if body.is_empty() {
            Method::GET
        } else {
            Method::POST
        };
        *request.uri_mut() = path.parse().expect("a path");
        let bearer = hs256_bearer_of_tenant(sub, "acme", NOW);
        request
            .headers_mut()
            .insert("authorization", bearer.parse().expect("header"));
        let response = handle(Arc::clone(state), request).await;
        let status = response.status().as_u16();
        let body = serde_json::from_slice(response.body().as_ref()).expect("JSON answer");
        (status, body)
    }

    #[tokio::test]
    async fn companion_routes_reserve_and_a_full_subject_gets_no_more_parts_or_folder_forms() {
        let db = store_path("companion");
        let (state, _) = start(&db, &[("QUOTA_FILES", "2")]).await;
        // Companion's form upload reserves one file, as presign-url's own form does.
        let (status, body) = companion_as(
            &state,
            "alice",
            "/s3/params?filename=a.txt&type=text%2Fplain",
            "",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // A part of an upload granted earlier is signed while there is room.
        let part = json!({"key": "uploads/alice/big.bin", "method": "PUT", "uploadId": "upload-1", "partNumber": 1});
        assert_eq!(
            status_code(&state, "alice", part.clone()).await,
            (200, String::new())
        );
        let (status, body) = companion_as(
            &state,
            "alice",
            "/s3/params?filename=b.txt&type=text%2Fplain",
            "",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // Full (two reserved of two): Companion's next form, its next multipart upload, and a
        // part or a completion of an upload already begun are all refused.
        let (status, body) = companion_as(
            &state,
            "alice",
            "/s3/params?filename=c.txt&type=text%2Fplain",
            "",
        )
        .await;
        assert_eq!(status, 403, "{body}");
        let error = body["error"].as_str().expect("Companion's error shape");
        assert!(error.contains("QuotaExceeded"), "{error}");
        let (status, body) = companion_as(
            &state,
            "alice",
            "/s3/multipart",
            r#"{"filename":"d.bin","type":"application/octet-stream"}"#,
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(
            status_code(&state, "alice", part).await,
            (403, "QuotaExceeded".to_owned())
        );
        let complete = json!({"key": "uploads/alice/big.bin", "multipart": "complete", "uploadId": "upload-1"});
        assert_eq!(
            status_code(&state, "alice", complete).await,
            (403, "QuotaExceeded".to_owned())
        );
        // Another subject is not held back by alice's quota.
        let (status, body) = companion_as(
            &state,
            "bob",
            "/s3/params?filename=a.txt&type=text%2Fplain",
            "",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // A form for any key under a folder is refused under a storage quota: one reservation
        // could not bound how many objects it stores.
        let folder = json!({"key": "uploads/bob/", "method": "POST", "startsWith": true});
        assert_eq!(
            status_code(&state, "bob", folder).await,
            (400, "FieldNotApplicable".to_owned())
        );
    }

    #[tokio::test]
    async fn upload_grants_stop_at_the_file_quota_and_other_subjects_keep_theirs() {
        let db = store_path("files");
        let (state, _) = start(&db, &[("QUOTA_FILES", "2")]).await;
        for name in ["a", "b"] {
            let key = format!("uploads/alice/{name}.txt");
            assert_eq!(
                status_code(&state, "alice", put(&key, 10)).await,
                (200, String::new())
            );
        }
        let (status, answer, _) = ask_as(&state, "alice", &put("uploads/alice/c.txt", 10)).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (403, Some("QuotaExceeded"))
        );
        let message = answer["ErrorMessage"].as_str().expect("message");
        assert!(
            message.contains("0 files stored and 2 reserved of a 2-file quota"),
            "{message}"
        );
        // Granting the same key again replaces its reservation: no new file.
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/a.txt", 10))
                .await
                .0,
            200
        );
        // Another subject has their own quota; downloads reserve nothing.
        assert_eq!(
            status_code(&state, "bob", put("uploads/bob/a.txt", 10))
                .await
                .0,
            200
        );
        let get = json!({"key": "uploads/alice/a.txt", "method": "GET"});
        assert_eq!(status_code(&state, "alice", get).await.0, 200);
        let head = json!({"key": "uploads/alice/z.txt", "method": "HEAD"});
        assert_eq!(status_code(&state, "alice", head).await.0, 200);
        assert_eq!(
            status_code(&state, "alice", json!({"list": true})).await.0,
            200
        );
    }

    #[tokio::test]
    async fn the_bytes_reserved_are_the_length_the_form_maximum_or_max_bytes() {
        let db = store_path("bytes");
        let (state, _) = start(&db, &[("QUOTA_BYTES", "1000")]).await;
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/a", 600))
                .await
                .0,
            200
        );
        let (status, answer, _) = ask_as(&state, "alice", &put("uploads/alice/b", 401)).await;
        assert_eq!(status, 403);
        assert_eq!(
            answer["ErrorMessage"],
            "this upload would pass the quota of profile \"default\": 0 bytes used and 600 reserved of a 1000-byte quota"
        );
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/b", 400))
                .await
                .0,
            200
        );
        // A PUT without a length, and no max_bytes the deployment chose: nothing true to
        // reserve.
        let unbounded = json!({"key": "uploads/alice/c", "method": "PUT"});
        assert_eq!(
            status_code(&state, "alice", unbounded.clone()).await,
            (400, "SizeRequired".to_owned())
        );
        let (usage_status, usage, _) = ask_as(&state, "alice", &json!({"usage": true})).await;
        assert_eq!(usage_status, 200);
        assert_eq!(
            usage,
            json!({"StatusCode": 200, "Profile": "default", "Subject": "alice", "UsedBytes": 0,
                   "ReservedBytes": 1000, "QuotaBytes": 1000, "Files": 0, "QuotaFiles": null})
        );

        let db = store_path("bytes-max");
        let (state, _) = start(&db, &[("QUOTA_BYTES", "1000"), ("UPLOAD_MAX_BYTES", "300")]).await;
        for name in ["a", "b", "c"] {
            let unbounded = json!({"key": format!("uploads/alice/{name}"), "method": "PUT"});
            assert_eq!(
                status_code(&state, "alice", unbounded).await.0,
                200,
                "{name}"
            );
        }
        // 900 reserved: a form (its maximum, 300) no longer fits.
        let form = json!({"key": "uploads/alice/d", "method": "POST"});
        assert_eq!(
            status_code(&state, "alice", form).await,
            (403, "QuotaExceeded".to_owned())
        );
    }

    #[tokio::test]
    async fn a_reservation_is_released_when_its_url_and_the_grace_have_expired() {
        let db = store_path("expiry");
        let grace = [
            ("QUOTA_FILES", "1"),
            ("QUOTA_RESERVATION_GRACE_SECONDS", "30"),
        ];
        let (state, clock) = start(&db, &grace).await;
        let first =
            json!({"key": "uploads/alice/a", "method": "PUT", "contentLength": 1, "expires": 60});
        assert_eq!(status_code(&state, "alice", first).await.0, 200);
        let second = put("uploads/alice/b", 1);
        assert_eq!(status_code(&state, "alice", second.clone()).await.0, 403);
        clock.advance(60);
        assert_eq!(
            status_code(&state, "alice", second.clone()).await.0,
            403,
            "the grace holds it"
        );
        clock.advance(31);
        assert_eq!(status_code(&state, "alice", second).await.0, 200);
    }

    #[tokio::test]
    async fn over_the_grant_rate_every_answer_is_429_with_retry_after() {
        let db = store_path("rate");
        let (state, clock) = start(&db, &[("GRANT_RATE", "3/minute")]).await;
        // Every answer counts: a grant, a download, a refusal.
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/a", 1))
                .await
                .0,
            200
        );
        let get = json!({"key": "uploads/alice/a"});
        assert_eq!(status_code(&state, "alice", get).await.0, 200);
        let outside = json!({"key": "uploads/bob/a"});
        assert_eq!(status_code(&state, "alice", outside).await.0, 403);
        let (status, answer, retry_after) =
            ask_as(&state, "alice", &put("uploads/alice/b", 1)).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (429, Some("GrantRateExceeded"))
        );
        let retry_after: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        // Another caller has their own count; the next window starts afresh.
        assert_eq!(
            status_code(&state, "bob", put("uploads/bob/a", 1)).await.0,
            200
        );
        clock.advance(60);
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/b", 1))
                .await
                .0,
            200
        );
    }

    #[tokio::test]
    async fn usage_is_asked_alone_for_a_profile_with_a_quota() {
        let db = store_path("usage");
        let file = db.with_extension("toml");
        std::fs::write(
            &file,
            "default_profile = \"docs\"\n[profiles.docs]\nprefix = \"docs/${sub}/\"\nquota_files = 5\n[profiles.free]\nprefix = \"free/${sub}/\"\n",
        )
        .expect("write");
        let file = file.display().to_string();
        let (state, _) = start(&db, &[("PROFILES_FILE", &file)]).await;
        let (status, usage, _) = ask_as(&state, "alice", &json!({"usage": true})).await;
        assert_eq!(status, 200, "{usage}");
        assert_eq!(
            (
                usage["Subject"].as_str(),
                usage["Files"].as_u64(),
                usage["QuotaFiles"].as_u64()
            ),
            (Some("alice"), Some(0), Some(5))
        );
        let other = json!({"usage": true, "profile": "free"});
        assert_eq!(
            status_code(&state, "alice", other).await,
            (400, "NoQuota".to_owned())
        );
        let unknown = json!({"usage": true, "profile": "nope"});
        assert_eq!(
            status_code(&state, "alice", unknown).await,
            (400, "UnknownProfile".to_owned())
        );
        for extra in [
            json!({"key": "docs/bob/a"}),
            json!({"method": "PUT"}),
            json!({"list": true}),
        ] {
            let mut body = json!({"usage": true});
            body.as_object_mut()
                .expect("object")
                .extend(extra.as_object().expect("object").clone());
            assert_eq!(
                status_code(&state, "alice", body).await,
                (400, "FieldNotApplicable".to_owned())
            );
        }
        let (status, _, _) = ask_as(&state, "alice", &json!({"usage": "yes"})).await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn a_tenant_quota_is_shared_by_the_tenant_and_needs_the_claim() {
        let db = store_path("tenant");
        let (state, _) = start(
            &db,
            &[
                ("OBJECT_PREFIX", "t/${claim.tenant}/${sub}/"),
                ("QUOTA_SUBJECT", "${claim.tenant}"),
                ("QUOTA_FILES", "2"),
            ],
        )
        .await;
        assert_eq!(
            status_code(&state, "alice", put("t/acme/alice/a", 1))
                .await
                .0,
            200
        );
        assert_eq!(
            status_code(&state, "bob", put("t/acme/bob/a", 1)).await.0,
            200
        );
        assert_eq!(
            status_code(&state, "carol", put("t/acme/carol/a", 1)).await,
            (403, "QuotaExceeded".to_owned())
        );
        let (_, usage, _) = ask_as(&state, "carol", &json!({"usage": true})).await;
        assert_eq!(usage["Subject"], "acme");
        // A token without the claim names no prefix and no subject.
        let mut request = Request::new(lambda_http::Body::Text(put("t/x/dave/a", 1).to_string()));
        *request.method_mut() = Method::POST;
        let claims = stsvend_test_support::tokens::claims("dave", NOW);
        let token = stsvend_test_support::tokens::hs256(&json!({"alg": "HS256"}), &claims);
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let response = handle(Arc::clone(&state), request).await;
        assert_eq!(response.status(), 403);
        let body: Value = serde_json::from_slice(response.body().as_ref()).expect("json");
        assert_eq!(body["ErrorCode"], "InvalidIdentity");
    }

    /// Holds SQLite's write lock on `db` until dropped, as a stuck writer would.
    fn lock(db: &std::path::Path) -> rusqlite::Connection {
        let connection = rusqlite::Connection::open(db).expect("open");
        connection.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        connection
    }

    #[tokio::test]
    async fn a_store_that_cannot_answer_fails_closed_or_open_as_configured() {
        let db = store_path("fault");
        let timeout = [("QUOTA_FILES", "5"), ("QUOTA_TIMEOUT_MS", "50")];
        let (state, _) = start(&db, &timeout).await;
        let held = lock(&db);
        let (status, answer, retry_after) =
            ask_as(&state, "alice", &put("uploads/alice/a", 1)).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (503, Some("QuotaStoreUnavailable"))
        );
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert!(
            !answer["ErrorMessage"]
                .as_str()
                .expect("message")
                .contains(&db.display().to_string())
        );
        let (status, _, _) = ask_as(&state, "alice", &json!({"usage": true})).await;
        assert_eq!(status, 503);
        drop(held);
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/a", 1))
                .await
                .0,
            200
        );

        let db = store_path("fault-open");
        let open = [timeout[0], timeout[1], ("QUOTA_FAIL_OPEN", "true")];
        let (state, _) = start(&db, &open).await;
        let held = lock(&db);
        assert_eq!(
            status_code(&state, "alice", put("uploads/alice/a", 1))
                .await
                .0,
            200
        );
        // Nothing is granted by a usage answer: it still fails.
        let (status, _, _) = ask_as(&state, "alice", &json!({"usage": true})).await;
        assert_eq!(status, 503);
        drop(held);
    }
}
