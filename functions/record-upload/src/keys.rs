//! The public keys OSS signs callbacks with: pinned (`OSS_CALLBACK_PUBLIC_KEY_FILE`), the
//! published key bundled in the binary, or fetched once per URL from `gosspublic.alicdn.com`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use lambda_http::http::{Method, StatusCode};
use stsvend::{
    HttpSender, SignedRequest,
    sign::aliyun::callback::{self, PublicKey},
};
use stsvend_host::ApiError;

/// How long one key fetch may take.
pub(crate) const FETCH_DEADLINE: Duration = Duration::from_secs(2);

/// The largest key document read, in bytes (a PEM RSA key is well under 1 KiB).
const MAX_KEY_BYTES: usize = 4096;

/// Keys fetched and kept, at most.
const MAX_FETCHED: usize = 16;

/// The shortest time between two fetches of one URL (a fetch under way counts), so that
/// callbacks naming one key URL make record-upload fetch it once.
const FETCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long a URL whose fetch failed is not fetched again.
const FAILURE_HOLD: Duration = Duration::from_secs(60);

/// URLs whose attempts are remembered, at most; past it, the oldest attempt is forgotten.
const MAX_TRIED: usize = 256;

/// The callback keys of one process.
///
/// Fetches are spaced per URL, not for all URLs at once: a caller who names key URLs that
/// fail (and it takes a valid tag to get this far, see `handler.rs`) holds back those URLs
/// only, never the fetch of another.
pub(crate) struct CallbackKeys {
    pinned: Option<PublicKey>,
    published: PublicKey,
    fetched: Mutex<Fetched>,
    sender: Arc<dyn HttpSender>,
}

#[derive(Default)]
struct Fetched {
    keys: HashMap<String, PublicKey>,
    tried: HashMap<String, Tried>,
}

/// The last attempt at one URL that gave no key.
#[derive(Debug, Clone, Copy)]
struct Tried {
    at: Instant,
    failed: bool,
}

impl Fetched {
    /// Whether `url` may be fetched at `now`; when it may, the attempt is noted.
    fn may_fetch(&mut self, url: &str, now: Instant) -> Result<(), &'static str> {
        if let Some(tried) = self.tried.get(url) {
            if tried.failed && now < tried.at + FAILURE_HOLD {
                return Err(
                    "this callback key URL failed a moment ago; it is not fetched again yet",
                );
            }
            if !tried.failed && now < tried.at + FETCH_INTERVAL {
                return Err("this callback key is being fetched; try again");
            }
        }
        if self.tried.len() >= MAX_TRIED && !self.tried.contains_key(url) {
            self.tried.retain(|_, t| now < t.at + FAILURE_HOLD);
            // Every remembered attempt is still held: forgetting one would let a caller cycle
            // through URLs and make a fetch per request, so a new URL waits instead.
            if self.tried.len() >= MAX_TRIED {
                return Err("too many callback key URLs were tried a moment ago; try again later");
            }
        }
        self.tried.insert(
            url.to_owned(),
            Tried {
                at: now,
                failed: false,
            },
        );
        Ok(())
    }
}

impl CallbackKeys {
    /// With a pinned key, only that key; otherwise the published one and fetched ones.
    pub(crate) fn new(
        pinned: Option<PublicKey>,
        sender: Arc<dyn HttpSender>,
    ) -> Result<Self, String> {
        let published =
            PublicKey::from_pem(callback::PUBLISHED_KEY_PEM).map_err(|e| e.to_string())?;
        Ok(Self {
            pinned,
            published,
            fetched: Mutex::new(Fetched::default()),
            sender,
        })
    }

