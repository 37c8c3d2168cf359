//! The upload rules (`UPLOAD_OVERWRITE`, `UPLOAD_METADATA`, `UPLOAD_CLIENT_METADATA`,
//! `UPLOAD_TAGGING`, `UPLOAD_SERVER_SIDE_ENCRYPTION`, `UPLOAD_REQUIRE_CHECKSUM`,
//! `UPLOAD_REQUIRE_SIZE`) as what a signed upload carries: headers a URL signs, or fields a
//! form policy pins with `eq` conditions, so that the store enforces them and a client that
//! drops one breaks the signature. Where a store cannot enforce a rule on a path, the request
//! is refused with why.

use crate::settings::{MAX_METADATA_BYTES, PresignSettings, UploadRules};
use lambda_http::http::StatusCode;
use stsvend::{
    Caller, Encryption,
    sign::Scheme,
    sign::{RFC3986_UNRESERVED, percent_encode},
};
use stsvend_host::ApiError;

use crate::request::{Ask, Operation};

/// One store's names for what the rules write.
struct Names {
    metadata: &'static str,
    tagging: &'static str,
    encryption: &'static str,
    kms_key: &'static str,
    kms: &'static str,
}

const OSS: Names = Names {
    metadata: "x-oss-meta-",
    tagging: "x-oss-tagging",
    encryption: "x-oss-server-side-encryption",
    kms_key: "x-oss-server-side-encryption-key-id",
    kms: "KMS",
};

const S3: Names = Names {
    metadata: "x-amz-meta-",
    tagging: "x-amz-tagging",
    encryption: "x-amz-server-side-encryption",
    kms_key: "x-amz-server-side-encryption-aws-kms-key-id",
    kms: "aws:kms",
};

fn names(scheme: Scheme) -> &'static Names {
    match scheme {
        Scheme::S3 => &S3,
        Scheme::OssV4 | Scheme::OssV1 => &OSS,
    }
}

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(status, code, message.into())
}

/// Refuses what a rule or a provider cannot enforce for `ask`.
pub(crate) fn check(ask: &Ask, settings: &PresignSettings) -> Result<(), ApiError> {
    let (scheme, rules) = (settings.scheme, &settings.rules);
    let op = &ask.operation;
    let bad = |code, message: &str| Err(refuse(StatusCode::BAD_REQUEST, code, message));
    if !ask.checksums.is_empty() && scheme != Scheme::S3 {
        return bad(
            "FieldNotApplicable",
            "OSS has no checksum header a presigned upload can carry; send contentMd5",
        );
    }
    let checksummed = ask.content_md5.is_some() || !ask.checksums.is_empty();
    if rules.require_checksum
        && !checksummed
        && matches!(op, Operation::Put | Operation::Part { .. })
    {
        return bad(
            "ChecksumRequired",
            "this deployment signs uploads only with contentMd5 (or an S3 checksum)",
        );
    }
    if rules.require_checksum && matches!(op, Operation::Form { .. }) {
        return bad(
            "ChecksumRequired",
            "a form upload carries no checksum the store checks; use a PUT URL with contentMd5",
        );
    }
    if rules.require_checksum && matches!(op, Operation::Parts { .. }) {
        return bad(
            "ChecksumRequired",
            "each part has its own checksum: sign parts one at a time with partNumber and contentMd5",
        );
    }
    check_size(ask, settings)?;
    if rules.content_disposition.is_some()
        && scheme == Scheme::OssV1
        && matches!(op, Operation::Put | Operation::Initiate)
    {
        return bad(
            "RuleNotEnforceable",
            "OSS V1 does not sign Content-Disposition, which this profile signs into every upload; use a form upload, or V4",
        );
    }
    if !rules.overwrite && scheme == Scheme::S3 && matches!(op, Operation::Form { .. }) {
        return bad(
            "RuleNotEnforceable",
            "S3 form uploads cannot be made create-only (UPLOAD_OVERWRITE=false); use a PUT URL",
        );
    }
    Ok(())
}

/// The size rules: a signed `contentLength` within the bounds, and, when the size must be
/// bounded, only the paths whose store bounds it (an S3 PUT with `contentLength`, a form), or,
/// when record-upload checks each upload against its profile (`on_violation`), any path.
fn check_size(ask: &Ask, settings: &PresignSettings) -> Result<(), ApiError> {
    let (scheme, rules, op) = (settings.scheme, &settings.rules, &ask.operation);
    let bad = |code, message: &str| Err(refuse(StatusCode::BAD_REQUEST, code, message));
    if ask
        .content_length
        .is_some_and(|length| length > settings.upload_max_bytes)
    {
        return bad(
            "ContentLengthTooLarge",
            "contentLength is over the largest upload (UPLOAD_MAX_BYTES, or the profile's max_bytes)",
        );
    }
    if ask
        .content_length
        .is_some_and(|length| length < settings.min_bytes)
    {
        return bad(
            "ContentLengthTooSmall",
            "contentLength is under the profile's min_bytes",
        );
    }
    if rules.require_size {
        match (op, scheme) {
            (Operation::Put, Scheme::S3) if ask.content_length.is_none() => {
                return bad(
                    "SizeRequired",
                    "this deployment signs S3 uploads only with contentLength",
                );
            }
            _ if rules.checked_after => {}
            (Operation::Put, Scheme::OssV4 | Scheme::OssV1) => {
                return bad(
                    "SizeNotEnforceable",
                    "OSS checks no signed size on a PUT; only form uploads bound the size here (UPLOAD_REQUIRE_SIZE)",
                );
            }
            (
                Operation::Initiate
                | Operation::Part { .. }
                | Operation::Parts { .. }
                | Operation::Complete { .. },
                _,
            ) => {
                return bad(
                    "SizeNotEnforceable",
                    "no store bounds a multipart upload's total size; use a form upload (UPLOAD_REQUIRE_SIZE)",
                );
            }
            _ => {}
        }
    }
    Ok(())
}

