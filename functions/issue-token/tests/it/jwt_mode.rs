//! The `issue-token` binary in `AUTH_MODE=jwt` (HTTP mode), with keys generated here: every
//! refused token is a 401 with its own `ErrorCode` and nothing reaches the stand-in STS;
//! hostile claims never widen a policy; nothing in a request moves a caller's policy off
//! their own prefix; CORS on the wire.

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, Expected, StandInSts};
use stsvend_test_support::tokens::{self, AUDIENCE, HS256_SECRET, ISSUER, Keys};

fn start(
    test: &str,
    sts: &StandInSts,
    keys: &Keys,
    extra: &[(&'static str, &str)],
) -> (Function, std::path::PathBuf) {
    let jwks = std::env::temp_dir().join(format!(
        "issue-token-jwks-{}-{test}.json",
        std::process::id()
    ));
    std::fs::write(&jwks, keys.jwks()).expect("write JWKS");
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("RUST_LOG", "info".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_JWKS_FILE", jwks.display().to_string()),
        ("JWT_HS256_SECRET", HS256_SECRET.to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWT_AUDIENCE", AUDIENCE.to_owned()),
    ]);
    envs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    (
        Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs),
        jwks,
    )
}

fn get(function: &Function, token: &str) -> (u16, Value) {
    let (status, _, body) = function.request_with_headers(
        "GET",
        "/",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
    )
}

#[test]
fn refused_tokens_are_401_with_their_code_and_never_reach_sts() {
    let keys = Keys::generate();
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let (function, jwks) = start("refusals", &sts, &keys, &[]);
    let now = unix_seconds(SystemClock.now());

    for (what, token, code) in tokens::refusals(&keys, now) {
        let (status, answer) = get(&function, &token);
        assert_eq!(
            (status, answer["ErrorCode"].as_str()),
            (401, Some(code)),
            "{what}: {answer}"
        );
        assert_eq!(answer["StatusCode"], 401);
    }
    let (status, _, body) = function.request("GET", "/", "");
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        sts.received_count(),
        0,
        "a refused token never costs an STS call"
    );

    let claims = tokens::claims("alice", now);
    for token in [
        keys.rs256(&json!({"alg": "RS256", "kid": "rsa-1"}), &claims),
        keys.es256(&json!({"alg": "ES256", "kid": "ec-1"}), &claims),
        tokens::hs256(&json!({"alg": "HS256"}), &claims),
    ] {
        sts.next(Canned::Reply(200, sts::success_body("alice")));
        assert_eq!(get(&function, &token).0, 200);
    }
    let received = sts.take_received();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|r| r.problems.is_empty()),
        "{:?}",
        received.iter().map(|r| &r.problems).collect::<Vec<_>>()
    );
    function.stop();
    std::fs::remove_file(jwks).expect("cleanup");
}

/// Values a hostile identity provider (or a user who controls a profile field) might put in
/// a claim used in a prefix.
const HOSTILE: &[&str] = &[
    "a\"b",
    "a\\b",
    "*",
    "a*",
    "/../bob",
    "..",
    "a/../bob",
    "%2F",
    "a%2Fb",
    "ａlice",
    "alice\u{2215}bob",
    "alice\u{ff0f}bob",
    "a\nb",
    "a\u{0}b",
    "a\u{7f}",
    "$BUCKET_NAME",
    "${sub}",
    "a b",
    "",
];

