//! record-upload's two entries: [`handle`] for HTTP (OSS callbacks; Function Compute's event
//! invocations in `RECORD_UPLOAD_MODE=oss-events`) and [`on_event`] for Lambda events (S3).
//!
//! A callback goes through the cheap checks first, then the ones that cost a fetch: method
//! and size, the signature headers, the key URL (allowed before any fetch), the tagged body,
//! presign-url's key rules and the uploader, then OSS's signature (its key fetched only now),
//! the store's word on the object (a signed `HEAD`), the webhook, and the answer OSS relays
//! to the uploader.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};
use stsvend::{Clock, Error, HttpSender, Provider, sign::aliyun::callback as oss_callback};
use stsvend_host::{
    EventAnswer,
    config::{CallbackSettings, Config, OnViolation},
    log::escaped,
    response::{self, ApiError},
};
use tracing::{info, warn};

use crate::callback;
use crate::enforce::{self, Action, Enforcer, ProfileRejection, Verdict};
use crate::events::{OssEvents, S3Event, Uploads};
use crate::keys::{self, CallbackKeys};
use crate::quota::Counter;
use crate::record::{Judged, Record, Upload};
use crate::rules::ProfileRules;
use crate::settings::{RecordMode, RecordSettings};
use crate::store::{self, ObjectFacts, Seen, Store};
use crate::webhook::{self, Webhook};

/// The largest callback or event body read, in bytes (OSS caps a callback template at 5 KB).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a callback's outbound calls (a key fetch, the store's `HEAD`, the webhook) may
/// take together: OSS waits 5 s for the answer, and a record delivered after it gave up would
/// be one the uploader was told had failed.
pub(crate) const CALLBACK_BUDGET: Duration = Duration::from_millis(4500);

/// What is left of `cap` before `deadline`.
fn within(deadline: tokio::time::Instant, cap: Duration) -> Duration {
    cap.min(deadline.saturating_duration_since(tokio::time::Instant::now()))
}

/// What every request needs, built once per cold start.
pub struct AppState {
    config: Config,
    settings: RecordSettings,
    clock: Arc<dyn Clock>,
    keys: CallbackKeys,
    store: Store,
    webhook: Option<Webhook>,
    /// Every profile's rules, with `PROFILES_FILE`; `None`: nothing is checked.
    enforcer: Option<Enforcer>,
    /// The quota store, when a profile has a quota: every upload settled, every deletion
    /// given back.
    counter: Option<Counter>,
}

impl AppState {
    /// Reads record-upload's own settings; the sender fetches callback keys, asks the store
    /// and delivers webhooks.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn HttpSender>,
    ) -> Result<Self, Error> {
        let settings = RecordSettings::load(&config)?;
        let oss_callbacks =
            config.provider == Provider::Aliyun && settings.mode == RecordMode::Callbacks;
        if settings.callback.is_none() && oss_callbacks {
            warn!(
                "UPLOAD_CALLBACK_URL and UPLOAD_CALLBACK_SECRET are unset: every OSS callback is refused (403); bucket events are still recorded"
            );
        }
        let keys = CallbackKeys::new(settings.pinned_key.clone(), Arc::clone(&sender)).map_err(
            |reason| Error::Config {
                variable: "OSS_CALLBACK_PUBLIC_KEY_FILE",
                reason,
            },
        )?;
        let store = Store::new(&config, Arc::clone(&sender));
        let webhook = settings
            .webhook
            .clone()
            .map(|webhook| Webhook::new(webhook, sender));
        let enforcer = Enforcer::new(&config.profiles, &settings.profile_defaults);
        let counter = Counter::new(&config)?;
        Ok(Self {
            config,
            settings,
            clock,
            keys,
            store,
            webhook,
            enforcer,
            counter,
        })
    }
}

/// Answers one HTTP request. Never fails: every refusal is an answer in the documented shape.
pub async fn handle(state: Arc<AppState>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = match state.settings.mode {
        RecordMode::Callbacks => oss_callback(&state, &request).await,
        RecordMode::OssEvents => fc_event(&state, &request).await,
        RecordMode::Reconcile => fc_reconcile(&state, &request).await,
    };
    response::finish(outcome, started, "recorded")
}

/// Records what a Lambda event reports. S3's test message is acknowledged; an event that is
/// not an S3 notification, a key that cannot be decoded, or a failed delivery fails the
/// invocation, so that Lambda delivers it again.
pub fn on_event(state: Arc<AppState>, event: Value) -> EventAnswer {
    Box::pin(async move {
        if state.settings.mode == RecordMode::Reconcile {
            // Only the platform writes a top-level event: here, the daily schedule.
            return reconciled(&state)
                .await
                .map(|done| json!({ "reconciled": done }));
        }
        let Some(s3) = S3Event::parse(&event) else {
            return Err(
                "record-upload takes S3 event notifications and HTTP requests only".to_owned(),
            );
        };
        if s3.is_test() {
            info!("s3:TestEvent acknowledged");
            return Ok(json!({"recorded": 0, "rejected": 0}));
        }
        let told = record_all(&state, s3.uploads()?).await?;
        Ok(json!({ "recorded": told.recorded, "rejected": told.rejected }))
    })
}

/// How many uploads of an event were recorded, and how many were rejected (told to the app
/// as `upload.rejected`).
#[derive(Debug, Default)]
struct Told {
    recorded: usize,
    rejected: usize,
}

impl Told {
    fn add(&mut self, other: Told) {
        self.recorded += other.recorded;
        self.rejected += other.rejected;
    }
}

/// An upload under no profile's prefix, as a record naming nobody (for `NoProfile`).
fn unattributed(upload: Upload) -> Record {
    Record {
        etag: crate::record::normalized_etag(&upload.etag),
        bucket: upload.bucket,
        key: upload.key,
        size: upload.size,
        content_type: upload.content_type,
        uploader: BTreeMap::new(),
        source: upload.source,
        time: upload.time,
        image: upload.image,
        profile: None,
    }
}

/// One upload of a bucket event, in a `PROFILES_FILE` deployment: the store's facts on the
/// object the event reported (same ETag), checked against the profile whose prefix holds the
/// key, then recorded, or reported and (`on_violation = "delete"`) deleted. The app is told
/// before the object is deleted, so that a delivery that fails leaves the object for the
/// event's retry to find (one `webhook-id`: the app de-duplicates). An object that changed or
/// went since the event is not checked here: its newer state has its own event. A store that
/// cannot be asked fails the invocation, so that the platform delivers the event again.
async fn checked_event(
    state: &AppState,
    enforcer: &Enforcer,
    mut record: Record,
    now: SystemTime,
) -> Result<Told, String> {
    let facts = match state
        .store
        .head(&record.key, now, store::HEAD_DEADLINE)
        .await?
    {
        Seen::Object(facts) if facts.etag == record.etag => facts,
        _ => {
            info!(
                key = %escaped(&record.key),
                "the object changed or went after the event; its current state, if any, is checked by its own event"
            );
            return Ok(Told::default());
        }
    };
    record.size = facts.size;
    record.content_type.clone_from(&facts.content_type);
    let Some(rules) = enforcer.holding(&record.key) else {
        record.uploader.clear();
        let rejection =
            ProfileRejection::new(&record, None, enforce::no_profile(), None, Action::Reported);
        tell_rejected(state, &record.key, &rejection, now, webhook::DEADLINE).await?;
        return Ok(Told {
            recorded: 0,
            rejected: 1,
        });
    };
    let within = store::HEAD_DEADLINE;
    let verdict = enforce::judge(&state.store, rules, &record, facts, now, within).await?;
    match counted(state, &record, verdict, now).await? {
        Verdict::Changed => Ok(Told::default()),
        Verdict::Good => {
            record.profile = Some(rules.name.clone());
            record.log();
            if let Some(webhook) = &state.webhook {
                webhook.deliver(&record, now, webhook::DEADLINE).await?;
            }
            Ok(Told {
                recorded: 1,
                rejected: 0,
            })
        }
        Verdict::Broke(violation, found) => {
            reject(state, rules, &record, violation, found, now, None).await?;
            Ok(Told {
                recorded: 0,
                rejected: 1,
            })
        }
    }
}

