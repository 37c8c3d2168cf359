//! record-upload's two entries: [`handle`] for HTTP (OSS callbacks; Function Compute's event
//! invocations in `RECORD_UPLOAD_MODE=oss-events`) and [`on_event`] for Lambda events (S3).
//!
//! A callback goes through: method and size, the signature headers, the key URL (allowed
//! before any fetch), the key, the signature over the path OSS called, the tagged body, the
//! uploader, the webhook, the answer OSS relays to the uploader.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};
use stsvend::error::Error;
use stsvend::host::EventAnswer;
use stsvend::host::config::{Config, RecordMode, RecordSettings};
use stsvend::host::response::{self, ApiError};
use stsvend::provider::Provider;
use stsvend::sign::aliyun::callback as oss_callback;
use stsvend::time::Clock;
use stsvend::transport::HttpSender;
use tracing::{info, warn};

use crate::callback;
use crate::events::{OssEvents, S3Event, Uploads};
use crate::keys::CallbackKeys;
use crate::record::Record;
use crate::webhook::Webhook;

/// The largest callback or event body read, in bytes (OSS caps a callback template at 5 KB).
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every request needs, built once per cold start.
pub struct AppState {
    config: Config,
    settings: RecordSettings,
    clock: Arc<dyn Clock>,
    keys: CallbackKeys,
    webhook: Option<Webhook>,
}

impl AppState {
    /// Reads record-upload's own settings; the sender fetches callback keys and delivers
    /// webhooks.
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
        let webhook = settings
            .webhook
            .clone()
            .map(|webhook| Webhook::new(webhook, sender));
        Ok(Self {
            config,
            settings,
            clock,
            keys,
            webhook,
        })
    }
}

/// Answers one HTTP request. Never fails: every refusal is an answer in the documented shape.
pub async fn handle(state: Arc<AppState>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = match state.settings.mode {
        RecordMode::Callbacks => oss_callback(&state, &request).await,
        RecordMode::OssEvents => fc_event(&state, &request).await,
    };
    response::finish(outcome, started, "recorded")
}

/// Records what a Lambda event reports. S3's test message is acknowledged; an event that is
/// not an S3 notification, a key that cannot be decoded, or a failed delivery fails the
/// invocation, so that Lambda delivers it again.
pub fn on_event(state: Arc<AppState>, event: Value) -> EventAnswer {
    Box::pin(async move {
        let Some(s3) = S3Event::parse(&event) else {
            return Err(
                "record-upload takes S3 event notifications and HTTP requests only".to_owned(),
            );
        };
        if s3.is_test() {
            info!("s3:TestEvent acknowledged");
            return Ok(json!({"recorded": 0}));
        }
        let recorded = record_all(&state, s3.uploads()?).await?;
        Ok(json!({ "recorded": recorded }))
    })
}

/// Attributes, logs and delivers each upload; how many were recorded, or the first delivery
/// failure.
async fn record_all(state: &AppState, uploads: Uploads) -> Result<usize, String> {
    let now = state.clock.now();
    let mut recorded = 0;
    for upload in uploads.uploads {
        if upload.bucket != state.config.scope.bucket {
            warn!(bucket = %upload.bucket, key = %upload.key, "event for another bucket: not recorded");
            continue;
        }
        let Some(record) = upload.attribute(&state.config.scope.object_prefix) else {
            continue;
        };
        if let Some(webhook) = &state.webhook {
            webhook.deliver(&record, now).await?;
        }
        recorded += 1;
    }
    Ok(recorded)
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
    let recorded = record_all(state, events.uploads())
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
        &json!({"StatusCode": 200, "Recorded": recorded}),
    );
    Ok((answer, "oss-events".to_owned()))
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
    uploader: &'a std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<Value>,
}

