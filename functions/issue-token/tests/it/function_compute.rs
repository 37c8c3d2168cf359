//! The `issue-token` binary as Alibaba Cloud Function Compute runs a custom runtime (see
//! `s.yaml`): no `PORT`, the port in `FC_SERVER_PORT`, the function role's temporary key in
//! `ALIBABA_CLOUD_*`, and callers verified here (`AUTH_MODE=jwt`). The test binds 127.0.0.1;
//! `s.yaml` sets `BIND=0.0.0.0`.

use serde_json::json;
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::sts::{self, Canned, Expected, StandInSts};
use stsvend_test_support::{http, tokens};

#[test]
fn serves_on_fc_server_port_with_the_injected_role_credentials() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let port = http::free_port();
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("FC_SERVER_PORT", port.to_string()),
        ("FC_FUNCTION_NAME", "stsvend-issue-token".to_owned()),
        ("FC_REGION", "cn-hangzhou".to_owned()),
        (
            "FC_INSTANCE_ID",
            "c-6f8e2a1b-4c1d-4b5e-9a3f-2e7d1c0b9a8f".to_owned(),
        ),
        ("BIND", "127.0.0.1".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_HS256_SECRET", tokens::HS256_SECRET.to_owned()),
        ("JWT_ISSUER", tokens::ISSUER.to_owned()),
        ("JWT_AUDIENCE", tokens::AUDIENCE.to_owned()),
    ]);
    let function = Function::start_with_only(env!("CARGO_BIN_EXE_issue-token"), &envs);
    assert_eq!(function.address.port(), port, "listens on FC_SERVER_PORT");

    sts.next(Canned::Reply(200, sts::success_body("alice")));
    let token = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims("alice", unix_seconds(SystemClock.now())),
    );
    let (status, _, body) = function.request_with_headers(
        "GET",
        "/",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, sts::expected_answer());
    let received = sts.take_received();
    // The stand-in checked that the injected security token was sent as SecurityToken.
    assert!(
        received.len() == 1 && received[0].problems.is_empty(),
        "{:?}",
        received.iter().map(|r| &r.problems).collect::<Vec<_>>()
    );
    let (clean, _) = function.stop();
    assert!(clean);
}

/// Function Compute hands every invocation the role's key in `x-fc-*` headers: under Function
/// Compute (its `FC_FUNCTION_NAME` and `FC_REGION`), that invocation signs with it; outside it,
/// the same headers from a client change nothing.
#[test]
fn the_key_function_compute_hands_an_invocation_signs_that_invocation_only() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let handed = (
        "STS.fc-invocation-key",
        "fc-invocation-secret",
        "CAIS+fc/invocation-token==",
    );
    sts.accept_key(
        handed.0,
        sts::FunctionKey {
            secret: handed.1.to_owned(),
            token: handed.2.to_owned(),
            expires: SystemClock.now() + std::time::Duration::from_secs(3600),
        },
    );
    sts.accept_key(
        sts::FUNCTION_KEY_ID,
        sts::FunctionKey {
            secret: sts::FUNCTION_SECRET.to_owned(),
            token: sts::FUNCTION_TOKEN.to_owned(),
            expires: SystemClock.now() + std::time::Duration::from_secs(3600),
        },
    );
    let key_used = |under_fc: bool| {
        let mut envs = sts::base_env(sts.address);
        envs.extend([
            ("RUST_LOG", "info".to_owned()),
            ("AUTH_MODE", "jwt".to_owned()),
            ("JWT_HS256_SECRET", tokens::HS256_SECRET.to_owned()),
            ("JWT_ISSUER", tokens::ISSUER.to_owned()),
            ("JWT_AUDIENCE", tokens::AUDIENCE.to_owned()),
        ]);
        if under_fc {
            envs.extend([
                ("FC_FUNCTION_NAME", "stsvend-issue-token".to_owned()),
                ("FC_REGION", "cn-hangzhou".to_owned()),
            ]);
        }
        let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);
        sts.next(Canned::Reply(200, sts::success_body("alice")));
        let token = tokens::hs256(
            &json!({"alg": "HS256"}),
            &tokens::claims("alice", unix_seconds(SystemClock.now())),
        );
        let (status, _, body) = function.request_with_headers(
            "GET",
            "/",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("x-fc-access-key-id", handed.0),
                ("x-fc-access-key-secret", handed.1),
                ("x-fc-security-token", handed.2),
            ],
            "",
        );
        assert_eq!(status, 200, "{body}");
        let (clean, output) = function.stop();
        assert!(clean);
        assert!(
            !output
                .iter()
                .any(|line| line.contains(handed.1) || line.contains("fc/invocation-token")),
            "nothing handed is logged: {output:#?}"
        );
        let received = sts.take_received();
        assert!(
            received.len() == 1 && received[0].problems.is_empty(),
            "{:?}",
            received[0].problems
        );
        form_urlencoded::parse(received[0].body.as_bytes())
            .find(|(k, _)| k == "AccessKeyId")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    assert_eq!(
        key_used(true),
        handed.0,
        "under Function Compute, the invocation's key"
    );
    assert_eq!(
        key_used(false),
        sts::FUNCTION_KEY_ID,
        "elsewhere, the function's own key"
    );
}