/// An upload that broke `rules`: the app told (`upload.rejected`), then the object deleted
/// when the profile says so; the rejection as told. `deadline` bounds a callback's calls.
async fn reject(
    state: &AppState,
    rules: &ProfileRules,
    record: &Record,
    violation: crate::rules::Violation,
    found: Option<&'static str>,
    now: SystemTime,
    deadline: Option<tokio::time::Instant>,
) -> Result<ProfileRejection, String> {
    let action = match rules.on_violation {
        OnViolation::Delete => Action::Deleted,
        OnViolation::Report => Action::Reported,
    };
    let rejection = ProfileRejection::new(record, Some(&rules.name), violation, found, action);
    let left = |cap| deadline.map_or(cap, |d| within(d, cap));
    tell_rejected(state, &record.key, &rejection, now, left(webhook::DEADLINE)).await?;
    let done = enforce::act(
        &state.store,
        rules.on_violation,
        &record.key,
        &record.etag,
        now,
        left(store::HEAD_DEADLINE),
    )
    .await?;
    if let Some(counter) = &state.counter {
        // What the store still holds counts; what was deleted gives its bytes back.
        match (done, rules.on_violation) {
            (Action::Deleted, _) => counter.remove(&record.key, now).await?,
            (Action::Reported, OnViolation::Report) => {
                counter
                    .settle(&record.key, record.size, &record.etag, now)
                    .await?;
            }
            // The delete was refused because the key holds another object since: the
            // record's facts are stale, the store's current ones count.
            (Action::Reported, OnViolation::Delete) => {
                count_as_stored(state, counter, &record.key, now).await?;
            }
        }
    }
    Ok(rejection)
}

/// A verdict with the quota counted: a good upload settled into its subject's account, and
/// broken (`QuotaExceeded`) when that took the subject past the quota. Other verdicts are
/// counted where the object's fate is decided ([`reject`]).
async fn counted(
    state: &AppState,
    record: &Record,
    verdict: Verdict,
    now: SystemTime,
) -> Result<Verdict, String> {
    let (Verdict::Good, Some(counter)) = (&verdict, &state.counter) else {
        return Ok(verdict);
    };
    match counter
        .settle(&record.key, record.size, &record.etag, now)
        .await?
    {
        Some(violation) => Ok(Verdict::Broke(violation, None)),
        None => Ok(verdict),
    }
}

/// Settles an upload recorded without profile rules (no `PROFILES_FILE`): it counts, and one
/// that takes its subject past the quota is logged (the variables' profile has no
/// `on_violation`).
async fn settle_unchecked(
    state: &AppState,
    record: &Record,
    now: SystemTime,
) -> Result<(), String> {
    if let Some(counter) = &state.counter {
        counter
            .settle(&record.key, record.size, &record.etag, now)
            .await?;
    }
    Ok(())
}

/// Counts `key` as the store holds it now (its `HEAD`), whatever an event said: the object's
/// current size and ETag settled, or its bytes given back when the store holds none. Events
/// arrive late and out of order (an older upload's event after a newer one's, a deletion's
/// after the key was written again), so an event's own facts are never settled unless they
/// are still the object's. `Err` when the bucket or the quota store cannot answer (the
/// invocation fails and the event is delivered again; counting twice changes nothing).
async fn count_as_stored(
    state: &AppState,
    counter: &Counter,
    key: &str,
    now: SystemTime,
) -> Result<(), String> {
    match state.store.head(key, now, store::HEAD_DEADLINE).await? {
        Seen::Object(facts) => {
            counter.settle(key, facts.size, &facts.etag, now).await?;
            info!(key = %escaped(key), "counted as the store holds it now");
        }
        Seen::Missing => {
            counter.remove(key, now).await?;
            info!(key = %escaped(key), "the store holds no object: its bytes given back to its quota");
        }
    }
    Ok(())
}

/// Gives the bytes of each deleted object of an event back to its quota, once the store's
/// `HEAD` says the key holds nothing: a deletion's event that arrives after the key was
/// written again settles the object the store holds instead. `Err` when the store cannot
/// answer (the event is delivered again; removing twice changes nothing).
async fn remove_all(state: &AppState, removals: &[(String, String)]) -> Result<(), String> {
    let Some(counter) = &state.counter else {
        return Ok(());
    };
    let now = state.clock.now();
    for (bucket, key) in removals {
        if *bucket != state.config.scope.bucket {
            continue;
        }
        count_as_stored(state, counter, key, now).await?;
    }
    Ok(())
}

/// A key presign-url would never sign (`uploads/alice/./a`, `a//b`, a hidden character, past
/// 1,023 bytes) that issue-token's credentials could still write under a subject's prefix:
/// it is nobody's as a record, but its bytes are the subject's, so it counts toward their
/// quota as the store holds it, and is deleted (its bytes given back) when the profile's
/// `on_violation` is `delete`. Otherwise a key the rules refuse would store bytes no quota
/// counts.
async fn count_unsigned(state: &AppState, key: &str, now: SystemTime) -> Result<(), String> {
    let Some(counter) = &state.counter else {
        return Ok(());
    };
    if counter.owner(key).is_none() {
        return Ok(());
    }
    // A `.` or `..` segment is rewritten by HTTP clients, so the store cannot always be asked
    // about such a key: the event is not failed for it (it would come back for ever), and
    // reconcile, which lists the bucket, counts it.
    let seen = match state.store.head(key, now, store::HEAD_DEADLINE).await {
        Ok(seen) => seen,
        Err(reason) => {
            warn!(key = %escaped(key), reason = %reason, "a key presign-url would never sign could not be asked about; reconcile counts it");
            return Ok(());
        }
    };
    let Seen::Object(facts) = seen else {
        return counter.remove(key, now).await;
    };
    let deletes = state
        .enforcer
        .as_ref()
        .and_then(|enforcer| enforcer.holding(key))
        .is_some_and(|rules| rules.on_violation == OnViolation::Delete);
    if deletes {
        let done = enforce::act(
            &state.store,
            OnViolation::Delete,
            key,
            &facts.etag,
            now,
            store::HEAD_DEADLINE,
        )
        .await;
        match done {
            Ok(Action::Deleted) => {
                info!(key = %escaped(key), "a key presign-url would never sign: deleted");
                return counter.remove(key, now).await;
            }
            // The key holds another object since: count what it holds now.
            Ok(Action::Reported) => return count_as_stored(state, counter, key, now).await,
            Err(reason) => {
                warn!(key = %escaped(key), reason = %reason, "a key presign-url would never sign could not be deleted; counted");
            }
        }
    }
    counter
        .settle(key, facts.size, &facts.etag, now)
        .await
        .map(|_| ())
}

/// Logs `rejection` and delivers it when there is a webhook.
async fn tell_rejected(
    state: &AppState,
    key: &str,
    rejection: &ProfileRejection,
    now: SystemTime,
    within: Duration,
) -> Result<(), String> {
    rejection.log(key);
    match &state.webhook {
        Some(webhook) => webhook.reject_profile(rejection, now, within).await,
        None => Ok(()),
    }
}

