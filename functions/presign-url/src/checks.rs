//! The deployment's rules for one request: the key under the caller's prefix, the methods,
//! content types and image processing this deployment signs, what each provider and signature
//! version can sign unambiguously, and the URL's lifetime.

use std::time::SystemTime;

use crate::settings::PresignSettings;
use lambda_http::http::StatusCode;
use stsvend::{Credential, Provider, check_key, media_type_matches, sign::Scheme};
use stsvend_host::{ApiError, config::ContentDisposition};

use crate::answer::Expiry;
use crate::process;
use crate::request::{Ask, DEFAULT_EXPIRES_SECONDS, Operation};

/// The key to sign: present (or, for a `startsWith` form, defaulting to the caller's
/// prefix), well-formed, and under the caller's prefix.
pub(crate) fn checked_key(ask: &Ask, prefix: &str) -> Result<String, ApiError> {
    let starts_with = matches!(ask.operation, Operation::Form { starts_with: true });
    let key = match (&ask.key, starts_with) {
        (Some(key), _) => key.clone(),
        (None, true) => prefix.to_owned(),
        (None, false) => return Err(ApiError::bad_request("MissingKey", "key is required")),
    };
    if !(starts_with && key.is_empty()) {
        check_key(&key).map_err(|reason| {
            ApiError::bad_request("InvalidKey", format!("the key cannot be used: {reason}"))
        })?;
    }
    if !key.starts_with(prefix) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "KeyOutsidePrefix",
            format!("the key must start with your prefix {prefix:?}"),
        ));
    }
    Ok(key)
}

/// Every rule of `settings` for `ask` on `key`, in the order a client fixes them: the method,
/// the content type, what the provider has, the image processing, and V1's ambiguities.
pub(crate) fn check(
    ask: &Ask,
    key: &str,
    prefix: &str,
    settings: &PresignSettings,
) -> Result<(), ApiError> {
    check_method(ask, settings)?;
    check_content_type(ask, &settings.allowed_content_types)?;
    check_served_disposition(ask, settings.rules.content_disposition)?;
    check_provider_fields(ask, settings.scheme.provider())?;
    if let Some((_, process)) = ask.overrides.iter().find(|(n, _)| *n == "x-oss-process") {
        process::check(process, &settings.allowed_process, prefix)?;
    }
    if settings.scheme == Scheme::OssV1 {
        check_v1_unambiguous(ask, key)?;
    }
    Ok(())
}

/// The operation's method among `PRESIGN_METHODS` (or the profile's `methods`).
pub(crate) fn check_method(ask: &Ask, settings: &PresignSettings) -> Result<(), ApiError> {
    let permission = ask.operation.permission();
    if !settings.methods.allows(permission) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "MethodNotPermitted",
            format!(
                "this deployment does not presign {permission} (PRESIGN_METHODS, or the profile's methods)"
            ),
        ));
    }
    Ok(())
}

/// OSS V1 signs the raw key, then `?` and the sub-resources raw, joined with `&`: a key holding
/// `?`, or a value holding `&`, would sign the same string as a request with other
/// sub-resources (`inline&response-content-type=text/html` signs as two overrides, and a
/// client could split it into two). Under V1 a URL signs exactly what presign-url chose, so
/// such requests are refused; V4 encodes every value and has no such ambiguity. A value may
/// hold `=` (`filename="a.pdf"`): with no `&` in any value, each `&`-separated piece is one
/// sub-resource, and its name, which never holds `=`, ends at the first `=`.
fn check_v1_unambiguous(ask: &Ask, key: &str) -> Result<(), ApiError> {
    if key.contains('?') {
        return Err(ApiError::bad_request(
            "InvalidKey",
            "keys with '?' cannot be signed with OSS V1; use V4",
        ));
    }
    let operation_values = ask.operation.query();
    let ambiguous = operation_values
        .iter()
        .chain(ask.overrides.iter())
        .find(|(_, value)| value.contains('&'));
    if let Some((name, _)) = ambiguous {
        return Err(ApiError::bad_request(
            "InvalidSubResource",
            format!(
                "{name} cannot hold '&' under OSS V1 (it would sign another sub-resource); use V4"
            ),
        ));
    }
    Ok(())
}

