//! `AUTH_MODE=gateway` with every authorizer the gateway offers, from committed Lambda
//! events (`events/`): who the caller is, and which claims templates can use.

use std::time::{Duration, UNIX_EPOCH};

use stsvend::{
    AuthMode, Authenticator, Caller, CannedSender, Error, PrefixTemplate, role_session_name,
};
use stsvend_test_support::event as event_text;

async fn caller(event: &str) -> Result<Caller, Error> {
    caller_of(&event_text(event)).await
}

async fn caller_of(text: &str) -> Result<Caller, Error> {
    let request = lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
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

/// Two users of one Cognito identity pool sign with the pool role's credentials, so the IAM
/// `userId` (`<RoleId>:CognitoIdentityCredentials`) is the same for both; the identity pool's
/// `identityId` tells them apart and is the `sub`, and each gets a prefix of their own.
#[tokio::test]
async fn identity_pool_callers_are_their_identity_id_not_the_shared_role_session() {
    let template = PrefixTemplate::parse("uploads/${sub}/").expect("template");
    let pool = "us-east-1:4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    let mut prefixes = Vec::new();
    for (event, identity_id) in [
        (
            "function-url-iam-cognito-alice.json",
            "us-east-1:0f8e4c2a-6d1b-4e7f-9a3c-5b2d1e0f4a61",
        ),
        (
            "function-url-iam-cognito-bob.json",
            "us-east-1:c3a9b7d5-1e2f-4a6b-8c0d-9e8f7a6b5c42",
        ),
    ] {
        let caller = caller(event)
            .await
            .unwrap_or_else(|e| panic!("{event}: {e}"));
        assert_eq!(caller.sub, identity_id, "{event}");
        let claim = |name: &str| caller.claims.get(name).map(String::as_str);
        assert_eq!(claim("cognitoIdentityId"), Some(identity_id), "{event}");
        assert_eq!(claim("cognitoIdentityPoolId"), Some(pool), "{event}");
        assert_eq!(
            claim("callerId"),
            Some("AROAEXAMPLEPOOLROLE:CognitoIdentityCredentials"),
            "{event}"
        );
        assert_eq!(claim("accountId"), Some("111122223333"), "{event}");
        prefixes.push(template.render(&caller).expect("prefix"));
    }
    assert_eq!(
        prefixes,
        [
            "uploads/us-east-1:0f8e4c2a-6d1b-4e7f-9a3c-5b2d1e0f4a61/",
            "uploads/us-east-1:c3a9b7d5-1e2f-4a6b-8c0d-9e8f7a6b5c42/",
        ]
    );
    assert_ne!(
        role_session_name(
            &caller("function-url-iam-cognito-alice.json")
                .await
                .expect("alice")
                .sub
        ),
        role_session_name(
            &caller("function-url-iam-cognito-bob.json")
                .await
                .expect("bob")
                .sub
        ),
    );

    // An identity-pool caller whose identityId is missing cannot be told from the pool's other
    // users: no caller, rather than the shared userId.
    let mut event: serde_json::Value =
        serde_json::from_str(&event_text("function-url-iam-cognito-bob.json")).expect("JSON");
    for missing in [serde_json::Value::Null, serde_json::json!("")] {
        event["requestContext"]["authorizer"]["iam"]["cognitoIdentity"]["identityId"] = missing;
        let refused = caller_of(&event.to_string()).await;
        assert!(
            matches!(refused, Err(Error::MissingIdentity)),
            "{refused:?}"
        );
    }

    // Nor when the whole cognitoIdentity is missing: the shared session name gives it away.
    event["requestContext"]["authorizer"]["iam"]["cognitoIdentity"] = serde_json::Value::Null;
    let refused = caller_of(&event.to_string()).await;
    assert!(
        matches!(refused, Err(Error::MissingIdentity)),
        "{refused:?}"
    );

    // Without an identity pool the IAM userId stays the caller, and there is no Cognito claim.
    let plain = caller("function-url-iam.json").await.expect("caller");
    assert_eq!(plain.sub, "AROAEXAMPLEROLEID:device-7");
    assert!(!plain.claims.contains_key("cognitoIdentityId"));
    assert!(!plain.claims.contains_key("cognitoIdentityPoolId"));
}
