//! `PROVIDER=aws` with no key of its own, against moto's STS (signature checking on): the
//! role session comes from a stand-in IMDS (IMDSv2: the token first, then every read carries
//! it) or a stand-in container endpoint (the authorization token from its file), or from
//! moto's `AssumeRoleWithWebIdentity` with an IRSA token file; and `STS_ACTION=
//! AssumeRoleWithWebIdentity` exchanges the caller's own token. moto verifies every signed
//! `AssumeRole` (and, moto's limit, then refuses a chained one: see [`assert_authenticated`]).

use serde_json::{Value, json};
use stsvend::{Clock, SystemClock, unix_seconds};
use stsvend_test_support::function::Function;
use stsvend_test_support::metadata::{StandInMetadata, aws_credentials};
use stsvend_test_support::{oracles, tokens};

fn base(moto: &Value) -> Vec<(&'static str, String)> {
    let field = |name: &str| moto[name].as_str().expect(name).to_owned();
    vec![
        ("PROVIDER", "aws".to_owned()),
        ("AUTH_MODE", "none".to_owned()),
        ("RUST_LOG", "info".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("STS_ENDPOINT", field("endpoint")),
        ("ROLE_ARN", field("role_arn")),
        ("BUCKET", "examplebucket".to_owned()),
        ("BUCKET_REGION", "us-east-1".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
}

/// The role session moto issued at start, as a metadata answer.
fn session_answer(moto: &Value) -> String {
    let s = &moto["session"];
    let f = |name: &str| s[name].as_str().expect(name).to_owned();
    aws_credentials(
        &f("access_key_id"),
        &f("secret_access_key"),
        &f("session_token"),
        &f("expiration"),
    )
}

fn one(envs: &[(&'static str, String)], headers: &[(&str, &str)]) -> (u16, Value, String) {
    let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), envs);
    let (status, _, body) = function.request_with_headers("GET", "/", headers, "");
    let (clean, output) = function.stop();
    assert!(clean);
    let answer = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status, answer, output.join("\n"))
}

/// moto authenticated the AssumeRole signed by a role session (a bad signature would be
/// `SignatureDoesNotMatch`, an unknown key or token `InvalidClientTokenId`) and then refused
/// it: moto 5.2.5 denies a chained `AssumeRole` by a session it issued even when the
/// session's role allows `sts:AssumeRole`.
fn assert_authenticated(status: u16, answer: &Value) {
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["ErrorCode"], "AccessDenied", "{answer}");
}

fn assert_issued(status: u16, answer: &Value) {
    assert_eq!(status, 200, "{answer}");
    let key = answer["AccessKeyId"].as_str().expect("AccessKeyId");
    assert!(key.starts_with("ASIA"), "{key}");
}

#[test]
#[ignore = "needs moto from PyPI: scripts/test runs it"]
fn imds_container_and_web_identity_sessions_sign_assume_role_on_moto() {
    let (mut moto, moto_env) = oracles::start_moto();
    let answer = session_answer(&moto_env);

    // IMDSv2: the token first; every read carries it.
    let imds_answer = answer.clone();
    let imds = StandInMetadata::start(move |seen| {
        let token = seen
            .headers
            .get("x-aws-ec2-metadata-token")
            .map(String::as_str);
        match (seen.method.as_str(), seen.path.as_str(), token) {
            ("PUT", "/latest/api/token", None)
                if seen
                    .headers
                    .contains_key("x-aws-ec2-metadata-token-ttl-seconds") =>
            {
                (200, "imds-v2-token-41".to_owned())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/", Some("imds-v2-token-41")) => {
                (200, "uploader-instance".to_owned())
            }
            (
                "GET",
                "/latest/meta-data/iam/security-credentials/uploader-instance",
                Some("imds-v2-token-41"),
            ) => (200, imds_answer.clone()),
            _ => (401, String::new()),
        }
    });
    let mut envs = base(&moto_env);
    envs.retain(|(k, _)| *k != "AWS_EC2_METADATA_DISABLED");
    envs.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()));
    envs.push(("TOKEN_DURATION_SECONDS", "7200".to_owned()));
    let (status, issued, log) = one(&envs, &[]);
    assert_authenticated(status, &issued);
    assert!(log.contains("role chaining"), "{log}");
    assert_eq!(imds.seen().len(), 3, "{:?}", imds.seen());

    // Container credentials (EKS Pod Identity): the authorization token from its file.
    let token_file = std::env::temp_dir().join(format!("pod-identity-{}", std::process::id()));
    std::fs::write(&token_file, "pod-identity-token-9f\n").expect("write");
    let container = StandInMetadata::start(move |seen| {
        match seen.headers.get("authorization").map(String::as_str) {
            Some("pod-identity-token-9f") if seen.path == "/v1/credentials" => {
                (200, answer.clone())
            }
            _ => (403, String::new()),
        }
    });
    let mut envs = base(&moto_env);
    envs.extend([
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/v1/credentials", container.url()),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.display().to_string(),
        ),
    ]);
    let (status, issued, _) = one(&envs, &[]);
    assert_authenticated(status, &issued);
    assert_eq!(container.seen().len(), 1);

    drop(moto.stdin.take());
    let _ = moto.wait();
    // moto answers unsigned requests only with its signature checking off.
    let (mut moto, moto_env) = oracles::start_moto_with(&["--no-auth"]);

    // IRSA: the token file exchanged with moto's AssumeRoleWithWebIdentity.
    let projected = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims(
            "system:serviceaccount:stsvend:issue-token",
            unix_seconds(SystemClock.now()),
        ),
    );
    std::fs::write(&token_file, projected).expect("write");
    let mut envs = base(&moto_env);
    envs.extend([
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        (
            "AWS_ROLE_ARN",
            moto_env["role_arn"].as_str().expect("role").to_owned(),
        ),
    ]);
    let (status, issued, log) = one(&envs, &[]);
    assert_issued(status, &issued);
    assert!(log.contains("fetched the function's credentials"), "{log}");

    // STS_ACTION: the caller's own token, no credentials of the function's.
    let mut envs = base(&moto_env);
    envs.retain(|(k, _)| *k != "AUTH_MODE");
    envs.extend(tokens::hs256_env());
    envs.push(("STS_ACTION", "AssumeRoleWithWebIdentity".to_owned()));
    let bearer = tokens::hs256(
        &json!({"alg": "HS256"}),
        &tokens::claims("alice", unix_seconds(SystemClock.now())),
    );
    let (status, issued, log) = one(&envs, &[("Authorization", &format!("Bearer {bearer}"))]);
    assert_issued(status, &issued);
    assert!(!log.contains(&bearer));

    let _ = std::fs::remove_file(token_file);
    drop(moto.stdin.take());
    let _ = moto.wait();
}
