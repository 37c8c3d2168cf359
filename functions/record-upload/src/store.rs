//! The store's word on an object: a `HEAD` signed with the function's own credentials (from
//! the same sources as the other functions'; under Function Compute, the key it hands the
//! invocation), sent through the one transport.
//!
//! A callback body is what OSS filled in, but anyone with an OSS account can have OSS sign a
//! body of their choosing, and a tag binds only bucket, key (or prefix) and expiry. So the
//! size, ETag and type a record gives are the store's, read here, never the callback's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_http::http::{HeaderMap, HeaderName, Method, header};
use stsvend::{
    CredentialProvider, HttpReply, HttpSender, Provider, SignedRequest,
    sign::ObjectRequest,
    sign::{Presigner, Scheme},
};
use stsvend_host::Config;

use crate::detect::SNIFF_BYTES;
use crate::record::normalized_etag;

/// How long one `HEAD` may take: OSS waits 5 s for the callback's answer, and the webhook
/// delivery comes after it.
pub(crate) const HEAD_DEADLINE: Duration = Duration::from_secs(1);

/// How long the signed `HEAD` URL is valid: it is sent at once.
const URL_LIFETIME: Duration = Duration::from_secs(60);

/// An object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectFacts {
    /// `Content-Length`.
    pub(crate) size: u64,
    /// `ETag`, unquoted and lower case.
    pub(crate) etag: String,
    /// `Content-Type`, when the store gives one.
    pub(crate) content_type: Option<String>,
    /// User metadata (`x-oss-meta-*` or `x-amz-meta-*`), by lower-case name without the
    /// prefix; values as the store gives them.
    pub(crate) metadata: BTreeMap<String, String>,
}

/// What a read of the object's first bytes, or its deletion, found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bound<T> {
    /// Done on the object with the ETag given.
    Done(T),
    /// The object has another ETag now, or is gone: it was not read (or not deleted).
    Changed,
}

/// What a `HEAD` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The object, as the store describes it.
    Object(ObjectFacts),
    /// The store holds no object under the key (404).
    Missing,
}

/// The bucket, and what signs and sends requests to it.
pub(crate) struct Store {
    provider: Provider,
    presigner: Presigner,
    credentials: Arc<CredentialProvider>,
    sender: Arc<dyn HttpSender>,
}

impl Store {
    /// The configured bucket at `BUCKET_ENDPOINT` (or the provider's), signed with OSS V4 or
    /// SigV4, which every region and every S3-compatible store takes.
    pub(crate) fn new(config: &Config, sender: Arc<dyn HttpSender>) -> Self {
        let scheme = match config.provider {
            Provider::Aliyun => Scheme::OssV4,
            Provider::Aws => Scheme::S3,
        };
        Self {
            provider: config.provider,
            presigner: Presigner::new(
                scheme,
                config.bucket_endpoint.clone(),
                &config.scope.bucket,
                &config.bucket_region,
            ),
            credentials: Arc::clone(&config.sts.credentials),
            sender,
        }
    }

    /// What the store says of `key` at `now`, within `within` (at most [`HEAD_DEADLINE`]),
    /// getting the credential included; why it could not be asked otherwise (no credential,
    /// no answer in time, an answer other than 200 or 404, or a 200 without a size or an
    /// ETag).
    pub(crate) async fn head(
        &self,
        key: &str,
        now: SystemTime,
        within: Duration,
    ) -> Result<Seen, String> {
        let reply = self
            .within(within, self.send(Method::HEAD, key, Vec::new(), now))
            .await?;
        match reply.status {
            200 => facts(&reply.headers, self.metadata_prefix()).map(Seen::Object),
            404 => Ok(Seen::Missing),
            status => Err(format!("the store answered HEAD with HTTP {status}")),
        }
    }

