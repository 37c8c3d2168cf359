//! The keys of `AUTH_MODE=jwt`: `JWT_JWKS_FILE`, `JWT_HS256_SECRET`, and `JWT_JWKS_URL`,
//! fetched at cold start and again, rate-limited, when a token names a key not held.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use ring::hmac;
use tracing::{info, warn};

use super::jwt::{self, Expectations, JwtError, KeySet};
use super::{JWKS_FIRST_RETRY, JWKS_REFETCH_INTERVAL, JwtSettings};
use crate::transport::{HttpSender, SignedRequest};
use crate::{Error, source_chain};

/// The key material of `AUTH_MODE=jwt`.
pub(super) struct JwtKeys {
    expect: Expectations,
    hs256: Option<hmac::Key>,
    keys: RwLock<KeySet>,
    url: Option<String>,
    sender: Arc<dyn HttpSender>,
    timeout: Duration,
    /// Milliseconds between fetches for unknown `kid`s.
    refetch_interval_ms: AtomicU64,
    /// How the last fetches of the JWKS URL went; fetches take this lock one at a time.
    fetches: tokio::sync::Mutex<Fetches>,
}

/// When `JWT_JWKS_URL` was last fetched, and how many fetches in a row have failed.
#[derive(Debug, Default)]
struct Fetches {
    /// When the last fetch ended (Tokio's clock, so tests can pause it).
    last: Option<tokio::time::Instant>,
    /// Failed fetches since the last success.
    failures: u32,
}

impl Fetches {
    /// How long after the last fetch the next may start. While no key is held every caller
    /// is refused, so the URL is tried again soon: 1 s after a failure, then 2, 4, 8 s …,
    /// never more than `interval`. Once keys are held, `interval` (a token naming an unknown
    /// `kid` must not make every request a fetch).
    fn wait(&self, keys_held: bool, interval: Duration) -> Duration {
        if keys_held || self.failures == 0 {
            return interval;
        }
        let doublings = (self.failures - 1).min(31);
        JWKS_FIRST_RETRY
            .saturating_mul(1 << doublings)
            .min(interval)
    }
}

