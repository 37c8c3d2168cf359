//! The `issue-token` binary under the Lambda runtime, in `AUTH_MODE=gateway`.
//!
//! A stand-in Lambda Runtime API on 127.0.0.1 (`stsvend_test_support::lambda`) hands the
//! binary the committed API Gateway v2 events (`events/`) through
//! `GET /2018-06-01/runtime/invocation/next` and collects what it posts to
//! `/runtime/invocation/{id}/response`; the stand-in STS checks the AssumeRole call made for
//! the JWT authorizer's `sub`, and for each identity-pool user of a Function URL with IAM
//! auth. Under `RUST_LOG=trace`, with a bearer token in the event,
//! nothing secret reaches the function's output.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::lambda::{self, LambdaFunction, Posted};
use stsvend_test_support::sts::{
    self, Canned, Expected, FUNCTION_SECRET, FUNCTION_TOKEN, StandInSts, VENDED_SECRET,
    VENDED_TOKEN,
};
use stsvend_test_support::{event, tokens};
use tokens::{AUDIENCE, HS256_SECRET, ISSUER};

const BINARY: &str = env!("CARGO_BIN_EXE_issue-token");

fn start_runtime_api(events: Vec<String>) -> (SocketAddr, std::sync::mpsc::Receiver<Posted>) {
    lambda::start_runtime_api("issue-token", events)
}

#[test]
fn issue_token_under_the_lambda_runtime_uses_the_gateway_sub() {
    let sts = StandInSts::start(Expected {
        session: "user-42",
        resource: "acs:oss:*:*:examplebucket/uploads/user-42/*",
    });
    sts.next(Canned::Reply(200, sts::success_body("user-42")));
    let (runtime_api, posted) = start_runtime_api(vec![
        event("apigw-v2-jwt.json"),
        event("apigw-v2-no-authorizer.json"),
    ]);

    let mut function = LambdaFunction::start(BINARY, runtime_api, &sts::base_env(sts.address));
    let answers = function.answers(&posted, 2);
    function.stop();

    let (path, body) = &answers[0];
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-1/response");
    let response: serde_json::Value =
        serde_json::from_str(body).expect("API Gateway response JSON");
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["body"], sts::expected_answer());
    assert_eq!(response["headers"]["content-type"], "application/json");

    let (path, body) = &answers[1];
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-0/response");
    let response: serde_json::Value =
        serde_json::from_str(body).expect("API Gateway response JSON");
    assert_eq!(response["statusCode"], 401, "{response}");
    let inner: serde_json::Value =
        serde_json::from_str(response["body"].as_str().expect("body")).expect("JSON body");
    assert_eq!(inner["ErrorCode"], "MissingIdentity");

    let received = sts.take_received();
    assert_eq!(received.len(), 1, "only the caller with claims reaches STS");
    assert!(
        received[0].problems.is_empty(),
        "stand-in STS found: {:?}",
        received[0].problems
    );
}

/// The `body` of an API Gateway response posted to the runtime, parsed.
fn answer_body(posted: &Posted) -> serde_json::Value {
    let response: serde_json::Value =
        serde_json::from_str(&posted.1).expect("API Gateway response JSON");
    assert_eq!(response["statusCode"], 200, "{response}");
    serde_json::from_str(response["body"].as_str().expect("body")).expect("JSON body")
}

