//! What a client asks presign-url for, from a JSON body or a query string, checked.
//!
//! Only what can be judged from the request itself is checked here; what depends on the
//! deployment (`PRESIGN_METHODS`, `ALLOWED_CONTENT_TYPES`, the caller's prefix) is the
//! handler's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};
use stsvend::sign::{Decoding, MAX_KEYS, percent_decode};
use stsvend_host::ApiError;

use crate::listing::Listing;
use crate::parts;

mod fields;

pub(crate) use self::fields::is_media_type;
use self::fields::{
    boolean, checksum, disposition, header_value, metadata, string, upload_id, whole_number,
};

/// The URL lifetime when the request names none.
pub(crate) const DEFAULT_EXPIRES_SECONDS: u64 = 900;

/// The longest string accepted in a header or query override.
const MAX_VALUE_BYTES: usize = 1024;

/// One signing job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ask {
    /// The object key (with `startsWith`, the folder a form upload may write under).
    pub(crate) key: Option<String>,
    pub(crate) operation: Operation,
    /// `expires` as asked; `None` for the default.
    pub(crate) expires: Option<u64>,
    pub(crate) content_type: Option<String>,
    pub(crate) content_md5: Option<String>,
    /// An exact `Content-Length` to sign (S3).
    pub(crate) content_length: Option<u64>,
    /// GET response overrides and image processing, as OSS query parameters.
    pub(crate) overrides: Vec<(&'static str, String)>,
    /// The client's own user metadata (`metadata`), names lower case.
    pub(crate) metadata: Vec<(String, String)>,
    /// S3 checksums to sign (`checksumSha256`, `checksumCrc32`): the algorithm's header
    /// suffix (`sha256`, `crc32`) and the base64 value.
    pub(crate) checksums: Vec<(&'static str, String)>,
    /// The upload profile asked for (`profile`); `None` for the deployment's default.
    pub(crate) profile: Option<String>,
    /// The uploaded file's own name (`filename`), from which a profile's server-chosen key is
    /// made.
    pub(crate) filename: Option<String>,
    /// `"via":"cdn"`: a download through the CDN (`CDN_DOMAIN`) instead of the bucket.
    pub(crate) via_cdn: bool,
}

/// What the URL or form will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Operation {
    Get,
    Head,
    Put,
    Delete,
    /// A browser form upload (PostObject policy); with `starts_with`, any key under `key`.
    Form {
        starts_with: bool,
    },
    /// One part of a multipart upload.
    Part {
        upload_id: String,
        part_number: u32,
    },
    /// Parts of a multipart upload, signed in one batch (`partNumbers`), sorted.
    Parts {
        upload_id: String,
        part_numbers: Vec<u32>,
    },
    Initiate,
    Complete {
        upload_id: String,
    },
    Abort {
        upload_id: String,
    },
    ListParts {
        upload_id: String,
    },
    /// `list: true`: a listing of the caller's own prefix.
    List(Listing),
    /// `cookies: true`: CloudFront signed cookies for the caller's own prefix.
    Cookies,
    /// `usage: true`: the caller's quota usage under the profile; nothing is signed.
    Usage,
}

impl Operation {
    /// The HTTP method the client sends to OSS.
    pub(crate) fn http_method(&self) -> &'static str {
        match self {
            Self::Get | Self::ListParts { .. } | Self::List(_) | Self::Cookies | Self::Usage => {
                "GET"
            }
            Self::Head => "HEAD",
            Self::Put | Self::Part { .. } | Self::Parts { .. } => "PUT",
            Self::Delete | Self::Abort { .. } => "DELETE",
            Self::Form { .. } | Self::Initiate | Self::Complete { .. } => "POST",
        }
    }

    /// The `PRESIGN_METHODS` entry that allows it: multipart steps need `PUT`.
    pub(crate) fn permission(&self) -> &'static str {
        match self {
            Self::Part { .. }
            | Self::Parts { .. }
            | Self::Initiate
            | Self::Complete { .. }
            | Self::Abort { .. }
            | Self::ListParts { .. } => "PUT",
            Self::List(_) => "LIST",
            Self::Usage => "USAGE",
            other => other.http_method(),
        }
    }

    /// The OSS query parameters of the operation (for `Parts`, those every part shares; each
    /// part adds its `partNumber`).
    pub(crate) fn query(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Part {
                upload_id,
                part_number,
            } => {
                vec![
                    ("partNumber", part_number.to_string()),
                    ("uploadId", upload_id.clone()),
                ]
            }
            Self::Initiate => vec![("uploads", String::new())],
            Self::Complete { upload_id }
            | Self::Parts { upload_id, .. }
            | Self::Abort { upload_id }
            | Self::ListParts { upload_id } => {
                vec![("uploadId", upload_id.clone())]
            }
            _ => Vec::new(),
        }
    }

    /// Whether the object's `Content-Type` is set by this request (and so is subject to
    /// `ALLOWED_CONTENT_TYPES`).
    pub(crate) fn sets_content_type(&self) -> bool {
        matches!(self, Self::Put | Self::Form { .. } | Self::Initiate)
    }
}

