//! The bodies of stsvend's fuzz targets: each takes arbitrary bytes, drives one parser of
//! untrusted input, and asserts what must hold whatever the input.
//!
//! The binaries in `fuzz_targets/` hand them to libFuzzer (`cargo fuzz run <target>`), and
//! `functions/presign-url/tests/it/fuzz_corpora.rs` replays the committed corpora through the
//! same functions in `cargo test`, so a crash once found stays fixed.
//!
//! Untrusted input, target by target (the STS answers, which only the signing crate parses,
//! are fuzzed in `crates/sign/fuzz`, against that crate alone):
//! - [`presign_query`], [`presign_json`]: a presign-url request, as a query string or a JSON
//!   body, through the whole handler (parsing, key and prefix checks, signing, the answer);
//! - [`policy_render`]: a session-policy template and the caller values placed into it;
//! - [`jwt`], [`jwks`]: a bearer token, and a JWKS document;
//! - [`jwt_claims`]: a claims set in a correctly signed token, so that the claim rules are
//!   reached;
//! - [`record_callback`]: an OSS upload callback body, signed as OSS signs it, through
//!   record-upload's handler (the tag checks and the body parser);
//! - [`record_s3_event`], [`record_oss_event`]: an S3 event under the Lambda runtime, and a
//!   Function Compute OSS-trigger event.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use percent_encoding::percent_decode_str;
use serde_json::Value;
use stsvend::{
    Caller, CannedSender, Error, FixedClock, PolicyTemplate, PolicyVars,
    jwt::{self, Expectations, KeySet},
};
use stsvend_host::Config;

/// The prefix of the anonymous caller: every signed key must stay under it.
const PREFIX: &str = "uploads/anonymous/";

/// The function's own secret in the fuzzed configurations: it must never be answered.
const SECRET: &str = "fuzz-secret-never-answered";

/// The CDN's private key of the fuzzed CDN configuration: it must never be answered either.
const CDN_KEY: &str = "fuzzCdnKeyNeverAnswered1";

/// 2026-11-22T08:53:10Z.
const NOW: u64 = 1_795_337_590;

/// presign-url configured five ways (OSS V4, OSS V1, S3, OSS V4 path-style on a custom
/// endpoint, and OSS V4 with a CDN signing type C for `"via":"cdn"`), every method allowed, each with the function's own key, so that no request
/// leaves the process.
fn presign_states() -> &'static [Arc<presign_url::AppState>] {
    static STATES: OnceLock<Vec<Arc<presign_url::AppState>>> = OnceLock::new();
    STATES.get_or_init(|| {
        let common = [
            ("BUCKET", "examplebucket"),
            ("BUCKET_REGION", "cn-hangzhou"),
            ("AUTH_MODE", "none"),
            ("PRESIGN_METHODS", "GET,HEAD,PUT,POST,DELETE"),
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-test-fuzz-key"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET),
            ("ALIBABA_CLOUD_SECURITY_TOKEN", "STS.test-fuzz-token"),
        ];
        let variants: [&[(&str, &str)]; 5] = [
            &[],
            &[
                ("CDN_DOMAIN", "https://cdn.example.com"),
                ("CDN_AUTH_TYPE", "C"),
                ("CDN_AUTH_KEY", CDN_KEY),
            ],
            &[("SIGNATURE_VERSION", "v1")],
            &[
                ("BUCKET_ENDPOINT", "http://127.0.0.1:9000"),
                ("PATH_STYLE", "true"),
            ],
            &[
                ("PROVIDER", "aws"),
                ("BUCKET_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "test-fuzz-aws-key"),
                ("AWS_SECRET_ACCESS_KEY", SECRET),
            ],
        ];
        variants
            .iter()
            .map(|extra| {
                let vars: BTreeMap<&str, &str> =
                    common.iter().chain(extra.iter()).copied().collect();
                let config = Config::load(&|name| vars.get(name).map(|v| (*v).to_owned()))
                    .expect("the fuzz configuration loads");
                let clock = Arc::new(FixedClock::at_unix(NOW));
                Arc::new(
                    presign_url::AppState::new(config, clock, CannedSender::stalled())
                        .expect("the fuzz state builds"),
                )
            })
            .collect()
    })
}

