//! Who is asking: the caller's identity, from the API gateway's authorizer or anonymous.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use ring::digest;

use crate::encode::hex_lower;
use crate::error::Error;

/// The `sub` every caller gets in `AUTH_MODE=none`.
pub const ANONYMOUS: &str = "anonymous";

/// How callers are identified (`AUTH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Trust the claims of the API gateway's authorizer: an HTTP API (v2) JWT authorizer, or
    /// a REST API (v1) Cognito user-pool authorizer.
    Gateway,
    /// Everybody is [`ANONYMOUS`]. Must be chosen explicitly.
    None,
}

/// A caller whose identity has been established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The subject: a user id from the identity provider, or [`ANONYMOUS`].
    pub sub: String,
}

/// Establishes who sent `request`.
///
/// In `Gateway` mode the `sub` claim comes from the request context that API Gateway
/// attaches to the Lambda event; a request without one (no authorizer, or plain HTTP mode,
/// which has no gateway in front) is [`Error::MissingIdentity`].
pub fn identify(mode: AuthMode, request: &Request) -> Result<Caller, Error> {
    match mode {
        AuthMode::None => Ok(Caller {
            sub: ANONYMOUS.to_owned(),
        }),
        AuthMode::Gateway => gateway_sub(request)
            .filter(|sub| !sub.is_empty())
            .map(|sub| Caller { sub })
            .ok_or(Error::MissingIdentity),
    }
}

fn gateway_sub(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        // HTTP API JWT authorizer: requestContext.authorizer.jwt.claims.sub
        RequestContext::ApiGatewayV2(ctx) => ctx
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()?
            .claims
            .get("sub")
            .cloned(),
        // REST API Cognito authorizer: requestContext.authorizer.claims.sub
        RequestContext::ApiGatewayV1(ctx) => ctx
            .authorizer
            .fields
            .get("claims")?
            .get("sub")?
            .as_str()
            .map(str::to_owned),
        _ => None,
    }
}

/// The `RoleSessionName` for a caller, so that STS audit logs show who asked.
///
/// `sub` itself when it already fits STS's rules (`[A-Za-z0-9.@_-]`, 2 to 32 characters);
/// otherwise up to 21 of its allowed characters, `-`, and 10 hex digits of its SHA-256, which
/// keeps distinct callers distinct and the same caller stable.
///
/// # Reference
/// STS `AssumeRole`, parameter `RoleSessionName`.
pub fn role_session_name(sub: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '_' | '-');
    if (2..=32).contains(&sub.len()) && sub.chars().all(allowed) {
        return sub.to_owned();
    }
    let hash = hex_lower(digest::digest(&digest::SHA256, sub.as_bytes()).as_ref());
    let readable: String = sub.chars().filter(|&c| allowed(c)).take(21).collect();
    let readable = if readable.is_empty() {
        "caller"
    } else {
        &readable
    };
    format!("{readable}-{}", &hash[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_keep_fitting_subjects_as_they_are() {
        for sub in [
            "anonymous",
            "alice",
            "ab",
            "user.name@example.com",
            "a_b-c",
            &"x".repeat(32),
        ] {
            assert_eq!(role_session_name(sub), sub);
        }
    }

    #[test]
    fn session_names_shorten_others_stably_and_within_the_rules() {
        let long_uuid = "us-east-1:7b6c9f1e-0000-4bd5-9ad3-5b8ea2e2c2a1";
        let cases = [
            long_uuid,
            "a",
            "auth0|5f7c8ec7c33c6c004bbafe82",
            "用户",
            "",
            &"y".repeat(300),
        ];
        for sub in cases {
            let name = role_session_name(sub);
            assert!((2..=32).contains(&name.len()), "{sub:?} -> {name:?}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".@_-".contains(c)),
                "{sub:?} -> {name:?}"
            );
            assert_eq!(role_session_name(sub), name, "stable");
        }
        assert!(role_session_name(long_uuid).starts_with("us-east-17b6c9f1e-000-"));
        assert!(role_session_name("用户").starts_with("caller-"));
        // The hash part is SHA-256("a") = ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb
        assert_eq!(role_session_name("a"), "a-ca978112ca");
        assert_ne!(
            role_session_name(&"y".repeat(300)),
            role_session_name(&"y".repeat(301))
        );
    }
}