/// Where the fields came from: numbers and booleans are JSON values in a body and strings in
/// a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Body,
    Query,
}

/// Reads a JSON body: one object, each member once (serde_json's own map would keep the last
/// of two `key` members, a reading another parser in front of stsvend may not share).
pub(crate) fn parse_json(body: &[u8]) -> Result<Ask, ApiError> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    match serde_json::from_slice::<Members>(text) {
        Ok(Members(members)) => parse_fields(unique(members)?, Source::Body),
        Err(e) if e.classify() == serde_json::error::Category::Data => Err(ApiError::bad_request(
            "InvalidRequest",
            "the body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(
            "InvalidRequest",
            format!("the body is not valid JSON: {e}"),
        )),
    }
}

/// Reads a raw query string (`a=1&b=2`, form-URL-encoded as browsers send it: `+` is a
/// space). A parameter given twice, a malformed percent-escape (`%ff`, `%4`) or an escape that
/// does not decode to UTF-8 is refused: the request is never read as something the client
/// did not send, nor with parameters silently dropped.
pub(crate) fn parse_query(raw: &str) -> Result<Ask, ApiError> {
    let mut members = Vec::new();
    for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = query_decode(name)?;
        let value =
            query_decode(value).map_err(|_| malformed_query(&format!("the value of {name:?}")))?;
        members.push((name, Value::String(value)));
    }
    parse_fields(unique(members)?, Source::Query)
}

/// Decodes one query component: `+` is a space, `%XY` a byte; the bytes must be UTF-8.
fn query_decode(component: &str) -> Result<String, ApiError> {
    let bytes = percent_decode(component.as_bytes(), Decoding::Form)
        .ok_or_else(|| malformed_query("a parameter"))?;
    String::from_utf8(bytes).map_err(|_| malformed_query("a parameter"))
}

fn malformed_query(what: &str) -> ApiError {
    ApiError::bad_request(
        "InvalidRequest",
        format!("{what} in the query string has a malformed percent-escape or is not UTF-8"),
    )
}

/// Members in order, refusing a name given twice.
fn unique(members: Vec<(String, Value)>) -> Result<Map<String, Value>, ApiError> {
    let mut fields = Map::new();
    for (name, value) in members {
        if fields.contains_key(&name) {
            return Err(ApiError::bad_request(
                "DuplicateField",
                format!("{name} is given more than once"),
            ));
        }
        fields.insert(name, value);
    }
    Ok(fields)
}