/// One current-thread runtime per fuzzing thread: with the function's own key the handler
/// never waits on I/O.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A query string, as the HTTP host hands it to presign-url.
pub fn presign_query(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    // What the HTTP host hands on: the request target's query, raw.
    let Ok(uri) = format!("/?{query}").parse::<lambda_http::http::Uri>() else {
        return;
    };
    for state in presign_states() {
        let mut request = Request::new(Body::Empty);
        *request.uri_mut() = uri.clone();
        check_presign_answer(state, request);
    }
}

/// A JSON body (any bytes), as the HTTP host hands it to presign-url.
pub fn presign_json(data: &[u8]) {
    for state in presign_states() {
        let body = match std::str::from_utf8(data) {
            Ok(text) => Body::Text(text.to_owned()),
            Err(_) => Body::Binary(data.to_vec()),
        };
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        check_presign_answer(state, request);
    }
}

/// Whatever was asked: no server error, the documented JSON shape, no secret, and a 200 only
/// for an object under the caller's prefix.
fn check_presign_answer(state: &Arc<presign_url::AppState>, request: Request) {
    let response = block_on(presign_url::handle(Arc::clone(state), request));
    let status = response.status().as_u16();
    let body = std::str::from_utf8(response.body().as_ref()).expect("the answer is UTF-8");
    assert!(!body.contains(SECRET), "the secret was answered: {body}");
    assert!(!body.contains(CDN_KEY), "the CDN key was answered: {body}");
    let answer: Value = serde_json::from_str(body).expect("the answer is JSON");
    assert_eq!(
        answer["StatusCode"], status,
        "StatusCode differs from the status: {body}"
    );
    match status {
        200 => {
            let url = answer["URL"].as_str().expect("a 200 has a URL");
            let keys = match answer.get("Fields") {
                // A form upload: what the signed policy allows for `$key`, and the key field.
                Some(fields) => form_keys(fields),
                None => vec![object_key(url)],
            };
            for key in keys {
                check_signed_key(&key, body);
            }
        }
        400..=499 => {
            let code = answer["ErrorCode"]
                .as_str()
                .expect("a refusal has an ErrorCode");
            assert!(!code.is_empty(), "an empty ErrorCode: {body}");
            assert!(
                answer["ErrorMessage"].is_string(),
                "no ErrorMessage: {body}"
            );
        }
        _ => panic!("status {status} for a request the function can judge alone: {body}"),
    }
}

/// A key (or, for a form with `startsWith`, the folder) a 200 signed for: under the caller's
/// prefix, and a key OSS and S3 store as it reads: at most 1023 bytes, no control character,
/// no `.` or `..` segment (which HTTP clients rewrite).
fn check_signed_key(key: &str, body: &str) {
    assert!(
        key.starts_with(PREFIX),
        "a signed key outside the caller's prefix: {key:?} in {body}"
    );
    assert!(key.len() <= 1023, "a signed key over 1023 bytes: {body}");
    assert!(
        !key.chars().any(char::is_control),
        "a control character in a signed key: {key:?}"
    );
    assert!(
        !key.split('/')
            .any(|segment| segment == "." || segment == ".."),
        "a relative segment in a signed key: {key:?}"
    );
}

/// The object key a presigned URL addresses: the decoded path, less the bucket when the host
/// does not name it (path-style).
fn object_key(url: &str) -> String {
    let after_scheme = url.split_once("://").expect("an absolute URL").1;
    let (host, rest) = after_scheme.split_once('/').unwrap_or((after_scheme, ""));
    let path = rest.split('?').next().unwrap_or_default();
    let path = if host.starts_with("examplebucket.") {
        path
    } else if host == "cdn.example.com" {
        // Type C: `/<md5hash>/<hex timestamp>/<key>`.
        path.splitn(3, '/')
            .nth(2)
            .unwrap_or_else(|| panic!("a type C URL without its two segments: {url}"))
    } else {
        path.strip_prefix("examplebucket/")
            .unwrap_or_else(|| panic!("a path-style URL without its bucket: {url}"))
    };
    percent_decode_str(path)
        .decode_utf8()
        .expect("the key decodes to UTF-8")
        .into_owned()
}

