//! The `issue-token` binary with no key of its own: its credentials from the ECS metadata
//! service (hardened mode), a credentials URI, or RRSA's token file through an anonymous
//! `AssumeRoleWithOIDC`; or, with `STS_ACTION=AssumeRoleWithOIDC`, the caller's own token
//! exchanged. Stand-ins on 127.0.0.1 check what each receives; the stand-in STS checks every
//! `AssumeRole` signature with the key the source gave, and the requests are kept in
//! `$CARGO_TARGET_TMPDIR/sts-requests-keyless.jsonl` for `scripts/oracles/verify_sts_requests.py`.
//! A source whose keys live 20 seconds is refreshed under load without a failed request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use stsvend::{Clock, SystemClock, format_iso8601, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::metadata::{StandInMetadata, aliyun_credentials};
use stsvend_test_support::sts::{
    self, Canned, Expected, FUNCTION_KEY_ID, FUNCTION_SECRET, FUNCTION_TOKEN, FunctionKey,
    OidcExpected, ROLE_ARN, Received, StandInSts,
};
use stsvend_test_support::tokens;

/// The environment of a deployment with no key: the stand-in STS, the role, the bucket.
fn keyless_env(sts: &StandInSts) -> Vec<(&'static str, String)> {
    sts::base_env(sts.address)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("ALIBABA_CLOUD_"))
        .chain([
            ("RUST_LOG", "info".to_owned()),
            ("AUTH_MODE", "none".to_owned()),
        ])
        .collect()
}

/// The function key, valid for an hour from now, as a metadata service hands it out.
fn function_key_answer() -> String {
    let expiration = format_iso8601(SystemClock.now() + Duration::from_secs(3600));
    aliyun_credentials(
        FUNCTION_KEY_ID,
        FUNCTION_SECRET,
        FUNCTION_TOKEN,
        &expiration,
    )
}

/// Appends what the stand-in STS received, signed with `secret`, for the official SDK.
fn keep_for_the_oracle(received: &[Received], secret_of: impl Fn(&str) -> String) {
    let path = format!("{}/sts-requests-keyless.jsonl", env!("CARGO_TARGET_TMPDIR"));
    let mut lines = String::new();
    for r in received.iter().filter(|r| r.body.contains("Signature=")) {
        let key_id = form_urlencoded::parse(r.body.as_bytes())
            .find(|(k, _)| k == "AccessKeyId")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        lines.push_str(
            &json!({"method": r.method, "path": r.path, "body": r.body,
                     "access_key_secret": secret_of(&key_id)})
            .to_string(),
        );
        lines.push('\n');
    }
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open captures");
    file.write_all(lines.as_bytes()).expect("write captures");
}

fn assert_no_problems(received: &[Received]) {
    assert!(
        received.iter().all(|r| r.problems.is_empty()),
        "{:?}",
        received.iter().map(|r| &r.problems).collect::<Vec<_>>()
    );
}

/// One anonymous request; the stand-in STS issues the answer.
fn one_token(envs: &[(&'static str, String)], sts: &StandInSts) -> Vec<String> {
    sts.next(Canned::Reply(200, sts::success_body("anonymous")));
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), envs);
    let (status, _, body) = function.request("GET", "/", "");
    assert_eq!(
        (status, body.as_str()),
        (200, sts::expected_answer().as_str())
    );
    let (clean, output) = function.stop();
    assert!(clean);
    output
}

#[test]
fn an_ecs_ram_role_is_read_in_hardened_mode_and_signs_assume_role() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let metadata =
        StandInMetadata::start(|seen| match (seen.method.as_str(), seen.path.as_str()) {
            ("PUT", "/latest/api/token")
                if seen
                    .headers
                    .contains_key("x-aliyun-ecs-metadata-token-ttl-seconds") =>
            {
                (200, "ecs-session-token-7c1".to_owned())
            }
            ("GET", "/latest/meta-data/ram/security-credentials/uploader-ecs")
                if seen
                    .headers
                    .get("x-aliyun-ecs-metadata-token")
                    .map(String::as_str)
                    == Some("ecs-session-token-7c1") =>
            {
                (200, function_key_answer())
            }
            _ => (403, String::new()),
        });
    let mut envs = keyless_env(&sts);
    envs.extend([
        ("ALIBABA_CLOUD_ECS_METADATA", "uploader-ecs".to_owned()),
        ("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", metadata.url()),
    ]);
    let output = one_token(&envs, &sts);
    let seen = metadata.seen();
    assert_eq!(seen[0].method, "PUT", "the token comes first: {seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    let received = sts.take_received();
    assert_eq!(received.len(), 1);
    assert_no_problems(&received);
    keep_for_the_oracle(&received, |_| FUNCTION_SECRET.to_owned());
    let log = output.join("\n");
    for secret in [FUNCTION_SECRET, FUNCTION_TOKEN, "ecs-session-token-7c1"] {
        assert!(!log.contains(secret), "{secret} logged:\n{log}");
    }
}