impl JwtKeys {
    /// The keys `settings` name: `JWT_JWKS_FILE` read now, `JWT_HS256_SECRET`, and with
    /// `JWT_JWKS_URL` a first fetch started at once in the background (inside a Tokio
    /// runtime); `sender` fetches, within `timeout`.
    pub(super) fn new(
        settings: &JwtSettings,
        sender: Arc<dyn HttpSender>,
        timeout: Duration,
    ) -> Result<Arc<Self>, Error> {
        let keys = match &settings.jwks_file {
            Some(path) => read_jwks_file(path)?,
            None => KeySet::default(),
        };
        let keys = Arc::new(JwtKeys {
            expect: settings.expect.clone(),
            hs256: settings
                .hs256_secret
                .as_ref()
                .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s.as_bytes())),
            keys: RwLock::new(keys),
            url: settings.jwks_url.clone(),
            sender,
            timeout,
            refetch_interval_ms: AtomicU64::new(JWKS_REFETCH_INTERVAL.as_millis() as u64),
            fetches: tokio::sync::Mutex::new(Fetches::default()),
        });
        if keys.url.is_some()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let keys = Arc::clone(&keys);
            runtime.spawn(async move { keys.refresh(None).await });
        }
        Ok(keys)
    }

    /// Changes how soon an unknown `kid` may fetch the JWKS URL again.
    pub(super) fn set_refetch_interval(&self, interval: Duration) {
        let millis = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        self.refetch_interval_ms.store(millis, Ordering::Relaxed);
    }

    /// Verifies `token` at `now`, fetching the JWKS first when it names a key not held (at
    /// most as often as [`Fetches::wait`] allows).
    pub(super) async fn verify(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<jwt::VerifiedClaims, JwtError> {
        let unverified = jwt::decode(token)?;
        let needs_jwks = unverified.alg == "RS256" || unverified.alg == "ES256";
        if needs_jwks && self.url.is_some() {
            let kid = unverified.kid.clone();
            let known = |keys: &KeySet| kid.as_deref().is_none_or(|kid| keys.has_kid(kid));
            let missing = self
                .keys
                .read()
                .map_or(true, |keys| keys.is_empty() || !known(&keys));
            if missing {
                self.refresh(kid.as_deref()).await;
            }
        }
        let keys = self
            .keys
            .read()
            .map(|keys| keys.clone())
            .unwrap_or_default();
        unverified.verify(&keys, self.hs256.as_ref(), &self.expect, now)
    }

    /// Fetches the JWKS unless the keys held already serve (the `kid`, or with `None` any key),
    /// and not before [`Fetches::wait`] has passed since the last fetch.
    async fn refresh(&self, kid: Option<&str>) {
        let Some(url) = &self.url else { return };
        let mut fetches = self.fetches.lock().await;
        let (held, any_held) = self
            .keys
            .read()
            .map(|keys| {
                let held = match kid {
                    Some(kid) => keys.has_kid(kid),
                    None => !keys.is_empty(),
                };
                (held, !keys.is_empty())
            })
            .unwrap_or((false, false));
        if held {
            return; // fetched while this caller waited, or already loaded
        }
        let interval = Duration::from_millis(self.refetch_interval_ms.load(Ordering::Relaxed));
        let wait = fetches.wait(any_held, interval);
        if fetches.last.is_some_and(|at| at.elapsed() < wait) {
            return;
        }
        let fetched = self.fetch(url).await;
        fetches.last = Some(tokio::time::Instant::now());
        match fetched {
            Ok(keys) => {
                fetches.failures = 0;
                info!(url = %url, keys = ?keys, "fetched JWKS");
                if let Ok(mut current) = self.keys.write() {
                    *current = keys;
                }
            }
            Err((code, reason)) => {
                fetches.failures = fetches.failures.saturating_add(1);
                let next_fetch_in = fetches.wait(any_held, interval);
                warn!(
                    url = %url,
                    error_code = code,
                    %reason,
                    ?next_fetch_in,
                    "cannot fetch JWKS; keeping the keys held"
                );
            }
        }
    }

    /// One fetch of the JWKS at `url`, within the deadline: the keys, or the `ErrorCode` and
    /// wording of why not.
    async fn fetch(&self, url: &str) -> Result<KeySet, (&'static str, String)> {
        let request = SignedRequest {
            method: http::Method::GET,
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        };
        match tokio::time::timeout(self.timeout, self.sender.send(request)).await {
            Ok(Ok(reply)) if reply.status == 200 => KeySet::parse(&reply.body).map_err(|e| {
                (
                    "JwksBadResponse",
                    format!("the JWKS URL's answer is not a usable JWKS: {e}"),
                )
            }),
            Ok(Ok(reply)) => Err((
                "JwksBadResponse",
                format!("the JWKS URL answered HTTP {}", reply.status),
            )),
            Ok(Err(e)) => Err(jwks_fetch_failure(&e)),
            Err(_) => Err((
                "JwksTimeout",
                format!("the JWKS URL did not answer within {:?}", self.timeout),
            )),
        }
    }
}

/// The `ErrorCode` and wording of a JWKS fetch the sender could not complete. The sender is
/// the one that calls STS, so its errors name STS; a JWKS failure must not read as one.
fn jwks_fetch_failure(error: &Error) -> (&'static str, String) {
    match error {
        Error::StsTimeout(after) => (
            "JwksTimeout",
            format!("the JWKS URL did not answer within {after:?}"),
        ),
        Error::StsMalformed { status, reason } => (
            "JwksBadResponse",
            format!("the JWKS URL answered HTTP {status} with an unreadable body: {reason}"),
        ),
        Error::StsUnreachable(cause) => (
            "JwksUnreachable",
            format!(
                "the JWKS URL could not be reached: {}",
                source_chain(&**cause)
            ),
        ),
        other => (
            "JwksUnreachable",
            format!("the JWKS URL could not be fetched: {other}"),
        ),
    }
}

/// The keys in the JWKS file at `path`.
fn read_jwks_file(path: &str) -> Result<KeySet, Error> {
    let text = std::fs::read(path).map_err(|e| Error::Config {
        variable: "JWT_JWKS_FILE",
        reason: format!("cannot read {path}: {e}"),
    })?;
    KeySet::parse(&text).map_err(|reason| Error::Config {
        variable: "JWT_JWKS_FILE",
        reason,
    })
}