/// What `ask` must carry for the rules, as header (or form field) names and values: headers
/// for a URL, fields for a form.
pub(crate) fn stamped(
    ask: &Ask,
    scheme: Scheme,
    rules: &UploadRules,
    caller: &Caller,
) -> Result<Vec<(String, String)>, ApiError> {
    let names = names(scheme);
    let mut out = Vec::new();
    let creates = matches!(
        ask.operation,
        Operation::Put | Operation::Initiate | Operation::Form { .. }
    );
    let finishes = matches!(
        ask.operation,
        Operation::Put | Operation::Complete { .. } | Operation::Form { .. }
    ) || (scheme != Scheme::S3 && ask.operation == Operation::Initiate);
    if !rules.overwrite && finishes {
        out.push(match scheme {
            Scheme::S3 => ("If-None-Match".to_owned(), "*".to_owned()),
            Scheme::OssV4 | Scheme::OssV1 => {
                ("x-oss-forbid-overwrite".to_owned(), "true".to_owned())
            }
        });
    }
    if creates {
        for (name, value) in metadata(ask, rules, caller)? {
            out.push((format!("{}{name}", names.metadata), value));
        }
        if let Some(tags) = tagging(rules, caller)? {
            let form_s3 = scheme == Scheme::S3 && matches!(ask.operation, Operation::Form { .. });
            out.push(if form_s3 {
                ("tagging".to_owned(), tagging_xml(&tags))
            } else {
                (names.tagging.to_owned(), tagging_query(&tags))
            });
        }
        out.extend(encryption(rules.encryption.as_ref(), names));
        if let Some(disposition) = rules.content_disposition {
            out.push((
                "Content-Disposition".to_owned(),
                disposition.as_str().to_owned(),
            ));
        }
    }
    if matches!(ask.operation, Operation::Put | Operation::Part { .. }) {
        for (algorithm, value) in &ask.checksums {
            out.push((format!("x-amz-checksum-{algorithm}"), value.clone()));
        }
    }
    Ok(out)
}

/// The configured metadata rendered for `caller`, then the client's own entries when
/// `UPLOAD_CLIENT_METADATA` allows them (never overriding a configured name).
fn metadata(
    ask: &Ask,
    rules: &UploadRules,
    caller: &Caller,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut entries = Vec::new();
    for stamp in &rules.metadata {
        entries.push((stamp.name.clone(), stamp.value.render(caller)?));
    }
    if !ask.metadata.is_empty() && !rules.client_metadata {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "ClientMetadataNotAllowed",
            "this deployment does not take metadata from requests (UPLOAD_CLIENT_METADATA)",
        ));
    }
    for (name, value) in &ask.metadata {
        if entries.iter().any(|(taken, _)| taken == name) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "MetadataNameReserved",
                format!("metadata {name:?} is set by this deployment (UPLOAD_METADATA)"),
            ));
        }
        entries.push((name.clone(), value.clone()));
    }
    let size: usize = entries.iter().map(|(n, v)| n.len() + v.len()).sum();
    if size > MAX_METADATA_BYTES {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            format!(
                "metadata names and values come to {size} bytes; S3 keeps at most {MAX_METADATA_BYTES}"
            ),
        ));
    }
    Ok(entries)
}

/// The configured tags rendered for `caller`, when there are any.
fn tagging(
    rules: &UploadRules,
    caller: &Caller,
) -> Result<Option<Vec<(String, String)>>, ApiError> {
    if rules.tagging.is_empty() {
        return Ok(None);
    }
    let tags = rules
        .tagging
        .iter()
        .map(|tag| Ok((tag.name.clone(), tag.value.render(caller)?)))
        .collect::<Result<Vec<_>, stsvend::Error>>()?;
    Ok(Some(tags))
}

/// `x-oss-tagging` / `x-amz-tagging`: the tags as a query string, each part encoded.
fn tagging_query(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k, RFC3986_UNRESERVED),
                percent_encode(v, RFC3986_UNRESERVED)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The `tagging` field of an S3 POST policy: the tag set as XML.
fn tagging_xml(tags: &[(String, String)]) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let set: String = tags
        .iter()
        .map(|(k, v)| {
            format!(
                "<Tag><Key>{}</Key><Value>{}</Value></Tag>",
                escape(k),
                escape(v)
            )
        })
        .collect();
    format!("<Tagging><TagSet>{set}</TagSet></Tagging>")
}

/// The server-side encryption headers.
fn encryption(encryption: Option<&Encryption>, names: &Names) -> Vec<(String, String)> {
    match encryption {
        None => Vec::new(),
        Some(Encryption::Aes256) => vec![(names.encryption.to_owned(), "AES256".to_owned())],
        Some(Encryption::Kms(key)) => {
            let mut out = vec![(names.encryption.to_owned(), names.kms.to_owned())];
            if let Some(key) = key {
                out.push((names.kms_key.to_owned(), key.clone()));
            }
            out
        }
    }
}
