//! The public keys OSS signs callbacks with: pinned (`OSS_CALLBACK_PUBLIC_KEY_FILE`), the
//! published key bundled in the binary, or fetched once per URL from `gosspublic.alicdn.com`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_http::http::{Method, StatusCode};
use stsvend::host::response::ApiError;
use stsvend::sign::aliyun::callback::{self, PublicKey};
use stsvend::transport::{HttpSender, SignedRequest};

/// How long one key fetch may take.
const FETCH_DEADLINE: Duration = Duration::from_secs(2);

/// The largest key document read, in bytes (a PEM RSA key is well under 1 KiB).
const MAX_KEY_BYTES: usize = 4096;

/// Keys fetched and kept, at most.
const MAX_FETCHED: usize = 16;

/// The shortest time between two fetches, so that callbacks naming many key URLs cannot
/// make record-upload fetch for each one.
const FETCH_INTERVAL: Duration = Duration::from_secs(1);

/// The callback keys of one process.
pub(crate) struct CallbackKeys {
    pinned: Option<PublicKey>,
    published: PublicKey,
    fetched: Mutex<Fetched>,
    sender: Arc<dyn HttpSender>,
}

#[derive(Default)]
struct Fetched {
    keys: HashMap<String, PublicKey>,
    last: Option<Instant>,
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

    /// The key for `url`, which [`callback::public_key_url`] has already allowed.
    pub(crate) async fn key_for(&self, url: &str) -> Result<PublicKey, ApiError> {
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
            let now = Instant::now();
            if fetched.last.is_some_and(|last| now < last + FETCH_INTERVAL) {
                return Err(unavailable("a key was fetched a moment ago; try again"));
            }
            fetched.last = Some(now);
        }
        let key = self.fetch(&https).await?;
        let mut fetched = self.lock();
        if fetched.keys.len() < MAX_FETCHED {
            fetched.keys.insert(https, key.clone());
        }
        Ok(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Fetched> {
        self.fetched
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fetches a PEM over HTTPS, within the deadline and the size cap.
    async fn fetch(&self, url: &str) -> Result<PublicKey, ApiError> {
        let request = SignedRequest {
            method: Method::GET,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        let reply = tokio::time::timeout(FETCH_DEADLINE, self.sender.send(request))
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
    use stsvend::transport::CannedSender;

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
            keys.key_for(url).await.expect("published");
        }
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn other_keys_are_fetched_once_over_https_and_kept() {
        let (keys, sender) = callback_keys(200, callback::PUBLISHED_KEY_PEM);
        keys.key_for("http://gosspublic.alicdn.com/callback_pub_key_v2.pem")
            .await
            .expect("fetched");
        keys.key_for("https://gosspublic.alicdn.com/callback_pub_key_v2.pem")
            .await
            .expect("kept");
        let sent = sender.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].url,
            "https://gosspublic.alicdn.com/callback_pub_key_v2.pem"
        );
    }

    #[tokio::test]
    async fn oversized_and_failed_answers_give_no_key_and_fetches_are_spaced() {
        let (keys, _) = callback_keys(200, &"A".repeat(MAX_KEY_BYTES + 1));
        let e = keys
            .key_for("https://gosspublic.alicdn.com/a.pem")
            .await
            .expect_err("oversized");
        assert_eq!(e.code, "CallbackKeyUnavailable");
        let e = keys
            .key_for("https://gosspublic.alicdn.com/b.pem")
            .await
            .expect_err("spaced");
        assert!(e.message.contains("a moment ago"), "{}", e.message);
        let (keys, _) = callback_keys(404, "not found");
        assert!(
            keys.key_for("https://gosspublic.alicdn.com/c.pem")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_pinned_key_is_the_only_key() {
        let sender = CannedSender::answering(500, "");
        let pinned = PublicKey::from_pem(callback::PUBLISHED_KEY_PEM).expect("pem");
        let keys = CallbackKeys::new(Some(pinned), Arc::clone(&sender) as Arc<dyn HttpSender>)
            .expect("keys");
        keys.key_for("https://gosspublic.alicdn.com/other.pem")
            .await
            .expect("pinned");
        assert!(sender.sent().is_empty());
    }
}
