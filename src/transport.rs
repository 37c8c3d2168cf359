//! Sending signed requests: the one place the library performs network I/O.
//!
//! The signing modules are sans-IO; the functions hand what they build to an
//! [`HttpSender`]. Production uses [`ReqwestSender`] (one client per cold start, rustls);
//! tests swap in a sender that captures the request and answers with canned bytes.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use crate::Error;

pub(crate) use stsvend_sign::SignedRequest;

/// The largest upstream answer read; STS answers are a few KiB.
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// A boxed, sendable future, as trait objects return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An upstream answer, as far as the parsers need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: u16,
    /// The body, at most [`MAX_REPLY_BYTES`].
    pub body: Vec<u8>,
    /// `Retry-After` as the upstream sent it (delta-seconds or an HTTP-date); read it with
    /// [`HttpReply::retry_after_seconds`].
    pub retry_after: Option<String>,
    /// The answer's headers (a store's `HEAD` answer is all headers).
    pub headers: http::HeaderMap,
}

impl HttpReply {
    /// The upstream's `Retry-After` in seconds from `now` (the instant the request was
    /// made), when it sent one that [`retry_after_seconds`] understands.
    pub fn retry_after_seconds(&self, now: SystemTime) -> Option<u64> {
        self.retry_after
            .as_deref()
            .and_then(|value| retry_after_seconds(value, now))
    }
}

/// The longest `Retry-After` value kept from an upstream answer, in bytes: an HTTP-date is 29.
const MAX_RETRY_AFTER_BYTES: usize = 64;

/// How many seconds from `now` a `Retry-After` value asks to wait: either form RFC 9110
/// allows, delta-seconds (`120`) or an HTTP-date (`Fri, 31 Dec 1999 23:59:59 GMT`, and the
/// obsolete forms), a date rounded up to the next whole second and a past date being 0.
/// `None` for anything else.
///
/// # Reference
/// RFC 9110 §10.2.3 (`Retry-After`), §5.6.7 (HTTP-date).
pub fn retry_after_seconds(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(match at.duration_since(now) {
        Ok(wait) => wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        Err(_) => 0,
    })
}

/// Sends a signed request and reads the answer.
pub trait HttpSender: Send + Sync + 'static {
    /// Sends `request`. Errors are [`Error::StsUnreachable`], [`Error::StsTimeout`] or, for
    /// an oversized body, [`Error::StsMalformed`].
    fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>>;

    /// Opens a connection to `url` ahead of the first request (a `HEAD`, answer ignored), so
    /// that the first caller does not pay the handshakes. Does nothing by default.
    fn warm_up<'a>(&'a self, url: &'a str) -> BoxFuture<'a, ()> {
        let _ = url;
        Box::pin(async {})
    }
}

/// The production sender: reqwest with rustls, built once per cold start and reused, so
/// connections to STS stay open between requests.
#[derive(Debug, Clone)]
pub struct ReqwestSender {
    client: reqwest::Client,
    timeout: Duration,
}

impl ReqwestSender {
    /// A sender whose requests give up after `timeout` (connecting included).
    pub fn new(timeout: Duration) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("stsvend/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::StsUnreachable(Box::new(e)))?;
        Ok(Self { client, timeout })
    }

    async fn send_now(&self, request: SignedRequest) -> Result<HttpReply, Error> {
        let mut builder = self.client.request(request.method, &request.url);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let map_err = |e: reqwest::Error| {
            if e.is_timeout() {
                Error::StsTimeout(self.timeout)
            } else {
                Error::StsUnreachable(Box::new(e.without_url()))
            }
        };
        let mut response = builder.body(request.body).send().await.map_err(map_err)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= MAX_RETRY_AFTER_BYTES)
            .map(str::to_owned);
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(map_err)? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(Error::StsMalformed {
                    status,
                    reason: "body larger than 1 MiB",
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpReply {
            status,
            body,
            retry_after,
            headers,
        })
    }

    async fn warm_up_now(&self, url: &str) {
        // Any answer will do: the point is the TCP and TLS handshakes, kept in the pool.
        let _ = self.client.head(url).send().await;
    }
}

impl HttpSender for ReqwestSender {
    fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        Box::pin(self.send_now(request))
    }

    fn warm_up<'a>(&'a self, url: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.warm_up_now(url))
    }
}