#[test]
fn hostile_claims_are_refused_and_safe_ones_give_exactly_the_callers_prefix() {
    let keys = Keys::generate();
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/tenants/acme/users/alice/*",
    });
    let (function, jwks) = start(
        "hostile",
        &sts,
        &keys,
        &[("OBJECT_PREFIX", "tenants/${claim.tenant}/users/${sub}/")],
    );
    let now = unix_seconds(SystemClock.now());
    let token = |sub: &str, tenant: &str| {
        let mut claims = tokens::claims(sub, now);
        claims["tenant"] = json!(tenant);
        tokens::hs256(&json!({"alg": "HS256"}), &claims)
    };
    for hostile in HOSTILE {
        for (sub, tenant) in [(*hostile, "acme"), ("alice", *hostile)] {
            let (status, answer) = get(&function, &token(sub, tenant));
            let expected = if sub.is_empty() {
                "MissingClaim"
            } else {
                "InvalidIdentity"
            };
            assert_eq!(
                answer["ErrorCode"].as_str(),
                Some(expected),
                "sub {sub:?} tenant {tenant:?}: {answer}"
            );
            assert_eq!(status, if expected == "MissingClaim" { 401 } else { 403 });
        }
    }
    assert_eq!(
        sts.received_count(),
        0,
        "a refused identity never costs an STS call"
    );

    // Nothing the request carries changes whose prefix the token is for.
    sts.next(Canned::Reply(200, sts::success_body("alice")));
    sts.next(Canned::Reply(200, sts::success_body("alice")));
    let auth = format!("Bearer {}", token("alice", "acme"));
    let (status, _, body) = function.request_with_headers(
        "GET",
        "/?sub=bob&prefix=tenants/evil/&OBJECT_PREFIX=*&bucket=other",
        &[("Authorization", &auth), ("X-Forwarded-User", "bob")],
        "",
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = function.request_with_headers(
        "POST",
        "/tenants/evil/users/bob/",
        &[("Authorization", &auth)],
        r#"{"sub":"bob","tenant":"evil","Policy":"*"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let received = sts.take_received();
    assert_eq!(received.len(), 2);
    for request in received {
        // The stand-in parsed the policy and found exactly one resource, the caller's prefix.
        assert!(request.problems.is_empty(), "{:?}", request.problems);
    }
    function.stop();
    std::fs::remove_file(jwks).expect("cleanup");
}

#[test]
fn browsers_get_cors_answers_for_listed_origins_only() {
    let keys = Keys::generate();
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let (function, jwks) = start(
        "cors",
        &sts,
        &keys,
        &[("CORS_ALLOW_ORIGINS", "https://app.example.com")],
    );
    let preflight = [
        ("Origin", "https://app.example.com"),
        ("Access-Control-Request-Method", "GET"),
        ("Access-Control-Request-Headers", "authorization"),
    ];
    let (status, headers, _) = function.request_with_headers("OPTIONS", "/", &preflight, "");
    assert_eq!(status, 204, "a preflight needs no token");
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(String::as_str),
        Some("https://app.example.com")
    );
    assert_eq!(headers.get("vary").map(String::as_str), Some("Origin"));
    assert!(!headers.contains_key("access-control-allow-credentials"));
    let (_, headers, _) = function.request_with_headers(
        "OPTIONS",
        "/",
        &[("Origin", "https://evil.example.com")],
        "",
    );
    assert!(!headers.contains_key("access-control-allow-origin"));

    sts.next(Canned::Reply(200, sts::success_body("alice")));
    let token = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims("alice", unix_seconds(SystemClock.now())),
    );
    let (status, headers, _) = function.request_with_headers(
        "GET",
        "/",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Origin", "https://app.example.com"),
        ],
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(
        headers
            .get("access-control-allow-origin")
            .map(String::as_str),
        Some("https://app.example.com")
    );
    function.stop();
    std::fs::remove_file(jwks).expect("cleanup");
}

/// HTTP mode at the most verbose level `RUST_LOG` can ask for: the bearer token, the HS256
/// secret and the vended credentials appear nowhere in the output, while stsvend's own TRACE
/// lines do. (`lambda_mode.rs` checks the same under the Lambda runtime.)
#[test]
fn nothing_secret_is_logged_in_http_mode_at_trace() {
    let keys = Keys::generate();
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let (function, jwks) = start(
        "trace",
        &sts,
        &keys,
        &[("RUST_LOG", "lambda_runtime=trace,lambda_http=trace,trace")],
    );
    let token = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims("alice", unix_seconds(SystemClock.now())),
    );
    sts.next(Canned::Reply(200, sts::success_body("alice")));
    let (status, answer) = get(&function, &token);
    assert_eq!(status, 200, "{answer}");
    let (_, output) = function.stop();
    std::fs::remove_file(jwks).expect("cleanup");
    let log = output.join("\n");
    assert!(
        output
            .iter()
            .any(|line| line.contains("TRACE") && line.contains("identifying the caller")),
        "TRACE must be in effect:\n{log}"
    );
    for secret in [
        token.as_str(),
        token.rsplit('.').next().expect("signature"),
        HS256_SECRET,
        sts::FUNCTION_SECRET,
        sts::FUNCTION_TOKEN,
        sts::VENDED_SECRET,
        sts::VENDED_TOKEN,
    ] {
        assert!(
            !log.contains(secret),
            "{secret:?} appears in the output:\n{log}"
        );
    }
}