    /// The first [`SNIFF_BYTES`] of `key` while its ETag is `etag`: a signed `GET` with
    /// `Range: bytes=0-8191` and `If-Match`, whose answer must carry `etag` too (a store that
    /// ignores `If-Match` is caught there). An object with another ETag, or gone, is
    /// [`Bound::Changed`].
    pub(crate) async fn first_bytes(
        &self,
        key: &str,
        etag: &str,
        now: SystemTime,
        within: Duration,
    ) -> Result<Bound<Vec<u8>>, String> {
        let headers = vec![
            (header::RANGE, format!("bytes=0-{}", SNIFF_BYTES - 1)),
            (header::IF_MATCH, self.quoted(etag)),
        ];
        let reply = self
            .within(within, self.send(Method::GET, key, headers, now))
            .await?;
        match reply.status {
            200 | 206 => {
                let served = reply
                    .headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(normalized_etag);
                if served.as_deref() != Some(etag) {
                    return Ok(Bound::Changed);
                }
                let mut body = reply.body;
                body.truncate(usize::try_from(SNIFF_BYTES).unwrap_or(usize::MAX));
                Ok(Bound::Done(body))
            }
            404 | 412 => Ok(Bound::Changed),
            status => Err(format!("the store answered GET with HTTP {status}")),
        }
    }

    /// Deletes `key`, signed `DELETE`. On S3, only while its ETag is `etag` (`If-Match`; 412
    /// is [`Bound::Changed`]); OSS's `DeleteObject` takes no condition, so there the object
    /// under the key is deleted whatever it holds now. An object already gone is deleted.
    pub(crate) async fn delete(
        &self,
        key: &str,
        etag: &str,
        now: SystemTime,
        within: Duration,
    ) -> Result<Bound<()>, String> {
        let headers = match self.provider {
            Provider::Aws => vec![(header::IF_MATCH, self.quoted(etag))],
            Provider::Aliyun => Vec::new(),
        };
        let reply = self
            .within(within, self.send(Method::DELETE, key, headers, now))
            .await?;
        match reply.status {
            200 | 204 | 404 => Ok(Bound::Done(())),
            412 => Ok(Bound::Changed),
            status => Err(format!("the store answered DELETE with HTTP {status}")),
        }
    }

    /// One page of the objects under `prefix` (ListObjectsV2, signed as the `HEAD` is), after
    /// the previous page's `continuation`, within [`LIST_DEADLINE`].
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        continuation: Option<&str>,
        now: SystemTime,
    ) -> Result<ListPage, String> {
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        if let Some(token) = continuation {
            query.push(("continuation-token", token));
        }
        let listing = self.send_query(Method::GET, "", &query, Vec::new(), now);
        let reply = tokio::time::timeout(LIST_DEADLINE, listing)
            .await
            .map_err(|_| "the store did not list within 10 s".to_owned())??;
        if reply.status != 200 {
            return Err(format!(
                "the store answered ListObjectsV2 with HTTP {}",
                reply.status
            ));
        }
        let xml = std::str::from_utf8(&reply.body)
            .map_err(|_| "the store's listing is not UTF-8".to_owned())?;
        ListPage::parse(xml)
    }

    /// `etag` (kept lower case) as the store wrote it, quoted: OSS writes upper-case hex,
    /// S3 lower case, and `If-Match` compares them byte for byte.
    fn quoted(&self, etag: &str) -> String {
        match self.provider {
            Provider::Aliyun => format!("\"{}\"", etag.to_ascii_uppercase()),
            Provider::Aws => format!("\"{etag}\""),
        }
    }

    /// `x-oss-meta-` or `x-amz-meta-`.
    fn metadata_prefix(&self) -> &'static str {
        match self.provider {
            Provider::Aliyun => "x-oss-meta-",
            Provider::Aws => "x-amz-meta-",
        }
    }

    /// `request`, given at most `within` (capped at [`HEAD_DEADLINE`]).
    async fn within<T>(
        &self,
        within: Duration,
        request: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let within = within.min(HEAD_DEADLINE);
        tokio::time::timeout(within, request)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the store did not answer within {} ms",
                    within.as_millis()
                ))
            })
    }

    /// `method` on `key`, presigned with the function's own credential (the URL signs no
    /// header, so `Range` and `If-Match` travel beside it) and sent through the one transport.
    async fn send(
        &self,
        method: Method,
        key: &str,
        headers: Vec<(HeaderName, String)>,
        now: SystemTime,
    ) -> Result<HttpReply, String> {
        self.send_query(method, key, &[], headers, now).await
    }

    /// [`Store::send`] with query parameters signed into the URL.
    async fn send_query(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        headers: Vec<(HeaderName, String)>,
        now: SystemTime,
    ) -> Result<HttpReply, String> {
        let credential = self
            .credentials
            .credential(&self.sender, now)
            .await
            .map_err(|e| format!("no credential to ask the store with: {e}"))?;
        let request = ObjectRequest {
            method: method.as_str(),
            bucket: self.presigner.bucket(),
            key,
            query,
            headers: &[],
        };
        let url = self
            .presigner
            .url(&credential, request, now, URL_LIFETIME)
            .url;
        let request = SignedRequest {
            method,
            url,
            headers,
            body: Vec::new(),
        };
        self.sender
            .send(request)
            .await
            .map_err(|_| "the store could not be reached".to_owned())
    }
}