/// Judges, logs and delivers each upload of a bucket event; what was told, or the first
/// delivery failure.
async fn record_all(state: &AppState, uploads: Uploads) -> Result<Told, String> {
    let now = state.clock.now();
    remove_all(state, &uploads.removals).await?;
    let mut told = Told::default();
    for upload in uploads.uploads {
        if upload.bucket != state.config.scope.bucket {
            warn!(bucket = %escaped(&upload.bucket), key = %escaped(&upload.key), "event for another bucket: not recorded");
            continue;
        }
        let prefix = state.config.profiles.prefix_holding(&upload.key);
        let nobody = state.enforcer.as_ref().map(|_| upload.clone());
        let key = upload.key.clone();
        match upload.judge(prefix.unwrap_or(&state.config.scope.object_prefix)) {
            Judged::Unattributed => {
                if let (Some(enforcer), Some(upload)) = (&state.enforcer, nobody) {
                    let record = unattributed(upload);
                    told.add(checked_event(state, enforcer, record, now).await?);
                }
            }
            Judged::Attributed(record) if state.enforcer.is_some() => {
                let enforcer = state.enforcer.as_ref().expect("checked");
                told.add(checked_event(state, enforcer, record, now).await?);
            }
            Judged::Rejected(rejection) => {
                if let Some(webhook) = &state.webhook {
                    webhook.reject(&rejection, now).await?;
                }
                count_unsigned(state, &key, now).await?;
                told.rejected += 1;
            }
            Judged::Attributed(mut record) => {
                let seen = with_store_type(state, &mut record, now).await;
                settle_event(state, &record, seen, now).await?;
                record.log();
                if let Some(webhook) = &state.webhook {
                    webhook.deliver(&record, now, webhook::DEADLINE).await?;
                }
                told.recorded += 1;
            }
        }
    }
    Ok(told)
}

/// Settles an event's upload recorded without profile rules (no `PROFILES_FILE`) from what
/// the store's `HEAD` said (`seen`), never from the event: the event's facts only when they
/// are still the object's (same ETag), else the object the key holds now, or its bytes given
/// back when the key holds none (a late event of an older, smaller upload must not overwrite
/// the newer one's count). `Err` when the store could not be asked and there is a quota (the
/// invocation fails, so that the event is delivered again).
async fn settle_event(
    state: &AppState,
    record: &Record,
    seen: Result<Seen, String>,
    now: SystemTime,
) -> Result<(), String> {
    let Some(counter) = &state.counter else {
        return Ok(());
    };
    match seen? {
        Seen::Object(facts) => {
            counter
                .settle(&record.key, facts.size, &facts.etag, now)
                .await?;
        }
        Seen::Missing => counter.remove(&record.key, now).await?,
    }
    Ok(())
}

/// An event gives the store's size and ETag but not the object's type: the store's `HEAD`
/// adds it (and its size) when the object it describes is still the one the event reported
/// (same ETag). When the object has changed or gone since, or the store cannot be asked, the
/// record keeps the event's facts and has no `contentType`: an event is never lost for want
/// of a type. What the `HEAD` said is returned for the quota ([`settle_event`]).
async fn with_store_type(
    state: &AppState,
    record: &mut Record,
    now: SystemTime,
) -> Result<Seen, String> {
    let seen = state
        .store
        .head(&record.key, now, store::HEAD_DEADLINE)
        .await;
    match &seen {
        Ok(Seen::Object(facts)) if facts.etag == record.etag => {
            record.size = facts.size;
            record.content_type.clone_from(&facts.content_type);
        }
        Ok(_) => info!(
            key = %escaped(&record.key),
            "the object changed or went after the event; recorded with the event's facts, no type"
        ),
        Err(reason) => warn!(
            key = %escaped(&record.key),
            reason = %reason,
            "the store could not be asked for the object's type; recorded with the event's facts"
        ),
    }
    seen
}

/// A Function Compute event invocation (`x-fc-control-path: /invoke`) with an OSS trigger's
/// events. Anything else is refused: in this mode nothing is read as a callback.
async fn fc_event(
    state: &AppState,
    request: &Request,
) -> Result<(Response<Body>, String), ApiError> {
    let control_path = header(request.headers(), "x-fc-control-path");
    if request.method() != Method::POST || control_path != Some("/invoke") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NotAnEvent",
            "this function takes Function Compute event invocations only (RECORD_UPLOAD_MODE=oss-events)",
        ));
    }
    let body = checked_body(request)?;
    let events = OssEvents::parse(body).map_err(|e| ApiError::bad_request("InvalidEvent", e))?;
    let told = record_all(state, events.uploads())
        .await
        .map_err(|cause| ApiError {
            cause: Some(cause),
            ..ApiError::new(
                StatusCode::BAD_GATEWAY,
                "WebhookFailed",
                "the webhook did not take the record",
            )
        })?;
    let answer = response::json(
        StatusCode::OK,
        &json!({"StatusCode": 200, "Recorded": told.recorded, "Rejected": told.rejected}),
    );
    Ok((answer, "oss-events".to_owned()))
}

/// Runs reconcile (`RECORD_UPLOAD_MODE=reconcile`, which needs a quota: checked at cold
/// start).
async fn reconciled(state: &AppState) -> Result<crate::reconcile::Reconciled, String> {
    let counter = state
        .counter
        .as_ref()
        .ok_or("reconcile needs a profile with a quota")?;
    crate::reconcile::run(&state.store, counter, state.clock.now()).await
}

/// A Function Compute timer's invocation (`x-fc-control-path: /invoke`, under Function
/// Compute only) in `RECORD_UPLOAD_MODE=reconcile`: anything else is refused, so that no
/// HTTP caller can start a listing of the bucket.
async fn fc_reconcile(
    state: &AppState,
    request: &Request,
) -> Result<(Response<Body>, String), ApiError> {
    let control_path = header(request.headers(), "x-fc-control-path");
    let invoked = request.method() == Method::POST && control_path == Some("/invoke");
    if !invoked || !state.config.function_compute() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NotAnEvent",
            "this function takes its schedule's invocations only (RECORD_UPLOAD_MODE=reconcile)",
        ));
    }
    let done = reconciled(state).await.map_err(|cause| ApiError {
        cause: Some(cause),
        ..ApiError::new(
            StatusCode::BAD_GATEWAY,
            "ReconcileFailed",
            "the bucket or the quota store could not be asked; the next run tries again",
        )
    })?;
    let answer = response::json(
        StatusCode::OK,
        &json!({"StatusCode": 200, "Reconciled": done}),
    );
    Ok((answer, "reconcile".to_owned()))
}

/// The body, within [`MAX_BODY_BYTES`].
fn checked_body(request: &Request) -> Result<&[u8], ApiError> {
    let body = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLarge",
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The answer OSS relays to the uploader as the upload's response.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CallbackAnswer<'a> {
    status_code: u16,
    bucket: &'a str,
    key: &'a str,
    size: u64,
    #[serde(rename = "ETag")]
    etag: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    uploader: &'a BTreeMap<String, String>,
    /// The profile whose rules the upload holds to (`PROFILES_FILE` deployments).
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<Value>,
}

/// One OSS upload callback.
async fn oss_callback(
    state: &AppState,
    request: &Request,
) -> Result<(Response<Body>, String), ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError {
            allow: "POST",
            ..ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "OSS posts its callbacks; nothing else is served here",
            )
        });
    }
    let body = checked_body(request)?;
    let settings = state.settings.callback.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "CallbacksNotConfigured",
            "this deployment has no UPLOAD_CALLBACK_SECRET, so no callback can be trusted",
        )
    })?;
    let signature = signature_headers(request)?;
    let deadline = tokio::time::Instant::now() + CALLBACK_BUDGET;
    let now = state.clock.now();
    let upload = callback::read(body, settings, &state.config.scope.bucket, now)?;
    let claimed = ObjectFacts {
        size: upload.size,
        etag: crate::record::normalized_etag(&upload.etag),
        content_type: upload.content_type.clone(),
        metadata: BTreeMap::new(),
    };
    let prefix = state.config.profiles.prefix_holding(&upload.key);
    let mut record = match upload.judge(prefix.unwrap_or(&state.config.scope.object_prefix)) {
        Judged::Attributed(record) => record,
        Judged::Rejected(rejection) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "InvalidKey",
                format!(
                    "the key is one presign-url never signs: {}; it is not recorded",
                    rejection.detail
                ),
            ));
        }
        Judged::Unattributed => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "KeyOutsidePrefixes",
                "the object lies under no caller's prefix; it is not recorded",
            ));
        }
    };
    verify_signature(state, signature, body, settings, deadline).await?;
    let facts = confirmed(state, &record.key, &claimed, now, deadline).await?;
    record.size = facts.size;
    record.etag.clone_from(&facts.etag);
    record.content_type.clone_from(&facts.content_type);
    record.profile = callback_profile(state, &record, facts, now, deadline).await?;
    record.log();
    let app = deliver(state, &record, now, within(deadline, webhook::DEADLINE)).await?;
    let answer = CallbackAnswer {
        status_code: 200,
        bucket: &record.bucket,
        key: &record.key,
        size: record.size,
        etag: &record.etag,
        content_type: record.content_type.as_deref(),
        uploader: &record.uploader,
        profile: record.profile.as_deref(),
        app,
    };
    let who = record.uploader.get("sub").cloned().unwrap_or_default();
    Ok((response::json(StatusCode::OK, &answer), who))
}