/// The form parameters of an AssumeRole request the stand-in STS received.
fn form(body: &str) -> std::collections::BTreeMap<String, String> {
    form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// Two users of one Cognito identity pool call a Function URL with IAM auth: their IAM
/// `userId` is the same (`<RoleId>:CognitoIdentityCredentials`), their `identityId` is not.
/// Each must get an `AssumeRole` of their own, for their own prefix, and their own answer.
#[test]
fn identity_pool_users_behind_one_role_each_get_their_own_token() {
    // (event, identityId, name, the RoleSessionName STS must be asked for). The session names
    // are 15 allowed characters of the identityId, `-`, and 16 of its SHA-256 in URL-safe
    // base64: `printf %s ID | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | cut -c1-16`.
    let users = [
        (
            "function-url-iam-cognito-alice.json",
            "us-east-1:0f8e4c2a-6d1b-4e7f-9a3c-5b2d1e0f4a61",
            "alice",
            "us-east-10f8e4c-YpB3eggCbXUHEx9Q",
        ),
        (
            "function-url-iam-cognito-bob.json",
            "us-east-1:c3a9b7d5-1e2f-4a6b-8c0d-9e8f7a6b5c42",
            "bob",
            "us-east-1c3a9b7-Rk2aFb2Xf56tE0_F",
        ),
    ];
    let resource = |identity_id: &str| format!("acs:oss:*:*:examplebucket/uploads/{identity_id}/*");
    let sts = StandInSts::start_for(
        users
            .iter()
            .map(|&(_, identity_id, _, session)| Expected {
                session,
                resource: resource(identity_id).leak(),
            })
            .collect(),
    );
    // Each STS call answers with credentials of its own, so that an answer shows which call
    // it came from; they last long enough to be cached, so callers who shared a policy would
    // share one credential.
    let expiration = stsvend::format_iso8601(SystemClock.now() + Duration::from_secs(900));
    for (_, _, name, session) in &users {
        let body = sts::success_body_until(session, &expiration)
            .replace("STS.test-vended-key", &format!("STS.{name}-key"))
            .replace(VENDED_SECRET, &format!("{name}-vended-secret"))
            .replace(VENDED_TOKEN, &format!("{name}-security-token"));
        sts.next(Canned::Reply(200, body));
    }
    let (runtime_api, posted) = start_runtime_api(users.iter().map(|u| event(u.0)).collect());
    let mut function = LambdaFunction::start(BINARY, runtime_api, &sts::base_env(sts.address));
    let answers = function.answers(&posted, 2);
    function.stop();

    // The stand-in hands out the events in order and names them req-1, then req-0.
    for ((_, identity_id, name, _), (posted, id)) in
        users.iter().zip(answers.iter().zip(["req-1", "req-0"]))
    {
        assert_eq!(
            posted.0,
            format!("/2018-06-01/runtime/invocation/{id}/response")
        );
        let answer = answer_body(posted);
        assert_eq!(
            answer["AccessKeyId"],
            format!("STS.{name}-key"),
            "{identity_id}: {answer}"
        );
        assert_eq!(answer["AccessKeySecret"], format!("{name}-vended-secret"));
        assert_eq!(answer["SecurityToken"], format!("{name}-security-token"));
    }

    let received = sts.take_received();
    assert_eq!(
        received.len(),
        2,
        "one AssumeRole per identity-pool user, not one shared token"
    );
    for ((_, identity_id, _, session), request) in users.iter().zip(&received) {
        let params = form(&request.body);
        assert_eq!(params["RoleSessionName"], *session, "{identity_id}");
        let policy: serde_json::Value = serde_json::from_str(&params["Policy"]).expect("policy");
        assert_eq!(
            policy["Statement"][0]["Resource"],
            json!([resource(identity_id)]),
            "{identity_id}"
        );
        assert!(
            request.problems.is_empty(),
            "{identity_id}: stand-in STS found {:?}",
            request.problems
        );
    }
}

/// An API Gateway v2 event without authorizer data, carrying `Authorization: Bearer <token>`.
fn event_with_bearer(token: &str) -> String {
    let mut event: serde_json::Value =
        serde_json::from_str(&event("apigw-v2-no-authorizer.json")).expect("event");
    event["headers"]["authorization"] = json!(format!("Bearer {token}"));
    event.to_string()
}

/// `AUTH_MODE=jwt` under the Lambda runtime, logging at every level the environment can ask
/// for: the raw event (which holds the bearer token), the token, the function's secret and
/// the vended credentials appear nowhere in the output, while stsvend's own TRACE lines do.
#[test]
fn nothing_secret_is_logged_under_the_lambda_runtime_at_trace() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let levels: [&[(&str, &str)]; 3] = [
        &[("RUST_LOG", "trace")],
        &[("RUST_LOG", "lambda_runtime=trace,trace")],
        &[
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            (
                "RUST_LOG",
                "lambda_runtime=trace,lambda_runtime_api_client=trace",
            ),
        ],
    ];
    for level in levels {
        let token = tokens::hs256(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &tokens::claims("alice", unix_seconds(SystemClock.now())),
        );
        sts.next(Canned::Reply(200, sts::success_body("alice")));
        let (runtime_api, posted) = start_runtime_api(vec![event_with_bearer(&token)]);
        let mut envs = sts::base_env(sts.address);
        envs.extend([
            ("AUTH_MODE", "jwt".to_owned()),
            ("JWT_HS256_SECRET", HS256_SECRET.to_owned()),
            ("JWT_ISSUER", ISSUER.to_owned()),
            ("JWT_AUDIENCE", AUDIENCE.to_owned()),
        ]);
        envs.extend(level.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let mut function = LambdaFunction::start(BINARY, runtime_api, &envs);
        let answers = function.answers(&posted, 1);
        let output = function.stop();
        assert_eq!(
            answer_body(&answers[0]),
            serde_json::from_str::<serde_json::Value>(&sts::expected_answer()).expect("JSON"),
            "{level:?}"
        );

        let log = output.join("\n");
        // The test means something only if TRACE was really in effect, for stsvend's own
        // events as for every other crate's.
        assert!(
            output
                .iter()
                .any(|line| line.contains("TRACE") && line.contains("identifying the caller")),
            "{level:?}: TRACE must be in effect:\n{log}"
        );
        let signature = token.rsplit('.').next().expect("signature");
        let payload = token.split('.').nth(1).expect("payload");
        let mut secrets = vec![
            token.clone(),
            signature.to_owned(),
            payload.to_owned(),
            HS256_SECRET.to_owned(),
            FUNCTION_SECRET.to_owned(),
            FUNCTION_TOKEN.to_owned(),
            VENDED_SECRET.to_owned(),
            VENDED_TOKEN.to_owned(),
        ];
        let encoded: Vec<String> = secrets
            .iter()
            .map(|s| stsvend::sign::percent_encode(s, stsvend::sign::RFC3986_UNRESERVED))
            .collect();
        secrets.extend(encoded);
        for secret in &secrets {
            assert!(
                !log.contains(secret.as_str()),
                "{level:?}: {secret:?} appears in the output:\n{log}"
            );
        }
        let lower = log.to_ascii_lowercase();
        for word in [
            "bearer ey",
            "\"authorization\"",
            "raw json event",
            "\"headers\"",
        ] {
            assert!(
                !lower.contains(word),
                "{level:?}: {word:?} appears in the output:\n{log}"
            );
        }
    }
    let received = sts.take_received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.problems.is_empty()));
}
