use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;

use super::*;
use crate::FixedClock;
use crate::transport::{BoxFuture, HttpReply, SignedRequest};

/// 2026-11-22T08:53:10Z (`date -u -d @1795337590`).
const T0: u64 = 1_795_337_590;

/// Container credentials valid until `expiration`, their key id `id`.
fn answer(id: &str, expiration: &str) -> HttpReply {
    HttpReply {
        status: 200,
        body: format!(r#"{{"AccessKeyId":"{id}","SecretAccessKey":"s-{id}","Token":"t-{id}","Expiration":"{expiration}"}}"#).into_bytes(),
        retry_after: None,
        headers: Default::default(),
    }
}

/// Answers in order (a 500 once they run out), each after `delay`, counting requests.
struct Scripted {
    replies: Mutex<VecDeque<HttpReply>>,
    delay: Duration,
    sent: AtomicUsize,
}

impl Scripted {
    fn new(replies: Vec<HttpReply>, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.into()),
            delay,
            sent: AtomicUsize::new(0),
        })
    }
    fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }
}

impl HttpSender for Scripted {
    fn send(&self, _: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let reply = self.replies.lock().expect("lock").pop_front();
        let delay = self.delay;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(reply.unwrap_or(HttpReply {
                status: 500,
                body: Vec::new(),
                retry_after: None,
                headers: Default::default(),
            }))
        })
    }
}

fn container() -> Arc<CredentialProvider> {
    CredentialProvider::new(
        CredentialSource::AwsContainer {
            url: "http://127.0.0.1:9/creds".to_owned(),
            authorization: None,
        },
        Duration::from_secs(3),
    )
}

/// A container source answering `replies`, its first key fetched at T0.
async fn fetched_once(
    replies: Vec<HttpReply>,
    delay: Duration,
) -> (Arc<Scripted>, Arc<dyn HttpSender>, Arc<CredentialProvider>) {
    let sender = Scripted::new(replies, delay);
    let dyn_sender: Arc<dyn HttpSender> = sender.clone();
    let provider = container();
    provider
        .credential(&dyn_sender, at(0))
        .await
        .expect("first");
    (sender, dyn_sender, provider)
}

fn at(offset: u64) -> SystemTime {
    FixedClock::at_unix(T0 + offset).0
}

#[test]
fn margins_are_half_and_a_quarter_of_the_life_up_to_15_and_5_minutes() {
    assert_eq!(
        refresh_margin(Duration::from_secs(20)),
        Duration::from_secs(10)
    );
    assert_eq!(
        signing_margin(Duration::from_secs(20)),
        Duration::from_secs(5)
    );
    assert_eq!(
        refresh_margin(Duration::from_secs(3600)),
        Duration::from_secs(900)
    );
    assert_eq!(
        signing_margin(Duration::from_secs(3600)),
        Duration::from_secs(300)
    );
}

#[tokio::test]
async fn a_static_key_is_used_as_given_and_never_fetched() {
    let key = Credential::new("LTAI-static", "static-secret", None);
    let provider = CredentialProvider::new(
        CredentialSource::Static {
            credential: key.clone(),
            origin: "environment".to_owned(),
        },
        Duration::from_secs(3),
    );
    let sender = Scripted::new(vec![], Duration::ZERO);
    let dyn_sender: Arc<dyn HttpSender> = sender.clone();
    assert_eq!(
        provider.credential(&dyn_sender, at(0)).await.expect("key"),
        key
    );
    assert_eq!(sender.sent(), 0);
}

#[tokio::test]
async fn concurrent_first_requests_share_one_fetch() {
    // 20 s of life from T0: 2026-11-22T08:53:30Z.
    let sender = Scripted::new(
        vec![answer("ASIA-1", "2026-11-22T08:53:30Z")],
        Duration::from_millis(50),
    );
    let dyn_sender: Arc<dyn HttpSender> = sender.clone();
    let provider = container();
    let all = (0..50).map(|_| provider.credential(&dyn_sender, at(0)));
    for got in futures_join_all(all).await {
        assert_eq!(got.expect("credential").access_key_id, "ASIA-1");
    }
    assert_eq!(sender.sent(), 1);
}