/// One OSS upload callback.
async fn oss_callback(
    state: &AppState,
    request: &Request,
) -> Result<(Response<Body>, String), ApiError> {
    if request.method() != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "OSS posts its callbacks; nothing else is served here",
        ));
    }
    let body = checked_body(request)?;
    let settings = state.settings.callback.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "CallbacksNotConfigured",
            "this deployment has no UPLOAD_CALLBACK_SECRET, so no callback can be trusted",
        )
    })?;
    verify_signature(state, request, body, settings).await?;
    let now = state.clock.now();
    let upload = callback::read(body, settings, &state.config.scope.bucket, now)?;
    let record = upload
        .attribute(&state.config.scope.object_prefix)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "KeyOutsidePrefixes",
                "the object lies under no caller's prefix; it is not recorded",
            )
        })?;
    let app = deliver(state, &record, now).await?;
    let answer = CallbackAnswer {
        status_code: 200,
        bucket: &record.bucket,
        key: &record.key,
        size: record.size,
        etag: &record.etag,
        content_type: record.content_type.as_deref(),
        uploader: &record.uploader,
        app,
    };
    let who = record.uploader.get("sub").cloned().unwrap_or_default();
    Ok((response::json(StatusCode::OK, &answer), who))
}

/// OSS's signature on the callback: the key URL allowed before anything is fetched, then the
/// RSA signature over the path OSS called (`UPLOAD_CALLBACK_URL`'s, when set, since a gateway
/// may rewrite the path the function sees), its query and the body.
async fn verify_signature(
    state: &AppState,
    request: &Request,
    body: &[u8],
    settings: &stsvend::host::config::CallbackSettings,
) -> Result<(), ApiError> {
    let refused = |code: &'static str, e: oss_callback::CallbackError| {
        ApiError::new(StatusCode::FORBIDDEN, code, e.to_string())
    };
    let headers = request.headers();
    let authorization = header(headers, "authorization").ok_or_else(|| {
        refused(
            "MissingSignature",
            oss_callback::CallbackError::MissingHeader("authorization"),
        )
    })?;
    let key_url = header(headers, "x-oss-pub-key-url").ok_or_else(|| {
        refused(
            "MissingSignature",
            oss_callback::CallbackError::MissingHeader("x-oss-pub-key-url"),
        )
    })?;
    let key_url =
        oss_callback::public_key_url(key_url).map_err(|e| refused("KeyUrlNotAllowed", e))?;
    let key = state.keys.key_for(&key_url).await?;
    let (path, query) = settings.signed_path_and_query();
    let string_to_sign =
        oss_callback::string_to_sign(path, query, body).map_err(|e| refused("BadSignature", e))?;
    key.verify(authorization, &string_to_sign)
        .map_err(|e| refused("BadSignature", e))
}

/// The webhook's answer (its JSON object, if any); a failed delivery is a 502, which OSS
/// turns into `CallbackFailed` for the uploader (the object stays; the bucket event
/// reconciles).
async fn deliver(
    state: &AppState,
    record: &Record,
    now: SystemTime,
) -> Result<Option<Value>, ApiError> {
    let Some(webhook) = &state.webhook else {
        return Ok(None);
    };
    webhook
        .deliver(record, now)
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
    use stsvend::time::FixedClock;
    use stsvend::transport::CannedSender;

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

    fn state(extra: &[(&'static str, &str)], sender: Arc<CannedSender>) -> Arc<AppState> {
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
        let receiver = CannedSender::answering(200, r#"{"fileId":"f-1"}"#);
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
            let receiver = CannedSender::answering(200, "{}");
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
        let receiver = CannedSender::answering(200, "{}");
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
            receiver.sent().is_empty(),
            "nothing fetched, nothing delivered"
        );
    }

    #[tokio::test]
    async fn size_method_and_a_failing_webhook_get_their_answers() {
        let state_ok = state(&[], CannedSender::answering(200, "{}"));
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
        let (status, _) = answer(&state_ok, get).await;
        assert_eq!(status, 405);
        let failing = state(&[], CannedSender::answering(500, "down"));
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
            CannedSender::answering(200, "{}"),
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
        let receiver = CannedSender::answering(200, "{}");
        let fc = [
            ("RECORD_UPLOAD_MODE", "oss-events"),
            ("FC_FUNCTION_NAME", "stsvend-record-upload-events"),
            ("FC_REGION", "cn-hangzhou"),
        ];
        let state = state(&fc, Arc::clone(&receiver));
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
}