/// How long one listing page may take.
const LIST_DEADLINE: Duration = Duration::from_secs(10);

/// One ListObjectsV2 page: each object's key, size and ETag, and the next page's token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ListPage {
    /// Key, size and ETag (lower case, unquoted; empty when the store wrote none) of each
    /// object.
    pub(crate) objects: Vec<(String, u64, String)>,
    /// `NextContinuationToken` when `IsTruncated` is true.
    pub(crate) next: Option<String>,
}

impl ListPage {
    /// Reads a `ListBucketResult` (OSS and S3 write the same elements).
    ///
    /// # Format
    /// ```text
    /// <ListBucketResult> <IsTruncated>true|false</IsTruncated>
    ///   <NextContinuationToken>T</NextContinuationToken>?
    ///   <Contents><Key>K</Key><ETag>"E"</ETag><Size>N</Size>…</Contents>*
    /// </ListBucketResult>
    /// ```
    ///
    /// # Reference
    /// - <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>
    /// - <https://www.alibabacloud.com/help/en/oss/developer-reference/listobjectsv2>
    pub(crate) fn parse(xml: &str) -> Result<Self, String> {
        if !xml.contains("<ListBucketResult") {
            return Err("the store's listing is not a ListBucketResult".to_owned());
        }
        let mut page = Self::default();
        let mut rest = xml;
        while let Some(start) = rest.find("<Contents>") {
            let after = &rest[start + "<Contents>".len()..];
            let end = after
                .find("</Contents>")
                .ok_or("an unclosed Contents in the listing")?;
            let entry = &after[..end];
            let field = |name| xml_text(entry, name).ok_or(format!("a Contents without {name}"));
            let size = field("Size")?
                .parse::<u64>()
                .map_err(|_| "a Contents whose Size is no byte count".to_owned())?;
            // Every store writes an ETag; one that does not (s3s-fs) leaves it empty, and the
            // next settle of the key counts its size by the difference, as an overwrite.
            let etag = xml_text(entry, "ETag").unwrap_or_default();
            page.objects
                .push((field("Key")?, size, normalized_etag(&etag)));
            rest = &after[end..];
        }
        if xml_text(xml, "IsTruncated").as_deref() == Some("true") {
            let next = xml_text(xml, "NextContinuationToken")
                .filter(|t| !t.is_empty())
                .ok_or("a truncated listing without NextContinuationToken")?;
            page.next = Some(next);
        }
        Ok(page)
    }
}

