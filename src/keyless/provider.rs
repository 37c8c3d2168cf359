//! The function's own credential to sign with at a given instant ([`CredentialProvider`]),
//! fetched from its [`CredentialSource`] and refreshed before it expires, and the key the
//! platform handed the invocation a task serves ([`with_invocation_credential`]).
//!
//! Refresh: a temporary credential is refreshed in the background once less than
//! [`refresh_margin`] of its life is left (half its life, at most 15 minutes, as the official
//! SDKs' stale time); requests keep signing with it meanwhile. Only when less than
//! [`signing_margin`] is left (a quarter of its life, at most 5 minutes) does a request wait,
//! and then all waiting requests share one fetch. A failed refresh is logged and the old
//! credential is used while it is valid; a background task ([`CredentialProvider::spawn_refresher`])
//! refreshes on time even when no request comes, so no request waits for a refresh that could
//! have happened earlier.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

use super::sources::{self, CredentialSource};
use crate::Clock;
use crate::Credential;
use crate::Error;
use crate::transport::HttpSender;

/// Refresh in the background once less than this is left of a credential that lived `life`:
/// half its life, at most 15 minutes (the official SDKs' stale time).
pub fn refresh_margin(life: Duration) -> Duration {
    (life / 2).min(Duration::from_secs(15 * 60))
}

/// Never sign with a credential that has less than this left of a `life`: a quarter of its
/// life, at most 5 minutes; a request then waits for the refresh.
pub fn signing_margin(life: Duration) -> Duration {
    (life / 4).min(Duration::from_secs(5 * 60))
}

/// A credential and when it was fetched, which gives its life.
#[derive(Clone)]
struct Held {
    credential: Credential,
    fetched: SystemTime,
}

impl Held {
    fn life(&self) -> Option<Duration> {
        let expiration = self.credential.expiration?;
        Some(expiration.duration_since(self.fetched).unwrap_or_default())
    }

    /// When a background refresh is due; `None` for a key that never expires.
    fn refresh_at(&self) -> Option<SystemTime> {
        Some(self.credential.expiration? - refresh_margin(self.life()?))
    }

    /// Whether a request may still sign with it at `now`.
    fn signs_at(&self, now: SystemTime) -> bool {
        match (self.credential.expiration, self.life()) {
            (Some(expiration), Some(life)) => now + signing_margin(life) < expiration,
            _ => true,
        }
    }

    /// Whether it is still valid at `now` at all (a failed refresh keeps it until then).
    fn valid_at(&self, now: SystemTime) -> bool {
        self.credential.expiration.is_none_or(|e| now < e)
    }
}

tokio::task_local! {
    /// The credential the platform handed the invocation this task serves (Function
    /// Compute's `x-fc-*` headers), for that invocation's work only.
    static INVOCATION: Credential;
}

/// Runs `work` with `credential` as the function's own for it alone: every
/// [`CredentialProvider::credential`] inside it answers `credential`, and nothing is kept.
pub async fn with_invocation_credential<F: std::future::Future>(
    credential: Credential,
    work: F,
) -> F::Output {
    INVOCATION.scope(credential, work).await
}

/// A fingerprint of the credential handed to the invocation this task serves
/// ([`with_invocation_credential`]); `None` outside such an invocation.
///
/// What a handed key signed is kept under this fingerprint ([`crate::CacheKey`]),
/// so it is reused only for invocations handed the same key, and never for another key's
/// invocation or for one signed with the function's own. It is not the key: the hex SHA-256 of
/// the key id, secret and security token, each prefixed with its length.
pub fn invocation_fingerprint() -> Option<String> {
    INVOCATION.try_with(fingerprint).ok()
}

/// The hex SHA-256 of `credential`'s id, secret and token, each after its length (8 bytes, big
/// endian), so that no two credentials give the same input.
fn fingerprint(credential: &Credential) -> String {
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    let token = credential.security_token.as_deref();
    for part in [
        Some(credential.access_key_id.as_str()),
        Some(credential.access_key_secret.as_str()),
        token,
    ] {
        match part {
            Some(text) => {
                hash.update(&(text.len() as u64).to_be_bytes());
                hash.update(text.as_bytes());
            }
            None => hash.update(&u64::MAX.to_be_bytes()),
        }
    }
    crate::sign::hex_lower(hash.finish().as_ref())
}

/// The function's own credential at any instant, from its [`CredentialSource`].
pub struct CredentialProvider {
    source: CredentialSource,
    timeout: Duration,
    current: Mutex<Option<Held>>,
    fetching: tokio::sync::Mutex<()>,
    background: AtomicBool,
}

impl std::fmt::Debug for CredentialProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialProvider")
            .field("source", &self.source.name())
            .finish_non_exhaustive()
    }
}

