//! `AUTH_MODE=gateway` with every authorizer the gateway offers, from committed Lambda
//! events (`events/`): who the caller is, and which claims templates can use.

use std::time::{Duration, UNIX_EPOCH};

use stsvend::error::Error;
use stsvend::identity::{AuthMode, Authenticator, Caller};
use stsvend::prefix::PrefixTemplate;
use stsvend::transport::CannedSender;

async fn caller(event: &str) -> Result<Caller, Error> {
    let path = format!("{}/events/{event}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let auth = Authenticator::new(
        &AuthMode::Gateway,
        CannedSender::stalled(),
        Duration::from_secs(1),
    )
    .expect("authenticator");
    auth.identify(&request, UNIX_EPOCH).await
}

#[tokio::test]
async fn each_authorizer_names_its_caller() {
    let cases = [
        (
            "apigw-v2-jwt.json",
            "user-42",
            Some(("iss", "https://issuer.example.com/")),
        ),
        (
            "apigw-rest-cognito.json",
            "7b6c9f1e-3f1a-4bd5-9ad3-5b8ea2e2c2a1",
            Some(("cognito:username", "alice")),
        ),
        (
            "apigw-v2-lambda-authorizer.json",
            "user-42",
            Some(("tenant", "acme")),
        ),
        (
            "apigw-rest-lambda-authorizer.json",
            "user-42",
            Some(("tenant", "acme")),
        ),
        (
            "function-url-iam.json",
            "AROAEXAMPLEROLEID:device-7",
            Some(("accountId", "111122223333")),
        ),
    ];
    for (event, sub, claim) in cases {
        let caller = caller(event)
            .await
            .unwrap_or_else(|e| panic!("{event}: {e}"));
        assert_eq!(caller.sub, sub, "{event}");
        if let Some((name, value)) = claim {
            assert_eq!(
                caller.claims.get(name).map(String::as_str),
                Some(value),
                "{event}: {:?}",
                caller.claims
            );
        }
    }
    assert_eq!(
        caller("apigw-v2-lambda-authorizer.json")
            .await
            .expect("caller")
            .claims
            .get("quota")
            .map(String::as_str),
        Some("1000")
    );
}

#[tokio::test]
async fn no_authorizer_means_no_caller() {
    for event in [
        "apigw-v2-no-authorizer.json",
        "apigw-rest-no-authorizer.json",
    ] {
        assert!(
            matches!(caller(event).await, Err(Error::MissingIdentity)),
            "{event}"
        );
    }
}

#[tokio::test]
async fn authorizer_claims_fill_prefix_templates() {
    let template =
        PrefixTemplate::parse("tenants/${claim.tenant}/users/${sub}/").expect("template");
    let caller = caller("apigw-rest-lambda-authorizer.json")
        .await
        .expect("caller");
    assert_eq!(
        template.render(&caller).expect("prefix"),
        "tenants/acme/users/user-42/"
    );
    // A Function URL caller's ARN holds '/', so it cannot name a prefix segment.
    let iam = caller_arn_prefix().await;
    assert!(
        matches!(iam, Err(Error::UnsafeIdentity { ref claim, .. }) if claim == "userArn"),
        "{iam:?}"
    );
}

async fn caller_arn_prefix() -> Result<String, Error> {
    let template = PrefixTemplate::parse("devices/${claim.userArn}/").expect("template");
    template.render(&caller("function-url-iam.json").await?)
}
