//! `PROVIDER=aws`: the `issue-token` binary against a real STS, moto's server with signature
//! checking switched on (`scripts/oracles/moto_sts.py` starts and stops it on 127.0.0.1).

use serde_json::Value;
use stsvend_test_support::function::Function;
use stsvend_test_support::oracles;

#[test]
#[ignore = "needs moto from PyPI: scripts/test runs it"]
fn assume_role_on_moto_succeeds_and_a_wrong_secret_fails() {
    let (mut moto, moto_env) = oracles::start_moto();
    let field = |name: &str| moto_env[name].as_str().expect(name).to_owned();

    let run = |secret: String| {
        let envs = vec![
            ("PROVIDER", "aws".to_owned()),
            ("AUTH_MODE", "none".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            ("AWS_ACCESS_KEY_ID", field("access_key_id")),
            ("AWS_SECRET_ACCESS_KEY", secret),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("STS_ENDPOINT", field("endpoint")),
            ("ROLE_ARN", field("role_arn")),
            ("BUCKET", "examplebucket".to_owned()),
            ("BUCKET_REGION", "us-east-1".to_owned()),
        ];
        let function = Function::start(env!("CARGO_BIN_EXE_issue-token"), &envs);
        let (status, _, body) = function.request("GET", "/", "");
        function.stop();
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or_else(|e| panic!("{e}: {body}")),
        )
    };

    let (status, answer) = run(field("secret_access_key"));
    assert_eq!(status, 200, "{answer}");
    let key_id = answer["AccessKeyId"].as_str().expect("AccessKeyId");
    assert!(key_id.starts_with("ASIA"), "{key_id}");
    // The AWS names, for AWS SDKs and credential_process, agree with the OSS names.
    assert_eq!(answer["Version"], 1);
    assert_eq!(answer["SecretAccessKey"], answer["AccessKeySecret"]);
    assert_eq!(answer["SessionToken"], answer["SecurityToken"]);
    assert!(
        answer["SessionToken"]
            .as_str()
            .is_some_and(|t| t.len() > 20)
    );
    assert!(stsvend::parse_iso8601(answer["Expiration"].as_str().expect("Expiration")).is_some());

    let (status, answer) = run("not-the-secret".to_owned());
    assert_eq!(status, 500, "{answer}");
    assert_eq!(answer["ErrorCode"], "SignatureDoesNotMatch", "{answer}");

    drop(moto.stdin.take());
    let _ = moto.wait();
}