/// Fields one provider has and the other lacks: OSS image processing (`process`), and a signed
/// `Content-Length`, which S3 checks and OSS's default signed headers do not cover.
fn check_provider_fields(ask: &Ask, provider: Provider) -> Result<(), ApiError> {
    let process = ask
        .overrides
        .iter()
        .any(|(name, _)| *name == "x-oss-process");
    match provider {
        Provider::Aws if process => Err(ApiError::bad_request(
            "FieldNotApplicable",
            "process is OSS image processing; S3 has no such parameter",
        )),
        Provider::Aliyun if ask.content_length.is_some() => Err(ApiError::bad_request(
            "FieldNotApplicable",
            "contentLength is signed for S3 only; OSS checks the length of the upload itself",
        )),
        _ => Ok(()),
    }
}

/// `ALLOWED_CONTENT_TYPES` (when set): the requests that set an object's type must give one
/// whose media type matches an entry (`image/*` matches `image/png`), and a GET may override
/// the type it is served with only to such a type (else an upload could be served as
/// `text/html`).
fn check_content_type(ask: &Ask, allowed: &[String]) -> Result<(), ApiError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let served_as = ask
        .overrides
        .iter()
        .find(|(name, _)| *name == "response-content-type")
        .map(|(_, value)| value);
    let set_to = match (&ask.content_type, ask.operation.sets_content_type()) {
        (_, false) => None,
        (Some(content_type), true) => Some(content_type),
        (None, true) => {
            return Err(ApiError::bad_request(
                "ContentTypeRequired",
                format!(
                    "this deployment accepts only {}; send contentType",
                    allowed.join(", ")
                ),
            ));
        }
    };
    match served_as
        .into_iter()
        .chain(set_to)
        .find(|value| !media_type_allowed(value, allowed))
    {
        Some(value) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "ContentTypeNotAllowed",
            format!("{value:?} is not among {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// A profile whose uploads are served as attachments (`content_disposition = "attachment"`)
/// signs no GET that would serve one inline: a `responseContentDisposition` must be an
/// `attachment` too, or a file of any type (HTML) could be served inline from the bucket's
/// origin through a URL presign-url signed.
fn check_served_disposition(
    ask: &Ask,
    disposition: Option<ContentDisposition>,
) -> Result<(), ApiError> {
    if disposition != Some(ContentDisposition::Attachment) {
        return Ok(());
    }
    let Some((_, value)) = ask
        .overrides
        .iter()
        .find(|(name, _)| *name == "response-content-disposition")
    else {
        return Ok(());
    };
    let kind = value.split(';').next().unwrap_or("").trim();
    if kind.eq_ignore_ascii_case("attachment") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "ContentDispositionNotAllowed",
        "this profile serves its files as attachments; responseContentDisposition must be attachment",
    ))
}

/// Whether the media type of `content_type` (parameters aside) matches an entry of `allowed`.
fn media_type_allowed(content_type: &str, allowed: &[String]) -> bool {
    allowed
        .iter()
        .any(|entry| media_type_matches(entry, content_type))
}

/// The URL's lifetime: `expires` (default 900 s), capped by `max` (`PRESIGN_MAX_EXPIRES_SECONDS`,
/// or the profile's `expires`, which `max_by` names) and by what is left of the signing
/// credential's life (a CDN URL is signed with no credential). A cap on an explicit `expires` is reported by name.
pub(crate) fn expiry(
    ask: &Ask,
    (max, max_by): (u64, &'static str),
    credential: Option<&Credential>,
    now: SystemTime,
) -> Result<Expiry, ApiError> {
    let mut expires_in = ask.expires.unwrap_or(DEFAULT_EXPIRES_SECONDS);
    let mut capped_by = None;
    if expires_in > max {
        expires_in = max;
        capped_by = Some(max_by);
    }
    if let Some(expiration) = credential.and_then(|c| c.expiration) {
        let left = expiration.duration_since(now).map_or(0, |d| d.as_secs());
        if expires_in > left {
            expires_in = left;
            capped_by = Some("CredentialExpiration");
        }
    }
    if expires_in == 0 {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "CredentialExpired",
            "the signing credentials have expired",
        ));
    }
    Ok(Expiry {
        expires_in,
        capped_by: ask.expires.and(capped_by),
    })
}