#[test]
fn a_credentials_uri_gives_the_key() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let uri = StandInMetadata::start(|seen| match seen.path.as_str() {
        "/credentials?for=stsvend" => (200, function_key_answer()),
        _ => (404, String::new()),
    });
    let mut envs = keyless_env(&sts);
    envs.push((
        "ALIBABA_CLOUD_CREDENTIALS_URI",
        format!("{}/credentials?for=stsvend", uri.url()),
    ));
    one_token(&envs, &sts);
    let received = sts.take_received();
    assert_no_problems(&received);
    keep_for_the_oracle(&received, |_| FUNCTION_SECRET.to_owned());
}

#[test]
fn rrsa_exchanges_the_token_file_anonymously_then_assumes_the_role() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let token_file = std::env::temp_dir().join(format!("rrsa-token-{}", std::process::id()));
    std::fs::write(&token_file, "eyJrrsa.service-account.token\n").expect("write token");
    sts.expect_oidc(OidcExpected {
        token: "eyJrrsa.service-account.token".to_owned(),
        provider_arn: "acs:ram::1234567890123:oidc-provider/ack-rrsa-c1".to_owned(),
        role_arn: "acs:ram::1234567890123:role/stsvend-function".to_owned(),
        resource: None,
    });
    let mut envs = keyless_env(&sts);
    envs.extend([
        (
            "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        (
            "ALIBABA_CLOUD_ROLE_ARN",
            "acs:ram::1234567890123:role/stsvend-function".to_owned(),
        ),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            "acs:ram::1234567890123:oidc-provider/ack-rrsa-c1".to_owned(),
        ),
    ]);
    one_token(&envs, &sts);
    let received = sts.take_received();
    assert_eq!(received.len(), 2, "AssumeRoleWithOIDC, then AssumeRole");
    assert!(received[0].body.contains("Action=AssumeRoleWithOIDC"));
    assert!(received[1].body.contains("Action=AssumeRole&"));
    assert_no_problems(&received);
    keep_for_the_oracle(&received, |_| FUNCTION_SECRET.to_owned());
    let _ = std::fs::remove_file(token_file);
}

#[test]
fn sts_action_oidc_exchanges_the_callers_own_token_with_their_policy() {
    let sts = StandInSts::start(Expected {
        session: "alice",
        resource: "acs:oss:*:*:examplebucket/uploads/alice/*",
    });
    let token = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims("alice", unix_seconds(SystemClock.now())),
    );
    sts.expect_oidc(OidcExpected {
        token: token.clone(),
        provider_arn: "acs:ram::1234567890123:oidc-provider/app".to_owned(),
        role_arn: ROLE_ARN.to_owned(),
        resource: Some("acs:oss:*:*:examplebucket/uploads/alice/*"),
    });
    sts.next(Canned::Reply(200, sts::success_body("alice")));
    let mut envs = keyless_env(&sts);
    envs.retain(|(name, _)| *name != "AUTH_MODE");
    envs.extend(tokens::hs256_env());
    envs.extend([
        ("STS_ACTION", "AssumeRoleWithOIDC".to_owned()),
        (
            "OIDC_PROVIDER_ARN",
            "acs:ram::1234567890123:oidc-provider/app".to_owned(),
        ),
        // No metadata service anywhere: the function needs none.
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true".to_owned()),
        (
            "ALIBABA_CLOUD_CREDENTIALS_URI",
            "http://127.0.0.1:9/".to_owned(),
        ),
    ]);
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);
    let (status, _, body) = function.request_with_headers(
        "GET",
        "/",
        &[("Authorization", &format!("Bearer {token}"))],
        "",
    );
    assert_eq!(
        (status, body.as_str()),
        (200, sts::expected_answer().as_str())
    );
    let received = sts.take_received();
    assert_eq!(received.len(), 1);
    assert!(received[0].body.contains("RoleSessionName=alice"));
    assert_no_problems(&received);
    let (clean, output) = function.stop();
    assert!(clean);
    assert!(
        !output.join("\n").contains(&token),
        "the caller's token is never logged"
    );
}