#[tokio::test]
async fn once_due_requests_keep_the_held_key_while_one_background_refresh_runs() {
    let (sender, dyn_sender, provider) = fetched_once(
        vec![
            answer("ASIA-1", "2026-11-22T08:53:30Z"),
            answer("ASIA-2", "2026-11-22T08:53:50Z"),
        ],
        Duration::from_millis(100),
    )
    .await;
    // 11 s in: less than half the life (10 s) left, more than a quarter (5 s).
    let all = (0..20).map(|_| provider.credential(&dyn_sender, at(11)));
    for got in futures_join_all(all).await {
        assert_eq!(got.expect("held").access_key_id, "ASIA-1", "nobody waits");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sender.sent(), 2, "one background refresh");
    let next = provider
        .credential(&dyn_sender, at(12))
        .await
        .expect("next");
    assert_eq!(next.access_key_id, "ASIA-2");
}

#[tokio::test]
async fn past_the_signing_margin_a_request_waits_for_a_fresh_key() {
    let (_, dyn_sender, provider) = fetched_once(
        vec![
            answer("ASIA-1", "2026-11-22T08:53:30Z"),
            answer("ASIA-2", "2026-11-22T08:53:50Z"),
        ],
        Duration::ZERO,
    )
    .await;
    // 16 s in: 4 s left, under the 5 s signing margin.
    let got = provider
        .credential(&dyn_sender, at(16))
        .await
        .expect("fresh");
    assert_eq!(got.access_key_id, "ASIA-2");
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_old_key_while_valid_then_fails() {
    let (_, dyn_sender, provider) = fetched_once(
        vec![answer("ASIA-1", "2026-11-22T08:53:30Z")],
        Duration::ZERO,
    )
    .await;
    // 17 s in the refresh fails (500): the old key, valid 3 s more, still serves.
    let kept = provider
        .credential(&dyn_sender, at(17))
        .await
        .expect("kept");
    assert_eq!(kept.access_key_id, "ASIA-1");
    // Past its expiry nothing is left to serve with.
    assert!(matches!(
        provider.credential(&dyn_sender, at(21)).await,
        Err(Error::CredentialSource { .. })
    ));
}

#[tokio::test]
async fn a_handed_key_serves_its_invocation_and_is_never_kept() {
    let own = Credential::new("LTAI-own", "own-secret", None);
    let provider = CredentialProvider::new(
        CredentialSource::Static {
            credential: own.clone(),
            origin: "environment".to_owned(),
        },
        Duration::from_secs(3),
    );
    let sender: Arc<dyn HttpSender> = Scripted::new(vec![], Duration::ZERO);
    let handed = Credential::new(
        "STS.handed",
        "handed-secret",
        Some("handed-token".to_owned()),
    );
    let inside = with_invocation_credential(handed.clone(), provider.credential(&sender, at(0)));
    assert_eq!(inside.await.expect("handed"), handed);
    assert_eq!(provider.credential(&sender, at(1)).await.expect("own"), own);
}

#[tokio::test]
async fn the_invocation_fingerprint_names_the_handed_key_without_holding_it() {
    assert_eq!(invocation_fingerprint(), None, "outside an invocation");
    let key =
        |id: &str, secret: &str, token: &str| Credential::new(id, secret, Some(token.to_owned()));
    let of = |credential: Credential| {
        with_invocation_credential(credential, async { invocation_fingerprint() })
    };
    let a = of(key("STS.a", "secret-a", "token-a"))
        .await
        .expect("inside");
    assert_eq!(a.len(), 64, "hex SHA-256: {a}");
    assert!(!a.contains("secret-a") && !a.contains("token-a"));
    assert_eq!(
        Some(a.clone()),
        of(key("STS.a", "secret-a", "token-a")).await
    );
    for other in [
        key("STS.b", "secret-a", "token-a"),
        key("STS.a", "secret-b", "token-a"),
        key("STS.a", "secret-a", "token-b"),
        // The same bytes split differently between the fields.
        key("STS.as", "ecret-a", "token-a"),
        Credential::new("STS.a", "secret-a", None),
    ] {
        assert_ne!(Some(a.clone()), of(other).await);
    }
    assert_eq!(invocation_fingerprint(), None, "nothing left behind");
}

/// Awaits every future, concurrently.
async fn futures_join_all<F: std::future::Future>(all: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in all {
        set.push(f);
    }
    let mut out = Vec::new();
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = set.into_iter().map(Box::pin).collect();
    let results = std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out.len() <= i {
                out.push(None);
            }
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(std::mem::take(&mut out))
        }
    })
    .await;
    results.into_iter().flatten().collect()
}
