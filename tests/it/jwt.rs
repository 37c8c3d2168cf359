//! `AUTH_MODE=jwt` end to end through the `Authenticator` both functions use: tokens signed
//! in the test by independent implementations, with keys generated in the test.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_http::{Body, Request};
use serde_json::json;
use stsvend::{
    AuthMode, Authenticator, BoxFuture, CannedSender, Error, HttpReply, HttpSender, JwtSettings,
    SignedRequest, jwt::Expectations,
};
use stsvend_test_support::tokens::{self, AUDIENCE, HS256_SECRET, ISSUER, Keys};

/// 2026-11-22T08:53:10Z.
const NOW: u64 = 1_795_337_590;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn settings(jwks_file: Option<String>, jwks_url: Option<&str>) -> AuthMode {
    AuthMode::Jwt(JwtSettings {
        expect: Expectations {
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
        },
        jwks_file,
        jwks_url: jwks_url.map(str::to_owned),
        hs256_secret: Some(HS256_SECRET.to_owned()),
    })
}

fn request(authorization: Option<&str>) -> Request {
    let mut request = Request::new(Body::Empty);
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().expect("header"));
    }
    request
}

fn with_file(keys: &Keys) -> Authenticator {
    let path = std::env::temp_dir().join(format!(
        "stsvend-jwks-{}-{:?}.json",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::write(&path, keys.jwks()).expect("write JWKS");
    let auth = Authenticator::new(
        &settings(Some(path.display().to_string()), None),
        CannedSender::stalled(),
        Duration::from_secs(1),
    );
    std::fs::remove_file(&path).expect("cleanup");
    auth.expect("authenticator")
}

fn refusal_code(result: Result<stsvend::Caller, Error>) -> String {
    match result {
        Err(Error::TokenRefused { code, .. }) => code.to_owned(),
        other => panic!("expected a JWT refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn valid_rs256_es256_and_hs256_tokens_name_their_caller() {
    let keys = Keys::generate();
    let auth = with_file(&keys);
    let claims = json!({"iss": ISSUER, "aud": [AUDIENCE, "other"], "sub": "alice", "exp": NOW + 600, "nbf": NOW - 10, "tenant": "acme", "level": 3, "groups": ["a"]});
    for token in [
        keys.rs256(
            &json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
            &claims,
        ),
        keys.es256(&json!({"alg": "ES256", "kid": "ec-1"}), &claims),
        tokens::hs256(&json!({"alg": "HS256"}), &claims),
    ] {
        let caller = auth
            .identify(&request(Some(&format!("Bearer {token}"))), now())
            .await
            .expect("valid");
        assert_eq!(caller.sub, "alice");
        assert_eq!(
            caller.claims.get("tenant").map(String::as_str),
            Some("acme")
        );
        assert_eq!(caller.claims.get("level").map(String::as_str), Some("3"));
        assert!(
            !caller.claims.contains_key("groups"),
            "arrays are not template values"
        );
    }
    // At the 60 s leeway on both sides: still accepted.
    let edge =
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "bob", "exp": NOW - 60, "nbf": NOW + 60});
    let token = keys.rs256(&json!({"alg": "RS256", "kid": "rsa-1"}), &edge);
    assert_eq!(
        auth.identify(&request(Some(&format!("bearer {token}"))), now())
            .await
            .expect("leeway")
            .sub,
        "bob"
    );
    // One second past it on either side is refused.
    for (exp, nbf, code) in [
        (NOW - 61, NOW - 10, "TokenExpired"),
        (NOW + 600, NOW + 61, "TokenNotYetValid"),
    ] {
        let past = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "bob", "exp": exp, "nbf": nbf});
        let token = keys.rs256(&json!({"alg": "RS256", "kid": "rsa-1"}), &past);
        let result = auth
            .identify(&request(Some(&format!("bearer {token}"))), now())
            .await;
        assert_eq!(refusal_code(result), code);
    }
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_own_code() {
    let keys = Keys::generate();
    let auth = with_file(&keys);
    for (what, token, code) in tokens::refusals(&keys, NOW) {
        let result = auth
            .identify(&request(Some(&format!("Bearer {token}"))), now())
            .await;
        assert_eq!(refusal_code(result), code, "{what}");
    }
    for header in [
        None,
        Some("Basic YWxpY2U6c2VjcmV0"),
        Some("Bearer"),
        Some("Bearer   "),
    ] {
        assert_eq!(
            refusal_code(auth.identify(&request(header), now()).await),
            "MissingToken",
            "{header:?}"
        );
    }
}

/// Serves JWKS documents in turn (the last one again once they run out), counting fetches.
struct JwksServer {
    documents: Mutex<Vec<String>>,
    fetches: Mutex<usize>,
}

impl HttpSender for JwksServer {
    fn send(&self, request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("GET", "https://idp.example.com/.well-known/jwks.json")
        );
        *self.fetches.lock().expect("lock") += 1;
        let mut documents = self.documents.lock().expect("lock");
        let body = if documents.len() > 1 {
            documents.remove(0)
        } else {
            documents[0].clone()
        };
        Box::pin(async move {
            Ok(HttpReply {
                status: 200,
                body: body.into_bytes(),
                retry_after: None,
                headers: Default::default(),
            })
        })
    }
}