/// A sender for tests (feature `test-util`): records every request and answers each with the
/// same canned reply, or never answers at all (a stalled upstream).
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default)]
pub struct CannedSender {
    reply: Option<HttpReply>,
    sent: std::sync::Mutex<Vec<SignedRequest>>,
}

#[cfg(any(test, feature = "test-util"))]
impl CannedSender {
    /// Answers every request with `status` and `body`.
    pub fn answering(status: u16, body: &str) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            reply: Some(HttpReply {
                status,
                body: body.as_bytes().to_vec(),
                retry_after: None,
                headers: http::HeaderMap::new(),
            }),
            sent: std::sync::Mutex::default(),
        })
    }

    /// Answers every request with `status`, `body` and `headers` (a store's `HEAD` answer is
    /// its headers; a webhook ignores them).
    pub fn answering_with_headers(
        status: u16,
        body: &str,
        headers: &[(&'static str, &str)],
    ) -> std::sync::Arc<Self> {
        let headers = headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    http::HeaderName::from_static(name),
                    http::HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect();
        std::sync::Arc::new(Self {
            reply: Some(HttpReply {
                status,
                body: body.as_bytes().to_vec(),
                retry_after: None,
                headers,
            }),
            sent: std::sync::Mutex::default(),
        })
    }

    /// Never answers.
    pub fn stalled() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self::default())
    }

    /// The requests sent so far.
    pub fn sent(&self) -> Vec<SignedRequest> {
        self.sent
            .lock()
            .map(|sent| sent.clone())
            .unwrap_or_default()
    }
}

#[cfg(any(test, feature = "test-util"))]
impl HttpSender for CannedSender {
    fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(request);
        }
        let reply = self.reply.clone();
        Box::pin(async move {
            match reply {
                Some(reply) => Ok(reply),
                None => std::future::pending().await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// 1999-12-31T23:59:59Z.
    const LAST_SECOND_OF_1999: u64 = 946_684_799;

    fn at(unix: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix) + Duration::from_millis(millis)
    }

    #[test]
    fn retry_after_in_seconds_is_read_as_is() {
        let now = at(LAST_SECOND_OF_1999, 0);
        for (value, seconds) in [("0", Some(0)), ("7", Some(7)), (" 120 ", Some(120))] {
            assert_eq!(retry_after_seconds(value, now), seconds, "{value:?}");
        }
        for value in ["", "-1", "1.5", "soon", "7 seconds"] {
            assert_eq!(retry_after_seconds(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn retry_after_as_a_date_counts_from_now() {
        let now = at(LAST_SECOND_OF_1999 - 30, 0);
        for date in [
            "Fri, 31 Dec 1999 23:59:59 GMT",
            "Friday, 31-Dec-99 23:59:59 GMT",
            "Fri Dec 31 23:59:59 1999",
        ] {
            assert_eq!(retry_after_seconds(date, now), Some(30), "{date:?}");
        }
        // Part of a second left counts as a whole one; a date already past means now.
        let date = "Fri, 31 Dec 1999 23:59:59 GMT";
        assert_eq!(
            retry_after_seconds(date, at(LAST_SECOND_OF_1999 - 1, 250)),
            Some(1)
        );
        assert_eq!(
            retry_after_seconds(date, at(LAST_SECOND_OF_1999, 0)),
            Some(0)
        );
        assert_eq!(
            retry_after_seconds(date, at(LAST_SECOND_OF_1999 + 60, 0)),
            Some(0)
        );
    }

    #[test]
    fn a_reply_reads_its_retry_after_at_the_instant_given() {
        let reply = |retry_after: Option<&str>| HttpReply {
            status: 429,
            body: Vec::new(),
            retry_after: retry_after.map(str::to_owned),
            headers: http::HeaderMap::new(),
        };
        let now = at(LAST_SECOND_OF_1999 - 5, 0);
        assert_eq!(reply(None).retry_after_seconds(now), None);
        assert_eq!(reply(Some("3")).retry_after_seconds(now), Some(3));
        assert_eq!(
            reply(Some("Fri, 31 Dec 1999 23:59:59 GMT")).retry_after_seconds(now),
            Some(5)
        );
    }
}