/// A JSON object's members in the order sent, a repeated name included.
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The fields a request may carry, as raw values.
#[derive(Default)]
struct Raw {
    key: Option<String>,
    method: Option<String>,
    expires: Option<u64>,
    content_type: Option<String>,
    content_md5: Option<String>,
    content_length: Option<u64>,
    response_content_type: Option<String>,
    response_content_disposition: Option<String>,
    process: Option<String>,
    upload_id: Option<String>,
    part_number: Option<u64>,
    part_numbers: Option<Vec<u32>>,
    multipart: Option<String>,
    starts_with: Option<bool>,
    list: Option<bool>,
    usage: Option<bool>,
    start_after: Option<String>,
    continuation_token: Option<String>,
    max_keys: Option<u64>,
    metadata: Option<Vec<(String, String)>>,
    checksums: Vec<(&'static str, String)>,
    profile: Option<String>,
    filename: Option<String>,
    via: Option<String>,
    cookies: Option<bool>,
}

fn parse_fields(fields: Map<String, Value>, source: Source) -> Result<Ask, ApiError> {
    let mut raw = Raw::default();
    for (name, value) in fields {
        if value.is_null() {
            continue;
        }
        match name.as_str() {
            "key" => raw.key = Some(string(&name, value)?),
            "method" => raw.method = Some(string(&name, value)?),
            "expires" => raw.expires = Some(whole_number(&name, value, source, "InvalidExpires")?),
            "contentType" => raw.content_type = Some(header_value(&name, value)?),
            "contentMd5" => raw.content_md5 = Some(header_value(&name, value)?),
            "contentLength" => {
                raw.content_length =
                    Some(whole_number(&name, value, source, "InvalidContentLength")?)
            }
            "responseContentType" => raw.response_content_type = Some(header_value(&name, value)?),
            "responseContentDisposition" => {
                raw.response_content_disposition = Some(disposition(&name, value)?)
            }
            "process" => raw.process = Some(header_value(&name, value)?),
            "uploadId" => raw.upload_id = Some(upload_id(&name, value)?),
            "partNumber" => {
                raw.part_number = Some(whole_number(&name, value, source, "InvalidPartNumber")?)
            }
            "partNumbers" => {
                raw.part_numbers = Some(parts::part_numbers(value, source == Source::Query)?)
            }
            "multipart" => raw.multipart = Some(string(&name, value)?),
            "startsWith" => raw.starts_with = Some(boolean(&name, value, source)?),
            "list" => raw.list = Some(boolean(&name, value, source)?),
            "usage" => raw.usage = Some(boolean(&name, value, source)?),
            "startAfter" => raw.start_after = Some(header_value(&name, value)?),
            "continuationToken" => raw.continuation_token = Some(header_value(&name, value)?),
            "maxKeys" => raw.max_keys = Some(whole_number(&name, value, source, "InvalidMaxKeys")?),
            "metadata" => raw.metadata = Some(metadata(value, source)?),
            "checksumSha256" => raw.checksums.push(("sha256", checksum(&name, value, 32)?)),
            "checksumCrc32" => raw.checksums.push(("crc32", checksum(&name, value, 4)?)),
            "profile" => raw.profile = Some(string(&name, value)?),
            "filename" => raw.filename = Some(string(&name, value)?),
            "via" => raw.via = Some(string(&name, value)?),
            "cookies" => raw.cookies = Some(boolean(&name, value, source)?),
            _ => {
                return Err(ApiError::bad_request(
                    "UnknownField",
                    format!(
                        "{name:?} is not a field presign-url knows (key, method, expires, contentType, contentMd5, \
                         contentLength, responseContentType, responseContentDisposition, process, uploadId, partNumber, partNumbers, multipart, startsWith, \
                         list, startAfter, continuationToken, maxKeys, metadata, checksumSha256, checksumCrc32, profile, filename, via, cookies, usage)"
                    ),
                ));
            }
        }
    }
    resolve(raw)
}

fn resolve(raw: Raw) -> Result<Ask, ApiError> {
    let operation = operation(&raw)?;
    if raw.expires == Some(0) {
        return Err(ApiError::bad_request(
            "InvalidExpires",
            "expires must be at least 1 second",
        ));
    }
    check_upload_headers(&raw, &operation)?;
    let overrides = overrides(&raw, &operation)?;
    let via_cdn = via(raw.via.as_deref())?;
    Ok(Ask {
        key: raw.key,
        operation,
        expires: raw.expires,
        content_type: raw.content_type,
        content_md5: raw.content_md5,
        content_length: raw.content_length,
        overrides,
        metadata: raw.metadata.unwrap_or_default(),
        checksums: raw.checksums,
        profile: raw.profile,
        filename: raw.filename,
        via_cdn,
    })
}

/// `via`: absent for the bucket, `cdn` for the CDN; nothing else, so that a misspelt value
/// never falls back to a bucket URL the client did not ask for.
fn via(value: Option<&str>) -> Result<bool, ApiError> {
    match value {
        None => Ok(false),
        Some("cdn") => Ok(true),
        Some(other) => Err(ApiError::bad_request(
            "InvalidVia",
            format!("via {other:?} is not cdn; leave via out for a bucket URL"),
        )),
    }
}

/// `FieldNotApplicable` for `field` on `operation`.
fn not_for(field: &str, operation: &Operation) -> ApiError {
    ApiError::bad_request(
        "FieldNotApplicable",
        format!("{field} does not apply to {}", describe(operation)),
    )
}

/// The headers an upload signs: `contentType` where the request sets the object's type,
/// `contentMd5` and `contentLength` on PUT and parts, each well-formed; and a
/// `responseContentType` that is one media type.
fn check_upload_headers(raw: &Raw, operation: &Operation) -> Result<(), ApiError> {
    let is_put = matches!(operation, Operation::Put | Operation::Part { .. });
    if let (Some(content_type), Operation::Complete { .. }) = (&raw.content_type, operation) {
        return completion_content_type(content_type);
    }
    if raw.content_type.is_some() && !operation.sets_content_type() {
        return Err(not_for("contentType", operation));
    }
    if let Some(content_type) = raw.content_type.as_ref().filter(|t| !is_media_type(t)) {
        return Err(ApiError::bad_request(
            "InvalidContentType",
            format!("{content_type:?} is not a media type"),
        ));
    }
    if let Some(value) = raw
        .response_content_type
        .as_ref()
        .filter(|t| !is_media_type(t))
    {
        return Err(ApiError::bad_request(
            "InvalidContentType",
            format!("{value:?} is not one media type"),
        ));
    }
    if raw.content_md5.is_some() && !is_put {
        return Err(not_for("contentMd5", operation));
    }
    if raw
        .content_md5
        .as_ref()
        .is_some_and(|md5| BASE64.decode(md5).map_or(true, |bytes| bytes.len() != 16))
    {
        return Err(ApiError::bad_request(
            "InvalidContentMd5",
            "contentMd5 must be the base64 of a 16-byte MD5 digest",
        ));
    }
    if raw.content_length.is_some() && !is_put {
        return Err(not_for("contentLength", operation));
    }
    if !raw.checksums.is_empty() && !is_put {
        return Err(not_for("checksumSha256 and checksumCrc32", operation));
    }
    let stamps = matches!(
        operation,
        Operation::Put | Operation::Initiate | Operation::Form { .. }
    );
    if raw.metadata.is_some() && !stamps {
        return Err(not_for("metadata", operation));
    }
    Ok(())
}

/// A completion's `contentType` is the type of its own XML body, which some clients send
/// (`@uppy/aws-s3` sends `application/xml`) and OSS signs: it sets nothing on the object, so
/// only an XML media type is signed.
fn completion_content_type(content_type: &str) -> Result<(), ApiError> {
    if COMPLETION_CONTENT_TYPES
        .iter()
        .any(|xml| xml.eq_ignore_ascii_case(content_type))
    {
        return Ok(());
    }
    Err(ApiError::bad_request(
        "InvalidContentType",
        format!(
            "{content_type:?} is not the type of a completion's XML body (application/xml or text/xml)"
        ),
    ))
}

/// The `contentType`s a multipart completion may sign: its body's.
const COMPLETION_CONTENT_TYPES: [&str; 2] = ["application/xml", "text/xml"];

/// The GET-only fields, as the OSS query parameters they become.
fn overrides(raw: &Raw, operation: &Operation) -> Result<Vec<(&'static str, String)>, ApiError> {
    let mut overrides = Vec::new();
    for (field, parameter, value) in [
        (
            "responseContentType",
            "response-content-type",
            &raw.response_content_type,
        ),
        (
            "responseContentDisposition",
            "response-content-disposition",
            &raw.response_content_disposition,
        ),
        ("process", "x-oss-process", &raw.process),
    ] {
        if let Some(value) = value {
            if *operation != Operation::Get {
                return Err(not_for(field, operation));
            }
            overrides.push((parameter, value.clone()));
        }
    }
    Ok(overrides)
}

/// `InvalidMultipart` with `message`.
fn invalid_multipart(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("InvalidMultipart", message)
}

fn operation(raw: &Raw) -> Result<Operation, ApiError> {
    if let Some(cookies) = cookies(raw)? {
        return Ok(cookies);
    }
    if raw.usage == Some(true) {
        return usage(raw);
    }
    if let Some(listing) = listing(raw)? {
        return Ok(listing);
    }
    let method = raw.method.as_deref().map(str::to_ascii_uppercase);
    if raw.starts_with.is_some() && method.as_deref() != Some("POST") {
        return Err(ApiError::bad_request(
            "FieldNotApplicable",
            "startsWith applies to method POST (form uploads) only",
        ));
    }
    if let Some(part_numbers) = &raw.part_numbers {
        let single_or_step = raw.part_number.is_some() || raw.multipart.is_some();
        let upload_id = raw.upload_id.as_ref();
        return parts_operation(method.as_deref(), upload_id, single_or_step, part_numbers);
    }
    if let Some(step) = &raw.multipart {
        return multipart_step(raw, step);
    }
    let method = method.unwrap_or_else(|| "GET".to_owned());
    match (method.as_str(), &raw.upload_id, raw.part_number) {
        ("PUT", Some(upload_id), Some(part_number)) => match u32::try_from(part_number) {
            Ok(n @ 1..=10_000) => Ok(Operation::Part {
                upload_id: upload_id.clone(),
                part_number: n,
            }),
            _ => Err(ApiError::bad_request(
                "InvalidPartNumber",
                "partNumber must be from 1 to 10000",
            )),
        },
        ("PUT", Some(_), None) | ("PUT", None, Some(_)) => Err(invalid_multipart(
            "a part upload needs both uploadId and partNumber",
        )),
        (_, Some(_), _) | (_, _, Some(_)) => Err(ApiError::bad_request(
            "FieldNotApplicable",
            "uploadId and partNumber apply to part uploads (method PUT) and multipart steps only",
        )),
        ("GET", ..) => Ok(Operation::Get),
        ("HEAD", ..) => Ok(Operation::Head),
        ("PUT", ..) => Ok(Operation::Put),
        ("DELETE", ..) => Ok(Operation::Delete),
        ("POST", ..) => Ok(Operation::Form {
            starts_with: raw.starts_with.unwrap_or(false),
        }),
        (other, ..) => Err(ApiError::bad_request(
            "InvalidMethod",
            format!("method {other:?} is not GET, HEAD, PUT, DELETE or POST"),
        )),
    }
}

/// `cookies: true`: CloudFront cookies for the caller's own prefix, which names no key, method
/// or upload (`cookies: false` is as if absent).
fn cookies(raw: &Raw) -> Result<Option<Operation>, ApiError> {
    if raw.cookies != Some(true) {
        return Ok(None);
    }
    let object = [
        ("key", raw.key.is_some()),
        ("method", raw.method.is_some()),
        ("multipart", raw.multipart.is_some()),
        ("uploadId", raw.upload_id.is_some()),
        ("partNumber", raw.part_number.is_some()),
        ("partNumbers", raw.part_numbers.is_some()),
        ("startsWith", raw.starts_with.is_some()),
        ("filename", raw.filename.is_some()),
        ("list", raw.list.is_some()),
    ];
    match object.iter().find(|(_, given)| *given) {
        Some((name, _)) => Err(ApiError::bad_request(
            "FieldNotApplicable",
            format!("{name} does not apply to cookies: they cover your own prefix"),
        )),
        None => Ok(Some(Operation::Cookies)),
    }
}

/// `list: true`: a listing of the caller's own prefix, which names no key, method or upload;
/// `startAfter`, `continuationToken` and `maxKeys` (1 to 1000) go with it only.
fn listing(raw: &Raw) -> Result<Option<Operation>, ApiError> {
    let paging = [
        ("startAfter", raw.start_after.is_some()),
        ("continuationToken", raw.continuation_token.is_some()),
        ("maxKeys", raw.max_keys.is_some()),
    ];
    let not_applicable = |fields: &[(&str, bool)], why: &str| {
        fields
            .iter()
            .find(|(_, given)| *given)
            .map(|(name, _)| ApiError::bad_request("FieldNotApplicable", format!("{name} {why}")))
    };
    if raw.list != Some(true) {
        return not_applicable(&paging, "applies to list: true only").map_or(Ok(None), Err);
    }
    let object = [
        ("key", raw.key.is_some()),
        ("method", raw.method.is_some()),
        ("multipart", raw.multipart.is_some()),
        ("uploadId", raw.upload_id.is_some()),
        ("partNumber", raw.part_number.is_some()),
        ("startsWith", raw.starts_with.is_some()),
        ("filename", raw.filename.is_some()),
    ];
    if let Some(error) = not_applicable(&object, "does not apply to list: it lists your own prefix")
    {
        return Err(error);
    }
    let max_keys = match raw.max_keys.map(u32::try_from) {
        None => None,
        Some(Ok(n @ 1..=MAX_KEYS)) => Some(n),
        Some(_) => {
            return Err(ApiError::bad_request(
                "InvalidMaxKeys",
                format!("maxKeys must be from 1 to {MAX_KEYS}"),
            ));
        }
    };
    Ok(Some(Operation::List(Listing {
        start_after: raw.start_after.clone(),
        continuation_token: raw.continuation_token.clone(),
        max_keys,
    })))
}

/// `usage: true`: the caller's quota usage under the profile, asked with `profile` alone.
fn usage(raw: &Raw) -> Result<Operation, ApiError> {
    let others = [
        ("key", raw.key.is_some()),
        ("method", raw.method.is_some()),
        ("expires", raw.expires.is_some()),
        ("contentType", raw.content_type.is_some()),
        ("contentMd5", raw.content_md5.is_some()),
        ("contentLength", raw.content_length.is_some()),
        ("multipart", raw.multipart.is_some()),
        ("uploadId", raw.upload_id.is_some()),
        ("partNumber", raw.part_number.is_some()),
        ("partNumbers", raw.part_numbers.is_some()),
        ("startsWith", raw.starts_with.is_some()),
        ("list", raw.list.is_some()),
        ("startAfter", raw.start_after.is_some()),
        ("continuationToken", raw.continuation_token.is_some()),
        ("maxKeys", raw.max_keys.is_some()),
        ("metadata", raw.metadata.is_some()),
        ("process", raw.process.is_some()),
        ("responseContentType", raw.response_content_type.is_some()),
        (
            "responseContentDisposition",
            raw.response_content_disposition.is_some(),
        ),
        ("checksumSha256", !raw.checksums.is_empty()),
        ("filename", raw.filename.is_some()),
    ];
    match others.iter().find(|(_, given)| *given) {
        Some((name, _)) => Err(ApiError::bad_request(
            "FieldNotApplicable",
            format!("{name} does not apply to usage: it answers your own counts under the profile"),
        )),
        None => Ok(Operation::Usage),
    }
}

/// A multipart step (`multipart`), sent without `method` or `partNumber`.
fn multipart_step(raw: &Raw, step: &str) -> Result<Operation, ApiError> {
    let upload_id = || {
        raw.upload_id
            .clone()
            .ok_or_else(|| invalid_multipart("this multipart step needs uploadId"))
    };
    if raw.method.is_some() {
        return Err(invalid_multipart(
            "send multipart without method; the answer's Method says what to send",
        ));
    }
    if raw.part_number.is_some() {
        return Err(invalid_multipart(
            "partNumber goes with method PUT and uploadId, not with multipart",
        ));
    }
    match step {
        "initiate" if raw.upload_id.is_some() => {
            Err(invalid_multipart("initiate takes no uploadId"))
        }
        "initiate" => Ok(Operation::Initiate),
        "complete" => Ok(Operation::Complete {
            upload_id: upload_id()?,
        }),
        "abort" => Ok(Operation::Abort {
            upload_id: upload_id()?,
        }),
        "list" => Ok(Operation::ListParts {
            upload_id: upload_id()?,
        }),
        other => Err(invalid_multipart(format!(
            "multipart {other:?} is not initiate, complete, abort or list"
        ))),
    }
}

fn describe(operation: &Operation) -> &'static str {
    match operation {
        Operation::Get => "GET",
        Operation::Head => "HEAD",
        Operation::Put => "PUT",
        Operation::Delete => "DELETE",
        Operation::Form { .. } => "a POST form upload",
        Operation::Part { .. } => "a part upload",
        Operation::Parts { .. } => "a batch of part uploads (each part has its own)",
        Operation::Initiate => "multipart initiate",
        Operation::Complete { .. } => "multipart complete",
        Operation::Abort { .. } => "multipart abort",
        Operation::ListParts { .. } => "multipart list",
        Operation::List(_) => "a listing",
        Operation::Cookies => "cookies",
        Operation::Usage => "usage",
    }
}