/// What one invocation's handed key obtained from STS serves only invocations handed that same
/// key: under Function Compute, invocations of one caller handed key A, then key B, then no key
/// each reach STS signed with their own key, while A's and the function's own key again reuse
/// what they obtained (Function Compute hands one role key to many invocations).
#[test]
fn a_credential_obtained_with_a_handed_key_serves_no_invocation_handed_another() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let expires = SystemClock.now() + std::time::Duration::from_secs(3600);
    let handed_a = ("STS.fc-key-a", "fc-secret-a", "CAIS+fc/token-a==");
    let handed_b = ("STS.fc-key-b", "fc-secret-b", "CAIS+fc/token-b==");
    for (id, secret, token) in [
        handed_a,
        handed_b,
        (
            sts::FUNCTION_KEY_ID,
            sts::FUNCTION_SECRET,
            sts::FUNCTION_TOKEN,
        ),
    ] {
        let (secret, token) = (secret.to_owned(), token.to_owned());
        sts.accept_key(
            id,
            sts::FunctionKey {
                secret,
                token,
                expires,
            },
        );
    }
    sts.answer_all(Canned::IssueToSession);
    let mut envs = sts::base_env(sts.address);
    envs.extend([
        ("RUST_LOG", "info".to_owned()),
        ("AUTH_MODE", "jwt".to_owned()),
        ("JWT_HS256_SECRET", tokens::HS256_SECRET.to_owned()),
        ("JWT_ISSUER", tokens::ISSUER.to_owned()),
        ("JWT_AUDIENCE", tokens::AUDIENCE.to_owned()),
        ("FC_FUNCTION_NAME", "stsvend-issue-token".to_owned()),
        ("FC_REGION", "cn-hangzhou".to_owned()),
    ]);
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);
    let token = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims("alice", unix_seconds(SystemClock.now())),
    );
    let bearer = format!("Bearer {token}");
    let invoke = |handed: Option<(&str, &str, &str)>| {
        let mut headers = vec![("Authorization", bearer.as_str())];
        if let Some((id, secret, token)) = handed {
            headers.extend([
                ("x-fc-access-key-id", id),
                ("x-fc-access-key-secret", secret),
                ("x-fc-security-token", token),
            ]);
        }
        let (status, _, body) = function.request_with_headers("GET", "/", &headers, "");
        assert_eq!(status, 200, "{body}");
        let received = sts.take_received();
        assert!(
            received.iter().all(|r| r.problems.is_empty()),
            "{:?}",
            received.iter().map(|r| &r.problems).collect::<Vec<_>>()
        );
        received
            .iter()
            .map(|r| {
                form_urlencoded::parse(r.body.as_bytes())
                    .find(|(k, _)| k == "AccessKeyId")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(invoke(Some(handed_a)), [handed_a.0], "1: signed with key A");
    assert_eq!(
        invoke(Some(handed_b)),
        [handed_b.0],
        "2: key B gets nothing key A obtained"
    );
    assert_eq!(
        invoke(None),
        [sts::FUNCTION_KEY_ID],
        "3: no handed key gets nothing key A or B obtained"
    );
    assert!(
        invoke(Some(handed_a)).is_empty(),
        "4: key A again reuses what key A obtained"
    );
    assert!(
        invoke(None).is_empty(),
        "5: the function's own key again reuses what it obtained"
    );
    let (clean, output) = function.stop();
    assert!(clean);
    assert!(
        !output
            .iter()
            .any(|line| line.contains("fc-secret-") || line.contains("fc/token-")),
        "nothing handed is logged: {output:#?}"
    );
}
