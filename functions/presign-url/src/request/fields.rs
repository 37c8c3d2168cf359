//! The readers of one request field's value, each naming the field in its refusal: strings
//! and header values (bounded, no control characters), `Content-Disposition`, upload IDs,
//! whole numbers, booleans, metadata, checksums, and media types.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use stsvend::hides_characters;
use stsvend::sign::{Decoding, percent_decode};
use stsvend_host::ApiError;

use super::{MAX_VALUE_BYTES, Source};

/// One media type, `type/subtype` with optional `; name=value` parameters: no list (a comma
/// would let a second type ride past `ALLOWED_CONTENT_TYPES`; browsers obey the last one).
pub(crate) fn is_media_type(value: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$^_.+-".contains(&b))
    };
    let mut parts = value.split(';');
    let media_ok = parts
        .next()
        .and_then(|media| media.trim().split_once('/'))
        .is_some_and(|(kind, sub)| token(kind) && token(sub));
    let params_ok = parts.all(|param| {
        param.trim().split_once('=').is_some_and(|(name, value)| {
            let value = value.trim().trim_matches('"');
            token(name.trim())
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$^_.+-/".contains(&b))
        })
    });
    media_ok && params_ok
}

pub(super) fn string(name: &str, value: Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(ApiError::bad_request(
            "InvalidField",
            format!("{name} must be a string, not {other}"),
        )),
    }
}

/// A string that will travel in a header or query parameter: no control characters, no
/// invisible format characters (a `Content-Disposition` filename with U+202E would display
/// `invoice\u{202E}gpj.exe` as `invoiceexe.jpg`), no surrounding blanks (SDKs disagree on
/// trimming them), at most 1 KiB.
pub(super) fn header_value(name: &str, value: Value) -> Result<String, ApiError> {
    let s = string(name, value)?;
    if s.is_empty()
        || s.len() > MAX_VALUE_BYTES
        || s.chars().any(char::is_control)
        || hides_characters(&s)
        || s.trim() != s
    {
        return Err(ApiError::bad_request(
            "InvalidField",
            format!(
                "{name} must be 1 to 1024 bytes with no control or invisible format characters or surrounding blanks"
            ),
        ));
    }
    Ok(s)
}

/// A `Content-Disposition` to serve with: a [`header_value`] that holds no invisible format
/// character once its RFC 5987 `filename*` escapes are decoded either (browsers decode
/// `filename*=UTF-8''invoice%E2%80%AEgpj.exe`), and no RFC 2047 encoded word (`=?UTF-8?Q?…?=`,
/// which some clients decode too).
pub(super) fn disposition(name: &str, value: Value) -> Result<String, ApiError> {
    let s = header_value(name, value)?;
    let bytes = percent_decode(s.as_bytes(), Decoding::Lenient).unwrap_or_default();
    let decoded = String::from_utf8_lossy(&bytes);
    if s.contains("=?") || decoded.chars().any(char::is_control) || hides_characters(&decoded) {
        return Err(ApiError::bad_request(
            "InvalidField",
            format!(
                "{name} must name a file with no control or invisible format characters, escaped or not"
            ),
        ));
    }
    Ok(s)
}

/// An upload id as OSS and S3 issue them: letters, digits and `._-`, at most 1 KiB.
pub(super) fn upload_id(name: &str, value: Value) -> Result<String, ApiError> {
    let id = header_value(name, value)?;
    if id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Ok(id)
    } else {
        Err(ApiError::bad_request(
            "InvalidField",
            "uploadId holds only letters, digits and ._-",
        ))
    }
}

pub(super) fn whole_number(
    name: &str,
    value: Value,
    source: Source,
    code: &'static str,
) -> Result<u64, ApiError> {
    let parsed = match (&value, source) {
        (Value::Number(n), _) => n.as_u64(),
        (Value::String(s), Source::Query)
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        let form = if source == Source::Query {
            "a decimal string"
        } else {
            "a JSON number"
        };
        ApiError::bad_request(
            code,
            format!("{name} must be a whole number of at least 0 ({form}), not {value}"),
        )
    })
}

pub(super) fn boolean(name: &str, value: Value, source: Source) -> Result<bool, ApiError> {
    match (&value, source) {
        (Value::Bool(b), _) => Ok(*b),
        (Value::String(s), Source::Query) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(ApiError::bad_request(
            "InvalidField",
            format!("{name} must be true or false, not {value}"),
        )),
    }
}

/// The longest client metadata value accepted, in bytes.
pub(super) const MAX_METADATA_VALUE_BYTES: usize = 256;

/// `metadata`: a JSON object of names (lower-case letters, digits, `-`) to printable ASCII
/// values, at most 10 entries; not in a query (there is no unambiguous way to write it).
pub(super) fn metadata(value: Value, source: Source) -> Result<Vec<(String, String)>, ApiError> {
    let invalid = |message: String| ApiError::bad_request("InvalidMetadata", message);
    let Value::Object(entries) = value else {
        return Err(invalid(match source {
            Source::Query => "metadata is sent in a JSON body, as an object".to_owned(),
            Source::Body => "metadata must be an object of names to strings".to_owned(),
        }));
    };
    if entries.len() > 10 {
        return Err(invalid("at most 10 metadata entries".to_owned()));
    }
    entries
        .into_iter()
        .map(|(name, value)| {
            let printable = |s: &str| s.bytes().all(|b| (0x20..0x7f).contains(&b));
            match value {
                Value::String(text)
                    if stsvend::is_metadata_name(&name)
                        && printable(&text)
                        && text.len() <= MAX_METADATA_VALUE_BYTES =>
                {
                    Ok((name, text))
                }
                _ => Err(invalid(format!(
                    "metadata {name:?}: names are lower-case letters, digits and '-', values printable ASCII of at most {MAX_METADATA_VALUE_BYTES} bytes"
                ))),
            }
        })
        .collect()
}

/// A checksum: the base64 of `bytes` bytes (a SHA-256 is 32, a CRC32 4).
pub(super) fn checksum(name: &str, value: Value, bytes: usize) -> Result<String, ApiError> {
    let text = string(name, value)?;
    match BASE64.decode(&text) {
        Ok(raw) if raw.len() == bytes => Ok(text),
        _ => Err(ApiError::bad_request(
            "InvalidChecksum",
            format!("{name} must be the base64 of {bytes} bytes"),
        )),
    }
}