/// What a form lets the browser write: every `$key` condition of the signed policy (exact,
/// `eq` or `starts-with`) and the `key` field, without its `${filename}`.
fn form_keys(fields: &Value) -> Vec<String> {
    let policy = fields["policy"].as_str().expect("a form has a policy");
    let policy: Value =
        serde_json::from_slice(&BASE64.decode(policy).expect("the policy is base64"))
            .expect("the policy is JSON");
    let conditions = policy["conditions"].as_array().expect("policy conditions");
    let mut keys: Vec<String> = conditions
        .iter()
        .filter_map(|condition| match condition {
            Value::Object(map) => map
                .get("key")
                .map(|v| v.as_str().expect("a key condition").to_owned()),
            Value::Array(items) if items.get(1).and_then(Value::as_str) == Some("$key") => {
                Some(items[2].as_str().expect("a $key condition").to_owned())
            }
            _ => None,
        })
        .collect();
    assert!(
        !keys.is_empty(),
        "a form policy without a key condition: {policy}"
    );
    assert!(
        conditions.iter().any(|c| c["bucket"] == "examplebucket"),
        "a form policy without the bucket: {policy}"
    );
    let field = fields["key"].as_str().expect("a key field");
    keys.push(
        field
            .strip_suffix("${filename}")
            .unwrap_or(field)
            .to_owned(),
    );
    keys
}

/// A session-policy template and a caller value, split at the first NUL byte: the value is
/// both `sub` and the claim `tenant`.
///
/// A rendered policy must be a JSON object, and a caller value may change it only if the
/// value is one safe path segment: a `*`, `/` or `..` from a token must never widen a
/// resource. Whether the value was placed is found by rendering again with a plain value.
pub fn policy_render(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, value) = text.split_once('\0').unwrap_or((text, "alice"));
    let Ok(template) = PolicyTemplate::parse("fuzzed template", template) else {
        return;
    };
    let Ok(rendered) = render_for(&template, value) else {
        return;
    };
    let document: Value = serde_json::from_str(&rendered).expect("a rendered policy is JSON");
    assert!(
        document.is_object(),
        "a rendered policy is an object: {rendered}"
    );
    // One byte, so that the plain rendering is never the longer one (the size limit).
    let Ok(plain) = render_for(&template, "p") else {
        return;
    };
    if rendered != plain {
        assert!(
            is_safe_segment(value),
            "an unsafe caller value reached a policy: {value:?} in {rendered}"
        );
    }
}

/// Renders `template` for a caller whose `sub` and claim `tenant` are both `value`.
fn render_for(template: &PolicyTemplate, value: &str) -> Result<String, Error> {
    let caller = Caller {
        sub: value.to_owned(),
        claims: BTreeMap::from([("tenant".to_owned(), value.to_owned())]),
        token: None,
    };
    template.render(&PolicyVars {
        bucket: "examplebucket",
        object_prefix: "uploads/x/",
        imm_project: Some("fuzz-project"),
        caller: &caller,
    })
}

/// The rule DESIGN.md gives for a caller value in a prefix or policy, restated here rather
/// than called: 1 to 128 bytes of letters, digits and `._@:+=-`, and not `.` or `..`.
fn is_safe_segment(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@:+=-".contains(&b))
}

/// The published P-256 public key of RFC 7515, Appendix A.3.
const RFC7515_A3_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"rfc7515-a3","use":"sig","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

