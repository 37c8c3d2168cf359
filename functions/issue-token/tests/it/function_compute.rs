//! The `issue-token` binary as Alibaba Cloud Function Compute runs a custom runtime (see
//! `s.yaml`): no `PORT`, the port in `FC_SERVER_PORT`, the function role's temporary key in
//! `ALIBABA_CLOUD_*`, and callers verified here (`AUTH_MODE=jwt`). The test binds 127.0.0.1;
//! `s.yaml` sets `BIND=0.0.0.0`.

use serde_json::json;
use stsvend::time::{Clock, SystemClock, unix_seconds};
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