/// A callback's upload, its facts the store's: checked against its profile with
/// `PROFILES_FILE` ([`checked_callback`]), else settled into its quota as it is (503
/// `QuotaStoreUnavailable` when the quota store cannot answer: OSS tells the uploader the
/// callback failed, and the object's bucket event or reconcile counts it).
async fn callback_profile(
    state: &AppState,
    record: &Record,
    facts: ObjectFacts,
    now: SystemTime,
    deadline: tokio::time::Instant,
) -> Result<Option<String>, ApiError> {
    if let Some(enforcer) = &state.enforcer {
        let profile = checked_callback(state, enforcer, record, facts, now, deadline).await?;
        return Ok(Some(profile));
    }
    settle_unchecked(state, record, now)
        .await
        .map_err(stsvend_host::quota::unavailable)?;
    Ok(None)
}

/// A callback's upload in a `PROFILES_FILE` deployment, its facts the store's: the name of
/// the profile whose rules it holds to, or the answer OSS relays to the uploader (as
/// `CallbackFailed`, HTTP 203, with the answer's first line): 422
/// `UploadRejected.<reason>` once the app was told and the object deleted or left as the
/// profile says; 409 `CallbackMismatch` when the object changed while it was checked.
async fn checked_callback(
    state: &AppState,
    enforcer: &Enforcer,
    record: &Record,
    facts: ObjectFacts,
    now: SystemTime,
    deadline: tokio::time::Instant,
) -> Result<String, ApiError> {
    let failed = |cause: String| ApiError {
        cause: Some(cause),
        ..ApiError::new(
            StatusCode::BAD_GATEWAY,
            "ObjectCheckFailed",
            "the upload could not be checked against its profile; it is not recorded now",
        )
    };
    let Some(rules) = enforcer.holding(&record.key) else {
        // A tag is only made under a profile's prefix: only a file changed since can say so.
        let rejection =
            ProfileRejection::new(record, None, enforce::no_profile(), None, Action::Reported);
        tell_rejected(
            state,
            &record.key,
            &rejection,
            now,
            within(deadline, webhook::DEADLINE),
        )
        .await
        .map_err(failed)?;
        return Err(rejected_answer(&rejection));
    };
    let limit = within(deadline, store::HEAD_DEADLINE);
    let verdict = enforce::judge(&state.store, rules, record, facts, now, limit)
        .await
        .map_err(failed)?;
    match counted(state, record, verdict, now).await.map_err(failed)? {
        Verdict::Good => Ok(rules.name.clone()),
        Verdict::Changed => Err(ApiError::new(
            StatusCode::CONFLICT,
            "CallbackMismatch",
            "the object changed while it was checked; nothing is recorded",
        )),
        Verdict::Broke(violation, found) => {
            let rejection = reject(state, rules, record, violation, found, now, Some(deadline))
                .await
                .map_err(failed)?;
            Err(rejected_answer(&rejection))
        }
    }
}

/// The answer for a rejected upload: 422, `UploadRejected.<reason>` (first on the line OSS
/// quotes to the uploader), and what was done, in words.
fn rejected_answer(rejection: &ProfileRejection) -> ApiError {
    let done = match rejection.action {
        Action::Deleted => "it was deleted",
        Action::Reported => "it was kept and reported",
    };
    let profile = rejection.profile.as_deref().unwrap_or("none");
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        rejection.reason.code(),
        format!(
            "the upload breaks profile {profile}'s rules: {}; {done}",
            rejection.detail
        ),
    )
}

/// The store's facts on `key`, when they are what the callback claims: 404 `ObjectNotFound`
/// when the store holds no such object (a tag alone mints no record), 409 `CallbackMismatch`
/// when its size, ETag or type differ, 502 `ObjectCheckFailed` when the store cannot be asked
/// (OSS then answers the uploader `CallbackFailed`; the object stays, and its bucket event
/// records it).
async fn confirmed(
    state: &AppState,
    key: &str,
    claimed: &ObjectFacts,
    now: SystemTime,
    deadline: tokio::time::Instant,
) -> Result<ObjectFacts, ApiError> {
    let limit = within(deadline, store::HEAD_DEADLINE);
    let seen = state
        .store
        .head(key, now, limit)
        .await
        .map_err(|cause| ApiError {
            cause: Some(cause),
            ..ApiError::new(
                StatusCode::BAD_GATEWAY,
                "ObjectCheckFailed",
                "the store could not be asked about the object; it is not recorded now",
            )
        })?;
    let facts = match seen {
        Seen::Object(facts) => facts,
        Seen::Missing => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "ObjectNotFound",
                "the store holds no such object; nothing is recorded",
            ));
        }
    };
    let type_differs = match (&claimed.content_type, &facts.content_type) {
        (Some(claimed), Some(stored)) => !claimed.trim().eq_ignore_ascii_case(stored),
        (Some(_), None) => true,
        (None, _) => false,
    };
    let disagrees = [
        (claimed.size != facts.size, "size"),
        (claimed.etag != facts.etag, "ETag"),
        (type_differs, "content type"),
    ];
    let differing: Vec<&str> = disagrees
        .iter()
        .filter(|(differs, _)| *differs)
        .map(|(_, what)| *what)
        .collect();
    if !differing.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "CallbackMismatch",
            format!(
                "the callback's {} is not the stored object's; nothing is recorded",
                differing.join(", ")
            ),
        ));
    }
    Ok(facts)
}

/// OSS's signature headers: `authorization`, and `x-oss-pub-key-url` allowed before anything
/// is fetched.
struct SignatureHeaders<'a> {
    authorization: &'a str,
    key_url: String,
}

fn signature_headers(request: &Request) -> Result<SignatureHeaders<'_>, ApiError> {
    let refused = |code: &'static str, e: oss_callback::CallbackError| {
        ApiError::new(StatusCode::FORBIDDEN, code, e.to_string())
    };
    let missing = |name| {
        refused(
            "MissingSignature",
            oss_callback::CallbackError::MissingHeader(name),
        )
    };
    let headers = request.headers();
    let authorization = header(headers, "authorization").ok_or_else(|| missing("authorization"))?;
    let key_url =
        header(headers, "x-oss-pub-key-url").ok_or_else(|| missing("x-oss-pub-key-url"))?;
    let key_url =
        oss_callback::public_key_url(key_url).map_err(|e| refused("KeyUrlNotAllowed", e))?;
    Ok(SignatureHeaders {
        authorization,
        key_url,
    })
}

