//! The requests presign-url sends the store itself for Companion's multipart routes
//! (CreateMultipartUpload, ListParts, CompleteMultipartUpload, AbortMultipartUpload): each a
//! URL presign-url signed for the caller, with the caller's credential, sent through the one
//! transport within `STS_TIMEOUT_MS`, retried as STS requests are; and the store's XML answers
//! read.
//!
//! # Reference
//! The S3 API reference (`InitiateMultipartUploadResult`, `ListPartsResult`, `Error`) and OSS's
//! (the same element names).

use std::time::{Duration, Instant};

use lambda_http::http::{HeaderName, Method, StatusCode};
use ring::rand::{SecureRandom, SystemRandom};
use stsvend::{HttpReply, HttpSender, SignedRequest};
use stsvend_host::ApiError;

/// Attempts at one request, as for STS.
const MAX_ATTEMPTS: u32 = 3;

/// The ceiling of the first pause between attempts; it doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// One request to the store: the signed URL, the headers it signs, the body.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// Sends `call` within `timeout`, retries included: a connection failure, a 5xx or a 429 is
/// tried again after a jittered, doubling pause while the pause fits. Any answer the store gave
/// is returned (the caller reads its status); no answer in time is 504, none at all 502.
pub(crate) async fn send(
    sender: &dyn HttpSender,
    call: Call,
    timeout: Duration,
) -> Result<HttpReply, ApiError> {
    let mut headers = Vec::with_capacity(call.headers.len());
    for (name, value) in &call.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| unavailable("a header name presign-url signed is not valid"))?;
        headers.push((name, value.clone()));
    }
    let deadline = Instant::now() + timeout;
    let mut attempt = 1;
    loop {
        let request = SignedRequest {
            method: call.method.clone(),
            url: call.url.clone(),
            headers: headers.clone(),
            body: call.body.clone(),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        let outcome = match tokio::time::timeout(left, sender.send(request)).await {
            Ok(Ok(reply)) if !retryable(reply.status) => return Ok(reply),
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(unavailable("the store could not be reached")),
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "StoreTimeout",
                "the store did not answer in time",
            )),
        };
        let pause = backoff(attempt);
        if attempt >= MAX_ATTEMPTS || Instant::now() + pause >= deadline {
            return outcome;
        }
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

fn retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// Full jitter: a random pause up to 100 ms, 200 ms, ... for attempt 1, 2, ...
fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_BACKOFF.saturating_mul(1 << attempt.saturating_sub(1).min(10));
    let mut random = [0u8; 4];
    let fraction = match SystemRandom::new().fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}

fn unavailable(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "StoreUnavailable",
        message.to_owned(),
    )
}

/// The store's refusal as an error for the caller: its status when it is the caller's doing
/// (403, 404, 400), with the store's `Code` (`NoSuchUpload`, `AccessDenied`, ...); else 502.
pub(crate) fn refusal(reply: &HttpReply) -> ApiError {
    let xml = String::from_utf8_lossy(&reply.body);
    let code = element(&xml, "Code").unwrap_or_default();
    let code = if code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') && !code.is_empty() {
        code
    } else {
        "Unknown".to_owned()
    };
    match reply.status {
        400 | 403 | 404 | 409 => ApiError::new(
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_REQUEST),
            "StoreRefused",
            format!("the store refused the request: {code}"),
        ),
        status => unavailable(&format!("the store answered HTTP {status} ({code})")),
    }
}

/// One part of a multipart upload, as ListParts gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) number: u32,
    pub(crate) etag: String,
    pub(crate) size: u64,
}

/// A page of ListParts: its parts, and the marker of the next page when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartsPage {
    pub(crate) parts: Vec<Part>,
    pub(crate) next: Option<String>,
}

/// Reads a `ListPartsResult`; `None` when it is not one.
pub(crate) fn parts_page(body: &[u8]) -> Option<PartsPage> {
    let xml = std::str::from_utf8(body).ok()?;
    raw_element(xml, "ListPartsResult")?;
    let mut parts = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<Part>") {
        let end = start + rest[start..].find("</Part>")?;
        let part = &rest[start..end];
        rest = &rest[end..];
        // A part named without its ETag cannot be completed from: it is left out, and the
        // client sends it again.
        let Some(etag) = element(part, "ETag") else {
            continue;
        };
        parts.push(Part {
            number: element(part, "PartNumber")?.parse().ok()?,
            etag,
            size: element(part, "Size")?.parse().ok()?,
        });
    }
    let truncated = element(xml, "IsTruncated").is_some_and(|t| t.eq_ignore_ascii_case("true"));
    let next = element(xml, "NextPartNumberMarker")
        .filter(|m| truncated && !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    if truncated && next.is_none() {
        return None;
    }
    Some(PartsPage { parts, next })
}

