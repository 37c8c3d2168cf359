//! Every grant belongs to exactly one caller: two callers whose rendered session policies are
//! identical still get two STS sessions, each named after its own caller, and each answer holds
//! the credential of its own session.
//!
//! Before the cache was keyed by `RoleSessionName` too, bob (tenant acme) was handed the session
//! STS had issued to alice (same tenant prefix, same policy): the audit log named alice for
//! bob's uploads, and with a `${aws:userid}` template, which STS evaluates per session, bob
//! reached alice's folder.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::{self, Function};
use stsvend_test_support::sts::issued_to;
use stsvend_test_support::{oracles, tokens};

fn token_for(function: &Function, sub: &str, tenant: &str) -> Value {
    let (status, _, body) = function.request_with_headers(
        "GET",
        "/",
        &[(
            "Authorization",
            &tokens::hs256_bearer_of_tenant(sub, tenant, unix_seconds(SystemClock.now())),
        )],
        "",
    );
    assert_eq!(status, 200, "{sub}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn callers_sharing_a_tenant_prefix_get_sessions_of_their_own() {
    let (sts, function) =
        function::start_for_one_tenant(env!("CARGO_BIN_EXE_issue-token"), tokens::hs256_env());

    let alice = token_for(&function, "alice", "acme");
    let bob = token_for(&function, "bob", "acme");
    let alice_again = token_for(&function, "alice", "acme");
    function.stop();

    for (answer, session) in [(&alice, "alice"), (&bob, "bob"), (&alice_again, "alice")] {
        let (id, secret, token) = issued_to(session);
        assert_eq!(answer["AccessKeyId"], id, "{session}: {answer}");
        assert_eq!(answer["AccessKeySecret"], secret, "{session}");
        assert_eq!(answer["SecurityToken"], token, "{session}");
    }
    let received = sts.take_received();
    assert_eq!(
        received.len(),
        2,
        "one STS call per caller; alice's second is cached"
    );
    for request in &received {
        assert!(request.problems.is_empty(), "{:?}", request.problems);
    }
}

/// `PROVIDER=aws` against moto's STS: the `${aws:userid}` template renders one policy for
/// everybody, and STS fills it in per session; each answer's key must be of a session named
/// after its own caller, as STS itself (`GetCallerIdentity`) says.
#[test]
#[ignore = "needs moto from PyPI: scripts/test runs it"]
fn an_aws_userid_template_gives_each_caller_a_session_of_their_own() {
    let (mut moto, moto_env) = oracles::start_moto();
    let field = |name: &str| moto_env[name].as_str().expect(name).to_owned();

    let policy = std::env::temp_dir().join(format!("userid-policy-{}.json", std::process::id()));
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::$BUCKET_NAME/home/${aws:userid}/*"}]}"#,
    )
    .expect("write policy");
    let mut envs = vec![
        ("PROVIDER", "aws".to_owned()),
        ("AWS_ACCESS_KEY_ID", field("access_key_id")),
        ("AWS_SECRET_ACCESS_KEY", field("secret_access_key")),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("STS_ENDPOINT", field("endpoint")),
        ("ROLE_ARN", field("role_arn")),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("POLICY_FILE", policy.display().to_string()),
        ("OBJECT_PREFIX", "home/".to_owned()),
    ];
    envs.extend(tokens::hs256_env());
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);
    let alice = token_for(&function, "alice", "acme");
    let bob = token_for(&function, "bob", "acme");
    function.stop();
    let _ = std::fs::remove_file(&policy);

    assert_ne!(alice["AccessKeyId"], bob["AccessKeyId"], "two sessions");
    for (answer, session) in [(&alice, "alice"), (&bob, "bob")] {
        let arn = caller_arn(&field("endpoint"), answer);
        assert!(
            arn.ends_with(&format!("/{session}")),
            "{session}'s key is of the session {arn}"
        );
    }
    drop(moto.stdin.take());
    let _ = moto.wait();
}

/// The ARN STS names for the holder of `answer`'s credentials (botocore, `GetCallerIdentity`).
fn caller_arn(endpoint: &str, answer: &Value) -> String {
    let mut python = Command::new(oracles::python())
        .args([
            "-c",
            "import json, sys, botocore.session\n\
             a = json.load(sys.stdin)\n\
             sts = botocore.session.get_session().create_client('sts', region_name='us-east-1',\n\
                 endpoint_url=sys.argv[1], aws_access_key_id=a['AccessKeyId'],\n\
                 aws_secret_access_key=a['AccessKeySecret'], aws_session_token=a['SecurityToken'])\n\
             print(sts.get_caller_identity()['Arn'])",
            endpoint,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python");
    python
        .stdin
        .take()
        .expect("stdin")
        .write_all(answer.to_string().as_bytes())
        .expect("send credentials");
    let out = python.wait_with_output().expect("GetCallerIdentity");
    assert!(out.status.success(), "GetCallerIdentity failed");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_owned()
}