/// The operation `partNumbers` asks for: part uploads (`method: "PUT"` with `uploadId`, no
/// `partNumber` and no `multipart` step).
fn parts_operation(
    method: Option<&str>,
    upload_id: Option<&String>,
    single_or_step: bool,
    part_numbers: &[u32],
) -> Result<Operation, ApiError> {
    match (method, upload_id) {
        (Some("PUT"), Some(upload_id)) if !single_or_step => Ok(Operation::Parts {
            upload_id: upload_id.clone(),
            part_numbers: part_numbers.to_vec(),
        }),
        _ => Err(ApiError::bad_request(
            "InvalidMultipart",
            "partNumbers goes with method PUT and uploadId, without partNumber or multipart",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Ask, ApiError> {
        parse_json(text.as_bytes())
    }

    fn code(result: Result<Ask, ApiError>) -> String {
        match result {
            Ok(ask) => panic!("accepted: {ask:?}"),
            Err(e) => {
                assert_eq!(e.status, 400, "{}", e.code);
                e.code.into_owned()
            }
        }
    }

    #[test]
    fn body_and_query_give_the_same_ask() {
        let from_body =
            json(r#"{"key":"u/a b+c.txt","method":"put","expires":60,"contentType":"image/png"}"#);
        let from_query =
            parse_query("key=u%2Fa+b%2Bc.txt&method=PUT&expires=60&contentType=image%2Fpng");
        let expected = Ask {
            key: Some("u/a b+c.txt".to_owned()),
            operation: Operation::Put,
            expires: Some(60),
            content_type: Some("image/png".to_owned()),
            content_md5: None,
            content_length: None,
            overrides: Vec::new(),
            metadata: Vec::new(),
            checksums: Vec::new(),
            profile: None,
            filename: None,
            via_cdn: false,
        };
        assert_eq!(from_body.expect("body"), expected);
        assert_eq!(from_query.expect("query"), expected);
    }

    #[test]
    fn multipart_steps_resolve_to_their_method_and_query() {
        let cases = [
            (
                r#"{"key":"k","multipart":"initiate"}"#,
                "POST",
                vec![("uploads", "")],
            ),
            (
                r#"{"key":"k","method":"PUT","uploadId":"U1","partNumber":3}"#,
                "PUT",
                vec![("partNumber", "3"), ("uploadId", "U1")],
            ),
            (
                r#"{"key":"k","multipart":"complete","uploadId":"U1"}"#,
                "POST",
                vec![("uploadId", "U1")],
            ),
            (
                r#"{"key":"k","multipart":"abort","uploadId":"U1"}"#,
                "DELETE",
                vec![("uploadId", "U1")],
            ),
            (
                r#"{"key":"k","multipart":"list","uploadId":"U1"}"#,
                "GET",
                vec![("uploadId", "U1")],
            ),
        ];
        for (text, method, query) in cases {
            let ask = json(text).expect(text);
            assert_eq!(ask.operation.http_method(), method, "{text}");
            assert_eq!(ask.operation.permission(), "PUT", "{text}");
            let got: Vec<(&str, String)> = ask.operation.query();
            let want: Vec<(&str, String)> =
                query.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn a_completion_signs_only_its_xml_bodys_content_type() {
        // @uppy/aws-s3 6 sends `Content-Type: application/xml` with the completion's body
        // (`XML_CONTENT_TYPE` in its s3-client/consts.ts).
        for content_type in ["application/xml", "text/xml", "Application/XML"] {
            let text = format!(
                r#"{{"key":"k","multipart":"complete","uploadId":"U1","contentType":"{content_type}"}}"#
            );
            let ask = json(&text).expect(&text);
            assert_eq!(ask.content_type.as_deref(), Some(content_type));
        }
        for content_type in [
            "text/html",
            "image/png",
            "application/xml; charset=utf-8",
            "application/xml,text/html",
        ] {
            let text = format!(
                r#"{{"key":"k","multipart":"complete","uploadId":"U1","contentType":"{content_type}"}}"#
            );
            assert_eq!(code(json(&text)), "InvalidContentType", "{text}");
        }
        for text in [
            r#"{"key":"k","multipart":"abort","uploadId":"U1","contentType":"application/xml"}"#,
            r#"{"key":"k","multipart":"list","uploadId":"U1","contentType":"application/xml"}"#,
        ] {
            assert_eq!(code(json(text)), "FieldNotApplicable", "{text}");
        }
    }

    #[test]
    fn every_malformed_request_has_its_own_code() {
        let cases = [
            ("[1]", "InvalidRequest"),
            ("{\"key\":", "InvalidRequest"),
            (r#"{"key":"k","colour":"red"}"#, "UnknownField"),
            (r#"{"key":7}"#, "InvalidField"),
            (r#"{"key":"k","expires":-5}"#, "InvalidExpires"),
            (r#"{"key":"k","expires":1.5}"#, "InvalidExpires"),
            (r#"{"key":"k","expires":"900"}"#, "InvalidExpires"),
            (r#"{"key":"k","expires":0}"#, "InvalidExpires"),
            (r#"{"key":"k","method":"PATCH"}"#, "InvalidMethod"),
            (r#"{"key":"k","multipart":"resume"}"#, "InvalidMultipart"),
            (r#"{"key":"k","multipart":"complete"}"#, "InvalidMultipart"),
            (
                r#"{"key":"k","multipart":"initiate","method":"POST"}"#,
                "InvalidMultipart",
            ),
            (
                r#"{"key":"k","method":"PUT","uploadId":"U"}"#,
                "InvalidMultipart",
            ),
            (
                r#"{"key":"k","method":"PUT","uploadId":"U","partNumber":0}"#,
                "InvalidPartNumber",
            ),
            (
                r#"{"key":"k","method":"PUT","uploadId":"U","partNumber":10001}"#,
                "InvalidPartNumber",
            ),
            (
                r#"{"key":"k","method":"GET","uploadId":"U"}"#,
                "FieldNotApplicable",
            ),
            (
                r#"{"key":"k","method":"GET","contentType":"image/png"}"#,
                "FieldNotApplicable",
            ),
            (
                r#"{"key":"k","method":"PUT","responseContentType":"text/plain"}"#,
                "FieldNotApplicable",
            ),
            (
                r#"{"key":"k","method":"GET","contentMd5":"1B2M2Y8AsgTpgAmY7PhCfg=="}"#,
                "FieldNotApplicable",
            ),
            (
                r#"{"key":"k","method":"PUT","startsWith":true}"#,
                "FieldNotApplicable",
            ),
            (
                r#"{"key":"k","method":"PUT","contentMd5":"abc"}"#,
                "InvalidContentMd5",
            ),
            (
                r#"{"key":"k","method":"PUT","contentType":"png"}"#,
                "InvalidContentType",
            ),
            (
                r#"{"key":"k","method":"PUT","contentType":"image/png,text/html"}"#,
                "InvalidContentType",
            ),
            (
                r#"{"key":"k","method":"PUT","contentType":"image/png;a=b,text/html"}"#,
                "InvalidContentType",
            ),
            (
                r#"{"key":"k","method":"POST","contentType":"image/png;"}"#,
                "InvalidContentType",
            ),
            (
                r#"{"key":"k","responseContentType":"text/html, image/png"}"#,
                "InvalidContentType",
            ),
            (
                r#"{"key":"k","responseContentDisposition":"a\nb"}"#,
                "InvalidField",
            ),
            (
                r#"{"key":"k","responseContentType":" text/plain"}"#,
                "InvalidField",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(code(json(text)), expected, "{text}");
        }
        assert_eq!(code(parse_query("key=a&key=b")), "DuplicateField");
        assert_eq!(code(parse_query("key=a&expires=-1")), "InvalidExpires");
        assert_eq!(code(parse_query("key=a&expires=ten")), "InvalidExpires");
        assert_eq!(
            code(parse_query("key=a&method=POST&startsWith=yes")),
            "InvalidField"
        );
    }

    #[test]
    fn header_values_hold_no_invisible_format_characters() {
        for body in [
            // JSON escapes: U+202E, U+200B, U+FEFF.
            r#"{"key":"k","responseContentDisposition":"attachment; filename=invoice\u202egpj.exe"}"#,
            r#"{"key":"k","responseContentDisposition":"inline\u200b"}"#,
            r#"{"key":"k","method":"PUT","contentType":"image/png\ufeff"}"#,
        ] {
            assert_eq!(code(json(body)), "InvalidField", "{body}");
        }
        for body in [
            r#"{"key":"k","responseContentDisposition":"attachment; filename*=UTF-8''invoice%E2%80%AEgpj.exe"}"#,
            r#"{"key":"k","responseContentDisposition":"attachment; filename*=utf-8''a%e2%80%8bb.pdf"}"#,
            r#"{"key":"k","responseContentDisposition":"attachment; filename=\"=?UTF-8?Q?invoice=E2=80=AEgpj.exe?=\""}"#,
            r#"{"key":"k","responseContentDisposition":"attachment; filename*=UTF-8''a%0Ab.pdf"}"#,
        ] {
            assert_eq!(code(json(body)), "InvalidField", "{body}");
        }
        let escaped = json(r#"{"key":"k","responseContentDisposition":"attachment; filename*=UTF-8''%E4%B8%AD.pdf"}"#)
            .expect("an escaped plain unicode filename");
        assert_eq!(escaped.overrides.len(), 1);
        let ask =
            json(r#"{"key":"k","responseContentDisposition":"attachment; filename=\"中文.pdf\""}"#)
                .expect("a plain unicode filename");
        assert_eq!(ask.overrides.len(), 1);
    }

    #[test]
    fn a_field_given_twice_is_refused_in_a_body_as_in_a_query() {
        for body in [
            r#"{"key":"uploads/anonymous/a.png","key":"uploads/bob/a.png"}"#,
            r#"{"key":"k","method":"GET","method":"PUT"}"#,
            r#"{"key":"k","expires":60,"expires":null}"#,
        ] {
            assert_eq!(code(json(body)), "DuplicateField", "{body}");
        }
        assert_eq!(code(json("[1]")), "InvalidRequest");
        assert_eq!(code(json(r#"{"key":"k""#)), "InvalidRequest");
    }

    #[test]
    fn a_malformed_query_is_refused_never_guessed() {
        for raw in [
            "key=uploads%2Fanonymous%2F%ff.png",
            "key=uploads/anonymous/%E2%80.png",
            "key=uploads/anonymous/a%2",
            "key=uploads/anonymous/a%zz",
            "key=uploads/anonymous/a%+1",
            "key=a&%ff=1",
        ] {
            assert_eq!(code(parse_query(raw)), "InvalidRequest", "{raw}");
        }
        let ask = parse_query("key=uploads%2Fanonymous%2F%E2%9C%93+x.png&&method=get")
            .expect("well-formed");
        assert_eq!(ask.key.as_deref(), Some("uploads/anonymous/\u{2713} x.png"));
        assert_eq!(ask.operation, Operation::Get);
    }

    #[test]
    fn an_empty_body_is_an_empty_request() {
        let ask = parse_json(b"  ").expect("empty");
        assert_eq!(ask.key, None);
        assert_eq!(ask.operation, Operation::Get);
    }
}