#[test]
fn with_no_credentials_anywhere_start_up_stops_naming_the_variables() {
    let sts = StandInSts::start(sts::ANONYMOUS);
    let mut envs = keyless_env(&sts);
    // A metadata service that answers nothing useful stands for "not on ECS".
    let nothing = StandInMetadata::start(|_| (404, String::new()));
    envs.push(("ALIBABA_CLOUD_ECS_METADATA_ENDPOINT", nothing.url()));
    envs.push(("PORT", "0".to_owned()));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_issue-token"))
        .env_clear()
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&child.stdout).to_string()
        + &String::from_utf8_lossy(&std::mem::take(&mut child.stderr));
    assert_eq!(child.status.code(), Some(2), "{text}");
    assert!(text.contains("ALIBABA_CLOUD_ACCESS_KEY_ID"), "{text}");
    assert!(text.contains("ALIBABA_CLOUD_OIDC_TOKEN_FILE"), "{text}");
}

/// Keys that live 20 seconds, each fetch a new one; issue-token under load for 30 seconds.
#[test]
fn keys_living_20_seconds_are_refreshed_before_expiry_under_load() {
    let sts = Arc::new(StandInSts::start(sts::ANONYMOUS));
    // Every AssumeRole answer lives 60 s: under issue-token's 6-minute floor, so every
    // request asks STS again and every one is signed with the function key of the moment.
    sts.answer_all(Canned::IssueShortLived(60));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (s, f) = (Arc::clone(&sts), Arc::clone(&fetches));
    let uri = StandInMetadata::start(move |_| {
        let n = f.fetch_add(1, Ordering::SeqCst) + 1;
        thread::sleep(Duration::from_millis(200));
        let expires = SystemClock.now() + Duration::from_secs(20);
        let (id, secret, token) = (
            format!("STS.key-{n}"),
            format!("secret-{n}"),
            format!("CAIS+token-{n}"),
        );
        s.accept_key(
            &id,
            FunctionKey {
                secret: secret.clone(),
                token: token.clone(),
                expires,
            },
        );
        (
            200,
            aliyun_credentials(&id, &secret, &token, &format_iso8601(expires)),
        )
    });
    let mut envs = keyless_env(&sts);
    envs.push(("ALIBABA_CLOUD_CREDENTIALS_URI", format!("{}/", uri.url())));
    let function = Arc::new(Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs));
    let started = Instant::now();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let answered = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..6)
        .map(|_| {
            let (function, failures, answered) = (
                Arc::clone(&function),
                Arc::clone(&failures),
                Arc::clone(&answered),
            );
            thread::spawn(move || {
                while started.elapsed() < Duration::from_secs(30) {
                    let (status, _, body) = function.request("GET", "/", "");
                    answered.fetch_add(1, Ordering::SeqCst);
                    if status != 200 {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("{status} {body}"));
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("worker");
    }
    let received = sts.take_received();
    let answered = answered.load(Ordering::SeqCst);
    let fetched = fetches.load(Ordering::SeqCst);
    // The figures, for the README (`-- --nocapture`).
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "keyless load: {answered} requests, {} AssumeRole, {fetched} key fetches",
            received.len()
        );
    }
    assert!(
        failures.lock().expect("lock").is_empty(),
        "{:?}",
        failures.lock()
    );
    assert_no_problems(&received);
    assert!(
        received.len() >= 100,
        "enough STS calls to matter: {}",
        received.len()
    );
    // A key lives 20 s and is refreshed with 10 s left: about 3 fetches in 30 s, never one
    // per request, and never two at once.
    assert!((3..=6).contains(&fetched), "{fetched} fetches");
    assert_eq!(uri.max_concurrency(), 1, "one refresh at a time");
    let keys_used: std::collections::BTreeSet<String> = received
        .iter()
        .filter_map(|r| {
            form_urlencoded::parse(r.body.as_bytes())
                .find(|(k, _)| k == "AccessKeyId")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert!(keys_used.len() >= 3, "{keys_used:?}");
    keep_for_the_oracle(&received, |id| id.replace("STS.key-", "secret-"));
    let Ok(function) = Arc::try_unwrap(function) else {
        panic!("the workers are done")
    };
    assert!(function.stop().0);
}