/// A bearer token, decoded and verified against a fixed key set and HS256 secret the fuzzer
/// cannot sign with: whatever the bytes, no panic and no acceptance.
pub fn jwt(data: &[u8]) {
    static KEYS: OnceLock<(KeySet, ring::hmac::Key)> = OnceLock::new();
    let (keys, hs256) = KEYS.get_or_init(|| {
        (
            KeySet::parse(RFC7515_A3_JWKS.as_bytes()).expect("the RFC 7515 key parses"),
            ring::hmac::Key::new(
                ring::hmac::HMAC_SHA256,
                b"another-hs256-secret-not-the-fuzzers",
            ),
        )
    });
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(unverified) = jwt::decode(token) else {
        return;
    };
    let expect = Expectations {
        issuer: "joe".to_owned(),
        audience: "stsvend".to_owned(),
    };
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let verified = unverified.verify(keys, Some(hs256), &expect, now);
    assert!(
        verified.is_err(),
        "a token the fuzzer made was accepted: {token:?}"
    );
}

/// The HS256 secret of [`jwt_claims`]: known to the target, so every token it builds is
/// correctly signed and only the claims decide.
const HS256_SECRET: &[u8] = b"fuzz-hs256-secret-of-32-bytes-or-more";

/// A claims set (any bytes), signed with HS256 under a key the verifier holds, so that the
/// claim rules are reached: the token must be accepted exactly when the rules, restated here,
/// say so (`exp` within 60 s, `nbf` if present within 60 s, `iss`, `aud` as a string or in an
/// array, a non-empty string `sub`), and then with that `sub`.
pub fn jwt_claims(data: &[u8]) {
    static KEY: OnceLock<ring::hmac::Key> = OnceLock::new();
    let key = KEY.get_or_init(|| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, HS256_SECRET));
    let url = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let input = format!("{}.{}", url(br#"{"alg":"HS256","typ":"JWT"}"#), url(data));
    let token = format!(
        "{input}.{}",
        url(ring::hmac::sign(key, input.as_bytes()).as_ref())
    );
    let now = NOW as f64;
    let claims = serde_json::from_slice::<Value>(data).ok();
    let expected = claims.as_ref().and_then(Value::as_object).and_then(|c| {
        let number = |name: &str| c.get(name).map(Value::as_f64);
        let exp_ok = matches!(number("exp"), Some(Some(exp)) if now <= exp + 60.0);
        let nbf_ok = match number("nbf") {
            None => true,
            Some(Some(nbf)) => nbf <= now + 60.0,
            Some(None) => false,
        };
        let iss_ok = c.get("iss") == Some(&Value::from("joe"));
        let aud_ok = match c.get("aud") {
            Some(Value::String(aud)) => aud == "stsvend",
            Some(Value::Array(auds)) => auds.contains(&Value::from("stsvend")),
            _ => false,
        };
        let sub = c
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        (exp_ok && nbf_ok && iss_ok && aud_ok)
            .then_some(sub)
            .flatten()
    });
    let outcome = jwt::decode(&token).and_then(|unverified| {
        unverified.verify(
            &KeySet::default(),
            Some(key),
            &Expectations {
                issuer: "joe".to_owned(),
                audience: "stsvend".to_owned(),
            },
            UNIX_EPOCH + Duration::from_secs(NOW),
        )
    });
    match (outcome, expected) {
        (Ok(verified), Some(sub)) => assert_eq!(verified.sub, sub),
        (Err(_), None) => {}
        (outcome, expected) => {
            panic!("claims {claims:?}: verified {outcome:?}, the rules say {expected:?}")
        }
    }
}

/// A JWKS document: parsed without panic, and a parsed set is never empty.
pub fn jwks(data: &[u8]) {
    if let Ok(keys) = KeySet::parse(data) {
        assert!(!keys.is_empty(), "an empty key set was accepted");
    }
}

// -------------------------------------------------------------------------------------------
// record-upload
// -------------------------------------------------------------------------------------------

/// record-upload's `UPLOAD_CALLBACK_SECRET` in the fuzzed configurations.
pub const CALLBACK_SECRET: &str = "fuzz-callback-secret-0123456789abcdef";

/// The path and query of `UPLOAD_CALLBACK_URL` in the fuzzed configurations.
const CALLBACK_PATH: &str = "/oss-callback?from=oss";

/// A 512-bit RSA key standing in for OSS's, made from a fixed seed (nothing is committed),
/// with its public half in a file for `OSS_CALLBACK_PUBLIC_KEY_FILE`.
fn oss_key() -> &'static (rsa::RsaPrivateKey, String) {
    static KEY: OnceLock<(rsa::RsaPrivateKey, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        use rand::SeedableRng as _;
        use rsa::pkcs8::EncodePublicKey as _;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5755_7665_6e64);
        let key = rsa::RsaPrivateKey::new(&mut rng, 512).expect("a test key");
        let pem = key
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("pem");
        let path =
            std::env::temp_dir().join(format!("stsvend-fuzz-oss-key-{}.pem", std::process::id()));
        std::fs::write(&path, pem).expect("write the public key");
        (key, path.display().to_string())
    })
}

