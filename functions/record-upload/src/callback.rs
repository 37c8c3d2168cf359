//! What an OSS callback's body says of the object, trusted only with the tag presign-url
//! pinned into it.
//!
//! OSS signs whatever callback it was given, and a client holding issue-token's credentials
//! writes its own callback, constants included. So the object fields of a callback are
//! believed only when its `stsvend` member carries a tag made with `UPLOAD_CALLBACK_SECRET`
//! over this bucket, the key (or the prefix of a `startsWith` form) and the URL's expiry,
//! and the object is that key or lies under that prefix.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lambda_http::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use stsvend::{
    format_iso8601,
    sign::aliyun::callback::{TagScope, tag_holds},
};
use stsvend_host::{
    config::CallbackSettings,
    json::{self, JsonError},
    response::ApiError,
};

use crate::record::{Image, Source, Upload};

/// How long after its URL expired a callback tagged for one key is still believed: a
/// multipart upload started just before the expiry may take this long to complete (a large
/// file on a slow link; the completion is signed before the URL expires).
pub(crate) const EXPIRY_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The same for a `startsWith` form's tag, which covers every key under a prefix: a form
/// upload is one POST that OSS accepts only before the policy expires, so an hour covers the
/// slowest body; past it, the tag is worth nothing.
pub(crate) const PREFIX_EXPIRY_GRACE: Duration = Duration::from_secs(3600);

/// A pinned callback body, after OSS filled its variables (JSON values).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    bucket: String,
    object: String,
    #[serde(default)]
    etag: String,
    size: Value,
    #[serde(default)]
    mime_type: Value,
    #[serde(default)]
    height: Value,
    #[serde(default)]
    width: Value,
    #[serde(default)]
    format: Value,
    stsvend: Option<Pin>,
}

/// The constants presign-url wrote into the template.
#[derive(Debug, Deserialize)]
struct Pin {
    scope: String,
    value: String,
    expires: u64,
    tag: String,
}

fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message.into())
}

/// The upload a callback body reports, when its tag vouches for its bucket, key and time; the
/// refusal otherwise (400 for a body that is not a callback body, 403 for one not to be
/// believed). Its size, ETag and type are the callback's claims, which the store confirms
/// before anything is recorded ([`crate::store`]). Cheap: no I/O, so it runs before the key
/// that verifies OSS's signature is fetched.
pub(crate) fn read(
    body: &[u8],
    settings: &CallbackSettings,
    bucket: &str,
    now: SystemTime,
) -> Result<Upload, ApiError> {
    let body = parse(body)?;
    let pin = body.stsvend.as_ref().ok_or_else(|| {
        forbidden(
            "UntaggedCallback",
            "the callback carries no stsvend tag; only callbacks presign-url pinned are recorded",
        )
    })?;
    let value = URL_SAFE_NO_PAD
        .decode(&pin.value)
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| {
            ApiError::bad_request("InvalidCallbackBody", "the tag's value is not base64url")
        })?;
    let scope = match pin.scope.as_str() {
        "key" => TagScope::Key(&value),
        "prefix" => TagScope::Prefix(&value),
        _ => {
            return Err(ApiError::bad_request(
                "InvalidCallbackBody",
                "the tag's scope is not key or prefix",
            ));
        }
    };
    if !tag_holds(&settings.secret, bucket, scope, pin.expires, &pin.tag) {
        return Err(forbidden(
            "InvalidCallbackTag",
            "the callback's tag was not made by presign-url",
        ));
    }
    if body.bucket != bucket {
        return Err(forbidden(
            "WrongBucket",
            "the callback reports another bucket",
        ));
    }
    if !scope.covers(&body.object) {
        return Err(forbidden(
            "ObjectNotTagged",
            "the callback reports an object its tag does not cover",
        ));
    }
    let expired_at = SystemTime::UNIX_EPOCH + Duration::from_secs(pin.expires);
    let (grace, how_long) = match scope {
        TagScope::Key(_) => (EXPIRY_GRACE, "a day"),
        TagScope::Prefix(_) => (PREFIX_EXPIRY_GRACE, "an hour"),
    };
    if now > expired_at + grace {
        return Err(forbidden(
            "CallbackExpired",
            format!(
                "the upload's URL expired at {} (more than {how_long} ago)",
                format_iso8601(expired_at)
            ),
        ));
    }
    let size = number(&body.size)
        .ok_or_else(|| ApiError::bad_request("InvalidCallbackBody", "size is not a byte count"))?;
    let (content_type, image) = (text(&body.mime_type), image(&body));
    Ok(Upload {
        bucket: body.bucket,
        key: body.object,
        size,
        etag: body.etag,
        content_type,
        image,
        source: Source::OssCallback,
        time: format_iso8601(now),
    })
}

/// The pinned body's members. The whole body must be JSON (UTF-8 and all), not only the
/// members read here, and no object in it may name a member twice: a parser that skips what
/// it ignores, or keeps another of two members, would read bodies another reader reads
/// otherwise.
fn parse(body: &[u8]) -> Result<Body, ApiError> {
    let body = json::parse(body).map_err(|e| match e {
        JsonError::RepeatedMember => ApiError::bad_request(
            "DuplicateField",
            "the callback body names a member twice in one object",
        ),
        e @ JsonError::Invalid(_) => {
            ApiError::bad_request("InvalidCallbackBody", format!("the callback body {e}"))
        }
    })?;
    serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(
            "InvalidCallbackBody",
            format!("the callback body {}", json::problem(&e)),
        )
    })
}

/// A JSON number, or a string of ASCII digits (OSS fills some variables as strings; no sign,
/// no space).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// A non-empty string.
fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `imageInfo.*`, present for images only.
fn image(body: &Body) -> Option<Image> {
    Some(Image {
        width: number(&body.width)?,
        height: number(&body.height)?,
        format: text(&body.format)?,
    })
}