fn only_ec(jwks: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(jwks).expect("jwks");
    doc["keys"]
        .as_array_mut()
        .expect("keys")
        .retain(|k| k["kty"] == "EC");
    doc.to_string()
}

#[tokio::test]
async fn a_jwks_url_is_fetched_at_cold_start_and_again_for_a_new_kid_rate_limited() {
    let keys = Keys::generate();
    let url = "https://idp.example.com/.well-known/jwks.json";
    let rs256 = keys.rs256(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &tokens::claims("alice", NOW),
    );
    let es256 = keys.es256(
        &json!({"alg": "ES256", "kid": "ec-1"}),
        &tokens::claims("alice", NOW),
    );

    // The IdP starts with only the EC key and then rotates the RSA key in.
    let server = Arc::new(JwksServer {
        documents: Mutex::new(vec![only_ec(&keys.jwks()), keys.jwks()]),
        fetches: Mutex::new(0),
    });
    let auth = Authenticator::new(
        &settings(None, Some(url)),
        server.clone(),
        Duration::from_secs(1),
    )
    .expect("authenticator")
    .with_jwks_refetch_interval(Duration::ZERO);
    assert!(
        auth.identify(&request(Some(&format!("Bearer {es256}"))), now())
            .await
            .is_ok()
    );
    assert_eq!(
        *server.fetches.lock().expect("lock"),
        1,
        "one fetch at cold start"
    );
    assert!(
        auth.identify(&request(Some(&format!("Bearer {rs256}"))), now())
            .await
            .is_ok(),
        "rotated key found"
    );
    assert_eq!(*server.fetches.lock().expect("lock"), 2);
    assert!(
        auth.identify(&request(Some(&format!("Bearer {rs256}"))), now())
            .await
            .is_ok()
    );
    assert_eq!(
        *server.fetches.lock().expect("lock"),
        2,
        "known keys need no fetch"
    );

    // With the default interval, a stream of unknown kids costs one fetch, not one each.
    let server = Arc::new(JwksServer {
        documents: Mutex::new(vec![keys.jwks()]),
        fetches: Mutex::new(0),
    });
    let auth = Authenticator::new(
        &settings(None, Some(url)),
        server.clone(),
        Duration::from_secs(1),
    )
    .expect("authenticator");
    for i in 0..20 {
        let token = keys.rs256(
            &json!({"alg": "RS256", "kid": format!("attacker-{i}")}),
            &tokens::claims("alice", NOW),
        );
        assert_eq!(
            refusal_code(
                auth.identify(&request(Some(&format!("Bearer {token}"))), now())
                    .await
            ),
            "UnknownKey"
        );
    }
    assert_eq!(*server.fetches.lock().expect("lock"), 1);
}

#[test]
fn jwt_mode_settings_are_validated_at_start_up() {
    let base = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test-config-key"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s"),
        ("BUCKET", "examplebucket"),
        ("BUCKET_REGION", "cn-hangzhou"),
        ("AUTH_MODE", "jwt"),
    ];
    let refused = |extra: &[(&str, &str)]| {
        let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
        match stsvend_host::Config::load(&|k| {
            vars.iter()
                .rev()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }) {
            Err(Error::Config { variable, .. }) => variable,
            other => panic!("{extra:?}: {other:?}"),
        }
    };
    assert_eq!(
        refused(&[("JWT_ISSUER", ISSUER), ("JWT_AUDIENCE", AUDIENCE)]),
        "AUTH_MODE"
    );
    assert_eq!(
        refused(&[
            ("JWT_HS256_SECRET", HS256_SECRET),
            ("JWT_AUDIENCE", AUDIENCE)
        ]),
        "JWT_ISSUER"
    );
    assert_eq!(
        refused(&[("JWT_HS256_SECRET", HS256_SECRET), ("JWT_ISSUER", ISSUER)]),
        "JWT_AUDIENCE"
    );
    assert_eq!(
        refused(&[
            ("JWT_HS256_SECRET", "short"),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE)
        ]),
        "JWT_HS256_SECRET"
    );
    assert_eq!(
        refused(&[
            ("JWT_JWKS_URL", "ftp://x"),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE)
        ]),
        "JWT_JWKS_URL"
    );
}