impl CredentialProvider {
    /// A provider for `source`; each fetch ends within `timeout`. Nothing is fetched yet.
    pub fn new(source: CredentialSource, timeout: Duration) -> Arc<Self> {
        let current = match &source {
            CredentialSource::Static { credential, .. } => Some(Held {
                credential: credential.clone(),
                fetched: SystemTime::UNIX_EPOCH,
            }),
            _ => None,
        };
        Arc::new(Self {
            source,
            timeout,
            current: Mutex::new(current),
            fetching: tokio::sync::Mutex::new(()),
            background: AtomicBool::new(false),
        })
    }

    /// Where the credentials come from.
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    fn held(&self) -> Option<Held> {
        self.current.lock().ok().and_then(|held| held.clone())
    }

    /// The credential to sign with at `now`: the one the platform handed this invocation
    /// ([`with_invocation_credential`]), else the held one while it has enough life left
    /// (starting a background refresh once it is due), else a fresh one, one fetch shared by
    /// every request waiting for it.
    pub async fn credential(
        self: &Arc<Self>,
        sender: &Arc<dyn HttpSender>,
        now: SystemTime,
    ) -> Result<Credential, Error> {
        if let Ok(handed) = INVOCATION.try_with(Credential::clone) {
            return Ok(handed);
        }
        if let Some(held) = self.held().filter(|h| h.signs_at(now)) {
            if held.refresh_at().is_some_and(|at| now >= at) {
                self.refresh_in_background(sender, now);
            }
            return Ok(held.credential);
        }
        self.refresh(sender, now, |held| held.signs_at(now)).await
    }

    /// Fetches unless a held credential passes `fresh` (another request refreshed it while
    /// this one waited); on failure keeps serving the held one while it is valid.
    async fn refresh(
        &self,
        sender: &Arc<dyn HttpSender>,
        now: SystemTime,
        fresh: impl Fn(&Held) -> bool,
    ) -> Result<Credential, Error> {
        let _single_flight = self.fetching.lock().await;
        if let Some(held) = self.held().filter(|h| fresh(h)) {
            return Ok(held.credential);
        }
        let fetched = tokio::time::timeout(self.timeout, sources::fetch(&self.source, sender, now))
            .await
            .unwrap_or_else(|_| {
                Err(Error::CredentialSource {
                    source_name: self.source.name(),
                    reason: format!("no answer within {} ms", self.timeout.as_millis()),
                })
            });
        match fetched {
            Ok(credential) => {
                info!(source = self.source.name(), key_id = %credential.access_key_id, expiration = ?credential.expiration.map(crate::format_iso8601), "fetched the function's credentials");
                if let Ok(mut current) = self.current.lock() {
                    *current = Some(Held {
                        credential: credential.clone(),
                        fetched: now,
                    });
                }
                Ok(credential)
            }
            Err(error) => match self.held().filter(|h| h.valid_at(now)) {
                Some(held) => {
                    warn!(source = self.source.name(), error = %error, "refreshing the function's credentials failed; using the current ones while they are valid");
                    Ok(held.credential)
                }
                None => Err(error),
            },
        }
    }

    /// Starts one background refresh unless one is running.
    fn refresh_in_background(self: &Arc<Self>, sender: &Arc<dyn HttpSender>, now: SystemTime) {
        if self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let (provider, sender) = (Arc::clone(self), Arc::clone(sender));
        tokio::spawn(async move {
            let due = |held: &Held| held.refresh_at().is_none_or(|at| now < at);
            let _ = provider.refresh(&sender, now, due).await;
            provider.background.store(false, Ordering::Release);
        });
    }

    /// Refreshes on time with no request to prompt it, until the provider is dropped: sleeps
    /// until the held credential's refresh is due, refreshes, and after a failure tries again
    /// in a tenth of the life left (at least a second).
    pub fn spawn_refresher(self: &Arc<Self>, sender: Arc<dyn HttpSender>, clock: Arc<dyn Clock>) {
        if matches!(
            self.source,
            CredentialSource::Static { .. } | CredentialSource::Unneeded
        ) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(provider) = weak.upgrade() else {
                    return;
                };
                let now = clock.now();
                let wait = provider.next_refresh_in(now);
                drop(provider);
                tokio::time::sleep(wait).await;
                let Some(provider) = weak.upgrade() else {
                    return;
                };
                let now = clock.now();
                let due = |held: &Held| held.refresh_at().is_none_or(|at| now < at);
                let _ = provider.refresh(&sender, now, due).await;
            }
        });
    }

    /// How long until the next background refresh is due.
    fn next_refresh_in(&self, now: SystemTime) -> Duration {
        let Some(held) = self.held() else {
            return Duration::from_secs(1);
        };
        match held.refresh_at() {
            None => Duration::from_secs(3600),
            Some(at) => match at.duration_since(now) {
                Ok(wait) => wait,
                // Due already (a refresh just failed): try again soon.
                Err(_) => {
                    let left = held
                        .credential
                        .expiration
                        .and_then(|e| e.duration_since(now).ok())
                        .unwrap_or_default();
                    (left / 10).max(Duration::from_secs(1))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