/// The text of the first `<name>…</name>` in `xml`, its entities decoded (the five named ones
/// and numeric references, which S3 writes for control characters in keys).
fn xml_text(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    let mut out = String::new();
    let mut rest = &xml[start..end];
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..].find(';')? + amp;
        let entity = &rest[amp + 1..semi];
        let decoded = match entity {
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            "amp" => '&',
            _ => {
                let number = entity.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code)?
            }
        };
        out.push(decoded);
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The size, ETag, type and user metadata (headers named `metadata_prefix`…) in a `HEAD`
/// answer's headers.
fn facts(headers: &HeaderMap, metadata_prefix: &str) -> Result<ObjectFacts, String> {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let size = text(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or("the store's HEAD answer has no Content-Length")?;
    let etag = text(header::ETAG).ok_or("the store's HEAD answer has no ETag")?;
    let metadata = headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix(metadata_prefix)?;
            Some((name.to_owned(), value.to_str().ok()?.trim().to_owned()))
        })
        .collect();
    Ok(ObjectFacts {
        size,
        etag: normalized_etag(etag),
        content_type: text(header::CONTENT_TYPE).map(str::to_owned),
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    header::HeaderName::from_static(n),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn a_head_answer_gives_size_etag_and_type() {
        let got = facts(
            &headers(&[
                ("content-length", "50052"),
                ("etag", "\"5B3B2C0E8E7E4B6F8A1D2C3B4A596877\""),
                ("content-type", "text/html"),
                ("x-amz-meta-uploader", "alice"),
                ("x-oss-meta-kind", "avatar"),
            ]),
            "x-amz-meta-",
        );
        assert_eq!(
            got,
            Ok(ObjectFacts {
                size: 50052,
                etag: "5b3b2c0e8e7e4b6f8a1d2c3b4a596877".to_owned(),
                content_type: Some("text/html".to_owned()),
                metadata: BTreeMap::from([("uploader".to_owned(), "alice".to_owned())]),
            })
        );
    }

    #[test]
    fn a_listing_page_gives_each_object_and_the_next_token() {
        // The shape of S3's documented ListObjectsV2 example, with a key needing entities.
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>uploads/</Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
  <Contents><Key>uploads/alice/a&amp;b&#x0A;.txt</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>
    <ETag>&quot;599BAB3ED2C697F1D26842727561FD94&quot;</ETag><Size>857</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>uploads/bob/b.png</Key><ETag>"fba9dede5f27731c9771645a39863328"</ETag><Size>0</Size></Contents>
</ListBucketResult>"#;
        let page = ListPage::parse(xml).expect("a page");
        assert_eq!(
            page.objects,
            [
                (
                    "uploads/alice/a&b\n.txt".to_owned(),
                    857,
                    "599bab3ed2c697f1d26842727561fd94".to_owned()
                ),
                (
                    "uploads/bob/b.png".to_owned(),
                    0,
                    "fba9dede5f27731c9771645a39863328".to_owned()
                ),
            ]
        );
        assert_eq!(
            page.next.as_deref(),
            Some("1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        );
        let last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(ListPage::parse(last), Ok(ListPage::default()));
        for bad in [
            "<Error><Code>AccessDenied</Code></Error>",
            "<ListBucketResult><Contents><Key>k</Key><Size>x</Size><ETag>e</ETag></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Size>1</Size><ETag>e</ETag></Contents></ListBucketResult>",
            "<ListBucketResult><Contents><Key>k</Key></ListBucketResult>",
            "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
            "<ListBucketResult><Contents><Key>&bogus;</Key><Size>1</Size><ETag>e</ETag></Contents></ListBucketResult>",
        ] {
            assert!(ListPage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_answer_without_size_or_etag_is_no_answer() {
        let m = "x-oss-meta-";
        assert!(facts(&headers(&[("etag", "\"a\"")]), m).is_err());
        assert!(facts(&headers(&[("content-length", "1")]), m).is_err());
        assert!(facts(&headers(&[("content-length", "-1"), ("etag", "\"a\"")]), m).is_err());
    }
}