/// What the JWKS stand-in does with each fetch, in turn (the last step again once they run
/// out).
#[derive(Clone, Copy)]
enum Fetch {
    /// The connection fails, as the sender reports it.
    Unreachable,
    /// The sender's own deadline passes.
    TimedOut,
    /// The JWKS document.
    Serve,
}

/// A JWKS URL that fails, then answers, counting fetches.
struct FlakyJwks {
    steps: Mutex<Vec<Fetch>>,
    document: String,
    fetches: Mutex<usize>,
}

impl FlakyJwks {
    fn new(steps: &[Fetch], document: String) -> Arc<Self> {
        Arc::new(Self {
            steps: Mutex::new(steps.to_vec()),
            document,
            fetches: Mutex::new(0),
        })
    }

    fn fetches(&self) -> usize {
        *self.fetches.lock().expect("lock")
    }
}

impl HttpSender for FlakyJwks {
    fn send(&self, _request: SignedRequest) -> BoxFuture<'_, Result<HttpReply, Error>> {
        *self.fetches.lock().expect("lock") += 1;
        let mut steps = self.steps.lock().expect("lock");
        let step = if steps.len() > 1 {
            steps.remove(0)
        } else {
            steps[0]
        };
        let body = self.document.clone().into_bytes();
        Box::pin(async move {
            match step {
                Fetch::Unreachable => Err(Error::StsUnreachable("connection refused".into())),
                Fetch::TimedOut => Err(Error::StsTimeout(Duration::from_secs(1))),
                Fetch::Serve => Ok(HttpReply {
                    status: 200,
                    body,
                    retry_after: None,
                    headers: Default::default(),
                }),
            }
        })
    }
}

/// Lets the cold-start fetch (spawned by `Authenticator::new`) run.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// After a failed cold-start fetch the key set is empty: callers' tokens cannot be checked
/// at all, so the URL is tried again soon, 1 s after the failure, then 2 s, 4 s, … (capped
/// at the refetch interval), and at the normal interval once keys are held. Paused clock.
#[tokio::test(start_paused = true)]
async fn an_empty_key_set_is_fetched_again_with_back_off_then_at_the_interval() {
    let keys = Keys::generate();
    let url = "https://idp.example.com/.well-known/jwks.json";
    let token = |kid: &str| {
        let token = keys.rs256(
            &json!({"alg": "RS256", "kid": kid}),
            &tokens::claims("alice", NOW),
        );
        format!("Bearer {token}")
    };
    let (good, rotated) = (token("rsa-1"), token("rsa-2"));
    let server = FlakyJwks::new(
        &[
            Fetch::Unreachable,
            Fetch::TimedOut,
            Fetch::Unreachable,
            Fetch::Serve,
        ],
        keys.jwks(),
    );
    let auth = Authenticator::new(
        &settings(None, Some(url)),
        server.clone(),
        Duration::from_secs(1),
    )
    .expect("authenticator");
    settle().await;
    assert_eq!(server.fetches(), 1, "the cold-start fetch, failed");
    let identify = |header: &str| {
        let request = request(Some(header));
        let auth = &auth;
        async move { auth.identify(&request, now()).await }
    };
    let ms = Duration::from_millis;

    // t = 0 (the failure) + 999 ms: still within the first second, no fetch.
    tokio::time::advance(ms(999)).await;
    assert_eq!(refusal_code(identify(&good).await), "UnknownKey");
    assert_eq!(server.fetches(), 1);
    // t = 1 s: fetched again, fails (timed out): the next wait is 2 s.
    tokio::time::advance(ms(1)).await;
    assert_eq!(refusal_code(identify(&good).await), "UnknownKey");
    assert_eq!(server.fetches(), 2, "retried 1 s after the first failure");
    tokio::time::advance(ms(1999)).await;
    assert_eq!(refusal_code(identify(&good).await), "UnknownKey");
    assert_eq!(server.fetches(), 2);
    // t = 3 s: fails again: the next wait is 4 s.
    tokio::time::advance(ms(1)).await;
    assert_eq!(refusal_code(identify(&good).await), "UnknownKey");
    assert_eq!(server.fetches(), 3, "retried 2 s after the second failure");
    tokio::time::advance(ms(3999)).await;
    assert_eq!(refusal_code(identify(&good).await), "UnknownKey");
    assert_eq!(server.fetches(), 3);
    // t = 7 s: the keys arrive, and the caller waiting is served with them.
    tokio::time::advance(ms(1)).await;
    assert_eq!(identify(&good).await.expect("keys held").sub, "alice");
    assert_eq!(server.fetches(), 4, "retried 4 s after the third failure");

    // Keys held: an unknown kid fetches only once per refetch interval (60 s).
    tokio::time::advance(ms(59_999)).await;
    assert_eq!(refusal_code(identify(&rotated).await), "UnknownKey");
    assert_eq!(identify(&good).await.expect("known kid").sub, "alice");
    assert_eq!(
        server.fetches(),
        4,
        "the normal interval once keys are held"
    );
    tokio::time::advance(ms(1)).await;
    assert_eq!(refusal_code(identify(&rotated).await), "UnknownKey");
    assert_eq!(server.fetches(), 5);
}