/// record-upload in the given mode, its webhook answering 200 `{}` and its store answering
/// every `HEAD` with the object the seeds' callbacks describe (1,024 bytes of `image/png`).
fn record_state(mode: &str) -> Arc<record_upload::AppState> {
    let vars: BTreeMap<&str, String> = [
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "cn-hangzhou".to_owned()),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_ID",
            "LTAI-test-fuzz-key".to_owned(),
        ),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET.to_owned()),
        (
            "UPLOAD_CALLBACK_URL",
            format!("https://api.example.com{CALLBACK_PATH}"),
        ),
        ("UPLOAD_CALLBACK_SECRET", CALLBACK_SECRET.to_owned()),
        (
            "UPLOAD_WEBHOOK_URL",
            "https://app.example.com/hooks".to_owned(),
        ),
        (
            "UPLOAD_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        ),
        ("OSS_CALLBACK_PUBLIC_KEY_FILE", oss_key().1.clone()),
        ("RECORD_UPLOAD_MODE", mode.to_owned()),
        ("FC_FUNCTION_NAME", "stsvend-fuzz".to_owned()),
        ("FC_REGION", "cn-hangzhou".to_owned()),
    ]
    .into_iter()
    .collect();
    let config =
        Config::load(&|name| vars.get(name).cloned()).expect("the fuzz configuration loads");
    let clock = Arc::new(FixedClock::at_unix(NOW));
    Arc::new(
        record_upload::AppState::new(
            config,
            clock,
            CannedSender::answering_with_headers(
                200,
                "{}",
                &[
                    ("content-length", "1024"),
                    ("etag", "\"9B2CF535F27731C974343645A3985328\""),
                    ("content-type", "image/png"),
                ],
            ),
        )
        .expect("the fuzz state builds"),
    )
}

/// The answer to `request`, as JSON, checked for what every answer must be: the documented
/// shape, a status from the documented set, no secret.
fn record_answer(
    state: &Arc<record_upload::AppState>,
    request: Request,
    allowed: &[u16],
) -> (u16, Value) {
    let response = block_on(record_upload::handle(Arc::clone(state), request));
    let status = response.status().as_u16();
    let body = std::str::from_utf8(response.body().as_ref()).expect("the answer is UTF-8");
    assert!(
        !body.contains(SECRET) && !body.contains(CALLBACK_SECRET),
        "a secret was answered: {body}"
    );
    let answer: Value = serde_json::from_str(body).expect("the answer is JSON");
    assert_eq!(
        answer["StatusCode"], status,
        "StatusCode differs from the status: {body}"
    );
    assert!(allowed.contains(&status), "status {status}: {body}");
    if status != 200 {
        assert!(
            answer["ErrorCode"].as_str().is_some_and(|c| !c.is_empty()),
            "{body}"
        );
    }
    (status, answer)
}