    /// The key for `url`, which [`callback::public_key_url`] has already allowed; a fetch
    /// takes at most `within` (and at most [`FETCH_DEADLINE`]).
    pub(crate) async fn key_for(&self, url: &str, within: Duration) -> Result<PublicKey, ApiError> {
        if let Some(pinned) = &self.pinned {
            return Ok(pinned.clone());
        }
        let https = https_url(url);
        if https == callback::PUBLISHED_KEY_URL {
            return Ok(self.published.clone());
        }
        {
            let mut fetched = self.lock();
            if let Some(key) = fetched.keys.get(&https) {
                return Ok(key.clone());
            }
            fetched
                .may_fetch(&https, Instant::now())
                .map_err(unavailable)?;
        }
        let outcome = self.fetch(&https, within.min(FETCH_DEADLINE)).await;
        let mut fetched = self.lock();
        match &outcome {
            Ok(key) => {
                fetched.tried.remove(&https);
                if fetched.keys.len() < MAX_FETCHED {
                    fetched.keys.insert(https, key.clone());
                }
            }
            Err(_) => {
                fetched.tried.insert(
                    https,
                    Tried {
                        at: Instant::now(),
                        failed: true,
                    },
                );
            }
        }
        outcome
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fetched> {
        self.fetched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fetches a PEM over HTTPS, within `within` and the size cap.
    async fn fetch(&self, url: &str, within: Duration) -> Result<PublicKey, ApiError> {
        let request = SignedRequest {
            method: Method::GET,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let reply = tokio::time::timeout(within, self.sender.send(request))
            .await
            .map_err(|_| unavailable("fetching the callback key timed out"))?
            .map_err(|_| unavailable("the callback key could not be fetched"))?;
        if reply.status != 200 || reply.body.len() > MAX_KEY_BYTES {
            return Err(unavailable(
                "the callback key URL did not answer with a key",
            ));
        }
        let pem = String::from_utf8(reply.body)
            .map_err(|_| unavailable("the callback key is not text"))?;
        PublicKey::from_pem(&pem)
            .map_err(|_| unavailable("the callback key is not an RSA public key"))
    }
}

/// The key URL fetched over HTTPS whatever scheme the header named.
fn https_url(url: &str) -> String {
    match url.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_owned(),
    }
}

fn unavailable(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "CallbackKeyUnavailable",
        message.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use stsvend::CannedSender;

    use super::*;

    fn callback_keys(status: u16, body: &str) -> (CallbackKeys, Arc<CannedSender>) {
        let sender = CannedSender::answering(status, body);
        let keys =
            CallbackKeys::new(None, Arc::clone(&sender) as Arc<dyn HttpSender>).expect("keys");
        (keys, sender)
    }

    #[tokio::test]
    async fn the_published_key_needs_no_fetch_over_either_scheme() {
        let (keys, sender) = callback_keys(500, "");
        for url in [
            "https://gosspublic.alicdn.com/callback_pub_key_v1.pem",
            "http://gosspublic.alicdn.com/callback_pub_key_v1.pem",
        ] {
            keys.key_for(url, FETCH_DEADLINE).await.expect("published");
        }
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn other_keys_are_fetched_once_over_https_and_kept() {
        let (keys, sender) = callback_keys(200, callback::PUBLISHED_KEY_PEM);
        keys.key_for(
            "http://gosspublic.alicdn.com/callback_pub_key_v2.pem",
            FETCH_DEADLINE,
        )
        .await
        .expect("fetched");
        keys.key_for(
            "https://gosspublic.alicdn.com/callback_pub_key_v2.pem",
            FETCH_DEADLINE,
        )
        .await
        .expect("kept");
        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].url,
            "https://gosspublic.alicdn.com/callback_pub_key_v2.pem"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_url_is_held_back_alone_and_tried_again_later() {
        let (keys, sender) = callback_keys(200, &"A".repeat(MAX_KEY_BYTES + 1));
        let e = keys
            .key_for("https://gosspublic.alicdn.com/a.pem", FETCH_DEADLINE)
            .await
            .expect_err("oversized");
        assert_eq!(e.code, "CallbackKeyUnavailable");
        // The failed URL is not fetched again for a while ...
        let e = keys
            .key_for("https://gosspublic.alicdn.com/a.pem", FETCH_DEADLINE)
            .await
            .expect_err("held back");
        assert!(e.message.contains("failed a moment ago"), "{}", e.message);
        assert_eq!(sender.sent().len(), 1);
        // ... but another URL is fetched at once: one caller's failures starve no one.
        keys.key_for("https://gosspublic.alicdn.com/b.pem", FETCH_DEADLINE)
            .await
            .expect_err("oversized too, but fetched");
        assert_eq!(sender.sent().len(), 2);
        tokio::time::advance(FAILURE_HOLD + Duration::from_millis(1)).await;
        keys.key_for("https://gosspublic.alicdn.com/a.pem", FETCH_DEADLINE)
            .await
            .expect_err("fetched again, still oversized");
        assert_eq!(sender.sent().len(), 3);
        let (keys, _) = callback_keys(404, "not found");
        assert!(
            keys.key_for("https://gosspublic.alicdn.com/c.pem", FETCH_DEADLINE)
                .await
                .is_err()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn cycling_through_failing_urls_makes_at_most_one_fetch_per_url_a_minute() {
        let (keys, sender) = callback_keys(404, "");
        // Three rounds over more URLs than are remembered, a millisecond apart.
        for _ in 0..3 {
            for n in 2..(MAX_TRIED + 12) {
                let url = format!("https://gosspublic.alicdn.com/callback_pub_key_v{n}.pem");
                assert!(keys.key_for(&url, FETCH_DEADLINE).await.is_err());
                tokio::time::advance(Duration::from_millis(1)).await;
            }
        }
        assert_eq!(
            sender.sent().len(),
            MAX_TRIED,
            "each remembered URL fetched once; the others wait"
        );
        assert!(
            keys.lock().tried.len() <= MAX_TRIED,
            "what is remembered is bounded"
        );
        // Once the holds end, a new URL is fetched again.
        tokio::time::advance(FAILURE_HOLD).await;
        keys.key_for(
            "https://gosspublic.alicdn.com/callback_pub_key_v9999.pem",
            FETCH_DEADLINE,
        )
        .await
        .expect_err("404, but fetched");
        assert_eq!(sender.sent().len(), MAX_TRIED + 1);
    }

    #[tokio::test]
    async fn a_pinned_key_is_the_only_key() {
        let sender = CannedSender::answering(500, "");
        let pinned = PublicKey::from_pem(callback::PUBLISHED_KEY_PEM).expect("pem");
        let keys = CallbackKeys::new(Some(pinned), Arc::clone(&sender) as Arc<dyn HttpSender>)
            .expect("keys");
        keys.key_for("https://gosspublic.alicdn.com/other.pem", FETCH_DEADLINE)
            .await
            .expect("pinned");
        assert!(sender.sent().is_empty());
    }
}