/// The `UploadId` of an `InitiateMultipartUploadResult`.
pub(crate) fn upload_id(body: &[u8]) -> Option<String> {
    let xml = std::str::from_utf8(body).ok()?;
    raw_element(xml, "InitiateMultipartUploadResult")?;
    element(xml, "UploadId").filter(|id| !id.is_empty())
}

/// The raw content of the first `<name>…</name>` element.
fn raw_element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}");
    let mut from = 0;
    loop {
        let at = from + xml[from..].find(&open)?;
        let after = &xml[at + open.len()..];
        // `<Part>` is not `<PartNumber>`: the name ends at `>` or at an attribute.
        match after.bytes().next() {
            Some(b'>') => {
                let start = at + open.len() + 1;
                let end = start + xml[start..].find(&format!("</{name}>"))?;
                return Some(&xml[start..end]);
            }
            Some(b' ') => {
                let start = at + open.len() + after.find('>')? + 1;
                let end = start + xml[start..].find(&format!("</{name}>"))?;
                return Some(&xml[start..end]);
            }
            _ => from = at + open.len(),
        }
    }
}

/// The text of the first `<name>…</name>` element, entities decoded.
fn element(xml: &str, name: &str) -> Option<String> {
    let raw = raw_element(xml, name)?;
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#34;", "\"")
            .replace("&amp;", "&"),
    )
}

/// `text` escaped for an XML element's content.
pub(crate) fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_parts_page_is_read_as_s3_and_oss_write_it() {
        // The S3 API reference's ListParts example (abridged), with its namespace.
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket><Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <PartNumberMarker>1</PartNumberMarker><NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>
  <Part><PartNumber>2</PartNumber><LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag><Size>10485760</Size></Part>
  <Part><PartNumber>3</PartNumber><LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag><Size>10485760</Size></Part>
</ListPartsResult>"#;
        let page = parts_page(s3).expect("a page");
        assert_eq!(page.next.as_deref(), Some("3"));
        assert_eq!(
            page.parts,
            vec![
                Part {
                    number: 2,
                    etag: "\"7778aef83f66abc1fa1e8477f296d394\"".to_owned(),
                    size: 10_485_760
                },
                Part {
                    number: 3,
                    etag: "\"aaaa18db4cc2f85cedef654fccc4a4x8\"".to_owned(),
                    size: 10_485_760
                },
            ]
        );
        let last = b"<ListPartsResult><IsTruncated>false</IsTruncated><NextPartNumberMarker>3</NextPartNumberMarker></ListPartsResult>";
        assert_eq!(
            parts_page(last),
            Some(PartsPage {
                parts: vec![],
                next: None
            })
        );
        // Truncated without a marker to go on from, or not a listing at all: not a page.
        assert_eq!(
            parts_page(b"<ListPartsResult><IsTruncated>true</IsTruncated></ListPartsResult>"),
            None
        );
        assert_eq!(
            parts_page(b"<Error><Code>NoSuchUpload</Code></Error>"),
            None
        );
        assert_eq!(parts_page(b"<ListPartsResult><Part><PartNumber>x</PartNumber><ETag>e</ETag><Size>1</Size></Part></ListPartsResult>"), None);
        let without_etag = b"<ListPartsResult><Part><PartNumber>1</PartNumber><Size>1</Size></Part></ListPartsResult>";
        assert_eq!(
            parts_page(without_etag),
            Some(PartsPage {
                parts: vec![],
                next: None
            })
        );
    }

    #[test]
    fn an_initiate_answer_gives_its_upload_id() {
        let s3 = br#"<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(upload_id(s3).as_deref(), Some("VXBsb2FkIElE"));
        assert_eq!(upload_id(b"<Error><UploadId>x</UploadId></Error>"), None);
        assert_eq!(upload_id(b"<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>"), None);
    }
}