/// The back-off doubles up to the refetch interval and no further.
#[tokio::test(start_paused = true)]
async fn the_back_off_is_capped_at_the_refetch_interval() {
    let keys = Keys::generate();
    let server = FlakyJwks::new(&[Fetch::Unreachable], keys.jwks());
    let auth = Authenticator::new(
        &settings(None, Some("https://idp.example.com/.well-known/jwks.json")),
        server.clone(),
        Duration::from_secs(1),
    )
    .expect("authenticator")
    .with_jwks_refetch_interval(Duration::from_secs(5));
    settle().await;
    let token = keys.rs256(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &tokens::claims("alice", NOW),
    );
    let header = format!("Bearer {token}");
    // Failures at t = 0, then after waits of 1, 2, 4, 5, 5 s.
    let mut fetches = 1;
    for wait in [1, 2, 4, 5, 5] {
        tokio::time::advance(Duration::from_millis(wait * 1000 - 1)).await;
        let _ = auth.identify(&request(Some(&header)), now()).await;
        assert_eq!(
            server.fetches(),
            fetches,
            "before the {wait} s wait is over"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        let _ = auth.identify(&request(Some(&header)), now()).await;
        fetches += 1;
        assert_eq!(server.fetches(), fetches, "after the {wait} s wait");
    }
}

/// A log line a JWKS fetch failure writes names the JWKS, never STS: the sender that fetches
/// it is the one that calls STS, and its errors are STS-named.
#[tokio::test(start_paused = true)]
async fn jwks_fetch_failures_are_logged_as_jwks_failures_not_sts_ones() {
    use lambda_http::tracing::subscriber;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Capture {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let capture = Capture::default();
    let writer = capture.clone();
    let collector = subscriber::fmt()
        .with_max_level(lambda_http::tracing::Level::TRACE)
        .with_target(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = subscriber::util::SubscriberInitExt::set_default(collector);
    // Tests run in parallel threads with no subscriber. With a single scoped subscriber,
    // tracing works out a call site's interest from the default of whichever thread reaches
    // it first, so a call site first reached on another test's thread would stay disabled
    // here too. A second (silent) dispatcher makes tracing ask every registered one instead.
    let _second = lambda_http::tracing::Dispatch::new(
        subscriber::fmt()
            .with_max_level(lambda_http::tracing::Level::TRACE)
            .with_writer(std::io::sink)
            .finish(),
    );

    let keys = Keys::generate();
    let server = FlakyJwks::new(
        &[Fetch::Unreachable, Fetch::TimedOut, Fetch::Serve],
        keys.jwks(),
    );
    // No waiting between fetches: this test is about what the log says.
    let auth = Authenticator::new(
        &settings(None, Some("https://idp.example.com/.well-known/jwks.json")),
        server.clone(),
        Duration::from_secs(1),
    )
    .expect("authenticator")
    .with_jwks_refetch_interval(Duration::ZERO);
    settle().await;
    let token = keys.rs256(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &tokens::claims("alice", NOW),
    );
    let header = format!("Bearer {token}");
    for _ in 0..2 {
        let _ = auth.identify(&request(Some(&header)), now()).await;
    }
    assert_eq!(server.fetches(), 3);
    let log = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("UTF-8");
    let failures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("cannot fetch JWKS"))
        .collect();
    assert_eq!(failures.len(), 2, "{log}");
    assert!(
        failures[0].contains("JwksUnreachable") && failures[0].contains("connection refused"),
        "{log}"
    );
    assert!(failures[1].contains("JwksTimeout"), "{log}");
    for line in failures {
        assert!(!line.to_ascii_lowercase().contains("sts"), "{line}");
    }
    assert!(log.contains("fetched JWKS"), "{log}");
}
