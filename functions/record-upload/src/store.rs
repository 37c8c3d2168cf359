//! The store's word on an object: a `HEAD` signed with the function's own credentials (from
//! the same sources as the other functions'; under Function Compute, the key it hands the
//! invocation), sent through the one transport.
//!
//! A callback body is what OSS filled in, but anyone with an OSS account can have OSS sign a
//! body of their choosing, and a tag binds only bucket, key (or prefix) and expiry. So the
//! size, ETag and type a record gives are the store's, read here, never the callback's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lambda_http::http::{HeaderMap, Method, header};
use stsvend::{
    CredentialProvider, HttpSender, Provider, SignedRequest,
    sign::ObjectRequest,
    sign::{Presigner, Scheme},
};
use stsvend_host::Config;

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
        let within = within.min(HEAD_DEADLINE);
        tokio::time::timeout(within, self.head_now(key, now))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "the store did not answer within {} ms",
                    within.as_millis()
                ))
            })
    }

    async fn head_now(&self, key: &str, now: SystemTime) -> Result<Seen, String> {
        let credential = self
            .credentials
            .credential(&self.sender, now)
            .await
            .map_err(|e| format!("no credential to ask the store with: {e}"))?;
        let request = ObjectRequest {
            method: "HEAD",
            bucket: self.presigner.bucket(),
            key,
            query: &[],
            headers: &[],
        };
        let url = self
            .presigner
            .url(&credential, request, now, URL_LIFETIME)
            .url;
        let request = SignedRequest {
            method: Method::HEAD,
            url,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let reply = self
            .sender
            .send(request)
            .await
            .map_err(|_| "the store could not be reached".to_owned())?;
        match reply.status {
            200 => facts(&reply.headers).map(Seen::Object),
            404 => Ok(Seen::Missing),
            status => Err(format!("the store answered HEAD with HTTP {status}")),
        }
    }
}

/// The size, ETag and type in a `HEAD` answer's headers.
fn facts(headers: &HeaderMap) -> Result<ObjectFacts, String> {
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
    Ok(ObjectFacts {
        size,
        etag: normalized_etag(etag),
        content_type: text(header::CONTENT_TYPE).map(str::to_owned),
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
        let got = facts(&headers(&[
            ("content-length", "50052"),
            ("etag", "\"5B3B2C0E8E7E4B6F8A1D2C3B4A596877\""),
            ("content-type", "text/html"),
        ]));
        assert_eq!(
            got,
            Ok(ObjectFacts {
                size: 50052,
                etag: "5b3b2c0e8e7e4b6f8a1d2c3b4a596877".to_owned(),
                content_type: Some("text/html".to_owned()),
            })
        );
    }

    #[test]
    fn an_answer_without_size_or_etag_is_no_answer() {
        assert!(facts(&headers(&[("etag", "\"a\"")])).is_err());
        assert!(facts(&headers(&[("content-length", "1")])).is_err());
        assert!(facts(&headers(&[("content-length", "-1"), ("etag", "\"a\"")])).is_err());
    }
}