/// An OSS upload callback whose body is `data`, signed as OSS signs it (with the stand-in key
/// record-upload is pinned to), so that the body parser and the tag checks are reached.
/// Invariants: a 200 gives the store's facts, names an object under a caller's prefix and is
/// covered by a tag made with the secret (checked here with an independent HMAC).
pub fn record_callback(data: &[u8]) {
    static STATE: OnceLock<Arc<record_upload::AppState>> = OnceLock::new();
    let state = STATE.get_or_init(|| record_state("callbacks"));
    let mut signed = format!("{CALLBACK_PATH}\n").into_bytes();
    signed.extend_from_slice(data);
    let signer = rsa::pkcs1v15::SigningKey::<md5::Md5>::new(oss_key().0.clone());
    let signature = rsa::signature::SignatureEncoding::to_bytes(&rsa::signature::Signer::sign(
        &signer, &signed,
    ));
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("https://api.example.com{CALLBACK_PATH}"))
        .header("authorization", BASE64.encode(signature))
        .header(
            "x-oss-pub-key-url",
            BASE64.encode("https://gosspublic.alicdn.com/callback_pub_key_v1.pem"),
        )
        .body(Body::Binary(data.to_vec()))
        .expect("a request");
    // 409: facts other than the store's; 404 is never answered (the store holds everything).
    let (status, answer) = record_answer(state, request, &[200, 400, 403, 409, 413]);
    if status == 200 {
        assert_eq!(answer["Size"], 1024, "the store's size: {answer}");
        assert_eq!(
            answer["ContentType"], "image/png",
            "the store's type: {answer}"
        );
        let key = answer["Key"].as_str().expect("a 200 names the key");
        let sub = answer["Uploader"]["sub"]
            .as_str()
            .expect("and the uploader");
        assert!(key.starts_with(&format!("uploads/{sub}/")), "{answer}");
        let body: Value = serde_json::from_slice(data).expect("a recorded body is JSON");
        let pin = &body["stsvend"];
        let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(pin["value"].as_str().expect("value"))
            .expect("base64url");
        let value = String::from_utf8(value).expect("utf-8");
        let kind = pin["scope"].as_str().expect("scope");
        let message = format!(
            "stsvend-callback-v1\nexamplebucket\n{kind}\n{value}\n{}",
            pin["expires"].as_u64().expect("expires")
        );
        let key_hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, CALLBACK_SECRET.as_bytes());
        let tag: String = ring::hmac::sign(&key_hmac, message.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            pin["tag"].as_str(),
            Some(tag.as_str()),
            "recorded without a valid tag"
        );
        assert!(
            if kind == "key" {
                key == value
            } else {
                key.starts_with(&value)
            },
            "{answer}"
        );
    }
}

/// A Lambda event (`data` as JSON) through record-upload's event entry. Invariants: no
/// panic; when it succeeds, it records no more uploads than the event has S3 object
/// creations, and each delivery is a record under a caller's prefix.
pub fn record_s3_event(data: &[u8]) {
    static STATE: OnceLock<Arc<record_upload::AppState>> = OnceLock::new();
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let state = STATE.get_or_init(|| record_state("callbacks"));
    let creations = event["Records"].as_array().map_or(0, |records| {
        records
            .iter()
            .filter(|r| {
                r["eventName"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("ObjectCreated:"))
            })
            .count()
    });
    if let Ok(answer) = block_on(record_upload::on_event(Arc::clone(state), event)) {
        let recorded = answer["recorded"]
            .as_u64()
            .expect("the answer counts records");
        assert!(
            recorded as usize <= creations,
            "recorded {recorded} of {creations}"
        );
    }
}

/// Function Compute's event invocation (an OSS trigger's body, `data`) in
/// `RECORD_UPLOAD_MODE=oss-events`. Invariants: the documented answers only, and no more
/// records than object creations.
pub fn record_oss_event(data: &[u8]) {
    static STATE: OnceLock<Arc<record_upload::AppState>> = OnceLock::new();
    let state = STATE.get_or_init(|| record_state("oss-events"));
    let request = lambda_http::http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1:9000/invoke")
        .header("x-fc-control-path", "/invoke")
        .body(Body::Binary(data.to_vec()))
        .expect("a request");
    let (status, answer) = record_answer(state, request, &[200, 400, 413]);
    if status == 200 {
        let events: Value = serde_json::from_slice(data).expect("a recorded body is JSON");
        let creations = events["events"].as_array().map_or(0, Vec::len);
        assert!(
            answer["Recorded"].as_u64().expect("Recorded") as usize <= creations,
            "{answer}"
        );
    }
}