/// OSS's RSA signature over the path OSS called (`UPLOAD_CALLBACK_URL`'s, since a gateway may
/// rewrite the path the function sees), its query and the body, with the key the header names.
async fn verify_signature(
    state: &AppState,
    signature: SignatureHeaders<'_>,
    body: &[u8],
    settings: &CallbackSettings,
    deadline: tokio::time::Instant,
) -> Result<(), ApiError> {
    let refused = |e: oss_callback::CallbackError| {
        ApiError::new(StatusCode::FORBIDDEN, "BadSignature", e.to_string())
    };
    let key = state
        .keys
        .key_for(&signature.key_url, within(deadline, keys::FETCH_DEADLINE))
        .await?;
    let (path, query) = settings.signed_path_and_query();
    let string_to_sign = oss_callback::string_to_sign(path, query, body).map_err(refused)?;
    key.verify(signature.authorization, &string_to_sign)
        .map_err(refused)
}

/// The webhook's answer (its JSON object, if any); a failed delivery is a 502, which OSS
/// turns into `CallbackFailed` for the uploader (the object stays; the bucket event
/// reconciles).
async fn deliver(
    state: &AppState,
    record: &Record,
    now: SystemTime,
    within: Duration,
) -> Result<Option<Value>, ApiError> {
    let Some(webhook) = &state.webhook else {
        return Ok(None);
    };
    webhook
        .deliver(record, now, within)
        .await
        .map_err(|cause| ApiError {
            cause: Some(cause),
            ..ApiError::new(
                StatusCode::BAD_GATEWAY,
                "WebhookFailed",
                "the app's webhook did not take the record",
            )
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
    use hmac::Mac as _;
    use lambda_http::http;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use serde_json::json;
    use stsvend::{BoxFuture, FixedClock, HttpReply, SignedRequest};

    use super::*;

    /// 2026-11-22T08:53:10Z.
    const NOW: u64 = 1_795_337_590;
    const SECRET: &str = "callback-secret-0123456789abcdef-xyz";
    const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const CALLBACK_PATH: &str = "/oss-callback";

    /// One RSA-512 key for the whole test binary, as OSS's own is 512 bits.
    fn oss_key() -> &'static (rsa::RsaPrivateKey, String) {
        static KEY: std::sync::OnceLock<(rsa::RsaPrivateKey, String)> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 512).expect("key");
            let pem = private
                .to_public_key()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .expect("pem");
            let path =
                std::env::temp_dir().join(format!("record-upload-key-{}.pem", std::process::id()));
            std::fs::write(&path, pem).expect("write key");
            (private, path.display().to_string())
        })
    }

    fn state(extra: &[(&'static str, &str)], sender: Arc<Upstreams>) -> Arc<AppState> {
        let mut vars: HashMap<&str, String> = HashMap::from([
            (
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "LTAI-test-record-key".to_owned(),
            ),
            (
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "record-secret".to_owned(),
            ),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "cn-hangzhou".to_owned()),
            (
                "UPLOAD_CALLBACK_URL",
                format!("https://api.example.com{CALLBACK_PATH}?v=1"),
            ),
            ("UPLOAD_CALLBACK_SECRET", SECRET.to_owned()),
            (
                "UPLOAD_WEBHOOK_URL",
                "https://app.example.com/hooks".to_owned(),
            ),
            ("UPLOAD_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
            ("OSS_CALLBACK_PUBLIC_KEY_FILE", oss_key().1.clone()),
        ]);
        for (k, v) in extra {
            if v.is_empty() {
                vars.remove(k);
            } else {
                vars.insert(k, (*v).to_owned());
            }
        }
        let config = Config::load(&|k| vars.get(k).cloned()).expect("config");
        let clock = Arc::new(FixedClock::at_unix(NOW));
        Arc::new(AppState::new(config, clock, sender).expect("state"))
    }

    /// The object the default callback body describes, as the store answers `HEAD` for it.
    const STORED: (u64, &str, &str) = (1024, "\"9B2CF535F27731C974343645A3985328\"", "image/png");

    /// The store (every `HEAD` answered with one object, or 404) and the app's webhook (every
    /// `POST` answered with one status and body), keeping every request.
    struct Upstreams {
        object: Option<(u64, &'static str, &'static str)>,
        hook: (u16, String),
        sent: std::sync::Mutex<Vec<SignedRequest>>,
    }

    impl Upstreams {
        fn answering(status: u16, body: &str) -> Arc<Self> {
            Self::holding(Some(STORED), status, body)
        }

        fn holding(
            object: Option<(u64, &'static str, &'static str)>,
            status: u16,
            body: &str,
        ) -> Arc<Self> {
            Arc::new(Self {
                object,
                hook: (status, body.to_owned()),
                sent: std::sync::Mutex::default(),
            })
        }

        /// Every request sent, `HEAD`s and key fetches included.
        fn all(&self) -> Vec<SignedRequest> {
            self.sent.lock().expect("lock").clone()
        }

        /// The webhook deliveries.
        fn sent(&self) -> Vec<SignedRequest> {
            self.all()
                .into_iter()
                .filter(|r| r.method == Method::POST)
                .collect()
        }
    }

    impl HttpSender for Upstreams {
        fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
            let head = request.method == Method::HEAD;
            self.sent.lock().expect("lock").push(request);
            let reply = match (head, self.object) {
                (true, Some((size, etag, content_type))) => {
                    let mut headers = HeaderMap::new();
                    headers.insert("content-length", size.into());
                    headers.insert("etag", etag.parse().expect("etag"));
                    headers.insert("content-type", content_type.parse().expect("type"));
                    HttpReply {
                        status: 200,
                        body: Vec::new(),
                        retry_after: None,
                        headers,
                    }
                }
                (true, None) => HttpReply {
                    status: 404,
                    body: Vec::new(),
                    retry_after: None,
                    headers: HeaderMap::new(),
                },
                (false, _) => HttpReply {
                    status: self.hook.0,
                    body: self.hook.1.clone().into_bytes(),
                    retry_after: None,
                    headers: HeaderMap::new(),
                },
            };
            Box::pin(async move { Ok(reply) })
        }
    }

    /// The tag, computed here from its documented format, not by the code under test.
    fn tag(scope: &str, value: &str, expires: u64) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("mac");
        mac.update(
            format!("stsvend-callback-v1\nexamplebucket\n{scope}\n{value}\n{expires}").as_bytes(),
        );
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A callback body as OSS fills the pinned template.
    fn body(object: &str, scope: &str, value: &str, expires: u64, tag: &str) -> String {
        serde_json::json!({
            "bucket": "examplebucket", "object": object, "etag": "\"9B2CF535F27731C974343645A3985328\"",
            "size": 1024, "mimeType": "image/png", "height": 300, "width": 400, "format": "png",
            "crc64": "123456",
            "stsvend": {"scope": scope, "value": URL_SAFE_NO_PAD.encode(value), "expires": expires, "tag": tag}
        })
        .to_string()
    }

    fn tagged(object: &str) -> String {
        let expires = NOW + 900;
        body(object, "key", object, expires, &tag("key", object, expires))
    }

    /// The request OSS makes: signed over `path?query\nbody` with the test key.
    fn signed_callback(body: &str, signed_path: &str) -> Request {
        let string_to_sign = format!("{signed_path}\n{body}");
        let signer = rsa::pkcs1v15::SigningKey::<md5::Md5>::new(oss_key().0.clone());
        let signature = signer.sign(string_to_sign.as_bytes()).to_bytes();
        http::Request::builder()
            .method("POST")
            .uri(format!("https://api.example.com{CALLBACK_PATH}?v=1"))
            .header("authorization", BASE64.encode(signature))
            .header(
                "x-oss-pub-key-url",
                BASE64.encode("https://gosspublic.alicdn.com/callback_pub_key_v1.pem"),
            )
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request")
    }

    async fn answer(state: &Arc<AppState>, request: Request) -> (u16, Value) {
        let response = handle(Arc::clone(state), request).await;
        let status = response.status().as_u16();
        let body = serde_json::from_slice(response.body().as_ref()).expect("json answer");
        (status, body)
    }

    #[tokio::test]
    async fn a_tagged_callback_is_recorded_delivered_and_answered_for_oss_to_relay() {
        let receiver = Upstreams::answering(200, r#"{"fileId":"f-1"}"#);
        let state = state(&[], Arc::clone(&receiver));
        let key = "uploads/alice/holiday photo+1.png";
        let (status, body) =
            answer(&state, signed_callback(&tagged(key), "/oss-callback?v=1")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            serde_json::json!({
                "StatusCode": 200, "Bucket": "examplebucket", "Key": key, "Size": 1024,
                "ETag": "9b2cf535f27731c974343645a3985328", "ContentType": "image/png",
                "Uploader": {"sub": "alice"}, "App": {"fileId": "f-1"}
            })
        );
        let sent = receiver.sent();
        assert_eq!(sent.len(), 1);
        let delivery = &sent[0];
        assert_eq!(delivery.url, "https://app.example.com/hooks");
        let header = |name: &str| {
            delivery
                .headers
                .iter()
                .find(|(n, _)| n.as_str() == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(header("webhook-timestamp"), NOW.to_string());
        let id = header("webhook-id");
        assert!(id.starts_with("upload_") && id.len() == 39, "{id}");
        // Standard Webhooks, computed here: HMAC-SHA256(key, id.ts.body), base64.
        let key_bytes = BASE64
            .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
            .expect("secret");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key_bytes).expect("mac");
        mac.update(format!("{id}.{NOW}.").as_bytes());
        mac.update(&delivery.body);
        let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
        assert_eq!(header("webhook-signature"), expected);
        let message: Value = serde_json::from_slice(&delivery.body).expect("json");
        assert_eq!(message["type"], "upload.completed");
        assert_eq!(message["timestamp"], "2026-11-22T08:53:10Z");
        assert_eq!(message["data"]["key"], key);
        assert_eq!(message["data"]["uploader"]["sub"], "alice");
        assert_eq!(message["data"]["source"], "oss-callback");
        assert_eq!(
            message["data"]["image"],
            serde_json::json!({"width": 400, "height": 300, "format": "png"})
        );
    }

    #[tokio::test]
    async fn callbacks_that_cannot_be_believed_are_refused_with_their_reason() {
        let key = "uploads/alice/a.jpg";
        let expires = NOW + 900;
        let good_tag = tag("key", key, expires);
        let long_ago = NOW - 2 * 24 * 3600;
        let cases: Vec<(&str, String, &str, u16, &str)> = vec![
            (
                "no tag",
                r#"{"bucket":"examplebucket","object":"uploads/alice/a.jpg","size":1}"#.to_owned(),
                "/oss-callback?v=1",
                403,
                "UntaggedCallback",
            ),
            (
                "forged tag",
                body(key, "key", key, expires, &"0".repeat(64)),
                "/oss-callback?v=1",
                403,
                "InvalidCallbackTag",
            ),
            (
                "another object than tagged",
                body("uploads/alice/b.jpg", "key", key, expires, &good_tag),
                "/oss-callback?v=1",
                403,
                "ObjectNotTagged",
            ),
            (
                "a longer expiry than tagged",
                body(key, "key", key, expires + 1, &good_tag),
                "/oss-callback?v=1",
                403,
                "InvalidCallbackTag",
            ),
            (
                "another caller's prefix",
                body(
                    "uploads/bob/a.jpg",
                    "prefix",
                    "uploads/alice/",
                    expires,
                    &tag("prefix", "uploads/alice/", expires),
                ),
                "/oss-callback?v=1",
                403,
                "ObjectNotTagged",
            ),
            (
                "expired long ago",
                body(key, "key", key, long_ago, &tag("key", key, long_ago)),
                "/oss-callback?v=1",
                403,
                "CallbackExpired",
            ),
            (
                "outside every prefix",
                tagged("public/a.jpg"),
                "/oss-callback?v=1",
                403,
                "KeyOutsidePrefixes",
            ),
            (
                "not JSON",
                "bucket=examplebucket&object=a".to_owned(),
                "/oss-callback?v=1",
                400,
                "InvalidCallbackBody",
            ),
            (
                "signed for another path",
                tagged(key),
                "/other?v=1",
                403,
                "BadSignature",
            ),
            (
                "signed without the query",
                tagged(key),
                "/oss-callback",
                403,
                "BadSignature",
            ),
        ];
        for (name, text, signed_path, status, code) in cases {
            let receiver = Upstreams::answering(200, "{}");
            let state = state(&[], Arc::clone(&receiver));
            let (got, body) = answer(&state, signed_callback(&text, signed_path)).await;
            assert_eq!(
                (got, body["ErrorCode"].as_str()),
                (status, Some(code)),
                "{name}: {body}"
            );
            assert!(receiver.sent().is_empty(), "{name}: nothing delivered");
        }
    }

    #[tokio::test]
    async fn the_signature_headers_are_checked_before_anything_is_fetched() {
        let receiver = Upstreams::answering(200, "{}");
        let state = state(
            &[("OSS_CALLBACK_PUBLIC_KEY_FILE", "")],
            Arc::clone(&receiver),
        );
        let mut request = signed_callback(&tagged("uploads/alice/a.jpg"), "/oss-callback?v=1");
        request.headers_mut().insert(
            "x-oss-pub-key-url",
            BASE64
                .encode("http://169.254.169.254/latest/meta-data/")
                .parse()
                .expect("header"),
        );
        let (status, body) = answer(&state, request).await;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (403, Some("KeyUrlNotAllowed"))
        );
        let mut request = signed_callback(&tagged("uploads/alice/a.jpg"), "/oss-callback?v=1");
        request.headers_mut().remove("authorization");
        let (status, body) = answer(&state, request).await;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (403, Some("MissingSignature"))
        );
        // Signed with the test key, not OSS's published one, which this state trusts.
        let request = signed_callback(&tagged("uploads/alice/a.jpg"), "/oss-callback?v=1");
        let (status, body) = answer(&state, request).await;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (403, Some("BadSignature"))
        );
        assert!(
            receiver.all().is_empty(),
            "nothing fetched, nothing delivered"
        );
    }

    #[tokio::test]
    async fn size_method_and_a_failing_webhook_get_their_answers() {
        let state_ok = state(&[], Upstreams::answering(200, "{}"));
        let big = "x".repeat(MAX_BODY_BYTES + 1);
        let (status, body) = answer(&state_ok, signed_callback(&big, "/oss-callback?v=1")).await;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (413, Some("RequestTooLarge"))
        );
        let get = http::Request::builder()
            .method("GET")
            .uri("https://api.example.com/oss-callback")
            .body(Body::Empty)
            .expect("request");
        let response = handle(Arc::clone(&state_ok), get).await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()["allow"], "POST", "GET is not served");
        let failing = state(&[], Upstreams::answering(500, "down"));
        let (status, body) = answer(
            &failing,
            signed_callback(&tagged("uploads/alice/a.jpg"), "/oss-callback?v=1"),
        )
        .await;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (502, Some("WebhookFailed"))
        );
        let unconfigured = state(
            &[("UPLOAD_CALLBACK_URL", ""), ("UPLOAD_CALLBACK_SECRET", "")],
            Upstreams::answering(200, "{}"),
        );
        let (status, body) = answer(
            &unconfigured,
            signed_callback(&tagged("uploads/alice/a.jpg"), "/oss-callback?v=1"),
        )
        .await;
        assert_eq!(
            (status, body["ErrorCode"].as_str()),
            (403, Some("CallbacksNotConfigured"))
        );
    }

    #[tokio::test]
    async fn the_oss_event_function_takes_function_compute_invocations_only() {
        let receiver = Upstreams::answering(200, "{}");
        let state = fc_state(Arc::clone(&receiver));
        let events = serde_json::json!({"events": [
            {"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-11-22T08:53:00.000Z",
             "region": "cn-hangzhou", "oss": {"bucket": {"name": "examplebucket"},
             "object": {"key": "uploads/alice/a b+c.jpg", "size": 5, "eTag": "688A7BF4F233DC9C88A80BF985AB7329"}}},
            {"eventName": "ObjectRemoved:DeleteObject", "eventSource": "acs:oss", "eventTime": "2026-11-22T08:53:00.000Z",
             "oss": {"bucket": {"name": "examplebucket"}, "object": {"key": "uploads/alice/old.jpg"}}}
        ]})
        .to_string();
        let invoke = |control_path: Option<&str>, body: &str| {
            let mut builder = http::Request::builder()
                .method("POST")
                .uri("http://127.0.0.1:9000/invoke");
            if let Some(path) = control_path {
                builder = builder.header("x-fc-control-path", path);
            }
            builder.body(Body::from(body.to_owned())).expect("request")
        };
        let (status, body) = answer(&state, invoke(Some("/invoke"), &events)).await;
        assert_eq!(
            (status, body["Recorded"].as_u64()),
            (200, Some(1)),
            "{body}"
        );
        let delivered: Value = serde_json::from_slice(&receiver.sent()[0].body).expect("json");
        assert_eq!(delivered["data"]["key"], "uploads/alice/a b+c.jpg");
        assert_eq!(delivered["data"]["source"], "oss-event");
        // An HTTP trigger's request, or a callback, is not an event.
        for (control_path, body) in [
            (Some("/http-invoke"), events.as_str()),
            (None, events.as_str()),
        ] {
            let (status, answer_body) = answer(&state, invoke(control_path, body)).await;
            assert_eq!(
                (status, answer_body["ErrorCode"].as_str()),
                (403, Some("NotAnEvent"))
            );
        }
        let (status, _) = answer(
            &state,
            signed_callback(&tagged("uploads/alice/a.jpg"), "/oss-callback?v=1"),
        )
        .await;
        assert_eq!(status, 403);
        assert_eq!(receiver.sent().len(), 1);
    }

    /// record-upload as the OSS trigger's event function (`RECORD_UPLOAD_MODE=oss-events`).
    fn fc_state(upstreams: Arc<Upstreams>) -> Arc<AppState> {
        let fc = [
            ("RECORD_UPLOAD_MODE", "oss-events"),
            ("FC_FUNCTION_NAME", "stsvend-record-upload-events"),
            ("FC_REGION", "cn-hangzhou"),
        ];
        state(&fc, upstreams)
    }

    /// Function Compute's event invocation with `body`.
    fn invoke(body: &str) -> Request {
        http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:9000/invoke")
            .header("x-fc-control-path", "/invoke")
            .body(Body::from(body.to_owned()))
            .expect("request")
    }

    /// A callback body tagged for `object`, with `facts` replacing the default members.
    fn tagged_with(object: &str, facts: Value) -> String {
        let mut body: Value = serde_json::from_str(&tagged(object)).expect("json");
        for (name, value) in facts.as_object().expect("object") {
            if value.is_null() {
                body.as_object_mut().expect("object").remove(name);
            } else {
                body[name] = value.clone();
            }
        }
        body.to_string()
    }

    #[tokio::test]
    async fn the_record_is_the_stores_word_and_a_callback_that_disagrees_is_refused() {
        let key = "uploads/alice/report.jpg";
        // 50,052 bytes of HTML in the store; the callback claims 2,048 bytes of JPEG with the
        // real ETag.
        let html = (50_052, "\"9B2CF535F27731C974343645A3985328\"", "text/html");
        let lies = [
            json!({"size": 2048, "mimeType": "image/jpeg"}),
            json!({"size": 2048, "mimeType": "text/html"}),
            json!({"size": 50_052, "mimeType": "image/jpeg"}),
            json!({"size": "50052", "mimeType": "text/html", "etag": "\"0000\""}),
            json!({"size": 50_052, "mimeType": "text/html", "etag": null}),
        ];
        for lie in lies {
            let upstreams = Upstreams::holding(Some(html), 200, "{}");
            let state = state(&[], Arc::clone(&upstreams));
            let request = signed_callback(&tagged_with(key, lie.clone()), "/oss-callback?v=1");
            let (status, body) = answer(&state, request).await;
            assert_eq!(
                (status, body["ErrorCode"].as_str()),
                (409, Some("CallbackMismatch")),
                "{lie}: {body}"
            );
            assert!(upstreams.sent().is_empty(), "{lie}: nothing delivered");
        }
        // Facts that agree (a size as OSS may write it, a string of digits; no type at all)
        // give the store's facts, the size a JSON number.
        let upstreams = Upstreams::holding(Some(html), 200, "{}");
        let agreed = state(&[], Arc::clone(&upstreams));
        let agreeing = tagged_with(key, json!({"size": "50052", "mimeType": null}));
        let (status, body) = answer(&agreed, signed_callback(&agreeing, "/oss-callback?v=1")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["Size"], json!(50_052));
        assert_eq!(body["ContentType"], "text/html");
        let delivered: Value = serde_json::from_slice(&upstreams.sent()[0].body).expect("json");
        assert_eq!(delivered["data"]["size"], json!(50_052));
        assert_eq!(delivered["data"]["contentType"], "text/html");
        assert_eq!(
            delivered["data"]["etag"],
            "9b2cf535f27731c974343645a3985328"
        );
        // The HEAD went to the object, signed (OSS V4, the function's own key).
        let head = upstreams
            .all()
            .into_iter()
            .find(|r| r.method == Method::HEAD)
            .expect("a HEAD");
        assert!(
            head.url.starts_with(
                "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/uploads/alice/report.jpg?"
            ) && head
                .url
                .contains("x-oss-credential=LTAI-test-record-key%2F"),
            "{}",
            head.url
        );
    }

    #[tokio::test]
    async fn a_tag_alone_mints_no_record_for_an_object_the_store_does_not_hold() {
        let upstreams = Upstreams::holding(None, 200, "{}");
        let empty = state(&[], Arc::clone(&upstreams));
        let expires = NOW + 900;
        let prefix = "uploads/alice/";
        let never = "uploads/alice/never-uploaded.jpg";
        let text = body(
            never,
            "prefix",
            prefix,
            expires,
            &tag("prefix", prefix, expires),
        );
        let (status, reply) = answer(&empty, signed_callback(&text, "/oss-callback?v=1")).await;
        assert_eq!(
            (status, reply["ErrorCode"].as_str()),
            (404, Some("ObjectNotFound")),
            "{reply}"
        );
        assert!(upstreams.sent().is_empty());
        // A store that cannot be asked (its answer has no ETag) records nothing either.
        let upstreams = Upstreams::holding(Some((1, "", "x/y")), 200, "{}");
        let unreadable = state(&[], Arc::clone(&upstreams));
        let request = signed_callback(&tagged(never), "/oss-callback?v=1");
        let (status, reply) = answer(&unreadable, request).await;
        assert_eq!(
            (status, reply["ErrorCode"].as_str()),
            (502, Some("ObjectCheckFailed")),
            "{reply}"
        );
        assert!(upstreams.sent().is_empty());
    }

    #[tokio::test]
    async fn callbacks_naming_keys_presign_url_never_signs_are_refused_before_any_fetch() {
        let long = format!("uploads/alice/{}", "k".repeat(1010));
        let keys = [
            "uploads/alice/../bob/secret.jpg",
            "uploads/alice//x.jpg",
            "uploads/alice/./x.jpg",
            "uploads/alice/a\0b.jpg",
            "uploads/alice/a\nINFO upload recorded key=x uploader={\"sub\": \"bob\"}",
            "uploads/alice/invoice\u{202E}gpj.exe",
            "uploads/alice/photo\u{3164}.jpg",
            "uploads/alice/photo\u{FE0F}.jpg",
            long.as_str(),
        ];
        for key in keys {
            let upstreams = Upstreams::answering(200, "{}");
            let state = state(&[], Arc::clone(&upstreams));
            let (status, body) =
                answer(&state, signed_callback(&tagged(key), "/oss-callback?v=1")).await;
            assert_eq!(
                (status, body["ErrorCode"].as_str()),
                (403, Some("InvalidKey")),
                "{key:?}: {body}"
            );
            assert!(upstreams.all().is_empty(), "{key:?}: no HEAD, no delivery");
        }
    }

    #[tokio::test]
    async fn a_callback_body_naming_a_member_twice_is_refused() {
        let key = "uploads/alice/a.jpg";
        let good = tagged(key);
        let twice = [
            // A second object: serde_json kept the last one.
            good.replacen('{', r#"{"object":"uploads/bob/b.jpg","#, 1),
            good.replacen(r#""size":1024"#, r#""size":1024,"size":1"#, 1),
            good.replacen(r#""scope":"key""#, r#""scope":"key","scope":"prefix""#, 1),
        ];
        for body in twice {
            assert_ne!(body, good);
            let upstreams = Upstreams::answering(200, "{}");
            let state = state(&[], Arc::clone(&upstreams));
            let (status, answer) =
                answer(&state, signed_callback(&body, "/oss-callback?v=1")).await;
            assert_eq!(
                (status, answer["ErrorCode"].as_str()),
                (400, Some("DuplicateField")),
                "{body}: {answer}"
            );
            assert!(upstreams.all().is_empty());
        }
    }

    #[tokio::test]
    async fn a_prefix_tag_is_believed_an_hour_past_its_expiry_and_a_key_tag_a_day() {
        let key = "uploads/alice/a.jpg";
        let prefix = "uploads/alice/";
        let cases = [
            ("prefix", prefix, NOW - 3_500, 200, None),
            ("prefix", prefix, NOW - 3_700, 403, Some("CallbackExpired")),
            ("key", key, NOW - 23 * 3_600, 200, None),
            ("key", key, NOW - 25 * 3_600, 403, Some("CallbackExpired")),
        ];
        for (scope, value, expires, want, code) in cases {
            let state = state(&[], Upstreams::answering(200, "{}"));
            let text = body(key, scope, value, expires, &tag(scope, value, expires));
            let (status, body) = answer(&state, signed_callback(&text, "/oss-callback?v=1")).await;
            assert_eq!(
                (status, body["ErrorCode"].as_str()),
                (want, code),
                "{scope} expired {}s ago: {body}",
                NOW - expires
            );
        }
    }

    #[tokio::test]
    async fn no_key_is_fetched_for_a_callback_whose_tag_does_not_hold() {
        // No pinned key, and a key URL other than the built-in one: verifying would fetch.
        let upstreams = Upstreams::answering(200, "{}");
        let state = state(
            &[("OSS_CALLBACK_PUBLIC_KEY_FILE", "")],
            Arc::clone(&upstreams),
        );
        let other_key = BASE64.encode("https://gosspublic.alicdn.com/callback_pub_key_v2.pem");
        for text in [
            r#"{"bucket":"examplebucket","object":"uploads/alice/a.jpg","size":1}"#.to_owned(),
            body(
                "uploads/alice/a.jpg",
                "key",
                "uploads/alice/a.jpg",
                NOW + 900,
                &"0".repeat(64),
            ),
        ] {
            let mut request = signed_callback(&text, "/oss-callback?v=1");
            request
                .headers_mut()
                .insert("x-oss-pub-key-url", other_key.parse().expect("header"));
            let (status, _) = answer(&state, request).await;
            assert_eq!(status, 403);
        }
        assert!(upstreams.all().is_empty(), "nothing fetched");
    }

    #[tokio::test]
    async fn events_for_keys_presign_url_never_signs_are_told_as_rejected_and_named_for_nobody() {
        let upstreams = Upstreams::answering(200, "{}");
        let state = fc_state(Arc::clone(&upstreams));
        let created = |key: &str| {
            json!({"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss",
                   "eventTime": "2026-11-22T08:53:00.000Z", "oss": {"bucket": {"name": "examplebucket"},
                   "object": {"key": key, "size": 1024, "eTag": "9B2CF535F27731C974343645A3985328"}}})
        };
        let bad = [
            (
                "uploads/alice/../bob/secret.jpg",
                "uploads/alice/../bob/secret.jpg",
            ),
            ("uploads/alice/a\nb", "uploads/alice/a\\nb"),
            (
                "uploads/alice/x\u{202E}gpj.exe",
                "uploads/alice/x\\u{202e}gpj.exe",
            ),
            ("uploads/alice/a\0b\\", "uploads/alice/a\\u{0000}b\\\\"),
        ];
        let mut events: Vec<Value> = bad.iter().map(|(key, _)| created(key)).collect();
        events.push(created("uploads/alice/fine.png"));
        let body = json!({ "events": events }).to_string();
        let (status, answer) = answer(&state, invoke(&body)).await;
        assert_eq!(
            (
                status,
                answer["Recorded"].as_u64(),
                answer["Rejected"].as_u64()
            ),
            (200, Some(1), Some(4)),
            "{answer}"
        );
        let delivered: Vec<Value> = upstreams
            .sent()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).expect("json"))
            .collect();
        assert_eq!(delivered.len(), 5);
        for ((raw, escaped_key), message) in bad.iter().zip(&delivered) {
            assert_eq!(message["type"], "upload.rejected", "{message}");
            let data = &message["data"];
            assert_eq!(data["reason"], "InvalidKey");
            assert_eq!(data["key"], *escaped_key);
            assert_eq!(data["keyBase64"], BASE64.encode(raw.as_bytes()));
            assert!(data.get("uploader").is_none(), "{message}");
        }
        let fine = &delivered[4];
        assert_eq!(fine["type"], "upload.completed");
        assert_eq!(fine["data"]["uploader"]["sub"], "alice");
        // The event has no type; the store's HEAD gave it, for the same ETag.
        assert_eq!(fine["data"]["contentType"], "image/png");
        // A rejection's id never collides with a record's.
        let ids: Vec<String> = upstreams
            .sent()
            .iter()
            .map(|r| {
                r.headers
                    .iter()
                    .find(|(n, _)| n.as_str() == "webhook-id")
                    .map(|(_, v)| v.clone())
                    .expect("id")
            })
            .collect();
        assert!(
            ids[..4].iter().all(|id| id.starts_with("rejected_")),
            "{ids:?}"
        );
        assert!(ids[4].starts_with("upload_"));
    }

    #[tokio::test]
    async fn oss_events_naming_a_member_twice_are_refused() {
        let upstreams = Upstreams::answering(200, "{}");
        let state = fc_state(Arc::clone(&upstreams));
        let body = r#"{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss","oss":{"bucket":{"name":"examplebucket"},"object":{"key":"uploads/alice/a.jpg","key":"uploads/bob/b.jpg","size":1,"eTag":"x"}}}]}"#;
        let (status, answer) = answer(&state, invoke(body)).await;
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (400, Some("InvalidEvent")),
            "{answer}"
        );
        assert!(upstreams.all().is_empty());
    }
}
