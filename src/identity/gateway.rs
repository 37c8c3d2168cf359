//! `AUTH_MODE=gateway`: the caller the API gateway's authorizer (or a Function URL's IAM
//! auth) attached to the Lambda event.

use std::collections::BTreeMap;

use lambda_http::aws_lambda_events::apigw::ApiGatewayRequestAuthorizerIamDescription;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde_json::Value;

use super::{Booleans, claims_as_text};
use crate::caller::Caller;

/// The role session name Cognito identity pools give every user's credentials.
const COGNITO_SESSION_NAME: &str = "CognitoIdentityCredentials";

/// The caller of a request signed with IAM credentials (SigV4).
///
/// The `userId` names an IAM user uniquely, but for an assumed role it is
/// `<RoleId>:<RoleSessionName>`, as distinct as the callers' session names. A Cognito identity
/// pool names every session `CognitoIdentityCredentials`, so all its users share one `userId`;
/// its `identityId` (`us-east-1:7b6c…`, one per identity) is then the caller, and is also
/// the `cognitoIdentityId` claim (with `cognitoIdentityPoolId`). A pool caller without an
/// `identityId` cannot be told apart from the pool's other users, so is refused.
fn iam_caller(iam: &ApiGatewayRequestAuthorizerIamDescription) -> Option<Caller> {
    let present = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
    let mut claims = BTreeMap::new();
    for (name, value) in [
        ("accountId", &iam.account_id),
        ("userArn", &iam.user_arn),
        ("callerId", &iam.caller_id),
    ] {
        if let Some(value) = present(value) {
            claims.insert(name.to_owned(), value);
        }
    }
    let pool = iam.cognito_identity.as_ref();
    let identity_id = pool.and_then(|pool| present(&pool.identity_id));
    let pool_id = pool.and_then(|pool| present(&pool.identity_pool_id));
    if let Some(pool_id) = &pool_id {
        claims.insert("cognitoIdentityPoolId".to_owned(), pool_id.clone());
    }
    let sub = match identity_id {
        Some(identity_id) => {
            claims.insert("cognitoIdentityId".to_owned(), identity_id.clone());
            identity_id
        }
        None if pool_id.is_some() => return None,
        // Every user of an identity pool signs as this one role session: without the pool's
        // identityId there is no telling them apart.
        None if [&iam.user_id, &iam.caller_id, &iam.user_arn]
            .into_iter()
            .flatten()
            .any(|id| id.ends_with(COGNITO_SESSION_NAME)) =>
        {
            return None;
        }
        None => present(&iam.user_id)?,
    };
    Some(Caller {
        sub,
        claims,
        token: None,
    })
}

/// The caller API Gateway (or a Function URL) vouches for.
pub(super) fn caller(request: &Request) -> Option<Caller> {
    let caller = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let authorizer = ctx.authorizer.as_ref()?;
            if let Some(jwt) = &authorizer.jwt {
                // HTTP API JWT authorizer: requestContext.authorizer.jwt.claims
                named_by(jwt.claims.clone().into_iter().collect(), &["sub"])?
            } else if !authorizer.fields.is_empty() {
                // HTTP API Lambda authorizer: requestContext.authorizer.lambda
                let claims = authorizer_claims(authorizer.fields.clone());
                named_by(claims, &["sub", "principalId"])?
            } else {
                // Function URL (or HTTP API route) with AWS_IAM auth: requestContext.authorizer.iam
                iam_caller(authorizer.iam.as_ref()?)?
            }
        }
        RequestContext::ApiGatewayV1(ctx) => {
            let fields = &ctx.authorizer.fields;
            if let Some(Value::Object(claims)) = fields.get("claims") {
                // REST API Cognito user-pool authorizer: requestContext.authorizer.claims
                named_by(authorizer_claims(claims.clone()), &["sub"])?
            } else {
                // REST API Lambda authorizer: principalId and its context
                named_by(authorizer_claims(fields.clone()), &["principalId"])?
            }
        }
        _ => return None,
    };
    (!caller.sub.is_empty()).then_some(caller)
}

/// The caller whose subject is the first of `names` among `claims`.
fn named_by(claims: BTreeMap<String, String>, names: &[&str]) -> Option<Caller> {
    let sub = names.iter().find_map(|name| claims.get(*name))?.clone();
    Some(Caller {
        sub,
        claims,
        token: None,
    })
}

/// An authorizer's claims or context as text: a Lambda authorizer's context may hold
/// booleans, which templates read as `true` and `false`.
fn authorizer_claims(
    fields: impl IntoIterator<Item = (String, Value)>,
) -> BTreeMap<String, String> {
    claims_as_text(fields, Booleans::Kept)
}
